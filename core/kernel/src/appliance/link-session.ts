// A protected group's conversation with its recovery appliance: connecting (hello / welcome), opening the
// group (the receiver says where each journal stands), request/reply pairs (hash requests of delta syncs,
// storage probes), and what the receiver tells the sender unasked (acks, fallbacks, journal full). What
// the group does about a message is its owner's business: the session only reports it.
import type { Clock } from '../clock.js';
import { ProtocolError, ProtocolVersionError } from '../link/link-errors.js';
import type { DecodedMessage } from '../link/message-registry.js';
import type { VmId } from '../model.js';
import type { NetworkAdapter } from '../ports/network-adapter.js';
import { Messenger } from './messenger.js';
import {
  PROTOCOL_VERSION, replicationCodec, type FallbackMeta, type GroupOpenedMeta, type OpenGroupMeta, type ProbeMeta, type ProbeReplyMeta, type ReplicationMessage,
} from './protocol.js';

/** Keys of the replies that come one at a time (hash replies are keyed by their positive request ids). */
const REPLY_KEYS = { welcome: -1, 'group-opened': -2, 'probe-reply': -3 } as const;

export interface LinkSessionOptions {
  groupId: string;
  siteId: string;
  recoveryAddress: string;
  network: NetworkAdapter;
  clock: Clock;
  /** Link keep-alive: ping after this much silence (default 5 s); 0 turns it off. */
  keepAliveMs?: number;
  deadPeerMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** The group as the receiver must open it now (its VMs, volumes and journal sizes). */
  describe(): Omit<OpenGroupMeta, 'groupId'>;
  /** The group stopped: no reconnects, no reports. */
  stopped(): boolean;
}

/** What the session reports to the group. */
export interface LinkSessionEvents {
  /** A new connection opened the group (also after `reopen` when the caller asks for it). */
  opened(meta: GroupOpenedMeta): void;
  ack(durableSeq: number, receivedSeq: number): void;
  fallback(meta: FallbackMeta): void;
  /** A sync would eat into the journal's history floor (S6); the receiver drops this connection's writes until a probe. */
  journalFull(message: string): void;
  /** The connection is gone (or never came up); pending requests were rejected. */
  disconnected(): void;
  /** The receiver speaks another major protocol version: the group cannot replicate. */
  refused(error: ProtocolVersionError): void;
}

type Reply = { meta: unknown; payload?: Buffer };

export class LinkSession {
  private current?: Messenger<ReplicationMessage>;
  /** The receiver answered `open-group` on the current connection: syncs may talk to it. */
  private openedHere = false;
  /** The receiver refused this connection's writes (journal-full) and drops them until a probe clears it. */
  refusedByReceiver = false;
  private nextRequestId = 1;
  private readonly requests = new Map<number, { resolve: (m: Reply) => void; reject: (e: Error) => void }>();

  constructor(private readonly options: LinkSessionOptions, private readonly events: LinkSessionEvents) {}

  get connected(): boolean {
    return !!this.current && !this.current.closed;
  }

  /** The current conversation, if any (the stream sends on it). */
  get messenger(): Messenger<ReplicationMessage> | undefined {
    return this.current;
  }

  get groupOpened(): boolean {
    return this.openedHere;
  }

  async connect(): Promise<void> {
    if (this.options.stopped()) return;
    const { network, siteId, log } = this.options;
    let messenger: Messenger<ReplicationMessage>;
    try {
      const { keepAliveMs = 5000, deadPeerMs, clock } = this.options;
      const keepAlive = keepAliveMs > 0 ? { clock, intervalMs: keepAliveMs, ...(deadPeerMs ? { deadAfterMs: deadPeerMs } : {}) } : undefined;
      messenger = new Messenger(await network.connect(this.options.recoveryAddress), replicationCodec, log, keepAlive);
    } catch (e) {
      this.disconnected(e as Error);
      return;
    }
    messenger.onMessage((m) => this.onMessage(m));
    messenger.onClose((reason) => {
      if (this.current === messenger) this.disconnected(reason);
    });
    try {
      const welcome = this.expect('welcome');
      await messenger.send('hello', { protocolVersion: PROTOCOL_VERSION, siteId, role: 'appliance' });
      this.current = messenger;
      await welcome;
      const opened = await this.openGroup(messenger);
      this.refusedByReceiver = false; // a new connection is a new session at the receiver
      this.reportOpened(opened);
    } catch (e) {
      log?.('connect-failed', { groupId: this.options.groupId, message: (e as Error).message });
      await messenger.close(e as Error);
      if (e instanceof ProtocolVersionError) this.events.refused(e);
      else this.disconnected(e as Error);
    }
  }

  /** Opens the group again on the current connection (a VM or volume was added); resolves with where the journals stand. */
  reopen(): Promise<GroupOpenedMeta> {
    return this.openGroup(this.current!);
  }

  /** Marks the group open and tells the owner where the receiver's journals stand. */
  reportOpened(opened: GroupOpenedMeta): void {
    this.openedHere = true;
    this.events.opened(opened);
  }

  /** Asks the receiver whether its storage works (and, with `needBytes`, can make that much room). */
  async probe(meta: Omit<ProbeMeta, 'groupId'>): Promise<ProbeReplyMeta> {
    const reply = this.expect('probe-reply');
    await this.current!.send('probe', { groupId: this.options.groupId, ...meta });
    return (await reply).meta as ProbeReplyMeta;
  }

  /** Hashes of the receiver's current image of a volume range (delta sync). */
  async hashBlocks(vmId: VmId, volumeId: string, req: { offset: number; length: number; blockBytes: number }): Promise<Buffer> {
    const requestId = this.nextRequestId++;
    const reply = this.expect('hash-reply', requestId);
    await this.current!.send('hash-request', { groupId: this.options.groupId, requestId, vmId, volumeId, ...req });
    const { meta, payload } = await reply;
    const error = (meta as { error?: string }).error;
    if (error) throw new ProtocolError(`the recovery appliance could not hash ${volumeId}: ${error}`);
    return payload ?? Buffer.alloc(0);
  }

  /** Tells the receiver a VM left the group (best effort: a closed link has nothing to tell). */
  async closeVm(vmId: VmId): Promise<void> {
    if (this.current && this.connected) await this.current.send('close-vm', { groupId: this.options.groupId, vmId }).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.current?.close();
  }

  /** Tells the receiver which VMs (and volumes) the group has; it opens their journals and says where they stand. */
  private async openGroup(messenger: Messenger<ReplicationMessage>): Promise<GroupOpenedMeta> {
    const opened = this.expect('group-opened');
    await messenger.send('open-group', { groupId: this.options.groupId, ...this.options.describe() });
    return (await opened).meta as GroupOpenedMeta;
  }

  /** A promise for the next reply of a kind; request/reply pairs carry ids, the handshake replies use fixed keys. */
  private expect(name: 'welcome' | 'group-opened' | 'hash-reply' | 'probe-reply', requestId = 0): Promise<Reply> {
    const key = requestId || REPLY_KEYS[name as keyof typeof REPLY_KEYS];
    return new Promise((resolve, reject) => this.requests.set(key, { resolve, reject }));
  }

  private onMessage(m: DecodedMessage<ReplicationMessage>): void {
    const settle = (key: number, value: Reply): void => {
      const r = this.requests.get(key);
      if (!r) throw new ProtocolError(`unexpected '${m.name}' message`);
      this.requests.delete(key);
      r.resolve(value);
    };
    switch (m.name) {
      case 'welcome': return settle(REPLY_KEYS.welcome, { meta: m.meta });
      case 'refuse': {
        const r = this.requests.get(REPLY_KEYS.welcome);
        this.requests.delete(REPLY_KEYS.welcome);
        const error = m.meta.code === 'PROTOCOL_VERSION' && m.meta.protocolVersion ? new ProtocolVersionError(PROTOCOL_VERSION, m.meta.protocolVersion, 'remote') : new ProtocolError(`refused: ${m.meta.reason}`);
        r?.reject(error);
        return;
      }
      case 'group-opened': return settle(REPLY_KEYS['group-opened'], { meta: m.meta });
      case 'probe-reply': return settle(REPLY_KEYS['probe-reply'], { meta: m.meta });
      case 'hash-reply': return settle(m.meta.requestId, { meta: m.meta, payload: m.payload });
      case 'ack': return this.events.ack(m.meta.durableSeq, m.meta.receivedSeq ?? m.meta.durableSeq);
      case 'journal-full':
        this.refusedByReceiver = true;
        return this.events.journalFull(m.meta.message);
      case 'fallback': return this.events.fallback(m.meta);
      default: throw new ProtocolError(`a protected appliance does not take '${m.name}' messages`);
    }
  }

  private disconnected(reason: Error | undefined): void {
    this.current = undefined;
    this.openedHere = false;
    if (this.options.stopped()) return;
    for (const r of this.requests.values()) r.reject(reason ?? new ProtocolError('the link closed'));
    this.requests.clear();
    this.events.disconnected();
  }
}

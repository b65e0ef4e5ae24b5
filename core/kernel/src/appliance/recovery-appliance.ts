// The recovery site's appliance: accepts protected appliances over the site link, appends their writes
// to per-VM journals (dropping any it already holds, so a resend never duplicates into a checkpoint),
// commits in groups and acknowledges what is durable, asks senders to fall back to their bitmaps when its
// buffer passes 75 % or storage fails, and answers delta-sync hash requests from the journals.
import { uncompressSync } from 'lz4-napi';
import type { Clock, TimerHandle } from '../clock.js';
import { ClosedError, JournalFullError, JournalHistoryFloorError } from '../errors.js';
import { Journal, type MakeRoom } from '../journal/journal.js';
import type { SequencedWrite } from '../model.js';
import type { LinkConnection, LinkListener, NetworkAdapter } from '../ports/network-adapter.js';
import type { StorageAdapter } from '../ports/storage-adapter.js';
import { receivePool } from '../link/buffer-pool.js';
import { ProtocolError } from '../link/link-errors.js';
import { hashRanges } from '../sync/delta-sync.js';
import { Messenger } from './messenger.js';
import {
  PROTOCOL_VERSION, checkHello, replicationCodec, type CheckpointMeta, type CloseVmMeta, type HashRequestMeta, type OpenGroupMeta, type ProbeMeta,
  type ReplicationMessage, type WritesMeta,
} from './protocol.js';

export interface RecoveryApplianceOptions {
  siteId: string;
  storage: StorageAdapter;
  clock: Clock;
  network: NetworkAdapter;
  /** Folder for journals; a VM's journal is `<root>/<groupId>/<vmId>` (the same layout LocalReplication uses). */
  journalRoot?: string;
  /** Receive buffer in bytes (default 64 MiB); past 75 % senders are asked to fall back. */
  bufferBytes?: number;
  /** Group commit: writes are flushed and acknowledged at most this often (default 20 ms). */
  ackIntervalMs?: number;
  /**
   * A sync may trim a journal's checkpoints only while this much history remains (default ten minutes,
   * the anchor's rule); past it the sender is asked to pause for the group's replicationPauseTime (S6).
   */
  syncHistoryFloorMs?: number;
  /** Link keep-alive: ping after this much silence (default 5 s); 0 turns it off. */
  keepAliveMs?: number;
  /** A sender silent this long is disconnected as dead (default 3 × keepAliveMs). */
  deadPeerMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** A group as served on one connection. */
interface GroupSession {
  groupId: string;
  journals: Map<string, Journal>;
  /** Highest seq appended per VM (synchronously known, for dropping resends). */
  appended: Map<string, number>;
  /** Highest seq appended on this connection, for the next ack. */
  highestSeq: number;
  /** Highest seq flushed and acknowledged durable. */
  durableSeq: number;
  ackTimer?: TimerHandle;
  /** A group-commit flush round is running. */
  committing: boolean;
  /** Writes arrived during the running round: another round follows it. */
  commitWanted: boolean;
  /** Messages whose journal appends are still in flight (settled promises never reject). */
  appending: Promise<void>[];
  congested: boolean;
  failed: boolean;
}

const MAX_APPENDS_IN_FLIGHT = 8;

export class RecoveryAppliance {
  private listener?: LinkListener;
  private readonly journals = new Map<string, Journal>();
  private readonly messengers = new Set<Messenger<ReplicationMessage>>();
  private stopped = false;
  /** Messages being handled now (stop() waits for them). */
  private readonly handling = new Set<Promise<void>>();

  constructor(private readonly options: RecoveryApplianceOptions) {}

  get address(): string {
    if (!this.listener) throw new ProtocolError('the recovery appliance is not listening');
    return this.listener.address;
  }

  async listen(address: string): Promise<string> {
    this.listener = await this.options.network.listen(address);
    this.listener.onConnection((c) => this.accept(c));
    return this.listener.address;
  }

  /** The journal of a VM in a group, once a sender opened the group (recovery and tests read through it). */
  journal(groupId: string, vmId: string): Journal | undefined {
    return this.journals.get(`${groupId}/${vmId}`);
  }

  /** Every journal of a group opened so far (one per VM), for recovery and the manager's figures. */
  journalsOf(groupId: string): Journal[] {
    const prefix = `${groupId}/`;
    return [...this.journals.entries()].filter(([key]) => key.startsWith(prefix)).map(([, j]) => j);
  }

  /** Number of sender connections open now. */
  get connections(): number {
    return this.messengers.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.listener?.close();
    for (const m of [...this.messengers]) await m.close();
    // Messages already being handled finish first (a journal opened meanwhile closes itself, see openGroup).
    await Promise.allSettled([...this.handling]);
    await Promise.allSettled([...this.journals.values()].map((j) => j.close()));
  }

  private log(event: string, fields: Record<string, unknown>): void {
    this.options.log?.(event, fields);
  }

  private accept(connection: LinkConnection): void {
    if (this.stopped) {
      void connection.close();
      return;
    }
    const { keepAliveMs = 5000, deadPeerMs, clock } = this.options;
    const keepAlive = keepAliveMs > 0 ? { clock, intervalMs: keepAliveMs, ...(deadPeerMs ? { deadAfterMs: deadPeerMs } : {}) } : undefined;
    const messenger = new Messenger(connection, replicationCodec, (e, f) => this.log(e, f), keepAlive);
    this.messengers.add(messenger);
    const sessions = new Map<string, GroupSession>();
    let greeted = false;
    messenger.onClose((reason) => {
      this.messengers.delete(messenger);
      for (const s of sessions.values()) s.ackTimer?.cancel();
      this.log('sender-disconnected', { remote: connection.remote, reason: reason?.message });
    });
    // Handlers are tracked so that stop() can wait for them: one still opening or writing a journal
    // after stop() returned would write files its owner has already removed.
    messenger.onMessage((m) => this.track((async () => {
      if (!greeted) {
        if (m.name !== 'hello') throw new ProtocolError(`expected 'hello' first, got '${m.name}'`);
        const refusal = checkHello(m.meta);
        if (refusal) {
          await messenger.send('refuse', { reason: refusal.message, code: refusal.code, protocolVersion: PROTOCOL_VERSION });
          throw refusal;
        }
        greeted = true;
        await messenger.send('welcome', { protocolVersion: PROTOCOL_VERSION, siteId: this.options.siteId });
        return;
      }
      switch (m.name) {
        case 'open-group': return this.openGroup(messenger, sessions, m.meta);
        case 'writes': return this.writes(messenger, session(sessions, m.meta.groupId), m.meta, m.payload!);
        case 'checkpoint': return this.checkpoint(messenger, session(sessions, m.meta.groupId), m.meta);
        case 'hash-request': return this.hashRequest(messenger, session(sessions, m.meta.groupId), m.meta);
        case 'probe': return this.probe(messenger, session(sessions, m.meta.groupId), m.meta);
        case 'close-vm': return this.closeVm(session(sessions, m.meta.groupId), m.meta);
        default: throw new ProtocolError(`a recovery appliance does not take '${m.name}' messages`);
      }
    })()));
  }

  private track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(() => undefined, () => undefined);
    this.handling.add(settled);
    void settled.then(() => this.handling.delete(settled));
    return work;
  }

  private async openGroup(messenger: Messenger<ReplicationMessage>, sessions: Map<string, GroupSession>, meta: OpenGroupMeta): Promise<void> {
    const { storage, clock } = this.options;
    const root = this.options.journalRoot ?? 'journals';
    // Re-opened on the same connection (a VM was added): keep the session, add the new journals.
    const s: GroupSession = sessions.get(meta.groupId)
      ?? { groupId: meta.groupId, journals: new Map(), appended: new Map(), highestSeq: 0, durableSeq: 0, appending: [], congested: false, failed: false, committing: false, commitWanted: false };
    const vms: { vmId: string; lastSeq: number; checkpoints: number; fresh: boolean }[] = [];
    for (const vm of meta.vms) {
      const key = `${meta.groupId}/${vm.vmId}`;
      let journal = this.journals.get(key);
      const fresh = !journal && !(await storage.exists(`${root}/${key}/journal.json`));
      if (!journal) {
        journal = await Journal.open({ storage, clock, path: `${root}/${key}`, vmId: vm.vmId, volumes: vm.volumes, ...meta.journal });
        if (this.stopped) {
          // stop() ran while this journal was opening and closed only the journals it knew: this one must
          // not outlive the appliance (its files would be written after the owner removed them).
          await journal.close();
          throw new ClosedError(`recovery appliance (journal of VM '${vm.vmId}' opened after stop)`);
        }
        this.journals.set(key, journal);
        if (journal.damage) this.log('journal-damage', { groupId: meta.groupId, vmId: vm.vmId, message: journal.damage.message });
      } else {
        // Re-opened with a volume added to the VM: its journal takes it on (S7).
        for (const v of vm.volumes) if (!journal.volumes.some((k) => k.id === v.id)) await journal.addVolume(v);
      }
      if (!s.journals.has(vm.vmId)) {
        s.journals.set(vm.vmId, journal);
        s.appended.set(vm.vmId, journal.lastSeq);
      }
      vms.push({ vmId: vm.vmId, lastSeq: journal.lastSeq, checkpoints: journal.checkpoints().length, fresh });
    }
    sessions.set(meta.groupId, s);
    await messenger.send('group-opened', { groupId: meta.groupId, vms });
  }

  /**
   * Journals a `writes` message. The payload may be pooled memory (a frame assembled from several socket
   * chunks): it is given back to the receive pool once every append holding a view of it has settled —
   * then the journal's writes are done and storage keeps no reference (StoredFile.write) — or at once
   * when nothing takes it.
   */
  private async writes(messenger: Messenger<ReplicationMessage>, s: GroupSession, meta: WritesMeta, payload: Buffer): Promise<void> {
    let data: Buffer;
    try {
      data = meta.compressed ? uncompressSync(payload) : payload;
    } finally {
      if (meta.compressed) receivePool.release(payload);
    }
    const release = (): void => {
      if (!meta.compressed) receivePool.release(payload);
    };
    const total = meta.records.reduce((n, r) => n + r[4], 0);
    if (data.length !== meta.rawBytes || total !== meta.rawBytes) {
      release();
      throw new ProtocolError(`'writes' of group ${meta.groupId} declares ${meta.rawBytes} bytes, records sum to ${total}, payload holds ${data.length}`);
    }
    this.checkCongestion(messenger, s);
    if (s.failed) { // The sender was told to fall back; what is still in flight is covered by its bitmap.
      release();
      return;
    }
    const byVm = new Map<string, SequencedWrite[]>();
    let at = 0;
    for (const [seq, vmId, volumeId, offset, length] of meta.records) {
      const journal = s.journals.get(vmId);
      if (!journal) {
        release();
        throw new ProtocolError(`write for VM '${vmId}', which group ${meta.groupId} did not open`);
      }
      const last = s.appended.get(vmId)!;
      if (seq > last) {
        let list = byVm.get(vmId);
        if (!list) byVm.set(vmId, (list = []));
        list.push({ seq, volumeId, offset, data: data.subarray(at, at + length) });
        s.appended.set(vmId, seq);
      }
      at += length;
      s.highestSeq = Math.max(s.highestSeq, seq);
    }
    // Appends are queued in order by each journal, so the next message need not wait for this one's I/O;
    // a few messages' appends stay in flight, and the receive queue pushes back beyond that.
    const upTo = s.highestSeq;
    const makeRoom: MakeRoom = meta.makeRoom === 'keep-history' ? { keepHistoryMs: this.options.syncHistoryFloorMs ?? 600_000 }
      : meta.makeRoom === 'drop-history' ? 'drop-recovery-points' : 'keep-newest';
    const appends = [...byVm].map(([vmId, list]) => s.journals.get(vmId)!.appendMany(list, { makeRoom }).catch((e: Error) => {
      throw Object.assign(e, { vmId });
    }));
    // Not Promise.all: a failed append must not release the memory while another one still writes from it.
    void Promise.allSettled(appends).then(release);
    const appended = Promise.all(appends);
    s.appending.push(appended.then(
      // Appended (not yet durable): frees the sender's send window; durability follows the group commit.
      () => messenger.send('ack', { groupId: s.groupId, durableSeq: s.durableSeq, receivedSeq: upTo }).catch(() => undefined),
      (e: Error & { vmId?: string }) => {
        // A sync that fills the journal pauses replication (S6); any other failure is a storage error.
        if (meta.makeRoom && (e instanceof JournalHistoryFloorError || e instanceof JournalFullError)) return this.journalFull(messenger, s, (e as { vmId?: string }).vmId ?? 'unknown', e);
        return this.fail(messenger, s, e);
      },
    ));
    this.scheduleAck(messenger, s);
    while (s.appending.length > MAX_APPENDS_IN_FLIGHT) await s.appending.shift();
  }

  private async checkpoint(messenger: Messenger<ReplicationMessage>, s: GroupSession, meta: CheckpointMeta): Promise<void> {
    if (s.failed) return;
    const cp = { id: meta.id, groupId: meta.groupId, seq: meta.seq, timestamp: meta.timestamp, kind: meta.kind, ...(meta.tag !== undefined ? { tag: meta.tag } : {}) };
    try {
      await Promise.all([...s.journals.values()].map(async (j) => {
        if (!j.checkpoints().some((c) => c.id === cp.id)) await j.addCheckpoint(cp);
      }));
    } catch (e) {
      await this.fail(messenger, s, e as Error);
      return;
    }
    for (const vmId of s.appended.keys()) s.appended.set(vmId, Math.max(s.appended.get(vmId)!, meta.seq));
    s.highestSeq = Math.max(s.highestSeq, meta.seq);
    // A marker is flushed, and so is everything before it: acknowledge at once.
    s.ackTimer?.cancel();
    s.ackTimer = undefined;
    s.durableSeq = s.highestSeq;
    await messenger.send('ack', { groupId: s.groupId, durableSeq: s.durableSeq, receivedSeq: s.highestSeq }).catch(() => undefined);
  }

  private async hashRequest(messenger: Messenger<ReplicationMessage>, s: GroupSession, meta: HashRequestMeta): Promise<void> {
    const journal = s.journals.get(meta.vmId);
    if (!journal) throw new ProtocolError(`hash request for VM '${meta.vmId}', which group ${meta.groupId} did not open`);
    try {
      await journal.idle();
      const hashes = await hashRanges((offset, length) => journal.readAt(meta.volumeId, offset, length, journal.lastSeq), { offset: meta.offset, length: meta.length, blockBytes: meta.blockBytes, ...(meta.hashBytes ? { hashBytes: meta.hashBytes } : {}) });
      await messenger.send('hash-reply', { groupId: meta.groupId, requestId: meta.requestId }, hashes);
    } catch (e) {
      await messenger.send('hash-reply', { groupId: meta.groupId, requestId: meta.requestId, error: (e as Error).message });
    }
  }

  /**
   * Tells the sender whether storage works again (a small durable write) and, when it asks, whether every
   * journal can make room for `needBytes` (free space plus what dropping its history would free),
   * clearing the failure if so.
   */
  private async probe(messenger: Messenger<ReplicationMessage>, s: GroupSession, meta: ProbeMeta): Promise<void> {
    const name = `${this.options.journalRoot ?? 'journals'}/${s.groupId}/.probe`;
    try {
      await this.options.storage.replace(name, Buffer.from(String(this.options.clock.now())));
      await this.options.storage.delete(name);
      if (meta.needBytes) {
        for (const [vmId, j] of s.journals) {
          const space = j.spaceReport();
          if (space.freeBytes + space.reclaimableBytes < meta.needBytes) {
            throw new JournalFullError(space.usedBytes, space.hardLimitBytes, meta.needBytes - space.reclaimableBytes);
          }
          this.log('journal-space', { groupId: s.groupId, vmId, ...space });
        }
      }
      for (const [vmId, j] of s.journals) s.appended.set(vmId, j.lastSeq);
      s.failed = false;
      s.congested = false;
      await messenger.send('probe-reply', { groupId: s.groupId, ok: true });
    } catch (e) {
      await messenger.send('probe-reply', { groupId: s.groupId, ok: false, message: (e as Error).message });
    }
  }

  private checkCongestion(messenger: Messenger<ReplicationMessage>, s: GroupSession): void {
    const limit = 0.75 * (this.options.bufferBytes ?? 64 * 1024 * 1024);
    if (messenger.queuedBytes > limit && !s.congested) {
      s.congested = true;
      this.log('receiver-congested', { groupId: s.groupId, queuedBytes: messenger.queuedBytes });
      void messenger.send('fallback', { groupId: s.groupId, trigger: 'RecoveryStorageCongestion' }).catch(() => undefined);
    } else if (messenger.queuedBytes < limit / 2) {
      s.congested = false;
    }
  }

  /** A sync would eat into the journal's history floor: the sender pauses (ReplicationPausedSystemInitiated) and records meanwhile. */
  private async journalFull(messenger: Messenger<ReplicationMessage>, s: GroupSession, vmId: string, error: Error): Promise<void> {
    if (s.failed) return;
    s.failed = true;
    this.log('journal-full', { groupId: s.groupId, vmId, message: error.message });
    await messenger.send('journal-full', { groupId: s.groupId, vmId, message: error.message.slice(0, 2000) }).catch(() => undefined);
  }

  /** A VM left the group: close its journal (its files stay, for a later preseed) and forget it on this connection. */
  private async closeVm(s: GroupSession, meta: CloseVmMeta): Promise<void> {
    const key = `${meta.groupId}/${meta.vmId}`;
    const journal = s.journals.get(meta.vmId) ?? this.journals.get(key);
    if (!journal) return; // never opened here (or closed already): nothing to do
    s.journals.delete(meta.vmId);
    s.appended.delete(meta.vmId);
    // Appends already queued for it finish first (close waits for the journal to be idle).
    await Promise.allSettled(s.appending);
    this.journals.delete(key);
    await journal.close();
    this.log('vm-closed', { groupId: meta.groupId, vmId: meta.vmId });
  }

  private async fail(messenger: Messenger<ReplicationMessage>, s: GroupSession, error: Error): Promise<void> {
    if (s.failed) return;
    s.failed = true;
    this.log('journal-error', { groupId: s.groupId, message: error.message });
    await messenger.send('fallback', { groupId: s.groupId, trigger: 'RecoveryOrJournalStorageError', storageError: 'journal', message: error.message }).catch(() => undefined);
  }

  /**
   * Group commit: at most one flush round per group at a time. Writes that arrive while a round runs wait
   * for the next one, which starts `ackIntervalMs` after it ends — so under load the rounds (each one
   * fdatasync per dirty journal file) follow the disk's pace instead of piling up every 20 ms.
   */
  private scheduleAck(messenger: Messenger<ReplicationMessage>, s: GroupSession): void {
    if (s.ackTimer) return;
    if (s.committing) {
      s.commitWanted = true;
      return;
    }
    s.ackTimer = this.options.clock.setTimer(this.options.ackIntervalMs ?? 20, () => {
      s.ackTimer = undefined;
      s.committing = true;
      s.commitWanted = false;
      const upTo = s.highestSeq;
      void Promise.all([...s.journals.values()].map((j) => j.flush()))
        .then(() => {
          // After a failure nothing more is acknowledged: the sender re-sends what was not (its bitmap covers it).
          if (s.failed) return;
          s.durableSeq = Math.max(s.durableSeq, upTo);
          return messenger.send('ack', { groupId: s.groupId, durableSeq: s.durableSeq, receivedSeq: s.highestSeq });
        })
        .catch((e: Error) => this.fail(messenger, s, e))
        .finally(() => {
          s.committing = false;
          if (s.commitWanted && !messenger.closed) this.scheduleAck(messenger, s);
        });
    });
  }
}

function session(sessions: Map<string, GroupSession>, groupId: string): GroupSession {
  const s = sessions.get(groupId);
  if (!s) throw new ProtocolError(`group '${groupId}' was not opened on this connection`);
  return s;
}


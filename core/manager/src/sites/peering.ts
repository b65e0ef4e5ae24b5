// Pairing with another site's manager (a one-time, expiring token exchanged for a secret each way) and
// sharing group definitions with it after every change, so either manager lists the groups between the
// two sites and can recover them while the other is down (R8).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError, parseProtectionGroupSettings } from '@opencdp/core';
import type { Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import { defined } from '../defined.js';
import { AuthenticationError } from '../errors.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { CheckpointScheduler } from '../scheduler/checkpoint-scheduler.js';
import type { GroupRow, SiteRow, Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import {
  httpPairTransport, httpPeerSyncTransport, sharedOf, type PairRequest, type PairResponse, type PairTransport, type PeerSyncMessage, type PeerSyncTransport,
} from './peer-transports.js';
import type { Sites } from './sites.js';

const DEFAULT_PAIRING_TTL_MS = 10 * 60_000;

export interface PeeringOptions {
  /** Pairing token lifetime, ms (default 10 min). */
  pairingTokenTtlMs?: number;
  pairTransport?: PairTransport;
  peerSyncTransport?: PeerSyncTransport;
}

export class Peering {
  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly lifecycle: ManagerLifecycle,
    private readonly sites: Sites, private readonly events: EventLog, private readonly tasks: TaskRunner, private readonly scheduler: CheckpointScheduler,
    private readonly options: PeeringOptions = {},
  ) {}

  private get siteId(): string {
    return this.sites.siteId;
  }

  generatePairingToken(user?: string): { token: string; expiresAt: number } {
    // Hex, not base64url: a token starting with '-' would read as an option on a command line.
    const token = randomBytes(18).toString('hex');
    const expiresAt = this.clock.now() + (this.options.pairingTokenTtlMs ?? DEFAULT_PAIRING_TTL_MS);
    this.store.putPairingToken({ token, expiresAt, used: false });
    this.events.record('PairingTokenGenerated', 'a pairing token was generated', undefined, user);
    return { token, expiresAt };
  }

  /** The peer's side of pairing: checks the one-time token, records the peer, and names this site. */
  acceptPairing(request: PairRequest): PairResponse {
    const t = this.store.getPairingToken(request.token);
    if (!t || t.used || t.expiresAt <= this.clock.now()) throw new AuthenticationError('the pairing token is unknown, used or expired');
    if (request.siteIdentifier === this.siteId) throw new ValidationError('a site cannot pair with itself', 'siteIdentifier');
    const secret = randomBytes(24).toString('base64url');
    this.store.transaction(() => {
      this.store.markPairingTokenUsed(request.token);
      this.store.putSite({ id: request.siteIdentifier, name: request.siteName, role: 'peer', address: request.url, pairedAt: this.clock.now(), outboundSecret: request.secret, inboundSecret: secret });
    });
    this.events.record('PeerSitePaired', `paired with site ${request.siteIdentifier} (${request.url})`);
    this.syncPeer(request.siteIdentifier);
    return { siteIdentifier: this.siteId, siteName: this.sites.localSite().name, secret };
  }

  /** This side of pairing: presents the peer's token to the peer manager at `url`, records it, and notes it as a task. */
  async pairWith(url: string, token: string, user?: string): Promise<{ site: SiteRow; taskId: string }> {
    const transport = this.options.pairTransport ?? httpPairTransport;
    const inboundSecret = randomBytes(24).toString('base64url');
    const response = await transport(url, { token, siteIdentifier: this.siteId, siteName: this.sites.localSite().name, url: this.lifecycle.address ?? '', secret: inboundSecret });
    if (response.siteIdentifier === this.siteId) throw new ValidationError('a site cannot pair with itself', 'hostName');
    const site: SiteRow = { id: response.siteIdentifier, name: response.siteName, role: 'peer', address: url, pairedAt: this.clock.now(), outboundSecret: response.secret, inboundSecret };
    this.store.putSite(site);
    this.events.record('PeerSitePaired', `paired with site ${site.id} (${url})`, undefined, user);
    this.syncPeer(site.id);
    const taskId = this.tasks.start('PairSite', undefined, user, async () => ({ result: { siteIdentifier: site.id } }));
    return { site, taskId };
  }

  unpair(siteId: string, user?: string): void {
    if (!this.sites.peer(siteId)) throw new NotFoundError('peer site', siteId);
    const used = this.store.listGroups().find((g) => g.protectedSiteId === siteId || g.recoverySiteId === siteId);
    if (used) throw new ConflictError(`group '${used.name}' uses site '${siteId}'`, 'delete the groups between the sites first');
    this.store.deleteSite(siteId);
    this.events.record('PeerSiteUnpaired', `unpaired site ${siteId}`, undefined, user);
  }

  /** Sends every paired manager its groups (at start: what changed while this manager was down). */
  syncAll(): void {
    for (const peer of this.sites.peerSites()) this.syncPeer(peer.id);
  }

  /**
   * Sends a paired manager every group between the two sites, and the ones deleted here, so either manager
   * lists them and can recover them when the other is down (R8). Best effort: a peer that is down gets the
   * full set when this manager next changes a group or restarts.
   */
  syncPeer(siteId: string, deleted: string[] = []): void {
    const site = this.sites.peer(siteId);
    if (!site?.address || !site.outboundSecret || this.lifecycle.stopped) return;
    const groups = this.store.listGroups().filter((g) => g.protectedSiteId === siteId || g.recoverySiteId === siteId).map(sharedOf);
    const transport = this.options.peerSyncTransport ?? httpPeerSyncTransport;
    this.lifecycle.track(transport(site.address, site.outboundSecret, { siteIdentifier: this.siteId, groups, deleted }).catch((e: Error) => {
      this.log.warn({ err: e, peer: siteId }, 'group sync to peer failed');
      if (!this.lifecycle.stopped) this.events.record('PeerSyncFailed', `sending group definitions to site ${siteId} failed: ${e.message}`);
    }));
  }

  /** Tells the paired managers of a group's sites about it (after a change here; `deleted`: ids removed here). */
  syncPeersOf(g: Pick<GroupRow, 'protectedSiteId' | 'recoverySiteId'>, deleted: string[] = []): void {
    for (const site of [g.protectedSiteId, g.recoverySiteId]) if (site !== this.siteId) this.syncPeer(site, deleted);
  }

  /** The receiving side of group sharing: the caller proves it is the paired site by its secret. */
  acceptPeerSync(secret: string | undefined, message: PeerSyncMessage): { groups: number } {
    const site = this.sites.peer(message.siteIdentifier);
    if (!site?.inboundSecret || !secret || !safeEqual(secret, site.inboundSecret)) throw new AuthenticationError(`site '${message.siteIdentifier}' is not paired with this site, or presented the wrong secret`);
    const involves = (g: { protectedSiteId: string; recoverySiteId: string }): boolean =>
      (g.protectedSiteId === site.id && g.recoverySiteId === this.siteId) || (g.recoverySiteId === site.id && g.protectedSiteId === this.siteId);
    for (const g of message.groups) if (!involves(g)) throw new ValidationError(`group '${g.id}' is not between sites ${site.id} and ${this.siteId}`, 'groups');
    this.store.transaction(() => {
      for (const shared of message.groups) {
        const mine = this.store.getGroup(shared.id);
        const byName = this.store.getGroupByName(shared.name);
        if (byName && byName.id !== shared.id) throw new ConflictError(`a group named '${shared.name}' exists here with another id`, 'rename one of them');
        this.store.putGroup({ ...shared, settings: parseProtectionGroupSettings(shared.settings), ...defined({ syncedAt: mine?.syncedAt, lastTest: mine?.lastTest, state: mine?.state }) });
      }
      for (const id of message.deleted) {
        const mine = this.store.getGroup(id);
        if (mine && involves(mine)) this.store.deleteGroup(id, this.clock.now());
      }
    });
    for (const g of message.groups) this.scheduler.watch(g);
    this.events.record('PeerSync', `received ${message.groups.length} group definitions from site ${site.id}${message.deleted.length ? `, ${message.deleted.length} deleted` : ''}`);
    return { groups: message.groups.length };
  }
}

/** Compares two secrets in constant time. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

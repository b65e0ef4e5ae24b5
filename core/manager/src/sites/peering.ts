// Pairing with another site's manager (a one-time, expiring token exchanged for a secret each way) and
// sharing group definitions with it after every change, so either manager lists the groups between the
// two sites and can recover them while the other is down (R8). Nothing secret is stored in clear: the
// pairing token and the secret the peer presents are kept as hashes, the secret this manager presents is
// sealed (secret-box.ts); over HTTPS each side pins the other's certificate.
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError, isLoopbackHost, normalizeFingerprint, parseProtectionGroupSettings } from '@opencdp/core';
import type { Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import { defined } from '../defined.js';
import type { TlsTrust } from '../tls-pinning.js';
import { AuthenticationError } from '../errors.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { CheckpointScheduler } from '../scheduler/checkpoint-scheduler.js';
import type { GroupRow, SiteRow, Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import {
  httpPairTransport, httpPeerSyncTransport, sharedOf, type PairRequest, type PairResponse, type PairTransport, type PeerSyncMessage, type PeerSyncTransport,
} from './peer-transports.js';
import { hashSecret, isHashedSecret, SecretBox, secretMatches } from './secret-box.js';
import type { Sites } from './sites.js';

const DEFAULT_PAIRING_TTL_MS = 10 * 60_000;

export interface PeeringOptions {
  /** Pairing token lifetime, ms (default 10 min). */
  pairingTokenTtlMs?: number;
  pairTransport?: PairTransport;
  peerSyncTransport?: PeerSyncTransport;
  /** Allows plain-HTTP peers beyond loopback (as the manager's own `insecureHttp`). */
  insecureHttp?: boolean;
}

export class Peering {
  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly lifecycle: ManagerLifecycle,
    private readonly sites: Sites, private readonly events: EventLog, private readonly tasks: TaskRunner, private readonly scheduler: CheckpointScheduler,
    private readonly secrets: SecretBox, private readonly options: PeeringOptions = {},
  ) {}

  /** The secret and certificate pin this manager presents to paired site `site` (undefined when it cannot call it). */
  outboundCredentials(site: SiteRow): { secret: string; trust: TlsTrust } | undefined {
    if (!site.address || !site.outboundSecretSealed) return undefined;
    return { secret: this.secrets.open(site.outboundSecretSealed), trust: defined({ fingerprint: site.tlsFingerprint }) };
  }

  /** Seals or hashes peer secrets an older version stored in clear (once, at start). */
  protectStoredSecrets(): void {
    for (const site of this.sites.peerSites()) {
      const out = site.outboundSecretSealed;
      const inb = site.inboundSecretHash;
      const sealedOut = out !== undefined && !SecretBox.isSealed(out) ? this.secrets.seal(out) : out;
      const hashedIn = inb !== undefined && !isHashedSecret(inb) ? hashSecret(inb) : inb;
      if (sealedOut !== out || hashedIn !== inb) {
        this.store.setSiteSecrets(site.id, sealedOut, hashedIn);
        this.log.info({ peer: site.id }, 'peer secrets stored in clear by an older version are now sealed and hashed');
      }
    }
  }

  private get siteId(): string {
    return this.sites.siteId;
  }

  generatePairingToken(user?: string): { token: string; expiresAt: number } {
    // Hex, not base64url: a token starting with '-' would read as an option on a command line.
    const token = randomBytes(18).toString('hex');
    const expiresAt = this.clock.now() + (this.options.pairingTokenTtlMs ?? DEFAULT_PAIRING_TTL_MS);
    // Shown once: only its hash is kept.
    this.store.putPairingToken({ tokenHash: hashSecret(token), expiresAt, used: false });
    this.events.record('PairingTokenGenerated', 'a pairing token was generated', undefined, user);
    return { token, expiresAt };
  }

  /** The peer's side of pairing: checks the one-time token, records the peer, and names this site. */
  acceptPairing(request: PairRequest): PairResponse {
    const tokenHash = hashSecret(request.token);
    const t = this.store.pairingTokenByHash(tokenHash);
    if (!t || t.used || t.expiresAt <= this.clock.now()) throw new AuthenticationError('the pairing token is unknown, used or expired');
    if (request.siteIdentifier === this.siteId) throw new ValidationError('a site cannot pair with itself', 'siteIdentifier');
    const fingerprint = request.fingerprint !== undefined ? normalizeFingerprint(request.fingerprint, 'fingerprint') : undefined;
    const secret = randomBytes(24).toString('base64url');
    this.store.transaction(() => {
      this.store.markPairingTokenUsed(tokenHash);
      this.store.putSite({
        id: request.siteIdentifier, name: request.siteName, role: 'peer', address: request.url, pairedAt: this.clock.now(),
        outboundSecretSealed: this.secrets.seal(request.secret), inboundSecretHash: hashSecret(secret), ...defined({ tlsFingerprint: fingerprint }),
      });
    });
    this.events.record('PeerSitePaired', `paired with site ${request.siteIdentifier} (${request.url})`);
    this.syncPeer(request.siteIdentifier);
    return { siteIdentifier: this.siteId, siteName: this.sites.localSite().name, secret };
  }

  /** This side of pairing: presents the peer's token to the peer manager at `url`, records it, and notes it as a task. */
  async pairWith(url: string, token: string, user?: string, tls: { fingerprint?: string } = {}): Promise<{ site: SiteRow; taskId: string }> {
    const u = new URL(url);
    if (u.protocol === 'http:' && !this.options.insecureHttp && !isLoopbackHost(u.hostname)) {
      throw new ValidationError(`pairing with ${u.host} over plain HTTP would send the pairing token and secrets in clear`, 'useHttps', 'pair over https (useHttps: true) with the peer\'s certificate fingerprint');
    }
    const fingerprint = tls.fingerprint !== undefined ? normalizeFingerprint(tls.fingerprint, 'certificateFingerprint') : undefined;
    const transport = this.options.pairTransport ?? httpPairTransport;
    const inboundSecret = randomBytes(24).toString('base64url');
    const response = await transport(url, {
      token, siteIdentifier: this.siteId, siteName: this.sites.localSite().name, url: this.lifecycle.address ?? '', secret: inboundSecret,
      ...defined({ fingerprint: this.lifecycle.tlsFingerprint }),
    }, defined({ fingerprint }));
    if (response.siteIdentifier === this.siteId) throw new ValidationError('a site cannot pair with itself', 'hostName');
    const site: SiteRow = {
      id: response.siteIdentifier, name: response.siteName, role: 'peer', address: url, pairedAt: this.clock.now(),
      outboundSecretSealed: this.secrets.seal(response.secret), inboundSecretHash: hashSecret(inboundSecret), ...defined({ tlsFingerprint: fingerprint }),
    };
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
    if (!site?.address || !site.outboundSecretSealed || this.lifecycle.stopped) return;
    const groups = this.store.listGroups().filter((g) => g.protectedSiteId === siteId || g.recoverySiteId === siteId).map(sharedOf);
    const transport = this.options.peerSyncTransport ?? httpPeerSyncTransport;
    const send = async (): Promise<void> => transport(site.address, this.secrets.open(site.outboundSecretSealed!), { siteIdentifier: this.siteId, groups, deleted }, defined({ fingerprint: site.tlsFingerprint }));
    this.lifecycle.track(send().catch((e: Error) => {
      this.log.warn({ err: e, peer: siteId }, 'group sync to peer failed');
      if (!this.lifecycle.stopped) this.events.record('PeerSyncFailed', `sending group definitions to site ${siteId} failed: ${e.message}`);
    }));
  }

  /** Tells the paired managers of a group's sites about it (after a change here; `deleted`: ids removed here). */
  syncPeersOf(g: Pick<GroupRow, 'protectedSiteId' | 'recoverySiteId'>, deleted: string[] = []): void {
    for (const site of [g.protectedSiteId, g.recoverySiteId]) if (site !== this.siteId) this.syncPeer(site, deleted);
  }

  /** Which paired site presented `secret` (checked before anything in the request is read); AuthenticationError otherwise. */
  authenticatePeer(secret: string | undefined): SiteRow {
    const site = secret ? this.sites.peerSites().find((p) => p.inboundSecretHash !== undefined && secretMatches(secret, p.inboundSecretHash)) : undefined;
    if (!site) throw new AuthenticationError('no paired site presented this secret');
    return site;
  }

  /** The receiving side of group sharing: `site` proved itself by its secret (authenticatePeer). */
  acceptPeerSync(site: SiteRow, message: PeerSyncMessage): { groups: number } {
    if (message.siteIdentifier !== site.id) throw new AuthenticationError(`the secret of site '${site.id}' was presented for site '${message.siteIdentifier}'`);
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

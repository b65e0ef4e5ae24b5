// The manager of one site (Zerto's ZVM): protection-group definitions, users and sessions, pairing, the
// checkpoint scheduler, status/SLA evaluation with events and alerts, tasks, and recovery driven through
// the appliances' control interface. It is never on the data path: stopped, nothing cuts checkpoints and
// the appliances keep replicating (J8). Given appliances of both sites, it recovers with the other
// site's manager down (R8), so a deployment can run one manager only.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  CheckpointNotFoundError, ConflictError, GroupStatusCode, GroupSubStatusCode, InvalidStateError, NotFoundError, SystemClock,
  ValidationError, evaluateGroupState, parseProtectionGroupSettings,
} from '@opencdp/core';
import type {
  ActiveRecovery, ApplianceControl, Checkpoint, Clock, CommitPolicy, GroupFacts, GroupState, Inventory, ProgressSink,
  ProtectionGroupSettings, RecoveryKind, RecoveryOperations, RecoveryPlan, RecoveryReport, ReplicationFacts, ShutdownPolicy,
  TimerHandle, FileRestoreSession, RestoredFileEntry, RecoveryVmDefinition,
} from '@opencdp/core';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { ApplianceUnavailableError, AuthenticationError } from './errors.js';
import { hashPassword, verifyPassword } from './passwords.js';
import {
  Store, TaskState, ROLES, type AlertLevel, type GroupRow, type Role, type SessionRow, type SiteRow, type StoredGroupState, type TaskRow, type TaskStateCode,
} from './store.js';
import { ManagerMetrics } from './metrics.js';

export interface ManagerOptions {
  /** Folder of the manager's SQLite file (created when missing). */
  dataDir: string;
  /** `host:port` or `{host, port}` to serve the REST API on (port 0 picks one); omit to run without HTTP. */
  listen?: string | { host: string; port: number };
  /** This manager's site. */
  siteId: string;
  siteName?: string;
  clock?: Clock;
  /** The appliances this manager drives: its own site's, and any of the other site that the control link reaches. */
  appliances: ApplianceControl[];
  /** Site-link address of each site's recovery appliance (by site id), handed to protected appliances. Default `site:<id>`. */
  recoveryAddresses?: Record<string, string>;
  /** A peer site known without pairing (e.g. from the config file). */
  peer?: { siteId: string; name?: string; url?: string };
  /** The first administrator, created when the store has no user. Default: OPENCDP_ADMIN_USER / OPENCDP_ADMIN_PASSWORD. */
  admin?: { user: string; password: string };
  /** Session lifetime, ms (default 30 min). */
  sessionTtlMs?: number;
  /** Pairing token lifetime, ms (default 10 min). */
  pairingTokenTtlMs?: number;
  /** scrypt work factor N for new password hashes (default 16384); tests lower it. */
  passwordCost?: number;
  /** How often appliances' figures are read, ms (default 1000). */
  pollIntervalMs?: number;
  logger?: Logger;
  /** Sends a pairing request to a peer manager; default an HTTP POST. Injected in tests so nothing leaves the machine. */
  pairTransport?: PairTransport;
  /** Sends group definitions to a paired manager; default an HTTP POST to its /v1/peersites/sync. */
  peerSyncTransport?: PeerSyncTransport;
}

export type PairTransport = (url: string, body: PairRequest) => Promise<PairResponse>;
/** `secret`: what the peer presents when it calls this manager later (group sync). */
export interface PairRequest { token: string; siteIdentifier: string; siteName: string; url: string; secret: string }
export interface PairResponse { siteIdentifier: string; siteName: string; secret: string }
/** Sends a peer manager the definitions of the groups between the two sites; default an HTTP POST. */
export type PeerSyncTransport = (url: string, secret: string, body: PeerSyncMessage) => Promise<void>;
/** A group definition as paired managers share it (no runtime state). */
export interface SharedGroup {
  id: string; name: string; settings: ProtectionGroupSettings; vmIds: string[]; protectedSiteId: string; recoverySiteId: string;
  plan: RecoveryPlan; createdAt: number; lifecycle: GroupRow['lifecycle']; provisionedBytes: number;
}
export interface PeerSyncMessage { siteIdentifier: string; groups: SharedGroup[]; deleted: string[] }

export interface CreateGroupInput {
  settings: unknown;
  vmIds: string[];
  protectedSiteId?: string;
  recoverySiteId: string;
  plan?: RecoveryPlan;
}

/** Figures of one group from the latest poll (not stored: they are recomputed after a restart). */
export interface GroupRuntime {
  at: number;
  actualRpoMs?: number;
  iops: number;
  throughputBytesPerSec: number;
  wanBytesPerSec: number;
  wanBytes: number;
  writtenBytes: number;
  bitmapBytes: number;
  journalUsedBytes: number;
  journalHardLimitBytes: number;
  journalWarningBytes: number;
  historyMs: number;
  earliestCheckpointAt?: number;
  historyStatus: 'ok' | 'warning' | 'error';
  journals: NonNullable<GroupFacts['journals']>;
  activeOperation?: { kind: RecoveryKind; phase: string };
  prev?: { at: number; writes: number; writtenBytes: number; wireBytes: number };
}

/** Where the server keeps its list of registered routes (decorated by api/server.ts). */
export const REGISTERED_ROUTES_KEY = 'opencdpRegisteredRoutes';
/** How long `stop` waits for running tasks to finish their bookkeeping. */
const STOP_GRACE_MS = 5000;
const DEFAULT_SESSION_TTL_MS = 30 * 60_000;
const DEFAULT_PAIRING_TTL_MS = 10 * 60_000;
const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
/** History SLA is judged only once this much history could exist (a fresh group cannot have any). */
const HISTORY_GRACE_MS = 60_000;


export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

export class Manager {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: ManagerMetrics;
  readonly siteId: string;
  private readonly runtime = new Map<string, GroupRuntime>();
  private readonly running = new Set<Promise<void>>();
  /** Groups with a recovery operation being started or running through this manager. */
  private readonly recoveryBusy = new Set<string>();
  private readonly scheduleTimers = new Map<number, TimerHandle>();
  private readonly fileSessions = new Map<string, { groupId: string; recovery: RecoveryOperations; session: FileRestoreSession }>();
  private pollTimer?: TimerHandle;
  private polling?: Promise<void>;
  private stopped = false;
  private server?: FastifyInstance;
  private address?: string;

  private constructor(readonly options: ManagerOptions, store: Store) {
    this.store = store;
    this.clock = options.clock ?? new SystemClock();
    this.siteId = options.siteId;
    this.log = options.logger ?? pino({ name: 'opencdp-manager' });
    this.metrics = new ManagerMetrics(this);
  }

  /** Opens the store, seeds the local site and the first admin, serves the REST API when `listen` is given, and starts the scheduler and the monitor. */
  static async start(options: ManagerOptions): Promise<Manager> {
    if (!options.siteId) throw new ValidationError('a manager needs a site id', 'siteId');
    const store = Store.open(options.dataDir);
    const manager = new Manager(options, store);
    try {
      await manager.init();
    } catch (e) {
      await manager.stop();
      throw e;
    }
    return manager;
  }

  /** `METHOD url` of every REST route (for tests that compare them with the OpenAPI document). */
  registeredRoutes(): string[] {
    return [...((this.server as unknown as Record<string, string[]> | undefined)?.[REGISTERED_ROUTES_KEY] ?? [])];
  }

  /** `http://host:port` of the REST API (when listening). */
  get url(): string {
    if (!this.address) throw new InvalidStateError('the manager does not serve HTTP (start it with `listen`)');
    return this.address;
  }

  private async init(): Promise<void> {
    const now = this.clock.now();
    const previousRun = this.store.getMeta('lastStartedAt');
    this.store.setMeta('lastStartedAt', String(now));
    const local = this.store.listSites().find((s) => s.role === 'local');
    if (local && local.id !== this.siteId) throw new ValidationError(`data dir belongs to site '${local.id}', not '${this.siteId}'`, 'siteId');
    this.store.putSite({ id: this.siteId, name: this.options.siteName ?? local?.name ?? this.siteId, role: 'local', address: '', pairedAt: local?.pairedAt ?? now });
    if (this.options.peer) {
      const p = this.options.peer;
      // A restart must not forget what pairing with this site exchanged (its secrets).
      const known = this.store.listSites().find((s) => s.id === p.siteId);
      this.store.putSite({ ...known, id: p.siteId, name: p.name ?? known?.name ?? p.siteId, role: 'peer', address: p.url ?? known?.address ?? '', pairedAt: known?.pairedAt ?? now });
    }
    if (this.store.listUsers().length === 0) {
      const admin = this.options.admin ?? (process.env.OPENCDP_ADMIN_USER && process.env.OPENCDP_ADMIN_PASSWORD
        ? { user: process.env.OPENCDP_ADMIN_USER, password: process.env.OPENCDP_ADMIN_PASSWORD } : undefined);
      if (admin) await this.addUser(admin.user, admin.password, 'admin');
      else this.log.warn('no user exists and no initial admin was given (options.admin or OPENCDP_ADMIN_USER/OPENCDP_ADMIN_PASSWORD)');
    }
    if (previousRun) {
      // J8: back after an outage; appliances replicated meanwhile; checkpoints resume from now, the gap shows.
      const stoppedAt = this.store.getMeta('lastStoppedAt');
      const since = stoppedAt ? `down for ${Math.round((now - Number(stoppedAt)) / 1000)} s` : `stopped without a clean shutdown after ${new Date(Number(previousRun)).toISOString()}`;
      this.event('SiteSynchronization', `synchronizing with site ${this.siteId}: the manager was ${since}; checkpoints resume now`);
    }
    this.store.db.prepare(`DELETE FROM meta WHERE key = 'lastStoppedAt'`).run();
    if (this.options.listen !== undefined) {
      const { buildServer } = await import('./api/server.js');
      this.server = await buildServer(this);
      const listen = typeof this.options.listen === 'string' ? parseListen(this.options.listen) : this.options.listen;
      await this.server.listen({ host: listen.host, port: listen.port });
      const addr = this.server.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      this.address = `http://${host}:${addr.port}`;
      this.log.info({ url: this.address, siteId: this.siteId }, 'manager listening');
    }
    for (const g of this.store.listGroups()) this.ensureScheduled(g.settings.checkpointIntervalMs);
    this.schedulePoll();
    for (const peer of this.peerSites()) this.syncPeer(peer.id);
  }

  /** Stops the scheduler, the monitor and the HTTP server, waits for running tasks' bookkeeping, and closes the store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.scheduleTimers.values()) t.cancel();
    this.scheduleTimers.clear();
    this.pollTimer?.cancel();
    await this.server?.close();
    // Bounded: an appliance that never answers must not keep the manager from stopping.
    const grace = (): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([this.polling, grace()]);
    await Promise.race([this.whenIdle(), grace()]);
    if (this.store.db.open) this.store.setMeta('lastStoppedAt', String(this.clock.now()));
    this.store.close();
    this.log.info({ siteId: this.siteId }, 'manager stopped');
  }

  /** Resolves when no task started so far is still running. */
  async whenIdle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  // Users and sessions -------------------------------------------------------------------------------

  async addUser(name: string, password: string, role: Role): Promise<void> {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new ValidationError('user names are 1–64 letters, digits or . _ @ -', 'name');
    if (password.length < 8) throw new ValidationError('passwords have at least 8 characters', 'password');
    if (!ROLES.includes(role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, 'role');
    if (this.store.getUser(name)) throw new ConflictError(`user '${name}' exists`, 'delete it first or pick another name');
    const hash = await hashPassword(password, this.options.passwordCost);
    if (this.store.getUser(name)) throw new ConflictError(`user '${name}' exists`, 'delete it first or pick another name');
    this.store.putUser({ name, hash, role, createdAt: this.clock.now() });
  }

  deleteUser(name: string, by: string): void {
    if (!this.store.getUser(name)) throw new NotFoundError('user', name);
    if (name === by) throw new InvalidStateError('you cannot delete your own user', 'log in as another administrator');
    this.store.deleteUser(name);
  }

  async login(user: string, password: string): Promise<SessionRow> {
    const u = this.store.getUser(user);
    if (!u || !(await verifyPassword(password, u.hash))) throw new AuthenticationError('wrong user name or password');
    const now = this.clock.now();
    this.store.deleteExpiredSessions(now);
    // Hex, not base64url: a token starting with '-' would read as an option on a command line.
    const session: SessionRow = { token: randomBytes(24).toString('hex'), user: u.name, role: u.role, expiresAt: now + (this.options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS) };
    this.store.putSession(session);
    return session;
  }

  authenticate(token: string | undefined): SessionRow {
    if (!token) throw new AuthenticationError('no session token');
    const s = this.store.getSession(token);
    if (!s) throw new AuthenticationError('unknown session token');
    if (s.expiresAt <= this.clock.now()) throw new AuthenticationError('the session expired');
    return s;
  }

  logout(token: string): void {
    this.store.deleteSession(token);
  }

  // Sites and pairing ----------------------------------------------------------------------------------

  localSite(): SiteRow {
    return this.store.listSites().find((s) => s.role === 'local')!;
  }

  peerSites(): SiteRow[] {
    return this.store.listSites().filter((s) => s.role === 'peer');
  }

  generatePairingToken(): { token: string; expiresAt: number } {
    // Hex, not base64url: a token starting with '-' would read as an option on a command line.
    const token = randomBytes(18).toString('hex');
    const expiresAt = this.clock.now() + (this.options.pairingTokenTtlMs ?? DEFAULT_PAIRING_TTL_MS);
    this.store.putPairingToken({ token, expiresAt, used: false });
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
    this.event('PeerSitePaired', `paired with site ${request.siteIdentifier} (${request.url})`);
    this.syncPeer(request.siteIdentifier);
    return { siteIdentifier: this.siteId, siteName: this.localSite().name, secret };
  }

  /** This side of pairing: presents the peer's token to the peer manager at `url`, then records it. */
  async pairWith(url: string, token: string, user?: string): Promise<SiteRow> {
    const transport = this.options.pairTransport ?? httpPairTransport;
    const inboundSecret = randomBytes(24).toString('base64url');
    const response = await transport(url, { token, siteIdentifier: this.siteId, siteName: this.localSite().name, url: this.address ?? '', secret: inboundSecret });
    if (response.siteIdentifier === this.siteId) throw new ValidationError('a site cannot pair with itself', 'hostName');
    const site: SiteRow = { id: response.siteIdentifier, name: response.siteName, role: 'peer', address: url, pairedAt: this.clock.now(), outboundSecret: response.secret, inboundSecret };
    this.store.putSite(site);
    this.event('PeerSitePaired', `paired with site ${site.id} (${url})`, undefined, user);
    this.syncPeer(site.id);
    return site;
  }

  unpair(siteId: string, user?: string): void {
    const site = this.peerSites().find((s) => s.id === siteId);
    if (!site) throw new NotFoundError('peer site', siteId);
    const used = this.store.listGroups().find((g) => g.protectedSiteId === siteId || g.recoverySiteId === siteId);
    if (used) throw new ConflictError(`group '${used.name}' uses site '${siteId}'`, 'delete the groups between the sites first');
    this.store.deleteSite(siteId);
    this.event('PeerSiteUnpaired', `unpaired site ${siteId}`, undefined, user);
  }

  // Sharing group definitions with paired managers ----------------------------------------------------------

  /**
   * Sends a paired manager every group between the two sites, and the ones deleted here, so either manager
   * lists them and can recover them when the other is down (R8). Best effort: a peer that is down gets the
   * full set when this manager next changes a group or restarts.
   */
  syncPeer(siteId: string, deleted: string[] = []): void {
    const site = this.peerSites().find((s) => s.id === siteId);
    if (!site?.address || !site.outboundSecret || this.stopped) return;
    const groups = this.store.listGroups().filter((g) => g.protectedSiteId === siteId || g.recoverySiteId === siteId).map(sharedOf);
    const transport = this.options.peerSyncTransport ?? httpPeerSyncTransport;
    this.track(transport(site.address, site.outboundSecret, { siteIdentifier: this.siteId, groups, deleted }).catch((e: Error) => {
      this.log.warn({ err: e, peer: siteId }, 'group sync to peer failed');
      if (!this.stopped) this.event('PeerSyncFailed', `sending group definitions to site ${siteId} failed: ${e.message}`);
    }));
  }

  private syncPeersOf(g: Pick<GroupRow, 'protectedSiteId' | 'recoverySiteId'>, deleted: string[] = []): void {
    for (const site of [g.protectedSiteId, g.recoverySiteId]) if (site !== this.siteId) this.syncPeer(site, deleted);
  }

  /** The receiving side of group sharing: the caller proves it is the paired site by its secret. */
  acceptPeerSync(secret: string | undefined, message: PeerSyncMessage): { groups: number } {
    const site = this.peerSites().find((s) => s.id === message.siteIdentifier);
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
    for (const g of message.groups) this.ensureScheduled(g.settings.checkpointIntervalMs);
    this.event('PeerSync', `received ${message.groups.length} group definitions from site ${site.id}${message.deleted.length ? `, ${message.deleted.length} deleted` : ''}`);
    return { groups: message.groups.length };
  }

  // Appliances -----------------------------------------------------------------------------------------

  appliances(): ApplianceControl[] {
    return this.options.appliances;
  }

  /** The appliance that protects a group's VMs, when this manager reaches it. */
  protectedAppliance(g: GroupRow): ApplianceControl | undefined {
    return this.options.appliances.find((a) => a.siteId === g.protectedSiteId);
  }

  /** The appliance that keeps a group's journals and runs its recovery, when this manager reaches it. */
  recoveryAppliance(g: GroupRow): ApplianceControl | undefined {
    const ofSite = this.options.appliances.filter((a) => a.siteId === g.recoverySiteId);
    return ofSite.find((a) => a.recovery) ?? ofSite[0];
  }

  private recoveryOf(g: GroupRow): RecoveryOperations {
    const r = this.recoveryAppliance(g)?.recovery;
    if (!r) throw new ApplianceUnavailableError(`this manager reaches no recovery appliance of site '${g.recoverySiteId}' for group '${g.name}'`);
    return r;
  }

  private protectedOf(g: GroupRow): ApplianceControl {
    const a = this.protectedAppliance(g);
    if (!a) throw new ApplianceUnavailableError(`this manager reaches no appliance of site '${g.protectedSiteId}', which protects group '${g.name}'`);
    return a;
  }

  private knownSite(id: string): boolean {
    return id === this.siteId || this.peerSites().some((s) => s.id === id) || this.options.appliances.some((a) => a.siteId === id);
  }

  // Groups --------------------------------------------------------------------------------------------

  group(id: string): GroupRow {
    const g = this.store.getGroup(id);
    if (!g) throw new NotFoundError('group', id);
    return g;
  }

  groups(): GroupRow[] {
    return this.store.listGroups();
  }

  groupRuntime(id: string): GroupRuntime | undefined {
    return this.runtime.get(id);
  }

  /** Checks a new group (settings schema, sites, VMs), stores it and starts protecting it; returns the task. */
  async createGroup(input: CreateGroupInput, user?: string): Promise<{ taskId: string; groupId: string }> {
    const settings = parseProtectionGroupSettings(input.settings);
    const { g, vms } = await this.checkGroup(settings, input, undefined);
    this.store.putGroup(g);
    this.event('GroupCreated', `group '${g.name}' created (${g.vmIds.length} VMs, ${g.protectedSiteId} → ${g.recoverySiteId})`, g.id, user);
    this.syncPeersOf(g);
    this.ensureScheduled(settings.checkpointIntervalMs);
    const taskId = this.startTask('CreateProtectionGroup', g.id, user, async (progress) => {
      progress(10, 'defining the group at the recovery site');
      await this.defineAtRecoverySite(g, vms);
      progress(30, 'protecting');
      await this.protectedOf(g).protectGroup({ groupId: g.id, settings, vmIds: g.vmIds, recoveryAddress: this.recoveryAddress(g.recoverySiteId) });
    });
    return { taskId, groupId: g.id };
  }

  /** Changes an existing group (from a committed settings draft); re-protects with the replicas as preseeded targets when the appliance's part changed. */
  async updateGroup(id: string, input: CreateGroupInput, user?: string): Promise<{ taskId: string; groupId: string }> {
    const old = this.group(id);
    const settings = parseProtectionGroupSettings(input.settings);
    const { g, vms } = await this.checkGroup(settings, input, old);
    if (g.protectedSiteId !== old.protectedSiteId || g.recoverySiteId !== old.recoverySiteId) throw new ValidationError('the sites of an existing group cannot change', 'basic.protectedSiteIdentifier');
    this.assertActive(old);
    await this.assertNoRecoveryAsync(old);
    const reprotect = JSON.stringify(old.vmIds) !== JSON.stringify(g.vmIds) || JSON.stringify(old.settings.journal) !== JSON.stringify(settings.journal)
      || old.settings.useWanCompression !== settings.useWanCompression || old.settings.priority !== settings.priority;
    this.store.putGroup(g);
    this.event('GroupUpdated', `group '${g.name}' settings changed${reprotect ? '; re-protecting with the replicas as preseeded targets' : ''}`, g.id, user);
    this.syncPeersOf(g);
    this.ensureScheduled(settings.checkpointIntervalMs);
    const taskId = this.startTask('UpdateProtectionGroup', g.id, user, async (progress) => {
      progress(10, 'defining the group at the recovery site');
      await this.defineAtRecoverySite(g, vms);
      if (!reprotect) return;
      const a = this.protectedOf(g);
      progress(20, 'stopping protection');
      await a.unprotectGroup(g.id, { deleteSourceVms: false });
      progress(60, 'protecting');
      await a.protectGroup({ groupId: g.id, settings, vmIds: g.vmIds, recoveryAddress: this.recoveryAddress(g.recoverySiteId), preseeded: true });
    });
    return { taskId, groupId: g.id };
  }

  /** Tells the recovery appliance what the group is, so it can recover with no manager up (R8). */
  private async defineAtRecoverySite(g: GroupRow, vms: RecoveryVmDefinition[]): Promise<void> {
    const ra = this.recoveryAppliance(g);
    if (ra?.defineRecoveryGroup) await ra.defineRecoveryGroup({ groupId: g.id, name: g.name, vms, plan: g.plan });
  }

  private async checkGroup(settings: ProtectionGroupSettings, input: CreateGroupInput, old: GroupRow | undefined): Promise<{ g: GroupRow; vms: RecoveryVmDefinition[] }> {
    const protectedSiteId = input.protectedSiteId ?? this.siteId;
    if (!this.knownSite(protectedSiteId)) throw new ValidationError(`protected site '${protectedSiteId}' is neither this site nor a peer`, 'protectedSiteIdentifier');
    if (!this.knownSite(input.recoverySiteId)) throw new ValidationError(`recovery site '${input.recoverySiteId}' is neither this site nor a peer`, 'recoverySiteIdentifier');
    if (new Set(input.vmIds).size !== input.vmIds.length) throw new ValidationError('a VM is listed twice', 'vmIdentifiers');
    const byName = this.store.getGroupByName(settings.name);
    if (byName && byName.id !== old?.id) throw new ConflictError(`a group named '${settings.name}' exists`, 'pick another name');
    const appliance = this.options.appliances.find((a) => a.siteId === protectedSiteId);
    if (!appliance) throw new ValidationError(`this manager reaches no appliance of site '${protectedSiteId}'`, 'protectedSiteIdentifier');
    const inventory = await appliance.inventory();
    let provisionedBytes = 0;
    const vms: RecoveryVmDefinition[] = [];
    for (const vmId of input.vmIds) {
      const vm = inventory.vms.find((v) => v.id === vmId);
      if (!vm) throw new ValidationError(`VM '${vmId}' is not in the inventory of site '${protectedSiteId}'`, 'vmIdentifiers');
      provisionedBytes += vm.volumes.reduce((n, v) => n + v.sizeBytes, 0);
      vms.push({ id: vm.id, name: vm.name, nics: vm.nics.map((n) => ({ networkId: n.networkId, mac: n.mac, ...defined({ ipv4: n.ipv4 }) })) });
    }
    const plan = input.plan ?? old?.plan ?? {};
    checkPlan(plan, input.vmIds);
    const g: GroupRow = {
      id: old?.id ?? `vpg-${this.store.nextCounter('group')}-${randomUUID().slice(0, 8)}`,
      name: settings.name, settings, vmIds: [...input.vmIds], protectedSiteId, recoverySiteId: input.recoverySiteId, plan,
      createdAt: old?.createdAt ?? this.clock.now(), lifecycle: old?.lifecycle ?? 'active', provisionedBytes,
      ...(old?.syncedAt !== undefined ? { syncedAt: old.syncedAt } : {}), ...(old?.lastTest ? { lastTest: old.lastTest } : {}), ...(old?.state ? { state: old.state } : {}),
    };
    return { g, vms };
  }

  private recoveryAddress(siteId: string): string {
    return this.options.recoveryAddresses?.[siteId] ?? `site:${siteId}`;
  }

  async deleteGroup(id: string, options: { keepRecoveryVolumes: boolean; force: boolean }, user?: string): Promise<string> {
    const g = this.group(id);
    if (!options.force) {
      await this.assertNoRecoveryAsync(g);
      if (g.lifecycle === 'deleting') throw new ConflictError(`group '${g.name}' is being deleted`, 'wait, or delete with force');
    }
    g.lifecycle = 'deleting';
    this.store.putGroup(g);
    this.event('GroupDeleting', `deleting group '${g.name}'${options.keepRecoveryVolumes ? ' keeping the recovery volumes' : ''}${options.force ? ' (forced)' : ''}`, g.id, user);
    return this.startTask('RemoveProtectionGroup', g.id, user, async (progress) => {
      const pa = this.protectedAppliance(g);
      progress(10, 'stopping protection');
      if (pa) {
        try {
          await pa.unprotectGroup(g.id, { deleteSourceVms: false });
        } catch (e) {
          if (!options.force && (e as { code?: string }).code !== 'NOT_FOUND') throw e;
        }
      } else if (!options.force) {
        throw new ApplianceUnavailableError(`this manager reaches no appliance of site '${g.protectedSiteId}'; delete with force to remove the group anyway`);
      }
      const recovery = this.recoveryAppliance(g)?.recovery;
      progress(50, 'removing the group at the recovery site');
      if (recovery) await recovery.deleteGroup({ groupId: g.id, keepRecoveryVolumes: options.keepRecoveryVolumes, force: options.force }, scale(progress, 50, 95));
      else if (!options.force) throw new ApplianceUnavailableError(`this manager reaches no recovery appliance of site '${g.recoverySiteId}'; delete with force to remove the group anyway`);
      this.store.deleteGroup(g.id, this.clock.now());
      this.runtime.delete(g.id);
      this.event('GroupDeleted', `group '${g.name}' deleted`, g.id, user);
      this.syncPeersOf(g, [g.id]);
      // A failed delete leaves the group 'deleting'; deleting again with force removes it.
    });
  }

  pause(id: string, user?: string): string {
    return this.protectedAction(id, 'Pause', user, (a, g) => a.pause(g.id), 'replication paused by a user');
  }

  resume(id: string, user?: string): string {
    return this.protectedAction(id, 'Resume', user, (a, g) => a.resume(g.id), 'replication resumed by a user');
  }

  forceSync(id: string, user?: string): string {
    return this.protectedAction(id, 'ForceSync', user, (a, g) => a.forceSync(g.id), 'force sync requested by a user');
  }

  private protectedAction(id: string, type: string, user: string | undefined, fn: (a: ApplianceControl, g: GroupRow) => Promise<void>, what: string): string {
    const g = this.group(id);
    this.assertActive(g);
    const a = this.protectedOf(g);
    return this.startTask(type, g.id, user, async () => {
      await fn(a, g);
      this.event(type, `${what} (group '${g.name}')`, g.id, user);
    });
  }

  private assertActive(g: GroupRow): void {
    if (g.lifecycle !== 'active') throw new InvalidStateError(`group '${g.name}' is ${g.lifecycle}`, 'only an active group allows this');
  }

  // Checkpoints ------------------------------------------------------------------------------------------

  /** The group's checkpoints, oldest first: from the recovery appliance when reachable, else those this manager cut. */
  async checkpoints(id: string): Promise<Checkpoint[]> {
    const g = this.group(id);
    const recovery = this.recoveryAppliance(g)?.recovery;
    if (recovery) return recovery.listCheckpoints(g.id);
    return this.store.listCheckpoints(g.id).map((c) => ({ id: c.id, groupId: c.groupId, seq: c.seq, timestamp: c.timestamp, kind: c.kind, ...(c.tag ? { tag: c.tag } : {}) }));
  }

  /** Cuts one tagged checkpoint across the listed groups (one timestamp). */
  async tagCheckpoint(groupIds: string[], tag: string, user?: string): Promise<{ taskId: string; checkpointIds: Record<string, string> }> {
    if (groupIds.length === 0) throw new ValidationError('name at least one group', 'vpgIdentifiers');
    const groups = groupIds.map((id) => this.group(id));
    for (const g of groups) {
      this.assertActive(g);
      this.protectedOf(g);
    }
    const ids = this.newCheckpointIds(groups.map((g) => g.id));
    const timestamp = this.clock.now();
    const taskId = this.startTask('AddCheckpoint', groups.length === 1 ? groups[0].id : undefined, user, async () => {
      const cut = await this.cut(groups, 'tagged', timestamp, ids, tag);
      const missed = groups.filter((g) => !cut.has(g.id));
      for (const g of groups) if (cut.has(g.id)) this.event('CheckpointAdded', `tagged checkpoint '${tag}' added to group '${g.name}'`, g.id, user);
      if (missed.length > 0) throw new InvalidStateError(`no checkpoint could be cut now for ${missed.map((g) => `'${g.name}'`).join(', ')} (syncing, paused or disconnected)`, 'retry once the group streams again');
    });
    return { taskId, checkpointIds: ids };
  }

  private newCheckpointIds(groupIds: string[]): Record<string, string> {
    const ids: Record<string, string> = {};
    for (const id of groupIds) ids[id] = `${this.siteId}-cp-${this.store.nextCounter('checkpoint')}`;
    return ids;
  }

  /** Cuts checkpoints through each group's protected appliance (one barrier per appliance); records what was cut. */
  private async cut(groups: GroupRow[], kind: 'auto' | 'tagged', timestamp: number, ids: Record<string, string>, tag?: string): Promise<Map<string, Checkpoint>> {
    const byAppliance = new Map<ApplianceControl, GroupRow[]>();
    for (const g of groups) {
      const a = this.protectedAppliance(g);
      if (a) byAppliance.set(a, [...(byAppliance.get(a) ?? []), g]);
    }
    const out = new Map<string, Checkpoint>();
    await Promise.all([...byAppliance].map(async ([a, gs]) => {
      try {
        const groupIds = gs.map((g) => g.id);
        const result = await a.cutCheckpoints({ groupIds, kind, timestamp, ids: Object.fromEntries(groupIds.map((id) => [id, ids[id]])), ...(tag ? { tag } : {}) });
        result.forEach((cp, i) => {
          if (!cp) return;
          out.set(groupIds[i], cp);
          if (!this.stopped) this.store.addCheckpoint({ id: cp.id, groupId: cp.groupId, timestamp: cp.timestamp, kind: cp.kind, seq: cp.seq, ...(cp.tag ? { tag: cp.tag } : {}) });
        });
      } catch (e) {
        this.log.warn({ err: e, siteId: a.siteId }, 'cutting checkpoints failed');
        if (kind === 'tagged') throw e;
      }
    }));
    return out;
  }

  /** Groups whose checkpoints this manager cuts: those protected at its site, or at a site that has no paired manager of its own. */
  private scheduledGroups(intervalMs: number): GroupRow[] {
    const peers = new Set(this.peerSites().map((s) => s.id));
    return this.store.listGroups().filter((g) => g.lifecycle === 'active' && g.settings.checkpointIntervalMs === intervalMs
      && (g.protectedSiteId === this.siteId || !peers.has(g.protectedSiteId)) && this.protectedAppliance(g) !== undefined);
  }

  private ensureScheduled(intervalMs: number): void {
    if (this.stopped || this.scheduleTimers.has(intervalMs)) return;
    this.scheduleTimers.set(intervalMs, this.clock.setTimer(intervalMs, () => void this.tick(intervalMs)));
  }

  /** One scheduler tick: every group on this cadence gets an auto checkpoint with one timestamp. */
  private async tick(intervalMs: number): Promise<void> {
    this.scheduleTimers.delete(intervalMs);
    if (this.stopped) return;
    const groups = this.scheduledGroups(intervalMs);
    if (groups.length === 0) return;
    this.ensureScheduled(intervalMs);
    const now = this.clock.now();
    try {
      await this.cut(groups, 'auto', now, this.newCheckpointIds(groups.map((g) => g.id)));
      if (!this.stopped) for (const g of groups) this.store.trimCheckpoints(g.id, now - g.settings.journalHistoryHours * 3_600_000);
    } catch (e) {
      this.log.warn({ err: e }, 'checkpoint tick failed');
    }
  }

  // Recovery ------------------------------------------------------------------------------------------

  private async assertNoRecoveryAsync(g: GroupRow): Promise<void> {
    this.assertNoRecovery(g);
    const recovery = this.recoveryAppliance(g)?.recovery;
    const active = recovery ? await recovery.active(g.id) : undefined;
    if (active) throw new ConflictError(`group '${g.name}' has a ${active.kind} in progress (${active.phase})`, 'finish or roll it back first');
    this.assertNoRecovery(g);
  }

  private assertNoRecovery(g: GroupRow): void {
    if (this.recoveryBusy.has(g.id)) throw new ConflictError(`group '${g.name}' has a recovery operation in progress`, 'finish or roll it back first');
  }

  private async checkCheckpoint(g: GroupRow, recovery: RecoveryOperations, checkpointId: string | undefined): Promise<void> {
    if (checkpointId === undefined) return;
    const list = await recovery.listCheckpoints(g.id);
    if (!list.some((c) => c.id === checkpointId)) throw new CheckpointNotFoundError(checkpointId, `group '${g.name}'`);
  }

  private async checkVms(g: GroupRow, vmIds: string[] | undefined): Promise<void> {
    for (const vm of vmIds ?? []) if (!g.vmIds.includes(vm)) throw new ValidationError(`VM '${vm}' is not in group '${g.name}'`, 'vmIdentifiers');
  }

  /** Starts a recovery operation as a task after checking, before anything changes, that none runs on the group. */
  private async recoveryTask(id: string, type: string, user: string | undefined, opts: { checkpointId?: string; vmIds?: string[] },
    run: (recovery: RecoveryOperations, g: GroupRow, progress: ProgressSink) => Promise<TaskOutcome>): Promise<string> {
    const g = this.group(id);
    this.assertActive(g);
    const recovery = this.recoveryOf(g);
    await this.checkVms(g, opts.vmIds);
    await this.checkCheckpoint(g, recovery, opts.checkpointId);
    await this.assertNoRecoveryAsync(g);
    this.recoveryBusy.add(g.id);
    this.event(type, `${type} started on group '${g.name}'`, g.id, user);
    return this.startTask(type, g.id, user, (progress) => run(recovery, g, progress), () => this.recoveryBusy.delete(g.id));
  }

  /** A step on a running operation (stop a test, commit, roll back): checks the operation is the right kind first. */
  private async followUpTask(id: string, type: string, kinds: RecoveryKind[], user: string | undefined,
    run: (recovery: RecoveryOperations, g: GroupRow, active: ActiveRecovery, progress: ProgressSink) => Promise<TaskOutcome>): Promise<string> {
    const g = this.group(id);
    const recovery = this.recoveryOf(g);
    const active = await recovery.active(g.id);
    if (!active || !kinds.includes(active.kind)) throw new InvalidStateError(`group '${g.name}' has no ${kinds.join('/')} in progress${active ? ` (it has a ${active.kind})` : ''}`);
    if (this.recoveryBusy.has(g.id)) throw new ConflictError(`the ${active.kind} of group '${g.name}' is still starting`, 'wait for its task to finish');
    this.recoveryBusy.add(g.id);
    this.event(type, `${type} on group '${g.name}'`, g.id, user);
    return this.startTask(type, g.id, user, (progress) => run(recovery, g, active, progress), () => this.recoveryBusy.delete(g.id));
  }

  failoverTest(id: string, req: { checkpointId?: string; vmIds?: string[] }, user?: string): Promise<string> {
    return this.recoveryTask(id, 'FailoverTest', user, req, async (recovery, g, progress) => {
      const active = await recovery.startFailoverTest({ groupId: g.id, ...defined({ checkpointId: req.checkpointId, vmIds: req.vmIds }) }, progress);
      // The test runs until the user stops it (FailoverTestStop), as the anchor's task does.
      return { result: active, state: TaskState.WaitingForUserInput };
    });
  }

  stopFailoverTest(id: string, req: { success: boolean; summary?: string }, user?: string): Promise<string> {
    return this.followUpTask(id, 'FailoverTestStop', ['FailoverTest'], user, async (recovery, g, _active, progress) => {
      const report = await recovery.stopFailoverTest({ groupId: g.id, success: req.success, ...defined({ summary: req.summary }) }, progress);
      this.recordReport(report);
      const fresh = this.store.getGroup(g.id);
      if (fresh) this.store.putGroup({ ...fresh, lastTest: { at: report.endedAt, success: req.success, ...defined({ summary: req.summary }) } });
      this.completeWaiting(g.id, 'FailoverTest');
      return { result: { reportIdentifier: report.id } };
    });
  }

  failover(id: string, req: { checkpointId?: string; vmIds?: string[]; shutdownPolicy: ShutdownPolicy; timeToWaitBeforeShutdownSec: number; commitPolicy: CommitPolicy; commitPolicyTimeoutSec: number; reverseProtection: boolean }, user?: string): Promise<string> {
    return this.recoveryTask(id, 'Failover', user, req, async (recovery, g, progress) => {
      const active = await recovery.failover({
        groupId: g.id, shutdownPolicy: req.shutdownPolicy, timeToWaitBeforeShutdownSec: req.timeToWaitBeforeShutdownSec, commitPolicy: req.commitPolicy,
        commitPolicyTimeoutSec: req.commitPolicyTimeoutSec, reverseProtection: req.reverseProtection, ...defined({ checkpointId: req.checkpointId, vmIds: req.vmIds }),
      }, progress);
      if (active.phase === 'done' && req.commitPolicy === 'commit') this.afterCommit(g, active.vms.map((v) => v.recoveredVmId), req.reverseProtection);
      return { result: active, state: active.phase === 'before-commit' ? TaskState.WaitingForUserInput : TaskState.Completed };
    });
  }

  move(id: string, req: { commitPolicy: CommitPolicy; commitPolicyTimeoutSec: number; forceShutdown: boolean; reverseProtection: boolean; keepSourceVms: boolean }, user?: string): Promise<string> {
    return this.recoveryTask(id, 'Move', user, {}, async (recovery, g, progress) => {
      const active = await recovery.move({ groupId: g.id, ...req }, progress);
      if (active.phase === 'done' && req.commitPolicy === 'commit') this.afterCommit(g, active.vms.map((v) => v.recoveredVmId), req.reverseProtection);
      return { result: active, state: active.phase === 'before-commit' ? TaskState.WaitingForUserInput : TaskState.Completed };
    });
  }

  commit(id: string, kind: 'Failover' | 'Move', req: { reverseProtection?: boolean; keepSourceVms?: boolean }, user?: string): Promise<string> {
    return this.followUpTask(id, `${kind}Commit`, [kind], user, async (recovery, g, active, progress) => {
      const report = await recovery.commit({ groupId: g.id, ...defined(req) }, progress);
      this.recordReport(report);
      this.completeWaiting(g.id, kind);
      // What the recovery site did decides the group's fate (the choice made at failover time applies when the commit names none).
      const step = report.steps.find((st) => st.name === 'reverse-protection');
      const reverse = step ? step.result === 'Success' : req.reverseProtection ?? false;
      this.afterCommit(g, report.vms.length > 0 ? report.vms.map((v) => v.recoveredVmId) : active.vms.map((v) => v.recoveredVmId), reverse);
      return { result: { reportIdentifier: report.id } };
    });
  }

  rollback(id: string, kind: 'Failover' | 'Move', user?: string): Promise<string> {
    return this.followUpTask(id, `${kind}Rollback`, [kind], user, async (recovery, g, _active, progress) => {
      const report = await recovery.rollback(g.id, progress);
      this.recordReport(report);
      this.completeWaiting(g.id, kind);
      return { result: { reportIdentifier: report.id } };
    });
  }

  clone(id: string, req: { checkpointId?: string; datastoreId?: string; vmIds?: string[] }, user?: string): Promise<string> {
    return this.recoveryTask(id, 'CloneStart', user, req, async (recovery, g, progress) => {
      const report = await recovery.clone({ groupId: g.id, ...defined(req) }, progress);
      this.recordReport(report);
      return { result: { reportIdentifier: report.id } };
    });
  }

  /** The recovery API has no way to stop a clone once it runs; say so instead of pretending. */
  cloneAbort(id: string): never {
    const g = this.group(id);
    const running = this.store.listTasks({ groupId: g.id, state: TaskState.InProgress }).some((t) => t.type === 'CloneStart');
    if (!running) throw new InvalidStateError(`group '${g.name}' has no clone in progress`);
    throw new InvalidStateError(`the clone of group '${g.name}' cannot be aborted once it runs`, 'wait for it to finish, then delete the cloned VMs');
  }

  /**
   * After a committed failover or move. With reverse protection the recovery site's orchestrator has started
   * protecting the recovered VMs back (same group id, preseeded): the manager swaps the sites and keeps cutting
   * checkpoints. Without it the group is Recovered.
   */
  private afterCommit(g: GroupRow, recoveredVmIds: string[], reverse: boolean): void {
    const fresh = this.store.getGroup(g.id);
    if (!fresh) return;
    if (!reverse) {
      this.store.putGroup({ ...fresh, lifecycle: 'recovered' });
      this.event('GroupRecovered', `group '${g.name}' runs at site ${g.recoverySiteId}; not protected back`, g.id);
      this.syncPeersOf(g);
      return;
    }
    const reversed: GroupRow = { ...fresh, protectedSiteId: fresh.recoverySiteId, recoverySiteId: fresh.protectedSiteId, vmIds: recoveredVmIds, lifecycle: 'active' };
    delete reversed.syncedAt;
    this.store.putGroup(reversed);
    this.event('ReverseProtection', `group '${g.name}' now protected from ${reversed.protectedSiteId} to ${reversed.recoverySiteId}`, g.id);
    this.syncPeersOf(reversed);
    this.ensureScheduled(reversed.settings.checkpointIntervalMs);
  }

  private recordReport(report: RecoveryReport): void {
    if (this.stopped) return;
    this.store.putReport(report);
    this.event('RecoveryReport', `${report.kind} of group '${report.groupName}' ended: ${report.result}`, report.groupId);
  }

  /** The start task of a failover or move waits for the user until commit or rollback. */
  private completeWaiting(groupId: string, type: string): void {
    for (const t of this.store.listTasks({ groupId, state: TaskState.WaitingForUserInput })) {
      if (t.type === type) this.store.putTask({ ...t, state: TaskState.Completed, progress: 100, completedAt: this.clock.now() });
    }
  }

  // File restore (R5) ---------------------------------------------------------------------------------

  async openFileRestore(id: string, req: { checkpointId: string; vmId: string; volumeId: string }, user?: string): Promise<{ taskId: string; sessionId: string }> {
    const g = this.group(id);
    const recovery = this.recoveryOf(g);
    await this.checkVms(g, [req.vmId]);
    await this.checkCheckpoint(g, recovery, req.checkpointId);
    const session = await recovery.openFileRestore(g.id, req.checkpointId, req.vmId, req.volumeId);
    this.fileSessions.set(session.id, { groupId: g.id, recovery, session });
    const taskId = this.startTask('FileRestore', g.id, user, async () => {
      this.event('FileRestore', `file restore opened on group '${g.name}' VM ${req.vmId} at checkpoint ${req.checkpointId}`, g.id, user);
      return { result: { sessionIdentifier: session.id } };
    });
    return { taskId, sessionId: session.id };
  }

  private fileSession(sessionId: string): { groupId: string; recovery: RecoveryOperations; session: FileRestoreSession } {
    const s = this.fileSessions.get(sessionId);
    if (!s) throw new NotFoundError('file restore session', sessionId);
    return s;
  }

  listFiles(sessionId: string, path: string): Promise<RestoredFileEntry[]> {
    const s = this.fileSession(sessionId);
    return s.recovery.listFiles(s.session.id, checkRestorePath(path));
  }

  extractFile(sessionId: string, path: string): Promise<Buffer> {
    const s = this.fileSession(sessionId);
    return s.recovery.extractFile(s.session.id, checkRestorePath(path));
  }

  async closeFileRestore(sessionId: string): Promise<void> {
    const s = this.fileSession(sessionId);
    await s.recovery.closeFileRestore(s.session.id);
    this.fileSessions.delete(sessionId);
  }

  // Tasks and events ---------------------------------------------------------------------------------

  /** Runs `work` as a task: stored at once (InProgress), progress written as it goes, Completed or Failed at the end. */
  startTask(type: string, groupId: string | undefined, user: string | undefined, work: (progress: ProgressSink) => Promise<TaskOutcome | void>, finally_?: () => void): string {
    const task: TaskRow = { id: `task-${this.store.nextCounter('task')}-${randomUUID().slice(0, 8)}`, type, state: TaskState.InProgress, progress: 0, step: 'started', startedAt: this.clock.now(), ...defined({ groupId, user }) };
    this.store.putTask(task);
    let lastWrite = -1;
    const progress: ProgressSink = (percent, step) => {
      if (this.stopped) return;
      const p = Math.max(0, Math.min(99, Math.round(percent)));
      if (p === lastWrite && step === task.step) return;
      lastWrite = p;
      Object.assign(task, { progress: p, step });
      this.store.putTask(task);
    };
    const p = (async () => {
      try {
        const outcome = (await work(progress)) ?? {};
        const state: TaskStateCode = outcome.state ?? TaskState.Completed;
        Object.assign(task, { state, progress: 100, step: state === TaskState.WaitingForUserInput ? 'waiting for the user' : 'done', result: outcome.result });
        if (state !== TaskState.WaitingForUserInput) task.completedAt = this.clock.now();
      } catch (e) {
        const error = e as Error;
        Object.assign(task, { state: TaskState.Failed, step: 'failed', error: error.message, completedAt: this.clock.now() });
        this.log.warn({ task: task.id, type, err: error }, 'task failed');
        if (!this.stopped) this.event('TaskFailed', `${type} failed: ${error.message}`, groupId, user);
      } finally {
        finally_?.();
      }
      if (!this.stopped) this.store.putTask(task);
    })();
    this.track(p);
    return task.id;
  }

  private track(p: Promise<unknown>): void {
    const done = p.then(() => undefined, () => undefined);
    this.running.add(done);
    void done.then(() => this.running.delete(done));
  }

  event(type: string, description: string, groupId?: string, user?: string): void {
    if (this.stopped && !this.store.db.open) return;
    this.store.addEvent({ at: this.clock.now(), type, description, ...defined({ groupId, user }) });
    this.log.info({ event: type, groupId, user }, description);
  }

  // Monitoring: status, SLA, alerts, figures ------------------------------------------------------------

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.clock.setTimer(this.options.pollIntervalMs ?? 1000, () => {
      this.polling = this.pollAll().catch((e: Error) => this.log.warn({ err: e }, 'poll failed')).finally(() => {
        this.polling = undefined;
        this.schedulePoll();
      });
    });
  }

  /** Reads every group's facts from the appliances, evaluates its state, raises events and alerts. Tests call it directly. */
  async pollAll(): Promise<void> {
    for (const g of this.store.listGroups()) {
      if (this.stopped) return;
      try {
        await this.pollGroup(g);
      } catch (e) {
        this.log.warn({ err: e, groupId: g.id }, 'poll of group failed');
      }
    }
  }

  private async pollGroup(g: GroupRow): Promise<void> {
    const now = this.clock.now();
    const pa = this.protectedAppliance(g);
    const ra = this.recoveryAppliance(g);
    const read = async (a: ApplianceControl | undefined): Promise<GroupFacts | undefined> => {
      if (!a) return undefined;
      try {
        return await a.groupFacts(g.id);
      } catch {
        return undefined;
      }
    };
    const pf = await read(pa);
    const rf = ra === pa ? pf : await read(ra);
    let activeKnown = ra?.recovery !== undefined;
    const active = ra?.recovery ? await ra.recovery.active(g.id).catch(() => ((activeKnown = false), undefined)) : undefined;
    if (this.stopped) return;
    // An operation that ended without this manager (a commit policy that applied on its own, or the other
    // site's manager) leaves its start task waiting: close it.
    if (activeKnown && !active && !this.recoveryBusy.has(g.id)) {
      const waiting = this.store.listTasks({ groupId: g.id, state: TaskState.WaitingForUserInput });
      // Its report was made where the operation ended: fetch it, so /reports/recovery lists every operation.
      if (waiting.length > 0 && ra?.recovery?.reports) {
        const reports = await ra.recovery.reports(g.id).catch(() => [] as RecoveryReport[]);
        for (const r of reports) if (!this.store.hasReport(r.id)) this.recordReport(r);
      }
      for (const t of waiting) {
        this.store.putTask({ ...t, state: TaskState.Completed, step: 'ended outside this manager', completedAt: now });
      }
    }
    const prevRt = this.runtime.get(g.id);
    const journals = rf?.journals ?? pf?.journals ?? [];
    const latestAt = rf?.latestCheckpointAt ?? pf?.latestCheckpointAt ?? pf?.lastCheckpoint?.timestamp;
    const phase = pf?.phase ?? 'streaming';
    const syncing = phase === 'creating' || phase === 'initial-sync';
    if (g.syncedAt === undefined && pf && !syncing && latestAt !== undefined) g.syncedAt = now;
    const history = this.historyStatus(g, journals, now);
    const facts: ReplicationFacts = {
      // A manager that reaches only the recovery side (the other site's manager drives the protected appliance)
      // judges the group by what arrives there: the RPO tells whether replication keeps up.
      phase, connected: pf ? pf.connected ?? false : !pa && rf !== undefined, vmCount: g.vmIds.length, hasCheckpoints: latestAt !== undefined,
      rpoTargetMs: g.settings.rpoTargetSeconds * 1000, historyStatus: syncing ? 'ok' : history.status,
      ...defined({ trigger: pf?.trigger, cause: pf?.cause, storageError: rf?.storageError ?? pf?.storageError, actualRpoMs: latestAt !== undefined ? Math.max(0, now - latestAt) : undefined }),
    };
    const state = this.overlay(g, evaluateGroupState(facts), active);
    // Rates from the counters' change since the last poll.
    const writes = pf?.writes ?? 0, written = pf?.writtenBytes ?? 0, wire = pf?.wireBytes ?? 0;
    const prev = prevRt?.prev;
    const dt = prev ? (now - prev.at) / 1000 : 0;
    const rate = (a: number, b: number): number => (dt > 0 && a >= b ? (a - b) / dt : 0);
    const rt: GroupRuntime = {
      at: now, iops: prev ? rate(writes, prev.writes) : 0, throughputBytesPerSec: prev ? rate(written, prev.writtenBytes) : 0,
      wanBytesPerSec: prev ? rate(wire, prev.wireBytes) : 0, wanBytes: wire, writtenBytes: written, bitmapBytes: pf?.bitmapBytes ?? 0,
      journalUsedBytes: sum(journals.map((j) => j.usedBytes)), journalHardLimitBytes: sum(journals.map((j) => j.hardLimitBytes)),
      journalWarningBytes: sum(journals.map((j) => j.warningBytes)), historyMs: history.actualMs, historyStatus: facts.historyStatus, journals,
      prev: { at: now, writes, writtenBytes: written, wireBytes: wire },
      ...defined({ actualRpoMs: facts.actualRpoMs, earliestCheckpointAt: history.earliestAt, activeOperation: active ? { kind: active.kind, phase: active.phase } : undefined }),
    };
    this.runtime.set(g.id, rt);
    // Transitions: every change of status, sub-status or trigger is an event with the reason.
    const stored: StoredGroupState = { status: state.status, subStatus: state.subStatus, statusCode: state.statusCode, subStatusCode: state.subStatusCode, health: state.health, reason: state.reason, ...defined({ trigger: state.trigger }) };
    const before = g.state;
    const changed = !before || before.status !== stored.status || before.subStatus !== stored.subStatus || before.trigger !== stored.trigger;
    const fresh = this.store.getGroup(g.id);
    if (!fresh) return;
    if (changed || fresh.syncedAt !== g.syncedAt) this.store.putGroup({ ...fresh, state: stored, ...defined({ syncedAt: g.syncedAt }) });
    if (changed) {
      this.event('GroupStatusChanged', `group '${g.name}': ${before ? `${before.status}/${before.subStatus} → ` : ''}${stored.status}/${stored.subStatus}${stored.trigger ? ` (${stored.trigger})` : ''}: ${stored.reason}`, g.id);
    }
    this.evaluateAlerts(g, facts, rt, syncing);
  }

  /** Recovery operations and the group's lifecycle take precedence over the replication state. */
  private overlay(g: GroupRow, state: GroupState, active: ActiveRecovery | undefined): GroupState {
    const set = (status: keyof typeof GroupStatusCode, subStatus: keyof typeof GroupSubStatusCode, reason: string): GroupState =>
      ({ ...state, status, subStatus, statusCode: GroupStatusCode[status], subStatusCode: GroupSubStatusCode[subStatus], reason });
    if (g.lifecycle === 'deleting') return set('Deleting', 'Deleting', 'the group is being deleted');
    if (g.lifecycle === 'recovered') return { ...set('Recovered', 'None', 'the group was failed over or moved and is not protected back'), health: 'green' };
    if (active && (active.kind === 'Failover' || active.kind === 'Move')) {
      const failover = active.kind === 'Failover';
      const sub: Record<string, keyof typeof GroupSubStatusCode> = {
        running: 'None', 'before-commit': failover ? 'FailingOverBeforeCommit' : 'MovingBeforeCommit', committing: failover ? 'FailingOverCommitting' : 'MovingCommitting',
        'rolling-back': failover ? 'FailingOverRollingBack' : 'MovingRollingBack', promoting: 'Promoting', done: 'None',
      };
      return set(failover ? 'FailingOver' : 'Moving', sub[active.phase] ?? 'None', `${active.kind} in progress (${active.phase})`);
    }
    return state;
  }

  private historyStatus(g: GroupRow, journals: NonNullable<GroupFacts['journals']>, now: number): { status: 'ok' | 'warning' | 'error'; actualMs: number; earliestAt?: number } {
    const actualMs = journals.length > 0 ? Math.min(...journals.map((j) => j.historyMs)) : 0;
    const earliest = journals.map((j) => j.earliestCheckpointAt).filter((t): t is number => t !== undefined);
    const earliestAt = earliest.length > 0 ? Math.max(...earliest) : undefined;
    if (g.syncedAt === undefined || journals.length === 0) return { status: 'ok', actualMs, ...defined({ earliestAt }) };
    // A group cannot hold more history than it has existed since its initial sync.
    const expected = Math.min(g.settings.journalHistoryHours * 3_600_000, now - g.syncedAt);
    if (expected < HISTORY_GRACE_MS) return { status: 'ok', actualMs, ...defined({ earliestAt }) };
    const ratio = actualMs / expected;
    return { status: ratio < 0.75 ? 'error' : ratio < 0.85 ? 'warning' : 'ok', actualMs, ...defined({ earliestAt }) };
  }

  private evaluateAlerts(g: GroupRow, facts: ReplicationFacts, rt: GroupRuntime, syncing: boolean): void {
    const rpoHigh = !syncing && facts.actualRpoMs !== undefined && facts.actualRpoMs > facts.rpoTargetMs && g.lifecycle === 'active';
    this.setAlert(g, 'RpoAboveTarget', rpoHigh ? 'warning' : undefined,
      `group '${g.name}': RPO ${Math.round((facts.actualRpoMs ?? 0) / 1000)} s is above the ${g.settings.rpoTargetSeconds} s target`);
    const history = syncing ? 'ok' : facts.historyStatus;
    this.setAlert(g, 'HistoryNotMeetingSLA', history === 'ok' ? undefined : history,
      `group '${g.name}': journal history ${Math.round(rt.historyMs / 60_000)} min is below ${history === 'error' ? '75' : '85'} % of the configured ${g.settings.journalHistoryHours} h`);
    const over = rt.journals.filter((j) => j.warningBytes > 0 && j.usedBytes >= j.warningBytes);
    this.setAlert(g, 'JournalWarningThreshold', over.length > 0 ? 'warning' : undefined,
      `group '${g.name}': journal of VM ${over.map((j) => j.vmId).join(', ')} passed its warning threshold`);
  }

  private setAlert(g: GroupRow, type: string, level: AlertLevel | undefined, description: string): void {
    const current = this.store.activeAlert(g.id, type);
    const now = this.clock.now();
    if (!level) {
      if (current) {
        this.store.putAlert({ ...current, clearedAt: now });
        this.event('AlertCleared', `cleared: ${current.description}`, g.id);
      }
      return;
    }
    if (!current) {
      this.store.putAlert({ id: `alert-${this.store.nextCounter('alert')}`, groupId: g.id, type, level, description, raisedAt: now, dismissed: false });
      this.event('AlertRaised', `${level}: ${description}`, g.id);
    } else if (current.level !== level) {
      this.store.putAlert({ ...current, level, description });
      this.event('AlertChanged', `${level}: ${description}`, g.id);
    }
  }

  setAlertDismissed(id: string, dismissed: boolean, user?: string): void {
    const a = this.store.getAlert(id);
    if (!a) throw new NotFoundError('alert', id);
    if (a.dismissed === dismissed) return;
    this.store.putAlert({ ...a, dismissed });
    this.event(dismissed ? 'AlertDismissed' : 'AlertUndismissed', `${dismissed ? 'dismissed' : 'undismissed'}: ${a.description}`, a.groupId, user);
  }

  /** The group's alert status code: 0 none, 1 warning, 2 error (active alerts, dismissed or not). */
  alertStatus(groupId: string): number {
    const alerts = this.store.listAlerts({ groupId });
    return alerts.some((a) => a.level === 'error') ? 2 : alerts.length > 0 ? 1 : 0;
  }

  /** The inventories of every appliance this manager reaches (unreachable ones are skipped). */
  async inventories(): Promise<Map<string, Inventory>> {
    const out = new Map<string, Inventory>();
    for (const a of this.options.appliances) {
      if (out.has(a.siteId)) continue;
      try {
        out.set(a.siteId, await a.inventory());
      } catch (e) {
        this.log.warn({ err: e, siteId: a.siteId }, 'inventory failed');
      }
    }
    return out;
  }
}

export interface TaskOutcome {
  state?: TaskStateCode;
  result?: unknown;
}

/** Validates a path for file restore: absolute inside the volume, no `..`, no NUL or backslash. */
export function checkRestorePath(path: string): string {
  if (!path.startsWith('/')) throw new ValidationError(`path '${path}' must be absolute inside the volume (start with '/')`, 'path');
  if (/[\0\\]/.test(path)) throw new ValidationError('path holds a NUL or a backslash', 'path');
  if (path.split('/').some((seg) => seg === '..')) throw new ValidationError(`path '${path}' escapes with '..'`, 'path');
  return path;
}

function checkPlan(plan: RecoveryPlan, vmIds: string[]): void {
  for (const [i, bg] of (plan.bootGroups ?? []).entries()) {
    for (const vm of bg.vmIds) if (!vmIds.includes(vm)) throw new ValidationError(`boot group '${bg.name}' names VM '${vm}', which is not in the group`, `bootGroups.${i}.vmIds`);
  }
  for (const [i, nic] of (plan.nics ?? []).entries()) {
    if (!vmIds.includes(nic.vmId)) throw new ValidationError(`NIC mapping names VM '${nic.vmId}', which is not in the group`, `nics.${i}.vmId`);
  }
}

function scale(progress: ProgressSink, from: number, to: number): ProgressSink {
  return (p, step) => progress(from + ((to - from) * p) / 100, step);
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Drops undefined members, so optional fields stay absent (exactOptionalPropertyTypes-friendly, and JSON stays small). */
export function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw new ValidationError(`--listen '${listen}' is not host:port`, 'listen');
  const port = Number(m[3]);
  if (port > 65535) throw new ValidationError(`port ${port} is out of range`, 'listen');
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function sharedOf(g: GroupRow): SharedGroup {
  return {
    id: g.id, name: g.name, settings: g.settings, vmIds: g.vmIds, protectedSiteId: g.protectedSiteId, recoverySiteId: g.recoverySiteId,
    plan: g.plan, createdAt: g.createdAt, lifecycle: g.lifecycle, provisionedBytes: g.provisionedBytes,
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Header a paired manager presents its secret in. */
export const PEER_SECRET_HEADER = 'x-opencdp-peer-secret';

const httpPeerSyncTransport: PeerSyncTransport = async (url, secret, body) => {
  const res = await fetch(`${url.replace(/\/$/, '')}/v1/peersites/sync`, {
    method: 'POST', headers: { 'content-type': 'application/json', [PEER_SECRET_HEADER]: secret }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new ApplianceUnavailableError(`the peer manager at ${url} refused the group sync: ${res.status} ${await res.text().catch(() => '')}`);
};

const httpPairTransport: PairTransport = async (url, body) => {
  const res = await fetch(`${url.replace(/\/$/, '')}/v1/peersites/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const payload = (await res.json().catch(() => ({}))) as Partial<PairResponse> & { message?: string };
  if (!res.ok || typeof payload.siteIdentifier !== 'string' || typeof payload.secret !== 'string') throw new AuthenticationError(`the peer at ${url} refused pairing: ${payload.message ?? res.status}`);
  return { siteIdentifier: payload.siteIdentifier, siteName: payload.siteName ?? payload.siteIdentifier, secret: payload.secret };
};

// The manager's embedded state: one SQLite file (better-sqlite3, synchronous, WAL) with numbered schema
// migrations. Rows are plain records; JSON columns hold the nested parts (settings, recovery plan, report
// bodies) that the manager reads whole. Every write is a single statement or a transaction, so a request
// that fails validation before reaching the store changes nothing. The folder is 0700 and the database
// (with its WAL and shared-memory files) 0600: it holds password hashes and copies of every setting.
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ProtectionGroupSettings, RecoveryPlan, RecoveryReport, CheckpointKind } from '@opencdp/core';
import type {
  AlertLevel, AlertRow, CheckpointRow, DraftBody, DraftRow, EventRow, GroupLifecycle, GroupRow, PairingTokenRow, Role, SessionRow, SiteRow, TaskRow, TaskStateCode, UserRow,
} from './records.js';

export * from './records.js';

const MIGRATIONS: string[] = [
  // 1: the initial schema.
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE users (name TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE sessions (token TEXT PRIMARY KEY, user TEXT NOT NULL, role TEXT NOT NULL, expires_at INTEGER NOT NULL);
   CREATE TABLE sites (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, address TEXT NOT NULL, paired_at INTEGER NOT NULL);
   CREATE TABLE pairing_tokens (token TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
   CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, settings TEXT NOT NULL, vm_ids TEXT NOT NULL,
     protected_site TEXT NOT NULL, recovery_site TEXT NOT NULL, plan TEXT NOT NULL, created_at INTEGER NOT NULL,
     lifecycle TEXT NOT NULL, provisioned_bytes INTEGER NOT NULL DEFAULT 0, synced_at INTEGER, last_test TEXT, state TEXT);
   CREATE TABLE drafts (id TEXT PRIMARY KEY, group_id TEXT, body TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE tasks (id TEXT PRIMARY KEY, type TEXT NOT NULL, group_id TEXT, state INTEGER NOT NULL, progress INTEGER NOT NULL,
     step TEXT NOT NULL, started_at INTEGER NOT NULL, completed_at INTEGER, error TEXT, user TEXT, result TEXT);
   CREATE INDEX tasks_group ON tasks (group_id);
   CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, type TEXT NOT NULL, group_id TEXT,
     description TEXT NOT NULL, user TEXT);
   CREATE INDEX events_at ON events (at);
   CREATE TABLE alerts (id TEXT PRIMARY KEY, group_id TEXT NOT NULL, type TEXT NOT NULL, level TEXT NOT NULL, description TEXT NOT NULL,
     raised_at INTEGER NOT NULL, dismissed INTEGER NOT NULL DEFAULT 0, cleared_at INTEGER);
   CREATE TABLE reports (id TEXT PRIMARY KEY, group_id TEXT NOT NULL, group_name TEXT NOT NULL, kind TEXT NOT NULL, result TEXT NOT NULL,
     started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, body TEXT NOT NULL);
   CREATE INDEX reports_started ON reports (started_at);
   CREATE TABLE checkpoints (id TEXT PRIMARY KEY, group_id TEXT NOT NULL, timestamp INTEGER NOT NULL, kind TEXT NOT NULL, tag TEXT, seq INTEGER NOT NULL);
   CREATE INDEX checkpoints_group ON checkpoints (group_id, timestamp);`,
  // 2: paired managers authenticate each other with secrets exchanged at pairing (group definitions are shared).
  `ALTER TABLE sites ADD COLUMN outbound_secret TEXT;
   ALTER TABLE sites ADD COLUMN inbound_secret TEXT;`,
  // 3: a site runs one appliance per host: where each group runs; alerts about a site rather than a group.
  `ALTER TABLE groups ADD COLUMN placement TEXT;
   ALTER TABLE alerts ADD COLUMN site_id TEXT;`,
  // 4: no secret in clear at rest. Sessions and pairing tokens keep only a hash (live sessions end: log in again;
  // open pairing tokens are void: generate another). Peer secrets are hashed or sealed by Peering at start; the
  // peer manager's HTTPS certificate is pinned.
  `DROP TABLE sessions;
   CREATE TABLE sessions (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, user TEXT NOT NULL, role TEXT NOT NULL,
     created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
   CREATE INDEX sessions_user ON sessions (user);
   DROP TABLE pairing_tokens;
   CREATE TABLE pairing_tokens (token_hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
   ALTER TABLE sites ADD COLUMN tls_fingerprint TEXT;`,
];

type SqlRow = Record<string, unknown>;
const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (JSON.parse(String(v)) as T));
const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

export class Store {
  readonly db: Database.Database;

  /** Opens (creating when missing) the SQLite file `file`; `Store.open` picks `manager.db` in a data dir. */
  constructor(readonly file: string) {
    // Created owner-only before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode.
    closeSync(openSync(file, 'a', 0o600));
    for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
  }

  /** Opens (creating when missing) `manager.db` in `dataDir` and brings its schema up to date. */
  static open(dataDir: string): Store {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // A folder made by an older version (or by hand) is narrowed too: it holds the database and the secret key.
    chmodSync(dataDir, 0o700);
    return new Store(join(dataDir, 'manager.db'));
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private migrate(): void {
    const from = this.schemaVersion;
    for (let v = from; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** A hash of every table's content: equal digests mean nothing was changed (tests compare them around failed requests). */
  digest(): string {
    const h = createHash('sha256');
    const tables = this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[];
    for (const { name } of tables) {
      h.update(`#${name}\n`);
      for (const row of this.db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all()) h.update(JSON.stringify(row) + '\n');
    }
    return h.digest('hex');
  }

  // Meta -------------------------------------------------------------------------------------------

  getMeta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  deleteMeta(key: string): void {
    this.db.prepare('DELETE FROM meta WHERE key = ?').run(key);
  }

  /** A counter that never repeats, across restarts (checkpoint and object ids). */
  nextCounter(name: string): number {
    return this.reserveCounter(name, 1);
  }

  /** Reserves `n` consecutive values of a counter in one write and returns the first. */
  reserveCounter(name: string, n: number): number {
    return this.transaction(() => {
      const first = Number(this.getMeta(`counter.${name}`) ?? '0') + 1;
      this.setMeta(`counter.${name}`, String(first + Math.max(1, n) - 1));
      return first;
    });
  }

  // Users and sessions -----------------------------------------------------------------------------

  getUser(name: string): UserRow | undefined {
    const r = this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as SqlRow | undefined;
    return r && { name: String(r.name), hash: String(r.hash), role: r.role as Role, createdAt: Number(r.created_at) };
  }

  listUsers(): UserRow[] {
    return (this.db.prepare('SELECT name FROM users ORDER BY name').all() as { name: string }[]).map((r) => this.getUser(r.name)!);
  }

  putUser(u: UserRow): void {
    this.db.prepare('INSERT INTO users (name, hash, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, role = excluded.role')
      .run(u.name, u.hash, u.role, u.createdAt);
  }

  deleteUser(name: string): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM users WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM sessions WHERE user = ?').run(name);
    });
  }

  private sessionOf(r: SqlRow): SessionRow {
    return { id: String(r.id), tokenHash: String(r.token_hash), user: String(r.user), role: r.role as Role, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) };
  }

  putSession(s: SessionRow): void {
    this.db.prepare('INSERT INTO sessions (id, token_hash, user, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(s.id, s.tokenHash, s.user, s.role, s.createdAt, s.expiresAt);
  }

  /** The session whose token hashes to `tokenHash`. */
  sessionByTokenHash(tokenHash: string): SessionRow | undefined {
    const r = this.db.prepare('SELECT * FROM sessions WHERE token_hash = ?').get(tokenHash) as SqlRow | undefined;
    return r && this.sessionOf(r);
  }

  deleteSession(id: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
  }

  /** Ends every session of `user` but `keepId` (after a password change). */
  deleteSessionsOf(user: string, keepId?: string): void {
    this.db.prepare('DELETE FROM sessions WHERE user = ? AND id IS NOT ?').run(user, keepId ?? null);
  }

  /** Gives the user's live sessions a new role (an administrator changed it). */
  setSessionRoles(user: string, role: Role): void {
    this.db.prepare('UPDATE sessions SET role = ? WHERE user = ?').run(role, user);
  }

  deleteExpiredSessions(now: number): void {
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
  }

  // Sites and pairing ------------------------------------------------------------------------------

  listSites(): SiteRow[] {
    return (this.db.prepare('SELECT * FROM sites ORDER BY role, id').all() as SqlRow[]).map((r) => ({
      id: String(r.id), name: String(r.name), role: r.role as SiteRow['role'], address: String(r.address), pairedAt: Number(r.paired_at),
      ...(r.outbound_secret ? { outboundSecretSealed: String(r.outbound_secret) } : {}), ...(r.inbound_secret ? { inboundSecretHash: String(r.inbound_secret) } : {}),
      ...(r.tls_fingerprint ? { tlsFingerprint: String(r.tls_fingerprint) } : {}),
    }));
  }

  putSite(s: SiteRow): void {
    this.db.prepare(`INSERT INTO sites (id, name, role, address, paired_at, outbound_secret, inbound_secret, tls_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address, role = excluded.role, paired_at = excluded.paired_at,
        outbound_secret = COALESCE(excluded.outbound_secret, outbound_secret), inbound_secret = COALESCE(excluded.inbound_secret, inbound_secret),
        tls_fingerprint = COALESCE(excluded.tls_fingerprint, tls_fingerprint)`)
      .run(s.id, s.name, s.role, s.address, s.pairedAt, s.outboundSecretSealed ?? null, s.inboundSecretHash ?? null, s.tlsFingerprint ?? null);
  }

  /** Replaces a site's stored peer secrets as they are (used to seal or hash values an older version kept in clear). */
  setSiteSecrets(id: string, outboundSecretSealed: string | undefined, inboundSecretHash: string | undefined): void {
    this.db.prepare('UPDATE sites SET outbound_secret = ?, inbound_secret = ? WHERE id = ?').run(outboundSecretSealed ?? null, inboundSecretHash ?? null, id);
  }

  deleteSite(id: string): void {
    this.db.prepare(`DELETE FROM sites WHERE id = ? AND role = 'peer'`).run(id);
  }

  putPairingToken(t: PairingTokenRow): void {
    this.db.prepare('INSERT INTO pairing_tokens (token_hash, expires_at, used) VALUES (?, ?, ?)').run(t.tokenHash, t.expiresAt, t.used ? 1 : 0);
  }

  pairingTokenByHash(tokenHash: string): PairingTokenRow | undefined {
    const r = this.db.prepare('SELECT * FROM pairing_tokens WHERE token_hash = ?').get(tokenHash) as SqlRow | undefined;
    return r && { tokenHash: String(r.token_hash), expiresAt: Number(r.expires_at), used: Number(r.used) === 1 };
  }

  markPairingTokenUsed(tokenHash: string): void {
    this.db.prepare('UPDATE pairing_tokens SET used = 1 WHERE token_hash = ?').run(tokenHash);
  }

  // Groups -----------------------------------------------------------------------------------------

  private groupOf(r: SqlRow): GroupRow {
    return {
      id: String(r.id), name: String(r.name), settings: parse<ProtectionGroupSettings>(r.settings)!, vmIds: parse<string[]>(r.vm_ids) ?? [],
      protectedSiteId: String(r.protected_site), recoverySiteId: String(r.recovery_site), plan: parse<RecoveryPlan>(r.plan) ?? {},
      createdAt: Number(r.created_at), lifecycle: r.lifecycle as GroupLifecycle, provisionedBytes: Number(r.provisioned_bytes),
      syncedAt: opt(r.synced_at as number | null), lastTest: parse(r.last_test), state: parse(r.state), placement: parse(r.placement),
    };
  }

  listGroups(): GroupRow[] {
    return (this.db.prepare('SELECT * FROM groups ORDER BY created_at, name').all() as SqlRow[]).map((r) => this.groupOf(r));
  }

  /** How many groups keep their journals on each recovery appliance (by the placement's appliance id). */
  groupsPerRecoveryAppliance(): Map<string, number> {
    const rows = this.db.prepare(`SELECT json_extract(placement, '$.recovery.applianceId') AS a, COUNT(*) AS n FROM groups WHERE placement IS NOT NULL GROUP BY a`).all() as { a: string | null; n: number }[];
    return new Map(rows.filter((r) => r.a !== null).map((r) => [String(r.a), r.n]));
  }

  getGroup(id: string): GroupRow | undefined {
    const r = this.db.prepare('SELECT * FROM groups WHERE id = ?').get(id) as SqlRow | undefined;
    return r && this.groupOf(r);
  }

  getGroupByName(name: string): GroupRow | undefined {
    const r = this.db.prepare('SELECT * FROM groups WHERE name = ?').get(name) as SqlRow | undefined;
    return r && this.groupOf(r);
  }

  putGroup(g: GroupRow): void {
    this.db.prepare(`INSERT INTO groups (id, name, settings, vm_ids, protected_site, recovery_site, plan, created_at, lifecycle, provisioned_bytes, synced_at, last_test, state, placement)
      VALUES (@id, @name, @settings, @vmIds, @protectedSiteId, @recoverySiteId, @plan, @createdAt, @lifecycle, @provisionedBytes, @syncedAt, @lastTest, @state, @placement)
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, settings = excluded.settings, vm_ids = excluded.vm_ids, protected_site = excluded.protected_site,
        recovery_site = excluded.recovery_site, plan = excluded.plan, lifecycle = excluded.lifecycle, provisioned_bytes = excluded.provisioned_bytes,
        synced_at = excluded.synced_at, last_test = excluded.last_test, state = excluded.state, placement = excluded.placement`)
      .run({
        id: g.id, name: g.name, settings: json(g.settings), vmIds: json(g.vmIds), protectedSiteId: g.protectedSiteId, recoverySiteId: g.recoverySiteId,
        plan: json(g.plan), createdAt: g.createdAt, lifecycle: g.lifecycle, provisionedBytes: g.provisionedBytes, syncedAt: g.syncedAt ?? null,
        lastTest: json(g.lastTest), state: json(g.state), placement: json(g.placement),
      });
  }

  deleteGroup(id: string, now: number): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM groups WHERE id = ?').run(id);
      this.db.prepare('DELETE FROM checkpoints WHERE group_id = ?').run(id);
      this.db.prepare('DELETE FROM drafts WHERE group_id = ?').run(id);
      this.db.prepare('UPDATE alerts SET cleared_at = COALESCE(cleared_at, ?) WHERE group_id = ?').run(now, id);
    });
  }

  // Drafts -----------------------------------------------------------------------------------------

  putDraft(d: DraftRow): void {
    this.db.prepare('INSERT INTO drafts (id, group_id, body, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body')
      .run(d.id, d.groupId ?? null, json(d.body), d.createdAt);
  }

  getDraft(id: string): DraftRow | undefined {
    const r = this.db.prepare('SELECT * FROM drafts WHERE id = ?').get(id) as SqlRow | undefined;
    return r && { id: String(r.id), groupId: opt(r.group_id as string | null), body: parse<DraftBody>(r.body)!, createdAt: Number(r.created_at) };
  }

  listDrafts(): DraftRow[] {
    return (this.db.prepare('SELECT id FROM drafts ORDER BY created_at, id').all() as { id: string }[]).map((r) => this.getDraft(r.id)!);
  }

  deleteDraft(id: string): void {
    this.db.prepare('DELETE FROM drafts WHERE id = ?').run(id);
  }

  // Tasks ------------------------------------------------------------------------------------------

  private taskOf(r: SqlRow): TaskRow {
    return {
      id: String(r.id), type: String(r.type), groupId: opt(r.group_id as string | null), state: Number(r.state) as TaskStateCode,
      progress: Number(r.progress), step: String(r.step), startedAt: Number(r.started_at), completedAt: opt(r.completed_at as number | null),
      error: opt(r.error as string | null), user: opt(r.user as string | null), result: parse(r.result),
    };
  }

  putTask(t: TaskRow): void {
    this.db.prepare(`INSERT INTO tasks (id, type, group_id, state, progress, step, started_at, completed_at, error, user, result)
      VALUES (@id, @type, @groupId, @state, @progress, @step, @startedAt, @completedAt, @error, @user, @result)
      ON CONFLICT (id) DO UPDATE SET state = excluded.state, progress = excluded.progress, step = excluded.step,
        completed_at = excluded.completed_at, error = excluded.error, result = excluded.result`)
      .run({
        id: t.id, type: t.type, groupId: t.groupId ?? null, state: t.state, progress: t.progress, step: t.step, startedAt: t.startedAt,
        completedAt: t.completedAt ?? null, error: t.error ?? null, user: t.user ?? null, result: json(t.result),
      });
  }

  getTask(id: string): TaskRow | undefined {
    const r = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as SqlRow | undefined;
    return r && this.taskOf(r);
  }

  listTasks(filter: { groupId?: string; state?: number } = {}): TaskRow[] {
    return (this.db.prepare(`SELECT * FROM tasks WHERE (@g IS NULL OR group_id = @g) AND (@s IS NULL OR state = @s) ORDER BY started_at DESC, rowid DESC`)
      .all({ g: filter.groupId ?? null, s: filter.state ?? null }) as SqlRow[]).map((r) => this.taskOf(r));
  }

  taskCountsByState(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM tasks GROUP BY state').all() as { state: number; n: number }[]) out[r.state] = r.n;
    return out;
  }

  // Events -----------------------------------------------------------------------------------------

  addEvent(e: Omit<EventRow, 'id'>): EventRow {
    const info = this.db.prepare('INSERT INTO events (at, type, group_id, description, user) VALUES (?, ?, ?, ?, ?)')
      .run(e.at, e.type, e.groupId ?? null, e.description, e.user ?? null);
    return { ...e, id: Number(info.lastInsertRowid) };
  }

  listEvents(filter: { groupId?: string; type?: string; from?: number; to?: number } = {}): EventRow[] {
    return (this.db.prepare(`SELECT * FROM events WHERE (@g IS NULL OR group_id = @g) AND (@t IS NULL OR type = @t)
        AND (@from IS NULL OR at >= @from) AND (@to IS NULL OR at <= @to) ORDER BY id`)
      .all({ g: filter.groupId ?? null, t: filter.type ?? null, from: filter.from ?? null, to: filter.to ?? null }) as SqlRow[])
      .map((r) => ({ id: Number(r.id), at: Number(r.at), type: String(r.type), groupId: opt(r.group_id as string | null), description: String(r.description), user: opt(r.user as string | null) }));
  }

  // Alerts -----------------------------------------------------------------------------------------

  private alertOf(r: SqlRow): AlertRow {
    return {
      id: String(r.id), groupId: String(r.group_id), type: String(r.type), level: r.level as AlertLevel, description: String(r.description),
      raisedAt: Number(r.raised_at), dismissed: Number(r.dismissed) === 1, clearedAt: opt(r.cleared_at as number | null),
      ...(r.site_id ? { siteId: String(r.site_id) } : {}),
    };
  }

  putAlert(a: AlertRow): void {
    this.db.prepare(`INSERT INTO alerts (id, group_id, type, level, description, raised_at, dismissed, cleared_at, site_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET level = excluded.level, description = excluded.description, dismissed = excluded.dismissed, cleared_at = excluded.cleared_at`)
      .run(a.id, a.groupId, a.type, a.level, a.description, a.raisedAt, a.dismissed ? 1 : 0, a.clearedAt ?? null, a.siteId ?? null);
  }

  getAlert(id: string): AlertRow | undefined {
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as SqlRow | undefined;
    return r && this.alertOf(r);
  }

  /** The alert of this kind still standing on the group, if any. */
  activeAlert(groupId: string, type: string): AlertRow | undefined {
    const r = this.db.prepare('SELECT * FROM alerts WHERE group_id = ? AND type = ? AND cleared_at IS NULL').get(groupId, type) as SqlRow | undefined;
    return r && this.alertOf(r);
  }

  /** The alert of this kind still standing on a site, if any. */
  activeSiteAlert(siteId: string, type: string): AlertRow | undefined {
    const r = this.db.prepare(`SELECT * FROM alerts WHERE group_id = '' AND site_id = ? AND type = ? AND cleared_at IS NULL`).get(siteId, type) as SqlRow | undefined;
    return r && this.alertOf(r);
  }

  /** Every standing group alert, keyed `groupId/type` (one query per poll instead of one per group and type). */
  activeAlertsByGroup(): Map<string, AlertRow> {
    const out = new Map<string, AlertRow>();
    for (const r of this.db.prepare(`SELECT * FROM alerts WHERE cleared_at IS NULL AND group_id <> ''`).all() as SqlRow[]) {
      const a = this.alertOf(r);
      out.set(`${a.groupId}/${a.type}`, a);
    }
    return out;
  }

  listAlerts(filter: { groupId?: string; dismissed?: boolean; includeCleared?: boolean; level?: string } = {}): AlertRow[] {
    return (this.db.prepare(`SELECT * FROM alerts WHERE (@g IS NULL OR group_id = @g) AND (@d IS NULL OR dismissed = @d)
        AND (@c = 1 OR cleared_at IS NULL) AND (@l IS NULL OR level = @l) ORDER BY raised_at, id`)
      .all({ g: filter.groupId ?? null, d: filter.dismissed === undefined ? null : filter.dismissed ? 1 : 0, c: filter.includeCleared ? 1 : 0, l: filter.level ?? null }) as SqlRow[])
      .map((r) => this.alertOf(r));
  }

  // Reports ----------------------------------------------------------------------------------------

  putReport(r: RecoveryReport): void {
    this.db.prepare('INSERT OR REPLACE INTO reports (id, group_id, group_name, kind, result, started_at, ended_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(r.id, r.groupId, r.groupName, r.kind, r.result, r.startedAt, r.endedAt, json(r));
  }

  hasReport(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM reports WHERE id = ?').get(id) !== undefined;
  }

  listReports(f: { from?: number; to?: number; groupName?: string; kind?: string; result?: string; offset: number; limit: number }): { total: number; reports: RecoveryReport[] } {
    const where = `WHERE (@from IS NULL OR started_at >= @from) AND (@to IS NULL OR started_at <= @to) AND (@n IS NULL OR group_name = @n)
      AND (@k IS NULL OR kind = @k) AND (@r IS NULL OR result = @r)`;
    const params = { from: f.from ?? null, to: f.to ?? null, n: f.groupName ?? null, k: f.kind ?? null, r: f.result ?? null };
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM reports ${where}`).get(params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT body FROM reports ${where} ORDER BY started_at, id LIMIT @limit OFFSET @offset`).all({ ...params, limit: f.limit, offset: f.offset }) as { body: string }[];
    return { total, reports: rows.map((r) => JSON.parse(r.body) as RecoveryReport) };
  }

  // Checkpoints the manager cut (the list to show when no recovery appliance is reachable) ------------

  addCheckpoint(c: CheckpointRow): void {
    this.db.prepare('INSERT OR IGNORE INTO checkpoints (id, group_id, timestamp, kind, tag, seq) VALUES (?, ?, ?, ?, ?, ?)').run(c.id, c.groupId, c.timestamp, c.kind, c.tag ?? null, c.seq);
  }

  listCheckpoints(groupId: string): CheckpointRow[] {
    return (this.db.prepare('SELECT * FROM checkpoints WHERE group_id = ? ORDER BY timestamp, rowid').all(groupId) as SqlRow[]).map((r) => ({
      id: String(r.id), groupId: String(r.group_id), timestamp: Number(r.timestamp), kind: r.kind as CheckpointKind, tag: opt(r.tag as string | null), seq: Number(r.seq),
    }));
  }

  trimCheckpoints(groupId: string, before: number): void {
    this.db.prepare('DELETE FROM checkpoints WHERE group_id = ? AND timestamp < ?').run(groupId, before);
  }
}

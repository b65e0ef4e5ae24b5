// Accounts: users with a role, passwords (hashed by passwords.ts), and sessions that expire. The REST
// layer asks `authenticate` for every call and `roleAllows` for the route's role. Password hashing and
// the session table are the two seams a stronger scheme (hashed session tokens, rate-limited logins)
// replaces without touching callers.
import { randomBytes } from 'node:crypto';
import { ConflictError, InvalidStateError, NotFoundError, ValidationError } from '@opencdp/core';
import type { Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import { AuthenticationError } from '../errors.js';
import { ROLES, type Role, type SessionRow, type Store, type UserRow } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import { hashPassword, verifyPassword } from './passwords.js';

const DEFAULT_SESSION_TTL_MS = 30 * 60_000;
const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

export interface AccountsOptions {
  /** Session lifetime, ms (default 30 min). */
  sessionTtlMs?: number;
  /** scrypt work factor N for new password hashes. */
  passwordCost?: number;
  /** The first administrator, created when there is no user. */
  admin?: { user: string; password: string };
}

export class Accounts {
  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly events: EventLog,
    private readonly options: AccountsOptions,
  ) {}

  /** Creates the first administrator when the store has no user: `options.admin`, else OPENCDP_ADMIN_USER / OPENCDP_ADMIN_PASSWORD. */
  async seedAdmin(): Promise<void> {
    if (this.store.listUsers().length > 0) return;
    const admin = this.options.admin ?? (process.env.OPENCDP_ADMIN_USER && process.env.OPENCDP_ADMIN_PASSWORD
      ? { user: process.env.OPENCDP_ADMIN_USER, password: process.env.OPENCDP_ADMIN_PASSWORD } : undefined);
    if (admin) await this.createUser(admin.user, admin.password, 'admin');
    else this.log.warn('no user exists and no initial admin was given (options.admin or OPENCDP_ADMIN_USER/OPENCDP_ADMIN_PASSWORD)');
  }

  listUsers(): UserRow[] {
    return this.store.listUsers();
  }

  /** Adds a user on behalf of `by` (an event names both). */
  async addUser(name: string, password: string, role: Role, by?: string): Promise<void> {
    await this.createUser(name, password, role);
    this.events.record('UserAdded', `user '${name}' added with role ${role}`, undefined, by);
  }

  private async createUser(name: string, password: string, role: Role): Promise<void> {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new ValidationError('user names are 1–64 letters, digits or . _ @ -', 'name');
    if (password.length < 8) throw new ValidationError('passwords have at least 8 characters', 'password');
    if (!ROLES.includes(role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, 'role');
    if (this.store.getUser(name)) throw new ConflictError(`user '${name}' exists`, 'delete it first or pick another name');
    const hash = await hashPassword(password, this.options.passwordCost);
    // Checked again: another request may have added the name while the hash was computed.
    if (this.store.getUser(name)) throw new ConflictError(`user '${name}' exists`, 'delete it first or pick another name');
    this.store.putUser({ name, hash, role, createdAt: this.clock.now() });
  }

  /** Deletes a user and their sessions; nobody deletes their own user. */
  deleteUser(name: string, by?: string): void {
    if (!this.store.getUser(name)) throw new NotFoundError('user', name);
    if (name === by) throw new InvalidStateError('you cannot delete your own user', 'log in as another administrator');
    this.store.deleteUser(name);
    this.events.record('UserDeleted', `user '${name}' deleted`, undefined, by);
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

  /** The session of a token, or AuthenticationError (none, unknown or expired). */
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
}

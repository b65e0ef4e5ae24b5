// Accounts: users with a role, passwords (hashed with scrypt by passwords.ts, checked against the policy
// of password-policy.ts), and sessions that expire. Only the SHA-256 of a session token is stored: the
// token is shown once, at login. Failed logins back off per user and per address (login-throttle.ts),
// with an event and a site alert when the backoff engages. The REST layer asks `authenticate` for every
// call and `roleAllows` for the route's role.
import { randomBytes, randomUUID } from 'node:crypto';
import { ConflictError, InvalidStateError, NotFoundError, ValidationError } from '@opencdp/core';
import type { Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import { AuthenticationError, TooManyAttemptsError } from '../errors.js';
import type { Alerts } from '../monitor/alerts.js';
import { hashSecret } from '../sites/secret-box.js';
import { ROLES, type Role, type SessionRow, type Store, type UserRow } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import { checkPasswordPolicy } from './password-policy.js';
import { hashPassword, verifyPassword } from './passwords.js';

const DEFAULT_SESSION_TTL_MS = 30 * 60_000;
const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

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
  /** Backoff after failed logins. */
  loginThrottle?: LoginThrottleOptions;
}

/** A new session: the token (shown once) and the row stored for it. */
export interface NewSession {
  token: string;
  session: SessionRow;
}

export class Accounts {
  private readonly throttle: LoginThrottle;
  /** Checked for unknown users, so a wrong name costs the same time as a wrong password. */
  private dummyHash?: Promise<string>;

  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly events: EventLog,
    private readonly alerts: Alerts, private readonly options: AccountsOptions,
  ) {
    this.throttle = new LoginThrottle(clock, options.loginThrottle);
  }

  /** Creates the first administrator when the store has no user: `options.admin`, else OPENCDP_ADMIN_USER / OPENCDP_ADMIN_PASSWORD. */
  async seedAdmin(): Promise<void> {
    if (this.store.listUsers().length > 0) return;
    const admin = this.options.admin ?? (process.env.OPENCDP_ADMIN_USER && process.env.OPENCDP_ADMIN_PASSWORD
      ? { user: process.env.OPENCDP_ADMIN_USER, password: process.env.OPENCDP_ADMIN_PASSWORD } : undefined);
    if (!admin) {
      this.log.warn('no user exists and no initial admin was given (options.admin or OPENCDP_ADMIN_USER/OPENCDP_ADMIN_PASSWORD)');
      return;
    }
    try {
      await this.createUser(admin.user, admin.password, 'admin');
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(`the first administrator: ${e.message}`, `admin.${e.field ?? 'user'}`);
      throw e;
    }
  }

  listUsers(): UserRow[] {
    return this.store.listUsers();
  }

  getUser(name: string): UserRow {
    const u = this.store.getUser(name);
    if (!u) throw new NotFoundError('user', name);
    return u;
  }

  /** Adds a user on behalf of `by` (an event names both). */
  async addUser(name: string, password: string, role: Role, by?: string): Promise<void> {
    await this.createUser(name, password, role);
    this.events.record('UserAdded', `user '${name}' added with role ${role}`, undefined, by);
  }

  private async createUser(name: string, password: string, role: Role): Promise<void> {
    if (typeof name !== 'string' || !USER_NAME.test(name)) throw new ValidationError('user names are 1–64 letters, digits or . _ @ -', 'name');
    if (!ROLES.includes(role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, 'role');
    checkPasswordPolicy(password, name);
    if (this.store.getUser(name)) throw new ConflictError(`user '${name}' exists`, 'delete it first or pick another name');
    const hash = await hashPassword(password, this.options.passwordCost);
    // Checked again: another request may have added the name while the hash was computed.
    if (this.store.getUser(name)) throw new ConflictError(`user '${name}' exists`, 'delete it first or pick another name');
    this.store.putUser({ name, hash, role, createdAt: this.clock.now() });
  }

  /** Deletes a user and their sessions; nobody deletes their own user. */
  deleteUser(name: string, by?: string): void {
    this.getUser(name);
    if (name === by) throw new InvalidStateError('you cannot delete your own user', 'log in as another administrator');
    this.store.deleteUser(name);
    this.events.record('UserDeleted', `user '${name}' deleted`, undefined, by);
  }

  /** An administrator changes a user's role; live sessions take the new role at once. The last administrator stays one. */
  setRole(name: string, role: Role, by?: string): UserRow {
    if (!ROLES.includes(role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`, 'role');
    const u = this.getUser(name);
    if (u.role === role) return u;
    if (u.role === 'admin' && this.store.listUsers().filter((x) => x.role === 'admin').length === 1) {
      throw new InvalidStateError(`'${name}' is the last administrator`, 'make another user an administrator first');
    }
    const updated = { ...u, role };
    this.store.transaction(() => {
      this.store.putUser(updated);
      this.store.setSessionRoles(name, role);
    });
    this.events.record('UserRoleChanged', `user '${name}' is now ${role} (was ${u.role})`, undefined, by);
    return updated;
  }

  /** A user changes their own password: the current one is checked (with the login backoff), other sessions end. */
  async changeOwnPassword(session: SessionRow, current: string, next: string, address: string): Promise<void> {
    const u = this.getUser(session.user);
    if (!(await this.checkPassword(u.name, current, address))) throw new AuthenticationError('the current password is wrong');
    await this.replacePassword(u, next, session.id);
    this.events.record('PasswordChanged', `user '${u.name}' changed their password; their other sessions ended`, undefined, u.name);
  }

  /** An administrator sets a user's password (e.g. after a lock-out); that user's sessions end. */
  async setPassword(name: string, next: string, by?: string): Promise<void> {
    await this.replacePassword(this.getUser(name), next, undefined);
    this.events.record('PasswordSet', `the password of user '${name}' was set; their sessions ended`, undefined, by);
  }

  private async replacePassword(u: UserRow, next: string, keepSessionId: string | undefined): Promise<void> {
    checkPasswordPolicy(next, u.name);
    const hash = await hashPassword(next, this.options.passwordCost);
    this.store.transaction(() => {
      this.store.putUser({ ...u, hash });
      this.store.deleteSessionsOf(u.name, keepSessionId);
    });
  }

  /** Logs in from `address` (the client's IP): a new session, or AuthenticationError / TooManyAttemptsError. */
  async login(user: string, password: string, address = 'unknown'): Promise<NewSession> {
    if (!(await this.checkPassword(user, password, address))) throw new AuthenticationError('wrong user name or password');
    const u = this.store.getUser(user)!;
    const now = this.clock.now();
    this.store.deleteExpiredSessions(now);
    // Hex, not base64url: a token starting with '-' would read as an option on a command line.
    const token = randomBytes(24).toString('hex');
    const session: SessionRow = {
      id: `session-${randomUUID()}`, tokenHash: hashSecret(token), user: u.name, role: u.role, createdAt: now,
      expiresAt: now + (this.options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS),
    };
    this.store.putSession(session);
    return { token, session };
  }

  /**
   * Checks a password under the backoff: refused at once while the user or the address must wait; an
   * attempt counts as a failure before the (slow) hash is checked, so parallel guesses cannot slip past.
   */
  private async checkPassword(user: string, password: string, address: string): Promise<boolean> {
    const userKey = `user:${String(user).toLowerCase()}`;
    const keys = [userKey, `address:${address}`];
    const wait = this.throttle.waitMs(keys);
    if (wait > 0) throw new TooManyAttemptsError(wait);
    this.throttle.fail(keys);
    const u = typeof user === 'string' ? this.store.getUser(user) : undefined;
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'), this.options.passwordCost);
    const ok = (await verifyPassword(String(password), u?.hash ?? (await this.dummyHash))) && u !== undefined;
    if (ok) {
      this.throttle.succeed(userKey);
      this.throttle.forgive(keys[1]);
      return true;
    }
    for (const key of this.throttle.newlyEngaged(keys)) {
      const what = key.startsWith('user:') ? `user '${key.slice(5)}'` : `address ${key.slice(8)}`;
      const description = `${this.throttle.failures(key)} failed logins for ${what}: further attempts must wait (backoff)`;
      this.log.warn({ key }, description);
      this.events.record('LoginThrottled', description);
      this.alerts.raiseSiteAlert('LoginThrottled', 'warning', description);
    }
    return false;
  }

  /** The session of a token, or AuthenticationError (none, unknown or expired). */
  authenticate(token: string | undefined): SessionRow {
    if (!token) throw new AuthenticationError('no session token');
    const s = this.store.sessionByTokenHash(hashSecret(token));
    if (!s) throw new AuthenticationError('unknown session token');
    if (s.expiresAt <= this.clock.now()) throw new AuthenticationError('the session expired');
    return s;
  }

  logout(session: SessionRow): void {
    this.store.deleteSession(session.id);
  }
}

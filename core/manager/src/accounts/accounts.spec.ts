import { strict as assert } from 'node:assert';
import { ConflictError, InvalidStateError, NotFoundError, ValidationError } from '@opencdp/core';
import { AuthenticationError, TooManyAttemptsError } from '../errors.js';
import { ADMIN, siteEach } from '../testing/spec-helpers.js';
import { Accounts, roleAllows } from './accounts.js';
import { checkPasswordPolicy } from './password-policy.js';

describe('manager accounts', () => {
  const s = siteEach({ sessionTtlMs: 60_000, loginThrottle: { threshold: 3, baseDelayMs: 1000, maxDelayMs: 8000 } });

  it('seeds the first administrator only into an empty store, and refuses a weak one', async () => {
    const { accounts, store, clock, log, events, alerts } = s.parts;
    assert.deepEqual(accounts.listUsers().map((u) => [u.name, u.role]), [[ADMIN.user, 'admin']]);
    const other = new Accounts(store, clock, log, events, alerts, { admin: { user: 'other', password: 'quiet-meadow-31' }, passwordCost: 1024 });
    await other.seedAdmin();
    assert.deepEqual(accounts.listUsers().map((u) => u.name), [ADMIN.user]);
    store.deleteUser(ADMIN.user);
    const weak = new Accounts(store, clock, log, events, alerts, { admin: { user: 'admin', password: 'aaaaaaaa' }, passwordCost: 1024 });
    await assert.rejects(weak.seedAdmin(), (e: unknown) => e instanceof ValidationError && e.field === 'admin.password');
    assert.deepEqual(store.listUsers(), []);
  });

  it('refuses a bad name, a password the policy refuses, an unknown role or a taken name, changing nothing', async () => {
    const { accounts, store } = s.parts;
    const before = store.digest();
    const refused: Array<[() => Promise<void>, (e: Error) => boolean]> = [
      [() => accounts.addUser('no spaces', 'copper-kettle-12', 'viewer'), (e) => e instanceof ValidationError && e.field === 'name'],
      [() => accounts.addUser('vera', 'short', 'viewer'), (e) => e instanceof ValidationError && e.field === 'password'],
      [() => accounts.addUser('vera', 'aaaaaaaa', 'viewer'), (e) => e instanceof ValidationError && /shorter than 12/.test(e.message)],
      [() => accounts.addUser('vera', 'vera-is-my-name-7', 'viewer'), (e) => e instanceof ValidationError && /user name/.test(e.message)],
      [() => accounts.addUser('vera', 'Password1234!', 'viewer'), (e) => e instanceof ValidationError && /common/.test(e.message)],
      [() => accounts.addUser('vera', 'copper-kettle-12', 'root' as 'admin'), (e) => e instanceof ValidationError && e.field === 'role'],
      [() => accounts.addUser(ADMIN.user, 'copper-kettle-12', 'viewer'), (e) => e instanceof ConflictError],
    ];
    for (const [p, check] of refused) await assert.rejects(p(), check);
    assert.equal(store.digest(), before);
  });

  it('has a password policy: length, not the user name, not common, not a run or a repeated character', () => {
    for (const [pw, why] of [['aaaaaaaaaaaaaaaa', /5 different/], ['123456789012', /common|sequence/], ['abcdefghijklmn', /sequence|common/], ['qwertyuiop123', /common/],
      ['Admin-Password-9', /user name|common/], ['x'.repeat(201), /longer/]] as const) {
      assert.throws(() => checkPasswordPolicy(pw, 'admin'), (e: unknown) => e instanceof ValidationError && why.test(e.message), pw);
    }
    for (const ok of ['harbour-lantern-42', 'correct horse staple 9', 'Tr0ub4dor&3-extended']) checkPasswordPolicy(ok, 'admin');
  });

  it('logs in with a hex token stored only as a hash, that expires, and logs out', async () => {
    const { accounts, clock, store } = s.parts;
    await assert.rejects(accounts.login(ADMIN.user, 'wrong-password'), AuthenticationError);
    await assert.rejects(accounts.login('nobody', ADMIN.password), /wrong user name or password/);
    const { token, session } = await accounts.login(ADMIN.user, ADMIN.password);
    assert.match(token, /^[0-9a-f]{48}$/);
    assert.ok(!JSON.stringify(store.db.prepare('SELECT * FROM sessions').all()).includes(token), 'the token itself is not stored');
    assert.equal(accounts.authenticate(token).role, 'admin');
    await s.site.clock.advance(59_000);
    assert.equal(accounts.authenticate(token).user, ADMIN.user);
    await s.site.clock.advance(1_000);
    assert.equal(clock.now(), session.expiresAt);
    assert.throws(() => accounts.authenticate(token), /expired/);
    const again = await accounts.login(ADMIN.user, ADMIN.password);
    accounts.logout(again.session);
    assert.throws(() => accounts.authenticate(again.token), /unknown session token/);
    assert.throws(() => accounts.authenticate(undefined), /no session token/);
  });

  it('backs off per user and per address after failed logins, with an event and a site alert; the right password works once the wait is over', async () => {
    const { accounts, events, alerts, store } = s.parts;
    for (let i = 0; i < 3; i++) await assert.rejects(accounts.login(ADMIN.user, `wrong-${i}`, '10.9.8.7'), AuthenticationError);
    // Past the threshold every attempt is refused without looking at the password, even the right one.
    const before = store.digest();
    await assert.rejects(accounts.login(ADMIN.user, ADMIN.password, '10.9.8.7'), (e: unknown) => e instanceof TooManyAttemptsError && e.retryAfterMs === 1000);
    await assert.rejects(accounts.login(ADMIN.user, ADMIN.password, '10.1.1.1'), TooManyAttemptsError, 'the user is throttled from any address');
    assert.equal(store.digest(), before, 'a refused attempt writes nothing');
    assert.deepEqual(events.list({ type: 'LoginThrottled' }).map((e) => e.description), [`3 failed logins for user '${ADMIN.user}': further attempts must wait (backoff)`, '3 failed logins for address 10.9.8.7: further attempts must wait (backoff)']);
    assert.deepEqual(alerts.list().map((a) => [a.type, a.groupId, a.level]), [['LoginThrottled', '', 'warning']]);
    // Another user from the same address is throttled too.
    await assert.rejects(accounts.login('someone-else', 'x', '10.9.8.7'), TooManyAttemptsError);
    await s.site.clock.advance(1000);
    // One more wrong try doubles the wait.
    await assert.rejects(accounts.login(ADMIN.user, 'wrong-again', '10.9.8.7'), AuthenticationError);
    await s.site.clock.advance(1999);
    await assert.rejects(accounts.login(ADMIN.user, ADMIN.password, '10.9.8.7'), (e: unknown) => e instanceof TooManyAttemptsError && e.retryAfterMs === 1);
    await s.site.clock.advance(1);
    const ok = await accounts.login(ADMIN.user, ADMIN.password, '10.9.8.7');
    assert.equal(accounts.authenticate(ok.token).user, ADMIN.user);
    // Success clears the user's count: one failure later does not throttle at once.
    await assert.rejects(accounts.login(ADMIN.user, 'wrong', '10.2.2.2'), AuthenticationError);
    await accounts.login(ADMIN.user, ADMIN.password, '10.2.2.2');
  });

  it('counts an attempt before checking the hash, so parallel guesses cannot slip past the threshold', async () => {
    const { accounts } = s.parts;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => accounts.login(ADMIN.user, `guess-${i}`, '10.3.3.3')));
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).constructor.name : 'ok'));
    assert.deepEqual(reasons.filter((r) => r === 'AuthenticationError').length, 3, reasons.join());
    assert.deepEqual(reasons.filter((r) => r === 'TooManyAttemptsError').length, 7);
  });

  it('changes its own password (checking the current one; other sessions end), and an admin sets another user\'s password and role', async () => {
    const { accounts, events } = s.parts;
    await accounts.addUser('otto', 'operator-compass-9', 'operator', ADMIN.user);
    const a = await accounts.login('otto', 'operator-compass-9');
    const b = await accounts.login('otto', 'operator-compass-9');
    await assert.rejects(accounts.changeOwnPassword(a.session, 'not-the-password', 'granite-orchard-5', '10.0.0.1'), /current password is wrong/);
    await assert.rejects(accounts.changeOwnPassword(a.session, 'operator-compass-9', 'short', '10.0.0.1'), ValidationError);
    await accounts.changeOwnPassword(a.session, 'operator-compass-9', 'granite-orchard-5', '10.0.0.1');
    assert.equal(accounts.authenticate(a.token).user, 'otto', 'this session stays');
    assert.throws(() => accounts.authenticate(b.token), AuthenticationError, 'the other one ended');
    await accounts.login('otto', 'granite-orchard-5');
    assert.equal(accounts.setRole('otto', 'viewer', ADMIN.user).role, 'viewer');
    assert.equal(accounts.authenticate(a.token).role, 'viewer', 'a live session takes the new role');
    assert.throws(() => accounts.setRole(ADMIN.user, 'operator', ADMIN.user), InvalidStateError, 'the last administrator stays one');
    assert.throws(() => accounts.setRole('nobody', 'admin'), NotFoundError);
    await accounts.setPassword('otto', 'velvet-ladder-8', ADMIN.user);
    assert.throws(() => accounts.authenticate(a.token), AuthenticationError);
    assert.deepEqual(events.list().filter((e) => /Password|Role/.test(e.type)).map((e) => [e.type, e.user]), [['PasswordChanged', 'otto'], ['UserRoleChanged', ADMIN.user], ['PasswordSet', ADMIN.user]]);
  });

  it('deletes a user with their sessions, but never the caller\'s own user', async () => {
    const { accounts, events } = s.parts;
    await accounts.addUser('otto', 'operator-compass-9', 'operator', ADMIN.user);
    const { token } = await accounts.login('otto', 'operator-compass-9');
    assert.throws(() => accounts.deleteUser(ADMIN.user, ADMIN.user), InvalidStateError);
    assert.throws(() => accounts.deleteUser('nobody', ADMIN.user), NotFoundError);
    accounts.deleteUser('otto', ADMIN.user);
    assert.throws(() => accounts.authenticate(token), AuthenticationError);
    assert.deepEqual(events.list().filter((e) => e.type.startsWith('User')).map((e) => [e.type, e.user]), [['UserAdded', ADMIN.user], ['UserDeleted', ADMIN.user]]);
  });

  it('ranks roles viewer < operator < admin', () => {
    const roles = ['viewer', 'operator', 'admin'] as const;
    const allowed = roles.map((r) => roles.filter((needed) => roleAllows(r, needed)));
    assert.deepEqual(allowed, [['viewer'], ['viewer', 'operator'], ['viewer', 'operator', 'admin']]);
  });
});

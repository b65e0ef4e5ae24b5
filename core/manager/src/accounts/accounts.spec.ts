import { strict as assert } from 'node:assert';
import { ConflictError, InvalidStateError, NotFoundError, ValidationError } from '@opencdp/core';
import { AuthenticationError } from '../errors.js';
import { ADMIN, siteEach } from '../testing/spec-helpers.js';
import { Accounts, roleAllows } from './accounts.js';

describe('manager accounts', () => {
  const s = siteEach({ sessionTtlMs: 60_000 });

  it('seeds the first administrator only into an empty store', async () => {
    const { accounts, store, clock, log, events } = s.parts;
    assert.deepEqual(accounts.listUsers().map((u) => [u.name, u.role]), [[ADMIN.user, 'admin']]);
    const other = new Accounts(store, clock, log, events, { admin: { user: 'other', password: 'other-password' }, passwordCost: 1024 });
    await other.seedAdmin();
    assert.deepEqual(accounts.listUsers().map((u) => u.name), [ADMIN.user]);
  });

  it('refuses a bad name, a short password, an unknown role or a taken name, changing nothing', async () => {
    const { accounts, store } = s.parts;
    const before = store.digest();
    const refused: Array<[Promise<void>, (e: Error) => boolean]> = [
      [accounts.addUser('no spaces', 'long-enough', 'viewer'), (e) => e instanceof ValidationError && e.field === 'name'],
      [accounts.addUser('vera', 'short', 'viewer'), (e) => e instanceof ValidationError && e.field === 'password'],
      [accounts.addUser('vera', 'long-enough', 'root' as 'admin'), (e) => e instanceof ValidationError && e.field === 'role'],
      [accounts.addUser(ADMIN.user, 'long-enough', 'viewer'), (e) => e instanceof ConflictError],
    ];
    for (const [p, check] of refused) await assert.rejects(p, check);
    assert.equal(store.digest(), before);
  });

  it('logs in with a hex token that expires, and logs out', async () => {
    const { accounts, clock } = s.parts;
    await assert.rejects(accounts.login(ADMIN.user, 'wrong-password'), AuthenticationError);
    await assert.rejects(accounts.login('nobody', ADMIN.password), /wrong user name or password/);
    const session = await accounts.login(ADMIN.user, ADMIN.password);
    assert.match(session.token, /^[0-9a-f]{48}$/);
    assert.equal(accounts.authenticate(session.token).role, 'admin');
    await s.site.clock.advance(59_000);
    assert.equal(accounts.authenticate(session.token).user, ADMIN.user);
    await s.site.clock.advance(1_000);
    assert.equal(clock.now(), session.expiresAt);
    assert.throws(() => accounts.authenticate(session.token), /expired/);
    const again = await accounts.login(ADMIN.user, ADMIN.password);
    accounts.logout(again.token);
    assert.throws(() => accounts.authenticate(again.token), /unknown session token/);
    assert.throws(() => accounts.authenticate(undefined), /no session token/);
  });

  it('deletes a user with their sessions, but never the caller\'s own user', async () => {
    const { accounts, events } = s.parts;
    await accounts.addUser('otto', 'operator-pass', 'operator', ADMIN.user);
    const session = await accounts.login('otto', 'operator-pass');
    assert.throws(() => accounts.deleteUser(ADMIN.user, ADMIN.user), InvalidStateError);
    assert.throws(() => accounts.deleteUser('nobody', ADMIN.user), NotFoundError);
    accounts.deleteUser('otto', ADMIN.user);
    assert.throws(() => accounts.authenticate(session.token), AuthenticationError);
    assert.deepEqual(events.list().filter((e) => e.type.startsWith('User')).map((e) => [e.type, e.user]), [['UserAdded', ADMIN.user], ['UserDeleted', ADMIN.user]]);
  });

  it('ranks roles viewer < operator < admin', () => {
    const roles = ['viewer', 'operator', 'admin'] as const;
    const allowed = roles.map((r) => roles.filter((needed) => roleAllows(r, needed)));
    assert.deepEqual(allowed, [['viewer'], ['viewer', 'operator'], ['viewer', 'operator', 'admin']]);
  });
});

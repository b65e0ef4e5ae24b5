import { strict as assert } from 'node:assert';
import { ConflictError, ValidationError } from '@opencdp/core';
import { AuthenticationError } from '../errors.js';
import { TaskState } from '../store.js';
import { addGroup, siteEach } from '../testing/spec-helpers.js';
import { sharedOf, type PairRequest, type PeerSyncMessage } from './peer-transports.js';
import { hashSecret } from './secret-box.js';

describe('manager sites and peering', () => {
  const sentPairings: Array<{ url: string; body: PairRequest }> = [];
  const sentSyncs: Array<{ url: string; secret: string; body: PeerSyncMessage }> = [];
  const s = siteEach({
    siteName: 'Prod', pairingTokenTtlMs: 60_000,
    pairTransport: async (url, body) => {
      sentPairings.push({ url, body });
      return { siteIdentifier: url.includes('self') ? 'site-a' : 'site-b', siteName: 'DR', secret: 'secret-the-peer-expects' };
    },
    peerSyncTransport: async (url, secret, body) => {
      sentSyncs.push({ url, secret, body });
    },
  });
  beforeEach(() => {
    sentPairings.length = 0;
    sentSyncs.length = 0;
  });

  it('accepts a pairing token once and before it expires, never from this site itself', async () => {
    const { peering, sites, store } = s.parts;
    const request = (token: string, siteIdentifier = 'site-b'): PairRequest => ({ token, siteIdentifier, siteName: 'DR', url: 'https://dr:9080', secret: 'secret-of-site-b-123' });
    const first = peering.generatePairingToken('admin');
    assert.match(first.token, /^[0-9a-f]{36}$/);
    const before = store.digest();
    assert.throws(() => peering.acceptPairing(request(first.token, 'site-a')), ValidationError);
    assert.equal(store.digest(), before, 'a refused pairing keeps the token');
    const answer = peering.acceptPairing(request(first.token));
    assert.deepEqual([answer.siteIdentifier, answer.siteName], ['site-a', 'Prod']);
    const stored = sites.peer('site-b')!;
    assert.deepEqual({ ...stored, outboundSecretSealed: undefined, inboundSecretHash: undefined }, { id: 'site-b', name: 'DR', role: 'peer', address: 'https://dr:9080', pairedAt: s.site.clock.now(), outboundSecretSealed: undefined, inboundSecretHash: undefined });
    // Neither the token nor a secret is stored in clear: the one to present is sealed, the one to check hashed.
    const dump = JSON.stringify(store.db.prepare('SELECT * FROM sites').all()) + JSON.stringify(store.db.prepare('SELECT * FROM pairing_tokens').all());
    for (const secret of [first.token, 'secret-of-site-b-123', answer.secret]) assert.ok(!dump.includes(secret), 'no secret in clear');
    assert.match(stored.outboundSecretSealed!, /^aes256gcm\$/);
    assert.equal(stored.inboundSecretHash, hashSecret(answer.secret));
    assert.throws(() => peering.acceptPairing(request(first.token)), AuthenticationError, 'used once');
    const late = peering.generatePairingToken();
    await s.site.clock.advance(60_000);
    assert.throws(() => peering.acceptPairing(request(late.token)), AuthenticationError, 'expired');
    assert.equal(sentSyncs.length, 1, 'the new peer is sent the groups between the sites at once');
  });

  it('pairs with a peer through the transport: a secret each way, a task, and a refusal when the peer is this site', async () => {
    const { peering, sites, tasks, store } = s.parts;
    const { site, taskId } = await peering.pairWith('https://dr:9080', 'token-from-dr', 'admin');
    assert.deepEqual(sentPairings.map((p) => [p.url, p.body.token, p.body.siteIdentifier, p.body.siteName]), [['https://dr:9080', 'token-from-dr', 'site-a', 'Prod']]);
    assert.equal(site.inboundSecretHash, hashSecret(sentPairings[0].body.secret));
    assert.equal(sites.peer('site-b')?.inboundSecretHash, hashSecret(sentPairings[0].body.secret));
    assert.ok(!JSON.stringify(store.db.prepare('SELECT * FROM sites').all()).includes('secret-the-peer-expects'));
    await s.site.manager.whenIdle();
    assert.deepEqual([tasks.get(taskId).state, tasks.get(taskId).result], [TaskState.Completed, { siteIdentifier: 'site-b' }]);
    const before = store.digest();
    await assert.rejects(peering.pairWith('https://self:9080', 'token'), (e: ValidationError) => e.field === 'hostName');
    assert.equal(store.digest(), before);
  });

  it('takes shared group definitions only from the paired site with its secret, and only groups between the two sites', async () => {
    const { peering, store } = s.parts;
    await peering.pairWith('https://dr:9080', 'token-from-dr');
    const secret = sentPairings[0].body.secret;
    const id = await addGroup(s.site);
    const shared = { ...sharedOf(store.getGroup(id)!), id: 'vpg-from-b', name: 'from-b', protectedSiteId: 'site-b', recoverySiteId: 'site-a' };
    const before = store.digest();
    assert.throws(() => peering.authenticatePeer('wrong-secret'), AuthenticationError);
    assert.throws(() => peering.authenticatePeer(undefined), AuthenticationError);
    const peer = peering.authenticatePeer(secret);
    assert.equal(peer.id, 'site-b');
    assert.throws(() => peering.acceptPeerSync(peer, { siteIdentifier: 'site-c', groups: [shared], deleted: [] }), AuthenticationError, 'a secret speaks for its own site only');
    assert.throws(() => peering.acceptPeerSync(peer, { siteIdentifier: 'site-b', groups: [{ ...shared, recoverySiteId: 'site-c' }], deleted: [] }), (e: ValidationError) => e.field === 'groups');
    assert.throws(() => peering.acceptPeerSync(peer, { siteIdentifier: 'site-b', groups: [{ ...shared, name: 'app' }], deleted: [] }), ConflictError);
    assert.equal(store.digest(), before);
    assert.deepEqual(peering.acceptPeerSync(peer, { siteIdentifier: 'site-b', groups: [shared], deleted: [id] }), { groups: 1 });
    assert.deepEqual(store.listGroups().map((g) => g.id), ['vpg-from-b']);
  });

  it('shares every change of a group between the sites with the paired manager, and unpairs only a site no group uses', async () => {
    const { peering, sites } = s.parts;
    await peering.pairWith('https://dr:9080', 'token-from-dr');
    await s.site.manager.whenIdle();
    sentSyncs.length = 0;
    const id = await addGroup(s.site);
    assert.deepEqual(sentSyncs.map((m) => [m.url, m.secret, m.body.siteIdentifier, m.body.groups.map((g) => g.id)]), [['https://dr:9080', 'secret-the-peer-expects', 'site-a', [id]]]);
    assert.throws(() => peering.unpair('site-b'), ConflictError);
    assert.deepEqual([sites.knows('site-b'), sites.knows('site-z')], [true, false]);
    await s.parts.groups.delete(id, { keepRecoveryVolumes: false, force: false });
    await s.site.manager.whenIdle();
    assert.deepEqual(sentSyncs.at(-1)!.body.deleted, [id]);
    peering.unpair('site-b', 'admin');
    assert.equal(sites.peer('site-b'), undefined);
    assert.equal(sites.knows('site-b'), true, 'still reached through its appliance');
  });

  it('refuses to pair over plain HTTP beyond loopback, and seals and hashes secrets an older version kept in clear', async () => {
    const { peering, store, sites } = s.parts;
    const before = store.digest();
    await assert.rejects(peering.pairWith('http://dr.example:9080', 'token-from-dr'), (e: ValidationError) => e.field === 'useHttps');
    assert.equal(store.digest(), before);
    assert.equal(sentPairings.length, 0, 'nothing was sent');
    store.putSite({ id: 'site-old', name: 'Old', role: 'peer', address: 'https://old:9080', pairedAt: 1, outboundSecretSealed: 'clear-outbound-secret', inboundSecretHash: 'clear-inbound-secret' });
    peering.protectStoredSecrets();
    const old = sites.peer('site-old')!;
    assert.match(old.outboundSecretSealed!, /^aes256gcm\$/);
    assert.equal(old.inboundSecretHash, hashSecret('clear-inbound-secret'));
    assert.equal(peering.authenticatePeer('clear-inbound-secret').id, 'site-old');
  });
});

import assert from 'node:assert/strict';
import { VirtualClock } from '../clock.js';
import { PairingError } from './link-errors.js';
import { PairingEndpoint, parsePairingToken, redeemPairingToken } from './pairing.js';
import type { SiteIdentity } from './site-identity.js';
import { recordingLog, testIdentity } from './testing/link-fixtures.js';
import { TlsNetwork } from './tls-network.js';

async function refused(promise: Promise<unknown>, reason: PairingError['reason'], message?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof PairingError, `expected PairingError, got ${String(e)}`);
    assert.equal(e.code, 'PAIRING');
    assert.equal(e.reason, reason);
    if (message) assert.match(e.message, message);
    return true;
  });
}

function trustedBy(identity: SiteIdentity): string[] {
  return identity.trustedPeers.list().map((p) => p.siteId);
}

describe('pairing', () => {
  let a: SiteIdentity;
  let b: SiteIdentity;
  let endpoint: PairingEndpoint;
  const clock = new VirtualClock(Date.now());
  const log = recordingLog();

  beforeEach(async () => {
    a = testIdentity('site-a');
    b = testIdentity('site-b');
    endpoint = await PairingEndpoint.start(a, { log: log.log });
  });

  afterEach(async () => {
    await endpoint.close();
  });

  it('pairs two sites with a one-time token; afterwards they link over mutual TLS', async () => {
    const paired: string[] = [];
    endpoint.onPaired((p) => paired.push(p.siteId));
    const token = endpoint.issuePairingToken({ ttlMs: 60_000, clock });
    const t = parsePairingToken(token);
    assert.deepEqual(Object.keys(t).sort(), ['address', 'caFingerprintSha256', 'secret', 'siteId']);
    assert.equal(t.address, endpoint.address);
    assert.equal(t.caFingerprintSha256, a.caFingerprintSha256);

    const peer = await redeemPairingToken(token, b);
    assert.equal(peer.siteId, 'site-a');
    assert.deepEqual(trustedBy(b), ['site-a']);
    assert.equal(b.trustedPeers.get('site-a')?.caFingerprintSha256, a.caFingerprintSha256);
    assert.deepEqual(trustedBy(a), ['site-b']);
    assert.equal(a.trustedPeers.get('site-b')?.caCertPem.trim(), b.caCertPem.trim());
    assert.deepEqual(paired, ['site-b']);

    const listener = await new TlsNetwork({ identity: a }).listen('127.0.0.1:0');
    const connection = await new TlsNetwork({ identity: b }).connect(listener.address);
    assert.equal(connection.peerSiteId, 'site-a');
    await connection.close();
    await listener.close();
  });

  it('refuses a reused token, and trusts nothing more', async () => {
    const token = endpoint.issuePairingToken({ ttlMs: 60_000, clock });
    await redeemPairingToken(token, b);
    const c = testIdentity('site-c');
    await refused(redeemPairingToken(token, c), 'used', /already used/);
    assert.deepEqual(trustedBy(c), []);
    assert.deepEqual(trustedBy(a), ['site-b']);
  });

  it('refuses an expired token, on the clock it was issued with', async () => {
    const token = endpoint.issuePairingToken({ ttlMs: 60_000, clock });
    await clock.advance(60_001);
    await refused(redeemPairingToken(token, b), 'expired', /expired/);
    assert.deepEqual(trustedBy(a), []);
    assert.deepEqual(trustedBy(b), []);
  });

  it('refuses a token with a forged secret', async () => {
    const genuine = parsePairingToken(endpoint.issuePairingToken({ ttlMs: 60_000, clock }));
    const forged = Buffer.from(JSON.stringify({ ...genuine, secret: 'A'.repeat(43) })).toString('base64url');
    await refused(redeemPairingToken(forged, b), 'unknown-token', /did not issue this pairing token/);
    assert.deepEqual(trustedBy(a), []);
    assert.deepEqual(trustedBy(b), []);
  });

  it('never sends the secret to an endpoint whose CA is not the one the token pins', async () => {
    const token = endpoint.issuePairingToken({ ttlMs: 60_000, clock });
    const genuine = parsePairingToken(token);
    // A token pointing at site A's endpoint but pinning site C's CA: as if A's address were hijacked.
    const pinnedElsewhere = Buffer.from(JSON.stringify({ ...genuine, caFingerprintSha256: testIdentity('site-c').caFingerprintSha256 })).toString('base64url');
    await refused(redeemPairingToken(pinnedElsewhere, b), 'certificate-mismatch', /no certificate in its chain has the fingerprint/);
    assert.deepEqual(trustedBy(b), []);
    // The endpoint never saw the secret, so the genuine token still works.
    await redeemPairingToken(token, b);
    assert.deepEqual(trustedBy(b), ['site-a']);
  });

  it('refuses malformed tokens and tokens for the redeeming site itself', async () => {
    await refused(redeemPairingToken('not a token!', b), 'malformed-token');
    await refused(redeemPairingToken(Buffer.from('{"siteId":"x"}').toString('base64url'), b), 'malformed-token');
    await refused(redeemPairingToken(endpoint.issuePairingToken({ ttlMs: 60_000, clock }), testIdentity('site-a')), 'self');
    await refused(redeemPairingToken(Buffer.from(JSON.stringify({ ...parsePairingToken(endpoint.issuePairingToken({ ttlMs: 1000 })), address: '127.0.0.1:1' })).toString('base64url'), b), 'unreachable');
  });
});

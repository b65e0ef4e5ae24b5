import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ValidationError } from '../errors.js';
import { certificateFingerprint, SiteIdentity, TrustedPeers } from './site-identity.js';
import { selfSignedCertificate, testIdentity } from './testing/link-fixtures.js';

describe('SiteIdentity', () => {
  it('has a 10-year self-signed CA and a leaf it signed, for server and client auth, naming the site', () => {
    const a = testIdentity('site-a');
    const ca = new X509Certificate(a.caCertPem);
    const leaf = new X509Certificate(a.leafCertPem);
    assert.ok(ca.ca && ca.checkIssued(ca) && ca.verify(ca.publicKey));
    const years = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365.25 * 86_400_000);
    assert.ok(years > 9.99 && years < 10.01, `CA valid ${years} years`);
    assert.equal(ca.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(!leaf.ca && leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    assert.equal(leaf.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, DNS:site-a');
    assert.deepEqual(leaf.keyUsage?.slice().sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'serverAuth + clientAuth');
    assert.equal(a.caFingerprintSha256, certificateFingerprint(a.caCertPem));
    assert.match(a.caFingerprintSha256, /^[0-9a-f]{64}$/);
  });

  it('survives toJSON / fromJSON with its trusted peers', () => {
    const a = testIdentity('site-a');
    a.trustedPeers.add(testIdentity('site-b').asTrustedPeer());
    const restored = SiteIdentity.fromJSON(JSON.parse(JSON.stringify(a)));
    assert.equal(restored.siteId, 'site-a');
    assert.equal(restored.leafKeyPem, a.leafKeyPem);
    assert.deepEqual(restored.trustedPeers.list().map((p) => p.siteId), ['site-b']);
    assert.equal(restored.trustedPeers.get('site-b')?.caFingerprintSha256, testIdentity('site-b').caFingerprintSha256);
  });

  it('refuses a stored identity whose parts do not fit together', () => {
    const a = testIdentity('site-a').toJSON();
    const b = testIdentity('site-b').toJSON();
    assert.throws(() => SiteIdentity.fromJSON({ ...a, leafKeyPem: b.leafKeyPem }), /leafKeyPem does not match/);
    assert.throws(() => SiteIdentity.fromJSON({ ...a, leafCertPem: b.leafCertPem, leafKeyPem: b.leafKeyPem }), /not issued by the stored CA/);
    assert.throws(() => SiteIdentity.fromJSON({ ...a, siteId: 'site-b' }), /does not name site 'site-b'/);
    assert.throws(() => SiteIdentity.fromJSON({ ...a, version: 2 }), ValidationError);
    assert.throws(() => SiteIdentity.create('Not A Site!'), /not a valid site id/);
  });

  it('maps a certificate to the paired site whose CA issued it and whose id it names', () => {
    const peers = new TrustedPeers([testIdentity('site-b').asTrustedPeer()]);
    assert.equal(peers.siteOf(new X509Certificate(testIdentity('site-b').leafCertPem))?.siteId, 'site-b');
    assert.equal(peers.siteOf(new X509Certificate(testIdentity('site-c').leafCertPem)), undefined);
    assert.equal(peers.siteOf(new X509Certificate(selfSignedCertificate().certPem)), undefined);
    assert.throws(() => peers.add({ siteId: 'site-x', caCertPem: testIdentity('site-b').leafCertPem }), /not a CA certificate/);
    let changes = 0;
    peers.onChange(() => changes++);
    peers.add(testIdentity('site-c').asTrustedPeer());
    peers.remove('site-c');
    assert.equal(changes, 2);
  });
});

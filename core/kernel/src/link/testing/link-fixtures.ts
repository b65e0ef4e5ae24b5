// Test fixtures for the site link: site identities (RSA key generation takes a few hundred ms, so each
// is made once per process and cloned per test), mutual trust, a self-signed impostor, and a log recorder.
import forge from 'node-forge';
import { generateKeyPairSync } from 'node:crypto';
import { SiteIdentity } from '../site-identity.js';

const made = new Map<string, SiteIdentity>();

/** A fresh copy (own trust store) of a cached identity for `siteId`. */
export function testIdentity(siteId: string): SiteIdentity {
  let identity = made.get(siteId);
  if (!identity) {
    identity = SiteIdentity.create(siteId);
    made.set(siteId, identity);
  }
  return SiteIdentity.fromJSON({ ...identity.toJSON(), trustedPeers: [] });
}

/** Two identities that trust each other, as pairing would leave them. */
export function pairedIdentities(a = 'site-a', b = 'site-b'): [SiteIdentity, SiteIdentity] {
  const ia = testIdentity(a);
  const ib = testIdentity(b);
  ia.trustedPeers.add(ib.asTrustedPeer());
  ib.trustedPeers.add(ia.asTrustedPeer());
  return [ia, ib];
}

let impostor: { certPem: string; keyPem: string } | undefined;

/** A self-signed leaf certificate naming `site-b` (no CA behind it). */
export function selfSignedCertificate(): { certPem: string; keyPem: string } {
  if (impostor) return impostor;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const subject = [{ name: 'commonName', value: 'site-b' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'site-b' }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  impostor = { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
  return impostor;
}

/** A leaf signed by `issuer`'s CA but naming `siteId`: a valid chain for the wrong site. */
export function leafFromOtherCa(issuer: SiteIdentity, siteId: string): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const ca = forge.pki.certificateFromPem(issuer.caCertPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '02';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: siteId }]);
  cert.setIssuer(ca.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: siteId }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(issuer.caKeyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}

export interface LogEntry {
  event: string;
  fields: Record<string, unknown>;
}

/** A `log` callback that records every entry. */
export function recordingLog(): { log: (event: string, fields: Record<string, unknown>) => void; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return { entries, log: (event, fields) => entries.push({ event, fields }) };
}

/** Polls until `predicate` holds, or fails after `timeoutMs`. */
export async function eventually(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

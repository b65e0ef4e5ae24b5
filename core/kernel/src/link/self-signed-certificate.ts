// A self-signed server certificate for a service that has no certificate of its own yet (the manager's
// REST API over HTTPS): clients pin it by its SHA-256 fingerprint or trust the PEM itself as their CA.
// Built with node-forge as the site identities are (node:crypto verifies X.509 but cannot issue it).
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { SystemClock, type Clock } from '../clock.js';
import { ValidationError } from '../errors.js';
import { certificateFingerprint, rsaKeyPair, serialNumber } from './site-identity.js';

export interface SelfSignedCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's DER, lowercase hex without separators. */
  fingerprintSha256: string;
}

export interface SelfSignedOptions {
  /** Subject common name, e.g. `OpenCDP manager site-a`. */
  commonName: string;
  /** DNS names and IP addresses the certificate names (subjectAltName); at least one. */
  hosts: string[];
  /** Validity (default 825 days, the longest browsers accept for a server certificate). */
  validityDays?: number;
  clock?: Clock;
}

/**
 * Creates an RSA-2048 key and a self-signed certificate for `hosts`. It is its own issuer and marked
 * CA:true so that TLS clients accept it as a trust anchor when given as `ca` (`--ca cert.pem`).
 */
export function createSelfSignedCertificate(options: SelfSignedOptions): SelfSignedCertificate {
  const hosts = [...new Set(options.hosts.map((h) => h.replace(/^\[|\]$/g, '')).filter((h) => h.length > 0))];
  if (hosts.length === 0) throw new ValidationError('a certificate needs at least one host name or address', 'hosts');
  const clock = options.clock ?? new SystemClock();
  const notBefore = new Date(clock.now() - 60_000); // a minute of slack for clients whose clock is slightly behind
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 825) * 86_400_000);
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject = [{ name: 'commonName', value: options.commonName }, { name: 'organizationName', value: 'OpenCDP' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // 2 = dNSName, 7 = iPAddress
    { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  const certPem = new X509Certificate(forge.pki.certificateToPem(cert)).toString();
  return { certPem, keyPem: keys.privateKeyPem, fingerprintSha256: certificateFingerprint(certPem) };
}

/** Normalises a fingerprint as users paste it (`AB:CD:…`, any case) to lowercase hex; ValidationError otherwise. */
export function normalizeFingerprint(value: string, field = 'fingerprint'): string {
  const hex = value.trim().replace(/^sha256[:=]/i, '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ValidationError(`'${value}' is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)`, field);
  return hex;
}

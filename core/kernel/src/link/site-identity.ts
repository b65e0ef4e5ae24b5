// A site's link identity: its own CA (10 years) and a leaf certificate the CA signed for the site's
// appliances, plus the CAs of the sites it has paired with. Keys come from node:crypto; certificates are
// built with node-forge because node:crypto can verify X.509 but cannot issue it.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { SystemClock, type Clock } from '../clock.js';
import { ValidationError } from '../errors.js';
import { checkSiteId } from './site-id.js';

export interface SiteIdentityOptions {
  clock?: Clock;
  /** Validity of the CA and the leaf (default 10 years). */
  validityYears?: number;
}

/** The stored form of a SiteIdentity. Holds private keys: store it like a password. */
export interface SiteIdentityJson {
  version: 1;
  siteId: string;
  caCertPem: string;
  caKeyPem: string;
  leafCertPem: string;
  leafKeyPem: string;
  trustedPeers: TrustedPeerJson[];
}

export interface TrustedPeerJson {
  siteId: string;
  caCertPem: string;
}

export interface TrustedPeer {
  readonly siteId: string;
  readonly caCertPem: string;
  /** SHA-256 of the CA certificate's DER, lowercase hex. */
  readonly caFingerprintSha256: string;
}

/** SHA-256 of a certificate's DER encoding, lowercase hex without separators. */
export function certificateFingerprint(certPem: string | X509Certificate): string {
  const cert = typeof certPem === 'string' ? new X509Certificate(certPem) : certPem;
  return createHash('sha256').update(cert.raw).digest('hex');
}

/**
 * Parses a peer's CA certificate and checks it is a self-signed CA (what SiteIdentity creates).
 * Throws ValidationError otherwise.
 */
export function parseCaCertificate(caCertPem: string, what = 'CA certificate'): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(caCertPem);
  } catch (e) {
    throw new ValidationError(`${what} is not a PEM X.509 certificate: ${(e as Error).message}`, 'caCertPem');
  }
  if (!cert.ca) throw new ValidationError(`${what} is not a CA certificate (basicConstraints CA:false)`, 'caCertPem');
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) throw new ValidationError(`${what} is not self-signed`, 'caCertPem');
  return cert;
}

/** The CAs of the sites this site has paired with. Changes are announced, so listeners can reload TLS. */
export class TrustedPeers {
  private readonly peers = new Map<string, TrustedPeer>();
  private readonly listeners = new Set<() => void>();

  constructor(peers: readonly TrustedPeerJson[] = []) {
    for (const p of peers) this.put(p);
  }

  get size(): number {
    return this.peers.size;
  }

  /** Trusts `caCertPem` as the CA of `siteId`, replacing an earlier CA of that site. */
  add(peer: TrustedPeerJson): TrustedPeer {
    const trusted = this.put(peer);
    this.changed();
    return trusted;
  }

  remove(siteId: string): boolean {
    const removed = this.peers.delete(siteId);
    if (removed) this.changed();
    return removed;
  }

  get(siteId: string): TrustedPeer | undefined {
    return this.peers.get(siteId);
  }

  list(): TrustedPeer[] {
    return [...this.peers.values()];
  }

  /** PEMs for the TLS `ca` option. */
  caCertPems(): string[] {
    return this.list().map((p) => p.caCertPem);
  }

  /**
   * The paired site a certificate belongs to: one whose CA signed it and whose site id the certificate
   * names in its subjectAltName. Undefined when none does.
   */
  siteOf(cert: X509Certificate): TrustedPeer | undefined {
    for (const peer of this.peers.values()) {
      const ca = new X509Certificate(peer.caCertPem);
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey) && cert.checkHost(peer.siteId, { wildcards: false }) !== undefined) return peer;
    }
    return undefined;
  }

  /** Calls `listener` after every change; returns a function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  toJSON(): TrustedPeerJson[] {
    return this.list().map(({ siteId, caCertPem }) => ({ siteId, caCertPem }));
  }

  private put(peer: TrustedPeerJson): TrustedPeer {
    checkSiteId(peer.siteId, 'trusted peer siteId');
    const cert = parseCaCertificate(peer.caCertPem, `CA certificate of site '${peer.siteId}'`);
    const trusted = Object.freeze({ siteId: peer.siteId, caCertPem: cert.toString(), caFingerprintSha256: certificateFingerprint(cert) });
    this.peers.set(peer.siteId, trusted);
    return trusted;
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export class SiteIdentity {
  readonly trustedPeers: TrustedPeers;
  /** SHA-256 of this site's CA certificate: what a pairing token pins. */
  readonly caFingerprintSha256: string;

  private constructor(
    readonly siteId: string,
    readonly caCertPem: string,
    readonly caKeyPem: string,
    readonly leafCertPem: string,
    readonly leafKeyPem: string,
    trustedPeers: readonly TrustedPeerJson[],
  ) {
    this.trustedPeers = new TrustedPeers(trustedPeers);
    this.caFingerprintSha256 = certificateFingerprint(caCertPem);
  }

  /** Creates a new site identity: two RSA-2048 keys, a self-signed CA, and a leaf it signs. */
  static create(siteId: string, options: SiteIdentityOptions = {}): SiteIdentity {
    checkSiteId(siteId);
    const clock = options.clock ?? new SystemClock();
    const years = options.validityYears ?? 10;
    const notBefore = new Date(clock.now() - 60_000); // a minute of slack for clocks slightly behind ours
    const notAfter = new Date(notBefore);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + years);

    const caKeys = rsaKeyPair();
    const caSubject = [{ name: 'commonName', value: `OpenCDP site CA ${siteId}` }, { name: 'organizationName', value: 'OpenCDP' }];
    const ca = forge.pki.createCertificate();
    ca.publicKey = forge.pki.publicKeyFromPem(caKeys.publicKeyPem);
    ca.serialNumber = serialNumber();
    ca.validity.notBefore = notBefore;
    ca.validity.notAfter = notAfter;
    ca.setSubject(caSubject);
    ca.setIssuer(caSubject);
    ca.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    const caKey = forge.pki.privateKeyFromPem(caKeys.privateKeyPem);
    ca.sign(caKey, forge.md.sha256.create());

    const leafKeys = rsaKeyPair();
    const leaf = forge.pki.createCertificate();
    leaf.publicKey = forge.pki.publicKeyFromPem(leafKeys.publicKeyPem);
    leaf.serialNumber = serialNumber();
    leaf.validity.notBefore = notBefore;
    leaf.validity.notAfter = notAfter;
    leaf.setSubject([{ name: 'commonName', value: siteId }, { name: 'organizationName', value: 'OpenCDP' }]);
    leaf.setIssuer(caSubject);
    leaf.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' }, // 2 = dNSName
          { type: 7, ip: '127.0.0.1' }, // 7 = iPAddress
          { type: 2, value: siteId },
        ],
      },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
    ]);
    leaf.sign(caKey, forge.md.sha256.create());

    // Re-encoded by node:crypto: forge writes CRLF line ends, everything else here uses LF.
    const pem = (cert: forge.pki.Certificate): string => new X509Certificate(forge.pki.certificateToPem(cert)).toString();
    return new SiteIdentity(siteId, pem(ca), caKeys.privateKeyPem, pem(leaf), leafKeys.privateKeyPem, []);
  }

  /** Restores a stored identity, checking that keys, certificates and site id fit together. */
  static fromJSON(json: unknown): SiteIdentity {
    const j = json as Partial<SiteIdentityJson> | null;
    if (typeof j !== 'object' || j === null || j.version !== 1) throw new ValidationError('a stored site identity must be an object with version 1', 'version');
    for (const field of ['caCertPem', 'caKeyPem', 'leafCertPem', 'leafKeyPem'] as const) {
      if (typeof j[field] !== 'string') throw new ValidationError(`stored site identity lacks ${field}`, field);
    }
    const siteId = checkSiteId(j.siteId);
    if (!Array.isArray(j.trustedPeers)) throw new ValidationError('stored site identity lacks trustedPeers', 'trustedPeers');
    const ca = parseCaCertificate(j.caCertPem!, 'the stored CA certificate');
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(j.leafCertPem!);
      if (!ca.checkPrivateKey(createPrivateKey(j.caKeyPem!))) throw new Error('caKeyPem does not match the CA certificate');
      if (!leaf.checkPrivateKey(createPrivateKey(j.leafKeyPem!))) throw new Error('leafKeyPem does not match the leaf certificate');
    } catch (e) {
      throw new ValidationError(`stored site identity is inconsistent: ${(e as Error).message}`, 'leafCertPem');
    }
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw new ValidationError('stored leaf certificate was not issued by the stored CA', 'leafCertPem');
    if (leaf.checkHost(siteId, { wildcards: false }) === undefined) throw new ValidationError(`stored leaf certificate does not name site '${siteId}'`, 'siteId');
    return new SiteIdentity(siteId, j.caCertPem!, j.caKeyPem!, j.leafCertPem!, j.leafKeyPem!, j.trustedPeers as TrustedPeerJson[]);
  }

  toJSON(): SiteIdentityJson {
    return {
      version: 1,
      siteId: this.siteId,
      caCertPem: this.caCertPem,
      caKeyPem: this.caKeyPem,
      leafCertPem: this.leafCertPem,
      leafKeyPem: this.leafKeyPem,
      trustedPeers: this.trustedPeers.toJSON(),
    };
  }

  /** What another site stores to trust this one. */
  asTrustedPeer(): TrustedPeerJson {
    return { siteId: this.siteId, caCertPem: this.caCertPem };
  }
}

/** @internal An RSA-2048 key pair in PEM (also used by self-signed-certificate.ts). */
export function rsaKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    // PKCS#1, because node-forge's privateKeyFromPem reads it directly.
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** @internal A random positive 128-bit serial number (the top bit clear, so DER does not read it as negative). */
export function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

// The files an appliance keeps its link trust in: the site identity (CA, leaf and their private keys,
// written owner-only) and the trusted-peers file (the paired sites' CAs). Both are replaced atomically,
// so a crash mid-write leaves the old file, never half of one.
import {
  readIdentityFile, readJsonFile, readTrustedPeersFile, SiteIdentity, TrustedPeers, ValidationError, writeFileAtomic, type TrustedPeerJson, type TrustedPeersFile,
} from '@opencdp/core';

// Reading lives in the kernel (managers read the same files for the control link); re-exported for the CLI.
export { readIdentityFile, readTrustedPeersFile };

// The kernel's atomic write (owner-only by default), re-exported for the CLI's other files.
export { writeFileAtomic };

/** Creates a new site identity and stores it (readable by the owner only: it holds private keys). */
export async function createIdentityFile(siteId: string, file: string): Promise<SiteIdentity> {
  const identity = SiteIdentity.create(siteId);
  await writeFileAtomic(file, JSON.stringify(identity.toJSON(), null, 2), 0o600);
  return identity;
}

export async function writeTrustedPeersFile(file: string, peers: TrustedPeers): Promise<void> {
  const stored: TrustedPeersFile = { version: 1, peers: peers.toJSON() };
  await writeFileAtomic(file, JSON.stringify(stored, null, 2));
}

/**
 * The CA another site should trust, read from either that site's identity file (only its public CA
 * certificate is taken) or an exported `{siteId, caCertPem}` file.
 */
export async function readPeerCa(file: string): Promise<TrustedPeerJson> {
  const json = await readJsonFile(file, 'peer file');
  const j = json as { version?: unknown; siteId?: unknown; caCertPem?: unknown } | null;
  if (typeof j === 'object' && j !== null && j.version === 1) return SiteIdentity.fromJSON(json).asTrustedPeer();
  if (typeof j === 'object' && j !== null && typeof j.siteId === 'string' && typeof j.caCertPem === 'string') {
    return { siteId: j.siteId, caCertPem: j.caCertPem };
  }
  throw new ValidationError(`peer file '${file}' is neither a site identity nor a {siteId, caCertPem} export`, 'peer');
}

/** Adds `peer` to the trusted-peers file of the site `identity` (creating the file); refuses to trust itself. */
export async function trustPeer(identity: SiteIdentity, peer: TrustedPeerJson, file: string): Promise<TrustedPeers> {
  if (peer.siteId === identity.siteId) throw new ValidationError(`site '${peer.siteId}' cannot trust itself`, 'peer', 'pass the other site\'s identity file');
  const peers = await readTrustedPeersFile(file);
  peers.add(peer);
  await writeTrustedPeersFile(file, peers);
  return peers;
}

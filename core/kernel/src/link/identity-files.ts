// Reading the files a site keeps its link trust in: the site identity (CA, leaf and their private keys)
// and the trusted-peers file (the paired sites' CAs). Appliances and managers read the same files: the
// site link and the control link trust the same CAs. Writing them is the CLI's business.
import { promises as fs } from 'node:fs';
import { ValidationError } from '../errors.js';
import { SiteIdentity, TrustedPeers, type TrustedPeerJson } from './site-identity.js';

/** The stored form of a trusted-peers file. */
export interface TrustedPeersFile {
  version: 1;
  peers: TrustedPeerJson[];
}

/** Reads a JSON file; ValidationError naming `what` when it cannot be read or parsed. */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ValidationError(`cannot read ${what} '${file}': ${(e as Error).message}`, 'file');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`${what} '${file}' is not JSON: ${(e as Error).message}`, 'file');
  }
}

export async function readIdentityFile(file: string): Promise<SiteIdentity> {
  return SiteIdentity.fromJSON(await readJsonFile(file, 'site identity file'));
}

/** Reads a trusted-peers file; a missing file is an empty list (nobody trusted yet). */
export async function readTrustedPeersFile(file: string): Promise<TrustedPeers> {
  try {
    await fs.access(file);
  } catch {
    return new TrustedPeers();
  }
  const j = (await readJsonFile(file, 'trusted peers file')) as Partial<TrustedPeersFile> | null;
  if (typeof j !== 'object' || j === null || j.version !== 1 || !Array.isArray(j.peers)) {
    throw new ValidationError(`trusted peers file '${file}' must be {"version": 1, "peers": [...]}`, 'peers');
  }
  // TrustedPeers checks each CA (self-signed CA certificate, valid site id) and throws ValidationError.
  return new TrustedPeers(j.peers);
}

// Thin wrappers over the kernel's one-time-token pairing, for sites set up by hand: `pair-issue` runs a
// pairing endpoint and prints a token, `pair-redeem` redeems it from the other site. Each side stores the
// other's CA in its own trusted-peers file, which `appliance start` reads.
import { PairingEndpoint, PairingError, redeemPairingToken, type TrustedPeer } from '@opencdp/core';
import { readIdentityFile, trustPeer } from './identity-files.js';
import type { JsonLog } from './json-log.js';

export interface IssuePairingOptions {
  identityFile: string;
  trustedPeersFile: string;
  /** Where the pairing endpoint listens (default `127.0.0.1:0`). */
  listen?: string;
  /** The address written into the token, if the other site reaches us differently. */
  advertise?: string;
  ttlMs: number;
  log: JsonLog;
}

/** Issues one token, waits until a site redeems it (or it expires), and trusts that site. */
export async function issuePairing(options: IssuePairingOptions): Promise<TrustedPeer> {
  const identity = await readIdentityFile(options.identityFile);
  const endpoint = await PairingEndpoint.start(identity, {
    address: options.listen ?? '127.0.0.1:0',
    ...(options.advertise !== undefined ? { advertisedAddress: options.advertise } : {}),
    log: (event, fields) => options.log(event, fields),
  });
  try {
    const paired = new Promise<TrustedPeer>((resolve) => endpoint.onPaired(resolve));
    const token = endpoint.issuePairingToken({ ttlMs: options.ttlMs });
    options.log('pairing-token', { siteId: identity.siteId, address: endpoint.address, token, expiresAt: new Date(Date.now() + options.ttlMs).toISOString() });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PairingError('expired', `nobody redeemed the pairing token within ${Math.round(options.ttlMs / 1000)} s`)), options.ttlMs);
    });
    try {
      const peer = await Promise.race([paired, expired]);
      await trustPeer(identity, { siteId: peer.siteId, caCertPem: peer.caCertPem }, options.trustedPeersFile);
      options.log('paired', { siteId: identity.siteId, peerSiteId: peer.siteId, caFingerprintSha256: peer.caFingerprintSha256, trustedPeersFile: options.trustedPeersFile });
      return peer;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await endpoint.close();
  }
}

export interface RedeemPairingOptions {
  identityFile: string;
  trustedPeersFile: string;
  token: string;
  log: JsonLog;
}

/** Redeems a token another site issued and trusts that site. */
export async function redeemPairing(options: RedeemPairingOptions): Promise<TrustedPeer> {
  const identity = await readIdentityFile(options.identityFile);
  const peer = await redeemPairingToken(options.token, identity, { log: (event, fields) => options.log(event, fields) });
  await trustPeer(identity, { siteId: peer.siteId, caCertPem: peer.caCertPem }, options.trustedPeersFile);
  options.log('paired', { siteId: identity.siteId, peerSiteId: peer.siteId, caFingerprintSha256: peer.caFingerprintSha256, trustedPeersFile: options.trustedPeersFile });
  return peer;
}

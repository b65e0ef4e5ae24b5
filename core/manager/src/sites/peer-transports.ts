// What paired managers say to each other, and the default HTTP(S) transports that carry it: the pairing
// request (a one-time token for a secret each way) and the group definitions shared after every change.
// Over HTTPS the peer's certificate is pinned by the fingerprint given at pairing. Tests inject their own
// transports so nothing leaves the machine.
import { OpenCdpError, type ProtectionGroupSettings, type RecoveryPlan } from '@opencdp/core';
import { ApplianceUnavailableError, AuthenticationError, PeerUnreachableError } from '../errors.js';
import type { GroupRow } from '../store.js';
import { fetchFailure, trustingFetch, type TlsTrust } from '../tls-pinning.js';

export type PairTransport = (url: string, body: PairRequest, trust?: TlsTrust) => Promise<PairResponse>;
/**
 * `secret`: what the peer presents when it calls this manager later (group sync); `fingerprint`: this
 * manager's HTTPS certificate, which the peer pins when it calls back.
 */
export interface PairRequest { token: string; siteIdentifier: string; siteName: string; url: string; secret: string; fingerprint?: string }
export interface PairResponse { siteIdentifier: string; siteName: string; secret: string }
/** Sends a peer manager the definitions of the groups between the two sites; default an HTTP POST. */
export type PeerSyncTransport = (url: string, secret: string, body: PeerSyncMessage, trust?: TlsTrust) => Promise<void>;
/** A group definition as paired managers share it (no runtime state). */
export interface SharedGroup {
  id: string; name: string; settings: ProtectionGroupSettings; vmIds: string[]; protectedSiteId: string; recoverySiteId: string;
  plan: RecoveryPlan; createdAt: number; lifecycle: GroupRow['lifecycle']; provisionedBytes: number;
  /** Which appliances serve it (the recovery one is found by its id or link address). */
  placement?: GroupRow['placement'];
}
export interface PeerSyncMessage { siteIdentifier: string; groups: SharedGroup[]; deleted: string[] }

/** Header a paired manager presents its secret in. */
export const PEER_SECRET_HEADER = 'x-opencdp-peer-secret';

export function sharedOf(g: GroupRow): SharedGroup {
  return {
    id: g.id, name: g.name, settings: g.settings, vmIds: g.vmIds, protectedSiteId: g.protectedSiteId, recoverySiteId: g.recoverySiteId,
    plan: g.plan, createdAt: g.createdAt, lifecycle: g.lifecycle, provisionedBytes: g.provisionedBytes, ...(g.placement ? { placement: g.placement } : {}),
  };
}

/** POSTs JSON to a peer manager; a peer that cannot be reached at all is PeerUnreachableError (HTTP 502 to the caller). */
async function postToPeer(url: string, path: string, headers: Record<string, string>, body: unknown, trust: TlsTrust | undefined, timeoutMs = 10_000): Promise<Response> {
  try {
    return await trustingFetch(trust)(`${url.replace(/\/$/, '')}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = fetchFailure(e);
    if (cause instanceof OpenCdpError) throw cause;
    throw new PeerUnreachableError(url, cause.message);
  }
}

export const httpPeerSyncTransport: PeerSyncTransport = async (url, secret, body, trust) => {
  const res = await postToPeer(url, '/v1/peersites/sync', { [PEER_SECRET_HEADER]: secret }, body, trust);

  if (!res.ok) throw new ApplianceUnavailableError(`the peer manager at ${url} refused the group sync: ${res.status} ${await res.text().catch(() => '')}`);
};

/** Asks a paired manager whether it is there (seed 000: a site notices within seconds that the other's manager is gone). */
export type PeerHeartbeatTransport = (url: string, secret: string, body: { siteIdentifier: string }, trust?: TlsTrust) => Promise<void>;

export const httpPeerHeartbeatTransport: PeerHeartbeatTransport = async (url, secret, body, trust) => {
  const res = await postToPeer(url, '/v1/peersites/heartbeat', { [PEER_SECRET_HEADER]: secret }, body, trust, 2000);
  if (!res.ok) throw new ApplianceUnavailableError(`the peer manager at ${url} refused the heartbeat: ${res.status}`);
};

export const httpPairTransport: PairTransport = async (url, body, trust) => {
  const res = await postToPeer(url, '/v1/peersites/pair', {}, body, trust);
  const payload = (await res.json().catch(() => ({}))) as Partial<PairResponse> & { message?: string };
  if (!res.ok || typeof payload.siteIdentifier !== 'string' || typeof payload.secret !== 'string') throw new AuthenticationError(`the peer at ${url} refused pairing: ${payload.message ?? res.status}`);
  return { siteIdentifier: payload.siteIdentifier, siteName: payload.siteName ?? payload.siteIdentifier, secret: payload.secret };
};

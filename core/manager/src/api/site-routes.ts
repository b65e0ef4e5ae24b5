// /v1 routes of sites: this one, pairing and group sharing with a peer manager (over HTTPS, each side
// pinning the other's certificate), and the appliances this manager drives.
import type { ManagerParts } from '../manager-parts.js';
import type { PeerSyncMessage } from '../sites/peer-transports.js';
import { body, id, json, listOf, noContent, obj, params, recoveryPlanSchema, taskBody, taskStarted, userOf, vmIdentifiers, type RouteSpec } from './route-spec.js';
import { iso, siteView } from './views.js';

const fingerprint = { type: 'string', pattern: '^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$', description: 'SHA-256 fingerprint of the peer manager\'s certificate (hex, colons allowed)' } as const;

export function siteRoutes({ sites, peering, peerWatch, appliances, lifecycle }: Pick<ManagerParts, 'sites' | 'peering' | 'peerWatch' | 'appliances' | 'lifecycle'>): RouteSpec[] {
  const sharedGroup = obj({
    id, name: { type: 'string', minLength: 1, maxLength: 80 }, settings: { type: 'object' }, vmIds: vmIdentifiers, protectedSiteId: id, recoverySiteId: id,
    plan: recoveryPlanSchema, createdAt: { type: 'integer', minimum: 0 }, lifecycle: { enum: ['active', 'deleting', 'recovered'] }, provisionedBytes: { type: 'integer', minimum: 0 },
    placement: obj({
      members: { type: 'array', maxItems: 1000, items: obj({ applianceId: { type: 'string', minLength: 1, maxLength: 200 }, vmIds: vmIdentifiers }, ['applianceId', 'vmIds']) },
      recovery: obj({ applianceId: { type: 'string', minLength: 1, maxLength: 200 }, linkAddress: { type: 'string', minLength: 1, maxLength: 300 } }, ['applianceId', 'linkAddress']),
    }, ['members']),
  }, ['id', 'name', 'settings', 'vmIds', 'protectedSiteId', 'recoverySiteId', 'plan', 'createdAt', 'lifecycle', 'provisionedBytes']);
  return [
    {
      method: 'GET', url: '/v1/localsite', role: 'viewer', operationId: 'getLocalSite', tags: ['sites'], summary: 'This manager\'s site, its address and its certificate fingerprint',
      responses: { 200: json('this site', 'LocalSite') },
      handler: async () => ({ ...siteView(sites.localSite()), certificateFingerprint: lifecycle.tlsFingerprint ?? null, url: lifecycle.address ?? null }),
    },
    {
      method: 'GET', url: '/v1/peersites', role: 'viewer', operationId: 'listPeerSites', tags: ['sites'], summary: 'Paired sites',
      responses: { 200: listOf('the paired sites', 'Site') },
      handler: async () => sites.peerSites().map(siteView),
    },
    {
      method: 'POST', url: '/v1/peersites/generatetoken', role: 'admin', operationId: 'generatePairingToken', tags: ['sites'],
      summary: 'A one-time, expiring token the peer site presents to pair with this one (shown once; only its hash is kept)', body: obj({}),
      responses: { 200: json('the token', 'PairingToken') },
      handler: async (req) => {
        const t = peering.generatePairingToken(userOf(req));
        return { token: t.token, expiresAt: iso(t.expiresAt) };
      },
    },
    {
      method: 'POST', url: '/v1/peersites', role: 'admin', operationId: 'pairSite', tags: ['sites'],
      summary: 'Pair with the manager at hostName:port using the token it generated (HTTPS with its certificate fingerprint; plain HTTP only to loopback)',
      body: obj({
        hostName: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]-]+$' }, port: { type: 'integer', minimum: 1, maximum: 65535 },
        token: { type: 'string', minLength: 8, maxLength: 200 }, useHttps: { type: 'boolean', default: true }, certificateFingerprint: fingerprint,
      }, ['hostName', 'port', 'token']),
      responses: { 200: taskStarted({ siteIdentifier: { type: 'string' } }) }, errors: [401, 502],
      handler: async (req) => {
        const b = body(req);
        const host = String(b.hostName).includes(':') && !String(b.hostName).startsWith('[') ? `[${String(b.hostName)}]` : String(b.hostName);
        const url = `${b.useHttps === false ? 'http' : 'https'}://${host}:${Number(b.port)}`;
        const { site, taskId } = await peering.pairWith(url, String(b.token), userOf(req), b.certificateFingerprint !== undefined ? { fingerprint: String(b.certificateFingerprint) } : {});
        return taskBody(taskId, { siteIdentifier: site.id });
      },
    },
    {
      method: 'POST', url: '/v1/peersites/pair', role: 'public', operationId: 'acceptPairing', tags: ['sites'],
      summary: 'Called by a peer manager: presents this site\'s pairing token (authenticates by the token)',
      body: obj({
        token: { type: 'string', minLength: 8, maxLength: 200 }, siteIdentifier: id, siteName: { type: 'string', minLength: 1, maxLength: 200 }, url: { type: 'string', maxLength: 500 },
        secret: { type: 'string', minLength: 16, maxLength: 200 }, fingerprint,
      }, ['token', 'siteIdentifier', 'siteName', 'url', 'secret']),
      responses: { 200: json('this site and the secret the peer presents from now on', 'PairAnswer') }, errors: [401],
      handler: async (req) => {
        const b = body(req);
        return peering.acceptPairing({
          token: String(b.token), siteIdentifier: String(b.siteIdentifier), siteName: String(b.siteName), url: String(b.url), secret: String(b.secret),
          ...(b.fingerprint !== undefined ? { fingerprint: String(b.fingerprint) } : {}),
        });
      },
    },
    {
      method: 'POST', url: '/v1/peersites/sync', role: 'peer', operationId: 'acceptPeerSync', tags: ['sites'],
      summary: 'Called by a paired manager: the definitions of the groups between the two sites (authenticated by the pairing secret before the body is read)',
      body: obj({ siteIdentifier: id, groups: { type: 'array', items: sharedGroup, maxItems: 10_000 }, deleted: { type: 'array', items: id, maxItems: 10_000 } }, ['siteIdentifier', 'groups', 'deleted']),
      responses: { 200: json('how many group definitions were taken', 'PeerSyncAnswer') }, errors: [409],
      handler: async (req) => peering.acceptPeerSync(req.peerSite!, body(req) as unknown as PeerSyncMessage),
    },
    {
      method: 'POST', url: '/v1/peersites/heartbeat', role: 'peer', operationId: 'acceptPeerHeartbeat', tags: ['sites'],
      summary: 'Called by a paired manager every second: are you there? (authenticated by the pairing secret before the body is read)',
      body: obj({ siteIdentifier: id }, ['siteIdentifier']),
      responses: { 200: json('this site and its clock', 'PeerHeartbeatAnswer') },
      handler: async (req) => peerWatch.acceptHeartbeat(req.peerSite!, String(body(req).siteIdentifier)),
    },
    {
      method: 'GET', url: '/v1/peersites/connections', role: 'viewer', operationId: 'listPeerConnections', tags: ['sites'], summary: 'Whether this manager is connected to each paired manager now',
      responses: { 200: listOf('each paired site and whether its manager answers', 'PeerConnection') },
      handler: async () => peerWatch.connections(),
    },
    {
method: 'DELETE', url: '/v1/peersites/:siteIdentifier', role: 'admin', operationId: 'unpairSite', tags: ['sites'], summary: 'Unpair a site (no group may use it)',
      params: obj({ siteIdentifier: id }, ['siteIdentifier']),
      responses: { 204: noContent('unpaired') }, errors: [404, 409],
      handler: async (req, reply) => {
        peering.unpair(params(req).siteIdentifier, userOf(req));
        return reply.status(204).send();
      },
    },
    {
      method: 'GET', url: '/v1/vras', role: 'viewer', operationId: 'listVras', tags: ['sites'], summary: 'The appliances this manager drives',
      responses: { 200: listOf('the appliances', 'Vra') },
      handler: async () => appliances.registered().map((e) => ({
        vraIdentifier: e.id, siteIdentifier: e.control.siteId, recoveryRole: e.description?.recoveryRole ?? e.control.recovery !== undefined, local: e.control.siteId === sites.siteId,
        hostIdentifiers: e.description?.hostIds ?? null, linkAddress: e.description?.linkAddress ?? null, reachable: appliances.downReason(e.control) === undefined,
      })),
    },
  ];
}

// /v1 routes of sites: this one, pairing and group sharing with a peer manager, the appliances this
// manager drives, and the platform inventories it reaches (to pick VM, network and datastore ids).
import { NotFoundError } from '@opencdp/core';
import type { Inventory } from '@opencdp/core';
import type { ManagerParts } from '../manager-parts.js';
import { PEER_SECRET_HEADER, type PeerSyncMessage } from '../sites/peer-transports.js';
import { body, id, obj, params, recoveryPlanSchema, taskBody, userOf, vmIdentifiers, type RouteSpec } from './route-spec.js';
import { iso, siteView } from './views.js';

const MB = 1024 * 1024;

export function siteRoutes({ sites, peering, peerWatch, appliances, lifecycle }: Pick<ManagerParts, 'sites' | 'peering' | 'peerWatch' | 'appliances' | 'lifecycle'>): RouteSpec[] {
  const sharedGroup = obj({
    id, name: { type: 'string', minLength: 1, maxLength: 80 }, settings: { type: 'object' }, vmIds: vmIdentifiers, protectedSiteId: id, recoverySiteId: id,
    plan: recoveryPlanSchema, createdAt: { type: 'integer', minimum: 0 }, lifecycle: { enum: ['active', 'deleting', 'recovered'] }, provisionedBytes: { type: 'integer', minimum: 0 },
    placement: obj({
      members: { type: 'array', maxItems: 1000, items: obj({ applianceId: { type: 'string', minLength: 1, maxLength: 200 }, vmIds: vmIdentifiers }, ['applianceId', 'vmIds']) },
      recovery: obj({ applianceId: { type: 'string', minLength: 1, maxLength: 200 }, linkAddress: { type: 'string', minLength: 1, maxLength: 300 } }, ['applianceId', 'linkAddress']),
    }, ['members']),
  }, ['id', 'name', 'settings', 'vmIds', 'protectedSiteId', 'recoverySiteId', 'plan', 'createdAt', 'lifecycle', 'provisionedBytes']);
  const routes: RouteSpec[] = [
    { method: 'GET', url: '/v1/localsite', role: 'viewer', tags: ['sites'], summary: 'This manager\'s site', handler: async () => ({ ...siteView(sites.localSite()), url: lifecycle.address ?? null }) },
    { method: 'GET', url: '/v1/peersites', role: 'viewer', tags: ['sites'], summary: 'Paired sites', handler: async () => sites.peerSites().map(siteView) },
    {
      method: 'POST', url: '/v1/peersites/generatetoken', role: 'admin', tags: ['sites'], summary: 'A one-time, expiring token the peer site presents to pair with this one', body: obj({}),
      handler: async (req) => {
        const t = peering.generatePairingToken(userOf(req));
        return { token: t.token, expiresAt: iso(t.expiresAt) };
      },
    },
    {
      method: 'POST', url: '/v1/peersites', role: 'admin', tags: ['sites'], summary: 'Pair with the manager at hostName:port using the token it generated',
      body: obj({ hostName: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]-]+$' }, port: { type: 'integer', minimum: 1, maximum: 65535 }, token: { type: 'string', minLength: 8, maxLength: 200 }, useHttps: { type: 'boolean', default: false } }, ['hostName', 'port', 'token']),
      handler: async (req) => {
        const b = body(req);
        const url = `${b.useHttps ? 'https' : 'http'}://${String(b.hostName)}:${Number(b.port)}`;
        const { site, taskId } = await peering.pairWith(url, String(b.token), userOf(req));
        return taskBody(taskId, { siteIdentifier: site.id });
      },
    },
    {
      method: 'POST', url: '/v1/peersites/pair', role: 'public', tags: ['sites'], summary: 'Called by a peer manager: presents this site\'s pairing token (authenticates by the token)',
      body: obj({ token: { type: 'string', minLength: 8, maxLength: 200 }, siteIdentifier: id, siteName: { type: 'string', minLength: 1, maxLength: 200 }, url: { type: 'string', maxLength: 500 }, secret: { type: 'string', minLength: 16, maxLength: 200 } }, ['token', 'siteIdentifier', 'siteName', 'url', 'secret']),
      handler: async (req) => {
        const b = body(req);
        return peering.acceptPairing({ token: String(b.token), siteIdentifier: String(b.siteIdentifier), siteName: String(b.siteName), url: String(b.url), secret: String(b.secret) });
      },
    },
    {
      method: 'POST', url: '/v1/peersites/sync', role: 'public', tags: ['sites'], summary: 'Called by a paired manager: the definitions of the groups between the two sites (authenticates by the pairing secret)',
      body: obj({ siteIdentifier: id, groups: { type: 'array', items: sharedGroup, maxItems: 10_000 }, deleted: { type: 'array', items: id, maxItems: 10_000 } }, ['siteIdentifier', 'groups', 'deleted']),
      handler: async (req) => {
        const secret = req.headers[PEER_SECRET_HEADER];
        return peering.acceptPeerSync(typeof secret === 'string' ? secret : undefined, body(req) as unknown as PeerSyncMessage);
      },
    },
    {
      method: 'POST', url: '/v1/peersites/heartbeat', role: 'public', tags: ['sites'], summary: 'Called by a paired manager every second: are you there? (authenticates by the pairing secret)',
      body: obj({ siteIdentifier: id }, ['siteIdentifier']),
      handler: async (req) => {
        const secret = req.headers[PEER_SECRET_HEADER];
        return peerWatch.acceptHeartbeat(typeof secret === 'string' ? secret : undefined, String(body(req).siteIdentifier));
      },
    },
    {
      method: 'GET', url: '/v1/peersites/connections', role: 'viewer', tags: ['sites'], summary: 'Whether this manager is connected to each paired manager now',
      handler: async () => peerWatch.connections(),
    },
    {
      method: 'DELETE', url: '/v1/peersites/:siteIdentifier', role: 'admin', tags: ['sites'], summary: 'Unpair a site (no group may use it)', params: obj({ siteIdentifier: id }, ['siteIdentifier']),
      handler: async (req, reply) => {
        peering.unpair(params(req).siteIdentifier, userOf(req));
        return reply.status(204).send();
      },
    },
    {
      method: 'GET', url: '/v1/vras', role: 'viewer', tags: ['sites'], summary: 'The appliances this manager drives',
      handler: async () => appliances.registered().map((e) => ({
        vraIdentifier: e.id, siteIdentifier: e.control.siteId, recoveryRole: e.description?.recoveryRole ?? e.control.recovery !== undefined, local: e.control.siteId === sites.siteId,
        hostIdentifiers: e.description?.hostIds ?? null, linkAddress: e.description?.linkAddress ?? null, reachable: appliances.downReason(e.control) === undefined,
      })),
    },
    {
      method: 'GET', url: '/v1/virtualizationsites', role: 'viewer', tags: ['inventory'], summary: 'Sites whose platform this manager reaches through an appliance',
      handler: async () => [...new Set(appliances.list().map((a) => a.siteId))].map((siteIdentifier) => ({ siteIdentifier, local: siteIdentifier === sites.siteId })),
    },
  ];
  const inventoryOf = async (siteId: string): Promise<Inventory> => {
    const inv = (await appliances.inventories()).get(siteId);
    if (!inv) throw new NotFoundError('virtualization site', siteId);
    return inv;
  };
  const siteParams = obj({ siteIdentifier: id }, ['siteIdentifier']);
  const inventoryRoutes: Array<[string, (inv: Inventory) => unknown]> = [
    ['vms', (inv) => inv.vms.map((v) => ({ vmIdentifier: v.id, vmName: v.name, hostIdentifier: v.hostId, powerState: v.powerState, volumes: v.volumes.map((x) => ({ volumeIdentifier: x.id, name: x.name, sizeInMB: x.sizeBytes / MB })), nics: v.nics.map((n) => ({ networkIdentifier: n.networkId, mac: n.mac, ipv4: n.ipv4 ?? null })) }))],
    ['hosts', (inv) => inv.hosts.map((h) => ({ hostIdentifier: h.id, hostName: h.name }))],
    ['networks', (inv) => inv.networks.map((n) => ({ networkIdentifier: n.id, networkName: n.name, isolated: n.isolated }))],
    ['datastores', (inv) => inv.datastores.map((d) => ({ datastoreIdentifier: d.id, datastoreName: d.name, capacityInMB: Math.round(d.capacityBytes / MB), freeInMB: Math.round(d.freeBytes / MB) }))],
  ];
  for (const [kind, view] of inventoryRoutes) {
    routes.push({
      method: 'GET', url: `/v1/virtualizationsites/:siteIdentifier/${kind}`, role: 'viewer', tags: ['inventory'], summary: `The ${kind} of a site's platform`, params: siteParams,
      handler: async (req) => view(await inventoryOf(params(req).siteIdentifier)),
    });
  }
  return routes;
}

// /v1 routes of the platforms this manager reaches through its appliances: the virtualization sites with
// their platform kind, each site's VMs, hosts, networks, datastores and folders, every datastore at once,
// and the protected volumes (one row per group their VM is in).
import { NotFoundError } from '@opencdp/core';
import type { Inventory } from '@opencdp/core';
import type { ManagerParts } from '../manager-parts.js';
import { id, json, listOf, obj, params, query, type RouteSpec } from './route-spec.js';

const MB = 1024 * 1024;

export function inventoryRoutes({ sites, appliances, groups }: Pick<ManagerParts, 'sites' | 'appliances' | 'groups'>): RouteSpec[] {
  const inventoryOf = async (siteId: string): Promise<Inventory> => {
    const inv = (await appliances.inventories()).get(siteId);
    if (!inv) throw new NotFoundError('virtualization site', siteId);
    return inv;
  };
  const datastoreView = (d: Inventory['datastores'][number]): Record<string, unknown> => ({ datastoreIdentifier: d.id, datastoreName: d.name, capacityInMB: Math.round(d.capacityBytes / MB), freeInMB: Math.round(d.freeBytes / MB) });
  const routes: RouteSpec[] = [
    {
      method: 'GET', url: '/v1/virtualizationsites', role: 'viewer', operationId: 'listVirtualizationSites', tags: ['inventory'],
      summary: 'Sites whose platform this manager reaches through an appliance, with the platform kind (siteType)',
      responses: { 200: listOf('the sites', 'VirtualizationSite') },
      handler: async () => {
        const inventories = await appliances.inventories();
        return [...new Set(appliances.list().map((a) => a.siteId))].map((siteIdentifier) => ({ siteIdentifier, local: siteIdentifier === sites.siteId, siteType: inventories.get(siteIdentifier)?.platform ?? null }));
      },
    },
    {
      method: 'GET', url: '/v1/datastores', role: 'viewer', operationId: 'listDatastores', tags: ['inventory'], summary: 'Every datastore of every site this manager reaches',
      querystring: obj({ siteIdentifier: id }),
      responses: { 200: listOf('the datastores', 'SiteDatastore') },
      handler: async (req) => {
        const q = query(req);
        return [...(await appliances.inventories())].filter(([siteId]) => q.siteIdentifier === undefined || siteId === q.siteIdentifier)
          .flatMap(([siteIdentifier, inv]) => inv.datastores.map((d) => ({ ...datastoreView(d), siteIdentifier })));
      },
    },
    {
      method: 'GET', url: '/v1/volumes', role: 'viewer', operationId: 'listVolumes', tags: ['inventory'], summary: 'Protected volumes: one row per group their VM is in',
      querystring: obj({ vpgIdentifier: id, protectedVmIdentifier: id }),
      responses: { 200: listOf('the volumes', 'Volume') },
      handler: async (req) => {
        const q = query(req);
        const inventories = await appliances.inventories();
        const rows: Record<string, unknown>[] = [];
        for (const g of groups.list()) {
          if (q.vpgIdentifier !== undefined && g.id !== q.vpgIdentifier) continue;
          const inv = inventories.get(g.protectedSiteId);
          for (const vmId of g.vmIds) {
            if (q.protectedVmIdentifier !== undefined && vmId !== q.protectedVmIdentifier) continue;
            const vm = inv?.vms.find((v) => v.id === vmId);
            const datastore = g.plan.vms?.find((p) => p.vmId === vmId)?.datastoreId ?? g.plan.datastoreId ?? null;
            for (const v of vm?.volumes ?? []) {
              rows.push({
                volumeIdentifier: v.id, volumeName: v.name, sizeInMB: v.sizeBytes / MB, sectorSize: v.sectorSize, vmIdentifier: vmId, vmName: vm?.name ?? null,
                vpgIdentifier: g.id, vpgName: g.name, protectedSiteIdentifier: g.protectedSiteId, recoverySiteIdentifier: g.recoverySiteId, recoveryDatastoreIdentifier: datastore,
              });
            }
          }
        }
        return rows;
      },
    },
  ];
  const siteParams = obj({ siteIdentifier: id }, ['siteIdentifier']);
  const perSite: Array<[string, string, string, (inv: Inventory) => unknown]> = [
    ['vms', 'VMs', 'InventoryVm', (inv) => inv.vms.map((v) => ({
      vmIdentifier: v.id, vmName: v.name, hostIdentifier: v.hostId, powerState: v.powerState,
      volumes: v.volumes.map((x) => ({ volumeIdentifier: x.id, name: x.name, sizeInMB: x.sizeBytes / MB })), nics: v.nics.map((n) => ({ networkIdentifier: n.networkId, mac: n.mac, ipv4: n.ipv4 ?? null })),
    }))],
    ['hosts', 'Hosts', 'Host', (inv) => inv.hosts.map((h) => ({ hostIdentifier: h.id, hostName: h.name }))],
    ['networks', 'Networks', 'Network', (inv) => inv.networks.map((n) => ({ networkIdentifier: n.id, networkName: n.name, isolated: n.isolated }))],
    ['datastores', 'Datastores', 'Datastore', (inv) => inv.datastores.map(datastoreView)],
    ['folders', 'Folders', 'Folder', (inv) => (inv.folders ?? []).map((f) => ({ folderIdentifier: f.id, folderName: f.name, vmIdentifiers: f.vmIds }))],
  ];
  for (const [kind, name, component, view] of perSite) {
    routes.push({
      method: 'GET', url: `/v1/virtualizationsites/:siteIdentifier/${kind}`, role: 'viewer', operationId: `listSite${name}`, tags: ['inventory'],
      summary: `The ${kind} of a site's platform${kind === 'folders' ? ' (empty on platforms without VM folders)' : ''}`, params: siteParams,
      responses: { 200: listOf(`the ${kind}`, component) }, errors: [404],
      handler: async (req) => view(await inventoryOf(params(req).siteIdentifier)),
    });
  }
  return routes;
}

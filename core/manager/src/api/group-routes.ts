// /v1 routes of protection groups (the anchor's VPGs): list and export, create in one call, lookups of
// the enum codes, one group, delete, and the protected appliance's user actions.
import { GroupStatusCode, GroupSubStatusCode, PRIORITY_CODES, protectionGroupSettingsSchema } from '@opencdp/core';
import type { RecoveryPlan } from '@opencdp/core';
import { defined } from '../defined.js';
import type { ManagerParts } from '../manager-parts.js';
import { body, id, intString, json, listOf, obj, params, query, recoveryPlanSchema, taskBody, taskStarted, userOf, vmIdentifiers, vpgParams, type Json, type RouteSpec } from './route-spec.js';
import { groupsCsv, groupView } from './views.js';

const { $id: _settingsId, ...settingsSchema } = protectionGroupSettingsSchema;

export function groupRoutes(parts: Pick<ManagerParts, 'groups' | 'monitor' | 'alerts' | 'appliances'>): RouteSpec[] {
  const { groups, appliances } = parts;
  const siteType = { type: 'string', minLength: 1, maxLength: 40, description: 'platform kind of the site (fake, qemu, hyperv, vsphere, …), as GET /v1/virtualizationsites reports it' } as const;
  const listQuery = obj({
    name: { type: 'string', maxLength: 200 }, status: intString, subStatus: intString, priority: intString,
    protectedSiteIdentifier: id, recoverySiteIdentifier: id, protectedSiteType: siteType, recoverySiteType: siteType, format: { enum: ['json', 'csv'] },
  });
  const listGroups = async (q: Record<string, string | undefined>): Promise<Json[]> => {
    const alertStatus = parts.alerts.statusAll();
    // Site types come from the appliances' inventories: asked only when a filter names one.
    const types = q.protectedSiteType !== undefined || q.recoverySiteType !== undefined
      ? new Map([...(await appliances.inventories())].map(([siteId, inv]) => [siteId, inv.platform])) : undefined;
    return groups.list()
      .map((g) => groupView(parts, g, alertStatus))
      .filter((v) => (q.name === undefined || v.vpgName === q.name) && (q.status === undefined || v.status === Number(q.status))
        && (q.subStatus === undefined || v.subStatus === Number(q.subStatus)) && (q.priority === undefined || v.priority === Number(q.priority))
        && (q.protectedSiteIdentifier === undefined || v.protectedSiteIdentifier === q.protectedSiteIdentifier)
        && (q.recoverySiteIdentifier === undefined || v.recoverySiteIdentifier === q.recoverySiteIdentifier)
        && (q.protectedSiteType === undefined || types?.get(String(v.protectedSiteIdentifier)) === q.protectedSiteType)
        && (q.recoverySiteType === undefined || types?.get(String(v.recoverySiteIdentifier)) === q.recoverySiteType));
  };
  const lookup = (url: string, operationId: string, summary: string, entries: Record<string, number>): RouteSpec => ({
    method: 'GET', url: `/v1/vpgs/${url}`, role: 'viewer', operationId, tags: ['lookups'], summary, responses: { 200: listOf('the codes and their names', 'Lookup') },
    handler: async () => Object.entries(entries).map(([name, value]) => ({ value, name })),
  });
  const csv = { description: 'the groups as RFC 4180 CSV', contentType: 'text/csv' };
  const routes: RouteSpec[] = [
    {
      method: 'GET', url: '/v1/vpgs', role: 'viewer', operationId: 'listVpgs', tags: ['vpgs'], summary: 'List protection groups (filters; ?format=csv exports CSV)', querystring: listQuery,
      responses: { 200: { ...listOf('the groups (CSV with format=csv)', 'Vpg'), alsoAs: 'text/csv' } },
      handler: async (req, reply) => {
        const rows = await listGroups(query(req));
        if (query(req).format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vpgs.csv"').send(groupsCsv(rows));
        return rows;
      },
    },
    {
      method: 'GET', url: '/v1/vpgs/export.csv', role: 'viewer', operationId: 'exportVpgsCsv', tags: ['vpgs'], summary: 'Every protection group as CSV', querystring: obj({}),
      responses: { 200: csv },
      handler: async (_req, reply) => reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vpgs.csv"').send(groupsCsv(await listGroups({}))),
    },
    {
      method: 'POST', url: '/v1/vpgs', role: 'operator', operationId: 'createVpg', tags: ['vpgs'], summary: 'Create and protect a group in one call (the draft flow under /v1/vpgSettings does the same in steps)',
      body: obj({ settings: settingsSchema, vmIdentifiers: { ...vmIdentifiers, minItems: 1 }, protectedSiteIdentifier: id, recoverySiteIdentifier: id, recoveryPlan: recoveryPlanSchema }, ['settings', 'vmIdentifiers', 'recoverySiteIdentifier']),
      responses: { 201: taskStarted({ vpgIdentifier: { type: 'string' } }, 'the group is stored; its protection runs as a task') }, errors: [409, 503],
      handler: async (req, reply) => {
        const b = body(req);
        const r = await groups.create({ settings: b.settings, vmIds: b.vmIdentifiers as string[], recoverySiteId: String(b.recoverySiteIdentifier), ...defined({ protectedSiteId: b.protectedSiteIdentifier as string | undefined, plan: b.recoveryPlan as RecoveryPlan | undefined }) }, userOf(req));
        return reply.status(201).send(taskBody(r.taskId, { vpgIdentifier: r.groupId }));
      },
    },
    lookup('statuses', 'listVpgStatuses', 'Status codes', GroupStatusCode),
    lookup('substatuses', 'listVpgSubStatuses', 'Sub-status codes (an open enum: newer codes may appear)', GroupSubStatusCode),
    lookup('priorities', 'listVpgPriorities', 'Priority codes', PRIORITY_CODES),
    lookup('failovercommitpolicies', 'listFailoverCommitPolicies', 'Commit policy codes', { Rollback: 0, Commit: 1, None: 2 }),
    lookup('failovershutdownpolicies', 'listFailoverShutdownPolicies', 'Shutdown policy codes', { None: 0, Shutdown: 1, ForceShutdown: 2 }),
    {
      method: 'GET', url: '/v1/vpgs/:vpgIdentifier', role: 'viewer', operationId: 'getVpg', tags: ['vpgs'], summary: 'One protection group', params: vpgParams,
      responses: { 200: json('the group', 'Vpg') }, errors: [404],
      handler: async (req) => groupView(parts, groups.get(params(req).vpgIdentifier)),
    },
    {
      method: 'DELETE', url: '/v1/vpgs/:vpgIdentifier', role: 'operator', operationId: 'deleteVpg', tags: ['vpgs'], summary: 'Delete a group, optionally keeping the recovery volumes (for preseeding) or forcing',
      params: vpgParams, body: obj({ keepRecoveryVolumes: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } }),
      responses: { 200: taskStarted() }, errors: [404, 409, 503],
      handler: async (req) => {
        const b = body(req);
        return taskBody(await groups.delete(params(req).vpgIdentifier, { keepRecoveryVolumes: b.keepRecoveryVolumes === true, force: b.force === true }, userOf(req)));
      },
    },
  ];
  for (const [action, fn, operationId] of [['pause', 'pause', 'pauseVpg'], ['resume', 'resume', 'resumeVpg'], ['forcesync', 'forceSync', 'forceSyncVpg']] as const) {
    routes.push({
      method: 'POST', url: `/v1/vpgs/:vpgIdentifier/${action}`, role: 'operator', operationId, tags: ['vpgs'], summary: `${action} replication of the group`, params: vpgParams, body: obj({}),
      responses: { 200: taskStarted() }, errors: [404, 409, 503],
      handler: async (req) => taskBody(groups[fn](params(req).vpgIdentifier, userOf(req))),
    });
  }
  return routes;
}

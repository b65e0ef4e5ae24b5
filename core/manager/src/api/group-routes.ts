// /v1 routes of protection groups (the anchor's VPGs): list and export, create in one call, lookups of
// the enum codes, one group, delete, and the protected appliance's user actions.
import { GroupStatusCode, GroupSubStatusCode, PRIORITY_CODES, protectionGroupSettingsSchema } from '@opencdp/core';
import type { RecoveryPlan } from '@opencdp/core';
import { defined } from '../defined.js';
import type { ManagerParts } from '../manager-parts.js';
import { body, id, intString, obj, params, query, recoveryPlanSchema, taskBody, userOf, vmIdentifiers, vpgParams, type Json, type RouteSpec } from './route-spec.js';
import { groupsCsv, groupView } from './views.js';

const { $id: _settingsId, ...settingsSchema } = protectionGroupSettingsSchema;

export function groupRoutes(parts: Pick<ManagerParts, 'groups' | 'monitor' | 'alerts'>): RouteSpec[] {
  const { groups } = parts;
  const listQuery = obj({
    name: { type: 'string', maxLength: 200 }, status: intString, subStatus: intString, priority: intString,
    protectedSiteIdentifier: id, recoverySiteIdentifier: id, format: { enum: ['json', 'csv'] },
  });
  const listGroups = (q: Record<string, string | undefined>): Json[] => {
    const alertStatus = parts.alerts.statusAll();
    return groups.list()
      .map((g) => groupView(parts, g, alertStatus))
      .filter((v) => (q.name === undefined || v.vpgName === q.name) && (q.status === undefined || v.status === Number(q.status))
        && (q.subStatus === undefined || v.subStatus === Number(q.subStatus)) && (q.priority === undefined || v.priority === Number(q.priority))
        && (q.protectedSiteIdentifier === undefined || v.protectedSiteIdentifier === q.protectedSiteIdentifier)
        && (q.recoverySiteIdentifier === undefined || v.recoverySiteIdentifier === q.recoverySiteIdentifier));
  };
  const lookup = (url: string, summary: string, entries: Record<string, number>): RouteSpec => ({
    method: 'GET', url: `/v1/vpgs/${url}`, role: 'viewer', tags: ['lookups'], summary, handler: async () => Object.entries(entries).map(([name, value]) => ({ value, name })),
  });
  const routes: RouteSpec[] = [
    {
      method: 'GET', url: '/v1/vpgs', role: 'viewer', tags: ['vpgs'], summary: 'List protection groups (filters; ?format=csv exports CSV)', querystring: listQuery,
      handler: async (req, reply) => {
        const rows = listGroups(query(req));
        if (query(req).format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vpgs.csv"').send(groupsCsv(rows));
        return rows;
      },
    },
    {
      method: 'GET', url: '/v1/vpgs/export.csv', role: 'viewer', tags: ['vpgs'], summary: 'Every protection group as CSV', querystring: obj({}),
      handler: async (_req, reply) => reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vpgs.csv"').send(groupsCsv(listGroups({}))),
    },
    {
      method: 'POST', url: '/v1/vpgs', role: 'operator', tags: ['vpgs'], summary: 'Create and protect a group in one call (the draft flow under /v1/vpgSettings does the same in steps)',
      body: obj({ settings: settingsSchema, vmIdentifiers: { ...vmIdentifiers, minItems: 1 }, protectedSiteIdentifier: id, recoverySiteIdentifier: id, recoveryPlan: recoveryPlanSchema }, ['settings', 'vmIdentifiers', 'recoverySiteIdentifier']),
      handler: async (req, reply) => {
        const b = body(req);
        const r = await groups.create({ settings: b.settings, vmIds: b.vmIdentifiers as string[], recoverySiteId: String(b.recoverySiteIdentifier), ...defined({ protectedSiteId: b.protectedSiteIdentifier as string | undefined, plan: b.recoveryPlan as RecoveryPlan | undefined }) }, userOf(req));
        return reply.status(201).send(taskBody(r.taskId, { vpgIdentifier: r.groupId }));
      },
    },
    lookup('statuses', 'Status codes', GroupStatusCode),
    lookup('substatuses', 'Sub-status codes (an open enum: newer codes may appear)', GroupSubStatusCode),
    lookup('priorities', 'Priority codes', PRIORITY_CODES),
    lookup('failovercommitpolicies', 'Commit policy codes', { Rollback: 0, Commit: 1, None: 2 }),
    lookup('failovershutdownpolicies', 'Shutdown policy codes', { None: 0, Shutdown: 1, ForceShutdown: 2 }),
    { method: 'GET', url: '/v1/vpgs/:vpgIdentifier', role: 'viewer', tags: ['vpgs'], summary: 'One protection group', params: vpgParams, handler: async (req) => groupView(parts, groups.get(params(req).vpgIdentifier)) },
    {
      method: 'DELETE', url: '/v1/vpgs/:vpgIdentifier', role: 'operator', tags: ['vpgs'], summary: 'Delete a group, optionally keeping the recovery volumes (for preseeding) or forcing',
      params: vpgParams, body: obj({ keepRecoveryVolumes: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } }),
      handler: async (req) => {
        const b = body(req);
        return taskBody(await groups.delete(params(req).vpgIdentifier, { keepRecoveryVolumes: b.keepRecoveryVolumes === true, force: b.force === true }, userOf(req)));
      },
    },
  ];
  for (const [action, fn] of [['pause', 'pause'], ['resume', 'resume'], ['forcesync', 'forceSync']] as const) {
    routes.push({
      method: 'POST', url: `/v1/vpgs/:vpgIdentifier/${action}`, role: 'operator', tags: ['vpgs'], summary: `${action} replication of the group`, params: vpgParams, body: obj({}),
      handler: async (req) => taskBody(groups[fn](params(req).vpgIdentifier, userOf(req))),
    });
  }
  return routes;
}

// /v1 routes of what the manager watches and keeps: protected VMs with their figures, tasks, events,
// alerts (with dismiss / undismiss) and recovery reports.
import type { RecoveryKind } from '@opencdp/core';
import { defined } from '../defined.js';
import type { ManagerParts } from '../manager-parts.js';
import { dateOf, dateTime, id, json, listOf, obj, params, query, taskBody, taskStarted, userOf, type Json, type RouteSpec } from './route-spec.js';
import { alertView, eventView, groupView, reportView, taskView } from './views.js';

export function monitorRoutes(parts: Pick<ManagerParts, 'groups' | 'monitor' | 'alerts' | 'appliances' | 'tasks' | 'events' | 'reports'>): RouteSpec[] {
  const { groups, monitor, alerts, appliances, tasks, events, reports } = parts;
  const alertParams = obj({ alertIdentifier: id }, ['alertIdentifier']);
  const taskParams = obj({ taskIdentifier: id }, ['taskIdentifier']);
  const view = (t: Parameters<typeof taskView>[0]): Json => taskView(t, tasks.isCancellable(t.id));
  const routes: RouteSpec[] = [
    {
      method: 'GET', url: '/v1/vms', role: 'viewer', operationId: 'listVms', tags: ['vms'], summary: 'Protected VMs, one row per group they are in', querystring: obj({ vpgIdentifier: id, vmIdentifier: id }),
      responses: { 200: listOf('the protected VMs', 'VmRow') },
      handler: async (req) => {
        const q = query(req);
        const names = new Map<string, string>();
        for (const inv of (await appliances.inventories()).values()) for (const vm of inv.vms) names.set(vm.id, vm.name);
        const rows: Json[] = [];
        for (const g of groups.list()) {
          if (q.vpgIdentifier !== undefined && g.id !== q.vpgIdentifier) continue;
          const v = groupView(parts, g);
          const journals = monitor.runtimeOf(g.id)?.journals ?? [];
          for (const vmId of g.vmIds) {
            if (q.vmIdentifier !== undefined && vmId !== q.vmIdentifier) continue;
            const j = journals.find((x) => x.vmId === vmId);
            rows.push({
              vmIdentifier: vmId, vmName: names.get(vmId) ?? null, vpgIdentifier: g.id, vpgName: g.name, status: v.status, subStatus: v.subStatus, actualRPO: v.actualRPO,
              priority: v.priority, protectedSiteIdentifier: g.protectedSiteId, recoverySiteIdentifier: g.recoverySiteId,
              journalUsedStorageMb: j ? Math.round((j.usedBytes / 1024 / 1024) * 100) / 100 : 0,
              journalHardLimit: j ? Math.round(j.hardLimitBytes / 1024 / 1024) : null, journalWarningThreshold: j ? Math.round(j.warningBytes / 1024 / 1024) : null,
              journalHistoryInMinutes: j ? Math.floor(j.historyMs / 60_000) : 0,
            });
          }
        }
        return rows;
      },
    },
    {
      method: 'GET', url: '/v1/tasks', role: 'viewer', operationId: 'listTasks', tags: ['tasks'], summary: 'Tasks, newest first', querystring: obj({ vpgIdentifier: id, state: { type: 'string', pattern: '^[1-7]$' }, type: id }),
      responses: { 200: listOf('the tasks', 'Task') },
      handler: async (req) => {
        const q = query(req);
        return tasks.list(defined({ groupId: q.vpgIdentifier, state: q.state !== undefined ? Number(q.state) : undefined })).filter((t) => q.type === undefined || t.type === q.type).map(view);
      },
    },
    {
      method: 'GET', url: '/v1/tasks/:taskIdentifier', role: 'viewer', operationId: 'getTask', tags: ['tasks'], summary: 'One task: {status: {state, progress}}', params: taskParams,
      responses: { 200: json('the task', 'Task') }, errors: [404],
      handler: async (req) => view(tasks.get(params(req).taskIdentifier)),
    },
    {
      method: 'POST', url: '/v1/tasks/:taskIdentifier/cancel', role: 'operator', operationId: 'cancelTask', tags: ['tasks'],
      summary: 'Cancel a task that can be (isCancellable: a failover test, failover or move still starting): it stops at its next safe point, undoing what it did, and ends Stopped',
      params: taskParams, body: obj({}),
      responses: { 200: json('the task, now Cancelling', 'Task') }, errors: [404, 409],
      handler: async (req) => view(tasks.cancel(params(req).taskIdentifier, userOf(req))),
    },
    {
      method: 'GET', url: '/v1/events', role: 'viewer', operationId: 'listEvents', tags: ['events'], summary: 'Events, oldest first', querystring: obj({ vpgIdentifier: id, eventType: id, startDate: dateTime, endDate: dateTime }),
      responses: { 200: listOf('the events', 'Event') },
      handler: async (req) => {
        const q = query(req);
        return events.list(defined({ groupId: q.vpgIdentifier, type: q.eventType, from: dateOf(q.startDate, 'startDate'), to: dateOf(q.endDate, 'endDate') })).map(eventView);
      },
    },
    {
      method: 'GET', url: '/v1/alerts', role: 'viewer', operationId: 'listAlerts', tags: ['alerts'], summary: 'Standing alerts (cleared ones with includeCleared=true); site alerts have no vpgIdentifier',
      querystring: obj({ vpgIdentifier: id, isDismissed: { enum: ['true', 'false'] }, level: { enum: ['warning', 'error'] }, includeCleared: { enum: ['true', 'false'] } }),
      responses: { 200: listOf('the alerts', 'Alert') },
      handler: async (req) => {
        const q = query(req);
        return alerts.list(defined({ groupId: q.vpgIdentifier, dismissed: q.isDismissed === undefined ? undefined : q.isDismissed === 'true', level: q.level, includeCleared: q.includeCleared === 'true' })).map(alertView);
      },
    },
    {
      method: 'GET', url: '/v1/alerts/:alertIdentifier', role: 'viewer', operationId: 'getAlert', tags: ['alerts'], summary: 'One alert', params: alertParams,
      responses: { 200: json('the alert', 'Alert') }, errors: [404],
      handler: async (req) => alertView(alerts.get(params(req).alertIdentifier)),
    },
  ];
  for (const [verb, dismissed] of [['dismiss', true], ['undismiss', false]] as const) {
    routes.push({
      method: 'POST', url: `/v1/alerts/:alertIdentifier/${verb}`, role: 'operator', operationId: `${verb}Alert`, tags: ['alerts'], summary: `${verb} an alert`, params: alertParams, body: obj({}),
      responses: { 200: taskStarted() }, errors: [404],
      handler: async (req) => {
        alerts.setDismissed(params(req).alertIdentifier, dismissed, userOf(req));
        return taskBody(tasks.start(dismissed ? 'DismissAlert' : 'UndismissAlert', undefined, userOf(req), async () => undefined));
      },
    });
  }
  routes.push({
    method: 'GET', url: '/v1/reports/recovery', role: 'viewer', operationId: 'listRecoveryReports', tags: ['reports'], summary: 'Recovery reports (paged; pageSize at most 1000; the total in x-total-count)',
    responses: { 200: listOf('the reports of the page', 'Report') },
    querystring: obj({
      startTime: dateTime, endTime: dateTime, pageNumber: { type: 'string', pattern: '^[1-9][0-9]{0,6}$' }, pageSize: { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$' },
      vpgName: { type: 'string', maxLength: 200 }, recoveryType: { enum: ['Failover', 'FailoverTest', 'Move', 'Clone'] satisfies RecoveryKind[] }, state: { enum: ['Success', 'Fail'] },
    }),
    handler: async (req, reply) => {
      const q = query(req);
      const size = q.pageSize !== undefined ? Number(q.pageSize) : 1000;
      const page = q.pageNumber !== undefined ? Number(q.pageNumber) : 1;
      const r = reports.list({ ...defined({ from: dateOf(q.startTime, 'startTime'), to: dateOf(q.endTime, 'endTime'), groupName: q.vpgName, kind: q.recoveryType, result: q.state }), offset: (page - 1) * size, limit: size });
      void reply.header('x-total-count', String(r.total));
      return r.reports.map(reportView);
    },
  });
  return routes;
}

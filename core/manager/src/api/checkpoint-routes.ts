// /v1 routes of checkpoints: list by date range, earliest and latest, and tagged checkpoints to one group
// or several at once (one timestamp).
import type { ManagerParts } from '../manager-parts.js';
import { body, dateOf, dateTime, id, obj, params, query, taskBody, userOf, vpgParams, type RouteSpec } from './route-spec.js';
import { checkpointView } from './views.js';

export function checkpointRoutes({ scheduler }: Pick<ManagerParts, 'scheduler'>): RouteSpec[] {
  return [
    {
      method: 'GET', url: '/v1/vpgs/:vpgIdentifier/checkpoints', role: 'viewer', tags: ['checkpoints'], summary: 'Checkpoints of the group, oldest first',
      params: vpgParams, querystring: obj({ startDate: dateTime, endDate: dateTime }),
      handler: async (req) => {
        const from = dateOf(query(req).startDate, 'startDate');
        const to = dateOf(query(req).endDate, 'endDate');
        return (await scheduler.checkpoints(params(req).vpgIdentifier)).filter((c) => (from === undefined || c.timestamp >= from) && (to === undefined || c.timestamp <= to)).map(checkpointView);
      },
    },
    {
      method: 'GET', url: '/v1/vpgs/:vpgIdentifier/checkpoints/stats', role: 'viewer', tags: ['checkpoints'], summary: 'Earliest and latest checkpoint', params: vpgParams,
      handler: async (req) => {
        const list = await scheduler.checkpoints(params(req).vpgIdentifier);
        return { earliest: list[0] ? checkpointView(list[0]) : null, latest: list.length ? checkpointView(list[list.length - 1]) : null, count: list.length };
      },
    },
    {
      method: 'POST', url: '/v1/vpgs/:vpgIdentifier/checkpoints', role: 'operator', tags: ['checkpoints'], summary: 'Add a tagged checkpoint', params: vpgParams,
      body: obj({ checkpointName: { type: 'string', minLength: 1, maxLength: 200 } }, ['checkpointName']),
      handler: async (req) => {
        const r = await scheduler.tagCheckpoint([params(req).vpgIdentifier], String(body(req).checkpointName), userOf(req));
        return taskBody(r.taskId, { checkpointIdentifier: r.checkpointIds[params(req).vpgIdentifier] });
      },
    },
    {
      method: 'POST', url: '/v1/vpgs/checkpoints', role: 'operator', tags: ['checkpoints'], summary: 'Add one tagged checkpoint to several groups at once (one timestamp)',
      body: obj({ vpgIdentifiers: { type: 'array', items: id, minItems: 1, maxItems: 1000, uniqueItems: true }, checkpointName: { type: 'string', minLength: 1, maxLength: 200 } }, ['vpgIdentifiers', 'checkpointName']),
      handler: async (req) => {
        const b = body(req);
        const r = await scheduler.tagCheckpoint(b.vpgIdentifiers as string[], String(b.checkpointName), userOf(req));
        return taskBody(r.taskId, { checkpointIdentifiers: r.checkpointIds });
      },
    },
  ];
}

// /v1 routes of checkpoints: list by date range, earliest and latest, and tagged checkpoints to one group
// or several at once (one timestamp).
import type { ManagerParts } from '../manager-parts.js';
import { body, dateOf, dateTime, id, json, listOf, obj, params, query, taskBody, taskStarted, userOf, vpgParams, type RouteSpec } from './route-spec.js';
import { checkpointView } from './views.js';

export function checkpointRoutes({ scheduler }: Pick<ManagerParts, 'scheduler'>): RouteSpec[] {
  return [
    {
      method: 'GET', url: '/v1/vpgs/:vpgIdentifier/checkpoints', role: 'viewer', operationId: 'listCheckpoints', tags: ['checkpoints'], summary: 'Checkpoints of the group, oldest first',
      params: vpgParams, querystring: obj({ startDate: dateTime, endDate: dateTime }),
      responses: { 200: listOf('the checkpoints', 'Checkpoint') }, errors: [404, 503],
      handler: async (req) => {
        const from = dateOf(query(req).startDate, 'startDate');
        const to = dateOf(query(req).endDate, 'endDate');
        return (await scheduler.checkpoints(params(req).vpgIdentifier)).filter((c) => (from === undefined || c.timestamp >= from) && (to === undefined || c.timestamp <= to)).map(checkpointView);
      },
    },
    {
      method: 'GET', url: '/v1/vpgs/:vpgIdentifier/checkpoints/stats', role: 'viewer', operationId: 'getCheckpointStats', tags: ['checkpoints'], summary: 'Earliest and latest checkpoint', params: vpgParams,
      responses: { 200: json('earliest, latest and how many', 'CheckpointStats') }, errors: [404, 503],
      handler: async (req) => {
        const list = await scheduler.checkpoints(params(req).vpgIdentifier);
        return { earliest: list[0] ? checkpointView(list[0]) : null, latest: list.length ? checkpointView(list[list.length - 1]) : null, count: list.length };
      },
    },
    {
      method: 'POST', url: '/v1/vpgs/:vpgIdentifier/checkpoints', role: 'operator', operationId: 'addTaggedCheckpoint', tags: ['checkpoints'], summary: 'Add a tagged checkpoint', params: vpgParams,
      body: obj({ checkpointName: { type: 'string', minLength: 1, maxLength: 200 } }, ['checkpointName']),
      responses: { 200: taskStarted({ checkpointIdentifier: { type: 'string' } }) }, errors: [404, 409, 503],
      handler: async (req) => {
        const r = await scheduler.tagCheckpoint([params(req).vpgIdentifier], String(body(req).checkpointName), userOf(req));
        return taskBody(r.taskId, { checkpointIdentifier: r.checkpointIds[params(req).vpgIdentifier] });
      },
    },
    {
      method: 'POST', url: '/v1/vpgs/checkpoints', role: 'operator', operationId: 'addTaggedCheckpoints', tags: ['checkpoints'], summary: 'Add one tagged checkpoint to several groups at once (one timestamp)',
      body: obj({ vpgIdentifiers: { type: 'array', items: id, minItems: 1, maxItems: 1000, uniqueItems: true }, checkpointName: { type: 'string', minLength: 1, maxLength: 200 } }, ['vpgIdentifiers', 'checkpointName']),
      responses: { 200: taskStarted({ checkpointIdentifiers: { type: 'object', additionalProperties: { type: 'string' }, description: 'checkpoint id per group id' } }) }, errors: [404, 409, 503],
      handler: async (req) => {
        const b = body(req);
        const r = await scheduler.tagCheckpoint(b.vpgIdentifiers as string[], String(b.checkpointName), userOf(req));
        return taskBody(r.taskId, { checkpointIdentifiers: r.checkpointIds });
      },
    },
  ];
}

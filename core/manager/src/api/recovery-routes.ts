// /v1 routes of recovery: the anchor's recovery actions on a group (failover test, failover, move, their
// commit and rollback, clone), each answering the task to poll, and file restore (R5).
import { ValidationError } from '@opencdp/core';
import type { CommitPolicy, ShutdownPolicy } from '@opencdp/core';
import { defined } from '../defined.js';
import type { ManagerParts } from '../manager-parts.js';
import { body, id, listOf, noContent, obj, params, query, taskBody, taskStarted, userOf, vmIdentifiers, vpgParams, type Json, type RouteSpec, type Schema } from './route-spec.js';

/** Both spellings are accepted (the anchor's own API drifted); `checkpointIdentifier` is the documented one. */
const checkpointFields = { checkpointIdentifier: id, checkpointId: { ...id, description: 'alias of checkpointIdentifier' } };
const COMMIT_POLICIES: CommitPolicy[] = ['rollback', 'commit', 'none'];
const SHUTDOWN_POLICIES: ShutdownPolicy[] = ['none', 'shutdown', 'force'];

function checkpointOf(b: Json): string | undefined {
  const a = b.checkpointIdentifier as string | undefined;
  const c = b.checkpointId as string | undefined;
  if (a !== undefined && c !== undefined && a !== c) throw new ValidationError('checkpointIdentifier and checkpointId differ; send one', 'checkpointId');
  return a ?? c;
}

export function recoveryRoutes({ recovery, fileRestores }: Pick<ManagerParts, 'recovery' | 'fileRestores'>): RouteSpec[] {
  const action = (name: string, summary: string, schema: Schema, run: (groupId: string, b: Json, u: string | undefined) => Promise<string>): RouteSpec => ({
    method: 'POST', url: `/v1/vpgs/:vpgIdentifier/${name}`, role: 'operator', operationId: name.charAt(0).toLowerCase() + name.slice(1), tags: ['recovery'], summary, params: vpgParams, body: schema,
    responses: { 200: taskStarted() }, errors: [404, 409, 410, 503],
    handler: async (req) => taskBody(await run(params(req).vpgIdentifier, body(req), userOf(req))),
  });
  const sessionParams = obj({ sessionIdentifier: id }, ['sessionIdentifier']);
  const pathQuery = obj({ path: { type: 'string', minLength: 1, maxLength: 4096 } }, ['path']);
  return [
    action('FailoverTest', 'Start a failover test at a checkpoint (the latest when none is named)', obj({ ...checkpointFields, vmIdentifiers }),
      (g, b, u) => recovery.failoverTest(g, defined({ checkpointId: checkpointOf(b), vmIds: b.vmIdentifiers as string[] | undefined }), u)),
    action('FailoverTestStop', 'Stop the failover test and record the verdict', obj({ failoverTestSuccess: { type: 'boolean', default: true }, failoverTestSummary: { type: 'string', maxLength: 4000 } }),
      (g, b, u) => recovery.stopFailoverTest(g, { success: b.failoverTestSuccess !== false, ...defined({ summary: b.failoverTestSummary as string | undefined }) }, u)),
    action('Failover', 'Fail over live to a checkpoint (the latest when none is named)', obj({
      ...checkpointFields, vmIdentifiers,
      commitPolicy: { enum: [0, 1, 2], default: 2, description: '0 Rollback, 1 Commit, 2 None (wait for the user)' },
      commitPolicyTimeout: { type: 'integer', minimum: 0, maximum: 86_400, default: 0, description: 'seconds before the commit policy applies' },
      timeToWaitBeforeShutdownInSec: { type: 'integer', minimum: 0, maximum: 86_400, default: 0 },
      shutdownPolicy: { enum: [0, 1, 2], default: 0, description: '0 None, 1 Shutdown, 2 ForceShutdown' },
      isReverseProtection: { type: 'boolean', default: false },
    }), (g, b, u) => recovery.failover(g, {
      ...defined({ checkpointId: checkpointOf(b), vmIds: b.vmIdentifiers as string[] | undefined }),
      commitPolicy: COMMIT_POLICIES[b.commitPolicy as number], commitPolicyTimeoutSec: b.commitPolicyTimeout as number, shutdownPolicy: SHUTDOWN_POLICIES[b.shutdownPolicy as number],
      timeToWaitBeforeShutdownSec: b.timeToWaitBeforeShutdownInSec as number, reverseProtection: b.isReverseProtection === true,
    }, u)),
    action('FailoverCommit', 'Commit the failover', obj({ isReverseProtection: { type: 'boolean' } }),
      (g, b, u) => recovery.commit(g, 'Failover', defined({ reverseProtection: b.isReverseProtection as boolean | undefined }), u)),
    action('FailoverRollback', 'Roll the failover back', obj({}), (g, _b, u) => recovery.rollback(g, 'Failover', u)),
    action('Move', 'Planned move: shut down, final sync, checkpoint, recover', obj({
      commitPolicy: { enum: [0, 1, 2], default: 2 }, commitPolicyTimeout: { type: 'integer', minimum: 0, maximum: 86_400, default: 0 },
      forceShutdown: { type: 'boolean', default: false }, reverseProtection: { type: 'boolean', default: false }, keepSourceVms: { type: 'boolean', default: false },
      continueOnPreScriptFailure: { type: 'boolean', default: false, description: 'go on when the pre-recovery script fails (default: the move fails before anything is shut down)' },
    }), (g, b, u) => recovery.move(g, {
      commitPolicy: COMMIT_POLICIES[b.commitPolicy as number], commitPolicyTimeoutSec: b.commitPolicyTimeout as number, forceShutdown: b.forceShutdown === true,
      reverseProtection: b.reverseProtection === true, keepSourceVms: b.keepSourceVms === true, continueOnPreScriptFailure: b.continueOnPreScriptFailure === true,
    }, u)),
    action('MoveCommit', 'Commit the move', obj({ reverseProtection: { type: 'boolean' }, keepSourceVms: { type: 'boolean' } }),
      (g, b, u) => recovery.commit(g, 'Move', defined({ reverseProtection: b.reverseProtection as boolean | undefined, keepSourceVms: b.keepSourceVms as boolean | undefined }), u)),
    action('MoveRollback', 'Roll the move back', obj({}), (g, _b, u) => recovery.rollback(g, 'Move', u)),
    action('CloneStart', 'Clone the group at a checkpoint onto a datastore', obj({ ...checkpointFields, datastoreIdentifier: id, vmIdentifiers }),
      (g, b, u) => recovery.clone(g, defined({ checkpointId: checkpointOf(b), datastoreId: b.datastoreIdentifier as string | undefined, vmIds: b.vmIdentifiers as string[] | undefined }), u)),
    action('CloneAbort', 'Abort a running clone (refused: the recovery API cannot stop a clone once it runs)', obj({}), async (g) => recovery.cloneAbort(g)),

    // File restore (R5) ----------------------------------------------------------------------------------------
    {
      method: 'POST', url: '/v1/vpgs/:vpgIdentifier/filerestore', role: 'operator', operationId: 'openFileRestore', tags: ['file restore'], summary: 'Open a VM volume at a checkpoint read-only',
      params: vpgParams, body: obj({ ...checkpointFields, vmIdentifier: id, volumeIdentifier: id }, ['vmIdentifier', 'volumeIdentifier']),
      responses: { 200: taskStarted({ sessionIdentifier: { type: 'string' } }) }, errors: [404, 409, 410, 503],
      handler: async (req) => {
        const b = body(req);
        const checkpointId = checkpointOf(b);
        if (checkpointId === undefined) throw new ValidationError('name the checkpoint (checkpointIdentifier)', 'checkpointIdentifier');
        const r = await fileRestores.open(params(req).vpgIdentifier, { checkpointId, vmId: String(b.vmIdentifier), volumeId: String(b.volumeIdentifier) }, userOf(req));
        return taskBody(r.taskId, { sessionIdentifier: r.sessionId });
      },
    },
    {
      method: 'GET', url: '/v1/filerestore/:sessionIdentifier/files', role: 'operator', operationId: 'listRestoreFiles', tags: ['file restore'], summary: 'List a directory (absolute path inside the volume; no ..)',
      params: sessionParams, querystring: pathQuery,
      responses: { 200: listOf('the directory\'s entries', 'FileEntry') }, errors: [404, 503],
      handler: async (req) => (await fileRestores.listFiles(params(req).sessionIdentifier, String(query(req).path))).map((e) => ({ path: e.path, type: e.type, sizeBytes: e.sizeBytes })),
    },
    {
      method: 'GET', url: '/v1/filerestore/:sessionIdentifier/file', role: 'operator', operationId: 'downloadRestoreFile', tags: ['file restore'], summary: 'Download one file',
      params: sessionParams, querystring: pathQuery,
      responses: { 200: { description: 'the file\'s bytes', contentType: 'application/octet-stream' } }, errors: [404, 503],
      handler: async (req, reply) => {
        const data = await fileRestores.extractFile(params(req).sessionIdentifier, String(query(req).path));
        const name = String(query(req).path).split('/').pop() || 'file';
        return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`).send(data);
      },
    },
    {
      method: 'DELETE', url: '/v1/filerestore/:sessionIdentifier', role: 'operator', operationId: 'closeFileRestore', tags: ['file restore'], summary: 'Close the file restore session', params: sessionParams,
      responses: { 204: noContent('closed') }, errors: [404, 503],
      handler: async (req, reply) => {
        await fileRestores.close(params(req).sessionIdentifier);
        return reply.status(204).send();
      },
    },
  ];
}

// The /v1 routes, shaped after the anchor's REST API (REFERENCE.md): each route declares its JSON Schemas
// (params, querystring, body; additionalProperties false), the least role that may call it, and a handler
// that turns the request into one Manager call. Actions answer `{taskIdentifier}`; query strings stay
// strings in the schema (with patterns) and are converted here, so nothing is coerced behind the user's back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GroupStatusCode, GroupSubStatusCode, NotFoundError, PRIORITY_CODES, ValidationError, protectionGroupSettingsSchema } from '@opencdp/core';
import type { CommitPolicy, RecoveryKind, RecoveryPlan, ShutdownPolicy } from '@opencdp/core';
import type { Manager, PeerSyncMessage } from '../manager.js';
import { defined, PEER_SECRET_HEADER } from '../manager.js';
import { ROLES, type Role } from '../store.js';
import { basicCredentials, SESSION_HEADER, type RouteRole } from './server.js';
import { alertView, checkpointView, eventView, groupView, groupsCsv, iso, reportView, siteView, taskView } from './views.js';
import { draftRoutes } from './drafts.js';

type Json = Record<string, unknown>;
type Schema = Record<string, unknown>;

// Schema fragments ------------------------------------------------------------------------------------

const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const intString = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;
const obj = (properties: Record<string, unknown>, required: string[] = []): Schema => ({ type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}) });
const vpgParams = obj({ vpgIdentifier: id }, ['vpgIdentifier']);
const taskAnswer = { description: 'the action was accepted; poll GET /v1/tasks/{taskIdentifier}', ...obj({ taskIdentifier: { type: 'string' } }, ['taskIdentifier']) };
const vmIdentifiers = { type: 'array', items: id, maxItems: 1000 } as const;
/** Both spellings are accepted (the anchor's own API drifted); `checkpointIdentifier` is the documented one. */
const checkpointFields = { checkpointIdentifier: id, checkpointId: { ...id, description: 'alias of checkpointIdentifier' } };
const { $id: _settingsId, ...settingsSchema } = protectionGroupSettingsSchema;

const recoveryPlanSchema = obj({
  hostId: id,
  datastoreId: id,
  bootGroups: { type: 'array', maxItems: 100, items: obj({ name: { type: 'string', minLength: 1, maxLength: 80 }, delaySeconds: { type: 'integer', minimum: 0, maximum: 86_400 }, vmIds: vmIdentifiers }, ['name', 'delaySeconds', 'vmIds']) },
  nics: {
    type: 'array', maxItems: 1000,
    items: obj({ vmId: id, nicIndex: { type: 'integer', minimum: 0, maximum: 64 }, liveNetworkId: id, testNetworkId: id, liveIpv4: { type: 'string', format: 'ipv4' }, testIpv4: { type: 'string', format: 'ipv4' } }, ['vmId', 'nicIndex', 'liveNetworkId', 'testNetworkId']),
  },
});

const COMMIT_POLICIES: CommitPolicy[] = ['rollback', 'commit', 'none'];
const SHUTDOWN_POLICIES: ShutdownPolicy[] = ['none', 'shutdown', 'force'];

function checkpointOf(body: Json): string | undefined {
  const a = body.checkpointIdentifier as string | undefined;
  const b = body.checkpointId as string | undefined;
  if (a !== undefined && b !== undefined && a !== b) throw new ValidationError('checkpointIdentifier and checkpointId differ; send one', 'checkpointId');
  return a ?? b;
}

function dateOf(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ValidationError(`'${field}' is not a date-time`, field);
  return t;
}

// Route table -----------------------------------------------------------------------------------------

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  role: RouteRole;
  summary: string;
  tags: string[];
  params?: Schema;
  querystring?: Schema;
  body?: Schema;
  response?: Record<number, Schema>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

export function registerRoutes(app: FastifyInstance, m: Manager): void {
  const add = (r: RouteSpec): void => {
    app.route({
      method: r.method,
      url: r.url,
      config: { role: r.role },
      schema: {
        summary: r.summary,
        tags: r.tags,
        ...(r.role === 'public' ? { security: [] } : {}),
        ...(r.params ? { params: r.params } : {}),
        ...(r.querystring ? { querystring: r.querystring } : {}),
        ...(r.body ? { body: r.body } : {}),
        ...(r.response ? { response: r.response } : {}),
      },
      handler: r.handler,
    });
  };
  const user = (req: FastifyRequest): string | undefined => req.session?.user;
  const P = (req: FastifyRequest): Record<string, string> => req.params as Record<string, string>;
  const Q = (req: FastifyRequest): Record<string, string | undefined> => req.query as Record<string, string | undefined>;
  const B = (req: FastifyRequest): Json => (req.body ?? {}) as Json;
  const task = (taskIdentifier: string, extra: Json = {}): Json => ({ taskIdentifier, ...extra });

  // Session and users ---------------------------------------------------------------------------------
  add({
    method: 'POST', url: '/v1/session/add', role: 'public', tags: ['session'], summary: 'Log in with Basic auth; the token comes back in the x-zerto-session header',
    body: obj({}),
    handler: async (req, reply) => {
      const { user: name, password } = basicCredentials(req);
      const s = await m.login(name, password);
      void reply.header(SESSION_HEADER, s.token);
      return { sessionToken: s.token, user: s.user, role: s.role, expiresAt: iso(s.expiresAt) };
    },
  });
  add({
    method: 'DELETE', url: '/v1/session', role: 'viewer', tags: ['session'], summary: 'Log out (ends this session)',
    handler: async (req, reply) => {
      m.logout(req.session!.token);
      return reply.status(204).send();
    },
  });
  add({ method: 'GET', url: '/v1/users', role: 'admin', tags: ['users'], summary: 'List users', handler: async () => m.store.listUsers().map((u) => ({ name: u.name, role: u.role, createdAt: iso(u.createdAt) })) });
  add({
    method: 'POST', url: '/v1/users', role: 'admin', tags: ['users'], summary: 'Add a user',
    body: obj({ name: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 8, maxLength: 200 }, role: { enum: [...ROLES] } }, ['name', 'password', 'role']),
    handler: async (req, reply) => {
      const b = B(req);
      await m.addUser(String(b.name), String(b.password), b.role as Role);
      m.event('UserAdded', `user '${String(b.name)}' added with role ${String(b.role)}`, undefined, user(req));
      return reply.status(201).send({ name: b.name, role: b.role });
    },
  });
  add({
    method: 'DELETE', url: '/v1/users/:name', role: 'admin', tags: ['users'], summary: 'Delete a user and their sessions', params: obj({ name: id }, ['name']),
    handler: async (req, reply) => {
      m.deleteUser(P(req).name, user(req) ?? '');
      m.event('UserDeleted', `user '${P(req).name}' deleted`, undefined, user(req));
      return reply.status(204).send();
    },
  });

  // Sites, pairing, appliances ------------------------------------------------------------------------
  add({ method: 'GET', url: '/v1/localsite', role: 'viewer', tags: ['sites'], summary: 'This manager\'s site', handler: async () => ({ ...siteView(m.localSite()), url: safeUrl(m) }) });
  add({ method: 'GET', url: '/v1/peersites', role: 'viewer', tags: ['sites'], summary: 'Paired sites', handler: async () => m.peerSites().map(siteView) });
  add({
    method: 'POST', url: '/v1/peersites/generatetoken', role: 'admin', tags: ['sites'], summary: 'A one-time, expiring token the peer site presents to pair with this one', body: obj({}),
    handler: async (req) => {
      const t = m.generatePairingToken();
      m.event('PairingTokenGenerated', 'a pairing token was generated', undefined, user(req));
      return { token: t.token, expiresAt: iso(t.expiresAt) };
    },
  });
  add({
    method: 'POST', url: '/v1/peersites', role: 'admin', tags: ['sites'], summary: 'Pair with the manager at hostName:port using the token it generated',
    body: obj({ hostName: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]-]+$' }, port: { type: 'integer', minimum: 1, maximum: 65535 }, token: { type: 'string', minLength: 8, maxLength: 200 }, useHttps: { type: 'boolean', default: false } }, ['hostName', 'port', 'token']),
    handler: async (req) => {
      const b = B(req);
      const url = `${b.useHttps ? 'https' : 'http'}://${String(b.hostName)}:${Number(b.port)}`;
      const site = await m.pairWith(url, String(b.token), user(req));
      return task(m.startTask('PairSite', undefined, user(req), async () => ({ result: { siteIdentifier: site.id } })), { siteIdentifier: site.id });
    },
  });
  add({
    method: 'POST', url: '/v1/peersites/pair', role: 'public', tags: ['sites'], summary: 'Called by a peer manager: presents this site\'s pairing token (authenticates by the token)',
    body: obj({ token: { type: 'string', minLength: 8, maxLength: 200 }, siteIdentifier: id, siteName: { type: 'string', minLength: 1, maxLength: 200 }, url: { type: 'string', maxLength: 500 }, secret: { type: 'string', minLength: 16, maxLength: 200 } }, ['token', 'siteIdentifier', 'siteName', 'url', 'secret']),
    handler: async (req) => {
      const b = B(req);
      return m.acceptPairing({ token: String(b.token), siteIdentifier: String(b.siteIdentifier), siteName: String(b.siteName), url: String(b.url), secret: String(b.secret) });
    },
  });
  const sharedGroup = obj({
    id, name: { type: 'string', minLength: 1, maxLength: 80 }, settings: { type: 'object' }, vmIds: vmIdentifiers, protectedSiteId: id, recoverySiteId: id,
    plan: recoveryPlanSchema, createdAt: { type: 'integer', minimum: 0 }, lifecycle: { enum: ['active', 'deleting', 'recovered'] }, provisionedBytes: { type: 'integer', minimum: 0 },
  }, ['id', 'name', 'settings', 'vmIds', 'protectedSiteId', 'recoverySiteId', 'plan', 'createdAt', 'lifecycle', 'provisionedBytes']);
  add({
    method: 'POST', url: '/v1/peersites/sync', role: 'public', tags: ['sites'], summary: 'Called by a paired manager: the definitions of the groups between the two sites (authenticates by the pairing secret)',
    body: obj({ siteIdentifier: id, groups: { type: 'array', items: sharedGroup, maxItems: 10_000 }, deleted: { type: 'array', items: id, maxItems: 10_000 } }, ['siteIdentifier', 'groups', 'deleted']),
    handler: async (req) => {
      const secret = req.headers[PEER_SECRET_HEADER];
      return m.acceptPeerSync(typeof secret === 'string' ? secret : undefined, B(req) as unknown as PeerSyncMessage);
    },
  });
  add({
    method: 'DELETE', url: '/v1/peersites/:siteIdentifier', role: 'admin', tags: ['sites'], summary: 'Unpair a site (no group may use it)', params: obj({ siteIdentifier: id }, ['siteIdentifier']),
    handler: async (req, reply) => {
      m.unpair(P(req).siteIdentifier, user(req));
      return reply.status(204).send();
    },
  });
  add({
    method: 'GET', url: '/v1/vras', role: 'viewer', tags: ['sites'], summary: 'The appliances this manager drives',
    handler: async () => m.appliances().map((a, i) => ({ vraIdentifier: `${a.siteId}.vra-${i}`, siteIdentifier: a.siteId, recoveryRole: a.recovery !== undefined, local: a.siteId === m.siteId })),
  });

  // Inventory of the sites this manager reaches (to pick VM, network and datastore ids) ----------------------
  const inventoryOf = async (siteId: string) => {
    const inv = (await m.inventories()).get(siteId);
    if (!inv) throw new NotFoundError('virtualization site', siteId);
    return inv;
  };
  add({
    method: 'GET', url: '/v1/virtualizationsites', role: 'viewer', tags: ['inventory'], summary: 'Sites whose platform this manager reaches through an appliance',
    handler: async () => [...new Set(m.appliances().map((a) => a.siteId))].map((siteIdentifier) => ({ siteIdentifier, local: siteIdentifier === m.siteId })),
  });
  const siteParams = obj({ siteIdentifier: id }, ['siteIdentifier']);
  const MBf = 1024 * 1024;
  const inventoryRoutes: Array<[string, (inv: Awaited<ReturnType<typeof inventoryOf>>) => unknown]> = [
    ['vms', (inv) => inv.vms.map((v) => ({ vmIdentifier: v.id, vmName: v.name, hostIdentifier: v.hostId, powerState: v.powerState, volumes: v.volumes.map((x) => ({ volumeIdentifier: x.id, name: x.name, sizeInMB: x.sizeBytes / MBf })), nics: v.nics.map((n) => ({ networkIdentifier: n.networkId, mac: n.mac, ipv4: n.ipv4 ?? null })) }))],
    ['hosts', (inv) => inv.hosts.map((h) => ({ hostIdentifier: h.id, hostName: h.name }))],
    ['networks', (inv) => inv.networks.map((n) => ({ networkIdentifier: n.id, networkName: n.name, isolated: n.isolated }))],
    ['datastores', (inv) => inv.datastores.map((d) => ({ datastoreIdentifier: d.id, datastoreName: d.name, capacityInMB: Math.round(d.capacityBytes / MBf), freeInMB: Math.round(d.freeBytes / MBf) }))],
  ];
  for (const [kind, view] of inventoryRoutes) {
    add({
      method: 'GET', url: `/v1/virtualizationsites/:siteIdentifier/${kind}`, role: 'viewer', tags: ['inventory'], summary: `The ${kind} of a site's platform`, params: siteParams,
      handler: async (req) => view(await inventoryOf(P(req).siteIdentifier)),
    });
  }

  // Groups ------------------------------------------------------------------------------------------------
  const listQuery = obj({
    name: { type: 'string', maxLength: 200 }, status: intString, subStatus: intString, priority: intString,
    protectedSiteIdentifier: id, recoverySiteIdentifier: id, format: { enum: ['json', 'csv'] },
  });
  const listGroups = (q: Record<string, string | undefined>): Json[] => m.groups()
    .map((g) => groupView(m, g))
    .filter((v) => (q.name === undefined || v.vpgName === q.name) && (q.status === undefined || v.status === Number(q.status))
      && (q.subStatus === undefined || v.subStatus === Number(q.subStatus)) && (q.priority === undefined || v.priority === Number(q.priority))
      && (q.protectedSiteIdentifier === undefined || v.protectedSiteIdentifier === q.protectedSiteIdentifier)
      && (q.recoverySiteIdentifier === undefined || v.recoverySiteIdentifier === q.recoverySiteIdentifier));
  add({
    method: 'GET', url: '/v1/vpgs', role: 'viewer', tags: ['vpgs'], summary: 'List protection groups (filters; ?format=csv exports CSV)', querystring: listQuery,
    handler: async (req, reply) => {
      const rows = listGroups(Q(req));
      if (Q(req).format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vpgs.csv"').send(groupsCsv(rows));
      return rows;
    },
  });
  add({
    method: 'GET', url: '/v1/vpgs/export.csv', role: 'viewer', tags: ['vpgs'], summary: 'Every protection group as CSV', querystring: obj({}),
    handler: async (_req, reply) => reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="vpgs.csv"').send(groupsCsv(listGroups({}))),
  });
  add({
    method: 'POST', url: '/v1/vpgs', role: 'operator', tags: ['vpgs'], summary: 'Create and protect a group in one call (the draft flow under /v1/vpgSettings does the same in steps)',
    body: obj({ settings: settingsSchema, vmIdentifiers: { ...vmIdentifiers, minItems: 1 }, protectedSiteIdentifier: id, recoverySiteIdentifier: id, recoveryPlan: recoveryPlanSchema }, ['settings', 'vmIdentifiers', 'recoverySiteIdentifier']),
    handler: async (req, reply) => {
      const b = B(req);
      const r = await m.createGroup({ settings: b.settings, vmIds: b.vmIdentifiers as string[], recoverySiteId: String(b.recoverySiteIdentifier), ...defined({ protectedSiteId: b.protectedSiteIdentifier as string | undefined, plan: b.recoveryPlan as RecoveryPlan | undefined }) }, user(req));
      return reply.status(201).send(task(r.taskId, { vpgIdentifier: r.groupId }));
    },
  });
  const lookup = (url: string, summary: string, entries: Record<string, number>): void => add({
    method: 'GET', url: `/v1/vpgs/${url}`, role: 'viewer', tags: ['lookups'], summary, handler: async () => Object.entries(entries).map(([name, value]) => ({ value, name })),
  });
  lookup('statuses', 'Status codes', GroupStatusCode);
  lookup('substatuses', 'Sub-status codes (an open enum: newer codes may appear)', GroupSubStatusCode);
  lookup('priorities', 'Priority codes', PRIORITY_CODES);
  lookup('failovercommitpolicies', 'Commit policy codes', { Rollback: 0, Commit: 1, None: 2 });
  lookup('failovershutdownpolicies', 'Shutdown policy codes', { None: 0, Shutdown: 1, ForceShutdown: 2 });
  add({ method: 'GET', url: '/v1/vpgs/:vpgIdentifier', role: 'viewer', tags: ['vpgs'], summary: 'One protection group', params: vpgParams, handler: async (req) => groupView(m, m.group(P(req).vpgIdentifier)) });
  add({
    method: 'DELETE', url: '/v1/vpgs/:vpgIdentifier', role: 'operator', tags: ['vpgs'], summary: 'Delete a group, optionally keeping the recovery volumes (for preseeding) or forcing',
    params: vpgParams, body: obj({ keepRecoveryVolumes: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } }),
    handler: async (req) => {
      const b = B(req);
      return task(await m.deleteGroup(P(req).vpgIdentifier, { keepRecoveryVolumes: b.keepRecoveryVolumes === true, force: b.force === true }, user(req)));
    },
  });
  for (const [action, fn] of [['pause', 'pause'], ['resume', 'resume'], ['forcesync', 'forceSync']] as const) {
    add({
      method: 'POST', url: `/v1/vpgs/:vpgIdentifier/${action}`, role: 'operator', tags: ['vpgs'], summary: `${action} replication of the group`, params: vpgParams, body: obj({}),
      handler: async (req) => task(m[fn](P(req).vpgIdentifier, user(req))),
    });
  }

  // Checkpoints -----------------------------------------------------------------------------------------------
  add({
    method: 'GET', url: '/v1/vpgs/:vpgIdentifier/checkpoints', role: 'viewer', tags: ['checkpoints'], summary: 'Checkpoints of the group, oldest first',
    params: vpgParams, querystring: obj({ startDate: dateTime, endDate: dateTime }),
    handler: async (req) => {
      const from = dateOf(Q(req).startDate, 'startDate');
      const to = dateOf(Q(req).endDate, 'endDate');
      return (await m.checkpoints(P(req).vpgIdentifier)).filter((c) => (from === undefined || c.timestamp >= from) && (to === undefined || c.timestamp <= to)).map(checkpointView);
    },
  });
  add({
    method: 'GET', url: '/v1/vpgs/:vpgIdentifier/checkpoints/stats', role: 'viewer', tags: ['checkpoints'], summary: 'Earliest and latest checkpoint', params: vpgParams,
    handler: async (req) => {
      const list = await m.checkpoints(P(req).vpgIdentifier);
      return { earliest: list[0] ? checkpointView(list[0]) : null, latest: list.length ? checkpointView(list[list.length - 1]) : null, count: list.length };
    },
  });
  add({
    method: 'POST', url: '/v1/vpgs/:vpgIdentifier/checkpoints', role: 'operator', tags: ['checkpoints'], summary: 'Add a tagged checkpoint', params: vpgParams,
    body: obj({ checkpointName: { type: 'string', minLength: 1, maxLength: 200 } }, ['checkpointName']),
    handler: async (req) => {
      const r = await m.tagCheckpoint([P(req).vpgIdentifier], String(B(req).checkpointName), user(req));
      return task(r.taskId, { checkpointIdentifier: r.checkpointIds[P(req).vpgIdentifier] });
    },
  });
  add({
    method: 'POST', url: '/v1/vpgs/checkpoints', role: 'operator', tags: ['checkpoints'], summary: 'Add one tagged checkpoint to several groups at once (one timestamp)',
    body: obj({ vpgIdentifiers: { type: 'array', items: id, minItems: 1, maxItems: 1000, uniqueItems: true }, checkpointName: { type: 'string', minLength: 1, maxLength: 200 } }, ['vpgIdentifiers', 'checkpointName']),
    handler: async (req) => {
      const b = B(req);
      const r = await m.tagCheckpoint(b.vpgIdentifiers as string[], String(b.checkpointName), user(req));
      return task(r.taskId, { checkpointIdentifiers: r.checkpointIds });
    },
  });

  // Recovery ----------------------------------------------------------------------------------------------------
  const action = (name: string, summary: string, body: Schema, run: (groupId: string, b: Json, u: string | undefined) => Promise<string>): void => add({
    method: 'POST', url: `/v1/vpgs/:vpgIdentifier/${name}`, role: 'operator', tags: ['recovery'], summary, params: vpgParams, body, response: { 200: taskAnswer },
    handler: async (req) => task(await run(P(req).vpgIdentifier, B(req), user(req))),
  });
  action('FailoverTest', 'Start a failover test at a checkpoint (the latest when none is named)', obj({ ...checkpointFields, vmIdentifiers }),
    (g, b, u) => m.failoverTest(g, defined({ checkpointId: checkpointOf(b), vmIds: b.vmIdentifiers as string[] | undefined }), u));
  action('FailoverTestStop', 'Stop the failover test and record the verdict', obj({ failoverTestSuccess: { type: 'boolean', default: true }, failoverTestSummary: { type: 'string', maxLength: 4000 } }),
    (g, b, u) => m.stopFailoverTest(g, { success: b.failoverTestSuccess !== false, ...defined({ summary: b.failoverTestSummary as string | undefined }) }, u));
  action('Failover', 'Fail over live to a checkpoint (the latest when none is named)', obj({
    ...checkpointFields, vmIdentifiers,
    commitPolicy: { enum: [0, 1, 2], default: 2, description: '0 Rollback, 1 Commit, 2 None (wait for the user)' },
    commitPolicyTimeout: { type: 'integer', minimum: 0, maximum: 86_400, default: 0, description: 'seconds before the commit policy applies' },
    timeToWaitBeforeShutdownInSec: { type: 'integer', minimum: 0, maximum: 86_400, default: 0 },
    shutdownPolicy: { enum: [0, 1, 2], default: 0, description: '0 None, 1 Shutdown, 2 ForceShutdown' },
    isReverseProtection: { type: 'boolean', default: false },
  }), (g, b, u) => m.failover(g, {
    ...defined({ checkpointId: checkpointOf(b), vmIds: b.vmIdentifiers as string[] | undefined }),
    commitPolicy: COMMIT_POLICIES[b.commitPolicy as number], commitPolicyTimeoutSec: b.commitPolicyTimeout as number, shutdownPolicy: SHUTDOWN_POLICIES[b.shutdownPolicy as number],
    timeToWaitBeforeShutdownSec: b.timeToWaitBeforeShutdownInSec as number, reverseProtection: b.isReverseProtection === true,
  }, u));
  action('FailoverCommit', 'Commit the failover', obj({ isReverseProtection: { type: 'boolean' } }),
    (g, b, u) => m.commit(g, 'Failover', defined({ reverseProtection: b.isReverseProtection as boolean | undefined }), u));
  action('FailoverRollback', 'Roll the failover back', obj({}), (g, _b, u) => m.rollback(g, 'Failover', u));
  action('Move', 'Planned move: shut down, final sync, checkpoint, recover', obj({
    commitPolicy: { enum: [0, 1, 2], default: 2 }, commitPolicyTimeout: { type: 'integer', minimum: 0, maximum: 86_400, default: 0 },
    forceShutdown: { type: 'boolean', default: false }, reverseProtection: { type: 'boolean', default: false }, keepSourceVms: { type: 'boolean', default: false },
    continueOnPreScriptFailure: { type: 'boolean', default: false, description: 'accepted for compatibility; OpenCDP runs no scripts' },
  }), (g, b, u) => m.move(g, {
    commitPolicy: COMMIT_POLICIES[b.commitPolicy as number], commitPolicyTimeoutSec: b.commitPolicyTimeout as number, forceShutdown: b.forceShutdown === true,
    reverseProtection: b.reverseProtection === true, keepSourceVms: b.keepSourceVms === true,
  }, u));
  action('MoveCommit', 'Commit the move', obj({ reverseProtection: { type: 'boolean' }, keepSourceVms: { type: 'boolean' } }),
    (g, b, u) => m.commit(g, 'Move', defined({ reverseProtection: b.reverseProtection as boolean | undefined, keepSourceVms: b.keepSourceVms as boolean | undefined }), u));
  action('MoveRollback', 'Roll the move back', obj({}), (g, _b, u) => m.rollback(g, 'Move', u));
  action('CloneStart', 'Clone the group at a checkpoint onto a datastore', obj({ ...checkpointFields, datastoreIdentifier: id, vmIdentifiers }),
    (g, b, u) => m.clone(g, defined({ checkpointId: checkpointOf(b), datastoreId: b.datastoreIdentifier as string | undefined, vmIds: b.vmIdentifiers as string[] | undefined }), u));
  action('CloneAbort', 'Abort a running clone (refused: the recovery API cannot stop a clone once it runs)', obj({}), async (g) => m.cloneAbort(g));

  // File restore (R5) ---------------------------------------------------------------------------------------------
  add({
    method: 'POST', url: '/v1/vpgs/:vpgIdentifier/filerestore', role: 'operator', tags: ['file restore'], summary: 'Open a VM volume at a checkpoint read-only',
    params: vpgParams, body: obj({ ...checkpointFields, vmIdentifier: id, volumeIdentifier: id }, ['vmIdentifier', 'volumeIdentifier']),
    handler: async (req) => {
      const b = B(req);
      const checkpointId = checkpointOf(b);
      if (checkpointId === undefined) throw new ValidationError('name the checkpoint (checkpointIdentifier)', 'checkpointIdentifier');
      const r = await m.openFileRestore(P(req).vpgIdentifier, { checkpointId, vmId: String(b.vmIdentifier), volumeId: String(b.volumeIdentifier) }, user(req));
      return task(r.taskId, { sessionIdentifier: r.sessionId });
    },
  });
  const sessionParams = obj({ sessionIdentifier: id }, ['sessionIdentifier']);
  const pathQuery = obj({ path: { type: 'string', minLength: 1, maxLength: 4096 } }, ['path']);
  add({
    method: 'GET', url: '/v1/filerestore/:sessionIdentifier/files', role: 'operator', tags: ['file restore'], summary: 'List a directory (absolute path inside the volume; no ..)',
    params: sessionParams, querystring: pathQuery,
    handler: async (req) => (await m.listFiles(P(req).sessionIdentifier, String(Q(req).path))).map((e) => ({ path: e.path, type: e.type, sizeBytes: e.sizeBytes })),
  });
  add({
    method: 'GET', url: '/v1/filerestore/:sessionIdentifier/file', role: 'operator', tags: ['file restore'], summary: 'Download one file',
    params: sessionParams, querystring: pathQuery,
    handler: async (req, reply) => {
      const data = await m.extractFile(P(req).sessionIdentifier, String(Q(req).path));
      const name = String(Q(req).path).split('/').pop() || 'file';
      return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`).send(data);
    },
  });
  add({
    method: 'DELETE', url: '/v1/filerestore/:sessionIdentifier', role: 'operator', tags: ['file restore'], summary: 'Close the file restore session', params: sessionParams,
    handler: async (req, reply) => {
      await m.closeFileRestore(P(req).sessionIdentifier);
      return reply.status(204).send();
    },
  });

  // VMs, tasks, events, alerts, reports ------------------------------------------------------------------------
  add({
    method: 'GET', url: '/v1/vms', role: 'viewer', tags: ['vms'], summary: 'Protected VMs, one row per group they are in', querystring: obj({ vpgIdentifier: id, vmIdentifier: id }),
    handler: async (req) => {
      const q = Q(req);
      const names = new Map<string, string>();
      for (const inv of (await m.inventories()).values()) for (const vm of inv.vms) names.set(vm.id, vm.name);
      const rows: Json[] = [];
      for (const g of m.groups()) {
        if (q.vpgIdentifier !== undefined && g.id !== q.vpgIdentifier) continue;
        const v = groupView(m, g);
        const journals = m.groupRuntime(g.id)?.journals ?? [];
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
  });
  add({
    method: 'GET', url: '/v1/tasks', role: 'viewer', tags: ['tasks'], summary: 'Tasks, newest first', querystring: obj({ vpgIdentifier: id, state: { type: 'string', pattern: '^[1-7]$' }, type: id }),
    handler: async (req) => {
      const q = Q(req);
      return m.store.listTasks(defined({ groupId: q.vpgIdentifier, state: q.state !== undefined ? Number(q.state) : undefined })).filter((t) => q.type === undefined || t.type === q.type).map(taskView);
    },
  });
  add({
    method: 'GET', url: '/v1/tasks/:taskIdentifier', role: 'viewer', tags: ['tasks'], summary: 'One task: {status: {state, progress}}', params: obj({ taskIdentifier: id }, ['taskIdentifier']),
    handler: async (req) => {
      const t = m.store.getTask(P(req).taskIdentifier);
      if (!t) throw new NotFoundError('task', P(req).taskIdentifier);
      return taskView(t);
    },
  });
  add({
    method: 'GET', url: '/v1/events', role: 'viewer', tags: ['events'], summary: 'Events, oldest first', querystring: obj({ vpgIdentifier: id, eventType: id, startDate: dateTime, endDate: dateTime }),
    handler: async (req) => {
      const q = Q(req);
      return m.store.listEvents(defined({ groupId: q.vpgIdentifier, type: q.eventType, from: dateOf(q.startDate, 'startDate'), to: dateOf(q.endDate, 'endDate') })).map(eventView);
    },
  });
  add({
    method: 'GET', url: '/v1/alerts', role: 'viewer', tags: ['alerts'], summary: 'Standing alerts (cleared ones with includeCleared=true)',
    querystring: obj({ vpgIdentifier: id, isDismissed: { enum: ['true', 'false'] }, level: { enum: ['warning', 'error'] }, includeCleared: { enum: ['true', 'false'] } }),
    handler: async (req) => {
      const q = Q(req);
      return m.store.listAlerts(defined({ groupId: q.vpgIdentifier, dismissed: q.isDismissed === undefined ? undefined : q.isDismissed === 'true', level: q.level, includeCleared: q.includeCleared === 'true' })).map(alertView);
    },
  });
  const alertParams = obj({ alertIdentifier: id }, ['alertIdentifier']);
  add({
    method: 'GET', url: '/v1/alerts/:alertIdentifier', role: 'viewer', tags: ['alerts'], summary: 'One alert', params: alertParams,
    handler: async (req) => {
      const a = m.store.getAlert(P(req).alertIdentifier);
      if (!a) throw new NotFoundError('alert', P(req).alertIdentifier);
      return alertView(a);
    },
  });
  for (const [verb, dismissed] of [['dismiss', true], ['undismiss', false]] as const) {
    add({
      method: 'POST', url: `/v1/alerts/:alertIdentifier/${verb}`, role: 'operator', tags: ['alerts'], summary: `${verb} an alert`, params: alertParams, body: obj({}),
      handler: async (req) => {
        m.setAlertDismissed(P(req).alertIdentifier, dismissed, user(req));
        return task(m.startTask(dismissed ? 'DismissAlert' : 'UndismissAlert', undefined, user(req), async () => undefined));
      },
    });
  }
  add({
    method: 'GET', url: '/v1/reports/recovery', role: 'viewer', tags: ['reports'], summary: 'Recovery reports (paged; pageSize at most 1000)',
    querystring: obj({
      startTime: dateTime, endTime: dateTime, pageNumber: { type: 'string', pattern: '^[1-9][0-9]{0,6}$' }, pageSize: { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$' },
      vpgName: { type: 'string', maxLength: 200 }, recoveryType: { enum: ['Failover', 'FailoverTest', 'Move', 'Clone'] satisfies RecoveryKind[] }, state: { enum: ['Success', 'Fail'] },
    }),
    handler: async (req, reply) => {
      const q = Q(req);
      const size = q.pageSize !== undefined ? Number(q.pageSize) : 1000;
      const page = q.pageNumber !== undefined ? Number(q.pageNumber) : 1;
      const r = m.store.listReports({ ...defined({ from: dateOf(q.startTime, 'startTime'), to: dateOf(q.endTime, 'endTime'), groupName: q.vpgName, kind: q.recoveryType, result: q.state }), offset: (page - 1) * size, limit: size });
      void reply.header('x-total-count', String(r.total));
      return r.reports.map(reportView);
    },
  });

  // Settings drafts ---------------------------------------------------------------------------------------------
  for (const r of draftRoutes(m)) add(r);

  // Documents and metrics ---------------------------------------------------------------------------------------
  add({ method: 'GET', url: '/v1/openapi.json', role: 'public', tags: ['meta'], summary: 'This API as an OpenAPI 3.1 document', handler: async () => app.swagger() });
  add({
    method: 'GET', url: '/metrics', role: 'public', tags: ['meta'], summary: 'Prometheus metrics',
    handler: async (_req, reply) => reply.type(m.metrics.contentType).send(await m.metrics.text()),
  });
}

function safeUrl(m: Manager): string | null {
  try {
    return m.url;
  } catch {
    return null;
  }
}

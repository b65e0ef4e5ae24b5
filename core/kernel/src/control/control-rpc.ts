// The control link between a manager and an appliance in another process: each ApplianceControl call is
// one HTTP POST `/control/v1/<method>` with `{args}`; the answer is NDJSON — progress lines of long
// recovery operations, then one `{result}` or `{error}` line. It runs over mutual TLS from the site
// identity with the bearer token as a second factor (control-tls.ts); plain HTTP only on loopback or when
// insisted on. Written on node:http(s) rather than a web framework because it is one route with a fixed
// method table; the manager's REST API uses fastify.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { formatHostPort } from '../link/link-address.js';
export { ControlUnreachableError } from './control-tls.js';
import { checkPlainControl, controlPeerSite, controlSecureContext, ControlUnreachableError, sendControlRequest, type ControlTls } from './control-tls.js';
import { ConflictError, NotFoundError, OpenCdpError, ValidationError } from '../errors.js';
import type { Checkpoint, GroupId, Inventory, VmId } from '../model.js';
import type {
  ActiveRecovery, CloneRequest, CommitRequest, DeleteGroupRequest, FailoverRequest, FailoverTestRequest, FailoverTestStopRequest,
  FileRestoreSession, MoveRequest, ProgressSink, RecoveryOperations, RecoveryReport, RestoredFileEntry, ShutdownPolicy,
} from '../recovery/recovery-api.js';
import type { RecoveryGroupDefinition } from '../recovery/recovery-platform.js';
import type { ImageExportReport, ImageExportRequest, ImageOperations, ImageServeRequest, ImageSessionInfo } from '../images/image-api.js';
import type {
  ApplianceControl, ApplianceDescription, BarrierHoldRequest, BarrierHoldResult, BarrierReleaseRequest, BarrierReleaseResult, CheckpointCutRequest,
  GroupFacts, GroupFactsEntry, ProtectGroupSpec, SeedReverseReplicasRequest, SeedReverseReplicasResult,
} from './appliance-control.js';

const CONTROL_METHODS = [
  'inventory', 'protectGroup', 'unprotectGroup', 'pause', 'resume', 'forceSync', 'cutCheckpoints', 'finalCheckpoint',
  'shutdownVms', 'powerOnVms', 'groupFacts', 'defineRecoveryGroup', 'seedReverseReplicas',
  'holdBarrier', 'releaseBarrier', 'abortBarrier', 'groupFactsMany', 'describe',
] as const;
const RECOVERY_METHODS = [
  'listCheckpoints', 'active', 'startFailoverTest', 'stopFailoverTest', 'failover', 'move', 'commit', 'rollback', 'clone',
  'openFileRestore', 'listFiles', 'extractFile', 'closeFileRestore', 'deleteGroup', 'reports',
] as const;
const IMAGE_METHODS = ['exportImage', 'listExports', 'readExportFile', 'deleteExport', 'serveImage', 'listSessions', 'stopSession'] as const;
/** Image methods whose last parameter is a ProgressSink. */
const IMAGES_WITH_PROGRESS = new Set(['exportImage']);
/** Recovery methods whose last parameter is a ProgressSink: progress travels as NDJSON lines. */
const WITH_PROGRESS = new Set(['startFailoverTest', 'stopFailoverTest', 'failover', 'move', 'commit', 'rollback', 'clone', 'deleteGroup']);
/** Control methods whose last parameter is a ProgressSink (progress lines also keep a long call's answer alive). */
const CONTROL_WITH_PROGRESS = new Set(['seedReverseReplicas']);
const MAX_BODY_BYTES = 1024 * 1024;
/** Calls that change nothing on the appliance: safe to send again when a reused connection was closed under them. */
const READ_ONLY = new Set(['inventory', 'groupFacts', 'groupFactsMany', 'describe']);

export interface ControlServerOptions {
  /** Shared secret a manager presents as `Authorization: Bearer <token>` (with TLS: the second factor). */
  token: string;
  /** Mutual TLS from the site identity; without it the link is plain HTTP (loopback, or `insecureHttp`). */
  tls?: ControlTls;
  /** Allows plain HTTP beyond loopback (an isolated management network); never the default. */
  insecureHttp?: boolean;
  /** More methods served as `extra.<name>` (e.g. a demo's guest simulator); not part of ApplianceControl. */
  extra?: Record<string, (...args: unknown[]) => Promise<unknown>>;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface ControlServer {
  /** `https://host:port` (mutual TLS) or `http://host:port` */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `control` on `host:port` (port 0 picks one). */
export async function serveControl(control: ApplianceControl, listen: { host: string; port: number }, options: ControlServerOptions): Promise<ControlServer> {
  if (!options.token) throw new ValidationError('the control link needs a token', 'token');
  if (!options.tls) checkPlainControl(listen.host, options.insecureHttp, 'control.listen');
  const expected = Buffer.from(`Bearer ${options.token}`);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(control, req, res, expected, options).catch((error: unknown) => {
      options.log?.('control-error', { message: (error as Error).message });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  const t = options.tls;
  const server: Server = t
    ? createTlsServer({ ...controlSecureContext(t), requestCert: true, rejectUnauthorized: true }, onRequest)
    : createServer(onRequest);
  // Pairing while serving takes effect for the next connection.
  const stopWatching = t ? (t.trustedPeers ?? t.identity.trustedPeers).onChange(() => (server as unknown as { setSecureContext(o: object): void }).setSecureContext(controlSecureContext(t))) : undefined;
  if (t) server.on('tlsClientError', (e: Error) => options.log?.('control-tls-refused', { message: e.message }));
  // Idle connections live long, so a reused one is rarely closed under a call: a client keeps a connection
  // the server's advertised timeout less 1 s, and on a loaded machine the two timers cross ("other side
  // closed" / ECONNRESET, seen at 100+ groups over 8 appliances; read-only calls are then sent again).
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `${t ? 'https' : 'http'}://${formatHostPort(listen.host, address.port)}`,
    close: () => new Promise<void>((resolve) => {
      stopWatching?.();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(control: ApplianceControl, req: IncomingMessage, res: ServerResponse, expected: Buffer, options: ControlServerOptions): Promise<void> {
  const reply = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/x-ndjson' });
    res.end(JSON.stringify(body) + '\n');
  };
  if (options.tls) {
    // TLS already refused certificates no trusted CA issued; this also checks the certificate names the site.
    const cert = (req.socket as TLSSocket).getPeerX509Certificate?.();
    if (!cert || controlPeerSite(options.tls, cert) === undefined) return reply(403, { error: { code: 'PEER_NOT_TRUSTED', message: 'the client certificate does not belong to this site or a paired one' } });
  }
  const auth = Buffer.from(req.headers.authorization ?? '');
  if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) return reply(401, { error: { code: 'UNAUTHORIZED', message: 'missing or wrong control token' } });
  const match = /^\/control\/v1\/([a-zA-Z.]+)$/.exec(req.url ?? '');
  if (req.method !== 'POST' || !match) return reply(404, { error: { code: 'NOT_FOUND', message: `no control route ${req.method} ${req.url}` } });
  const name = match[1];
  const dot = name.indexOf('.');
  const [scope, method] = dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : ['control', name];
  const known = scope === 'recovery' ? (RECOVERY_METHODS as readonly string[]).includes(method)
    : scope === 'images' ? (IMAGE_METHODS as readonly string[]).includes(method)
    : scope === 'extra' ? Object.hasOwn(options.extra ?? {}, method)
    : scope === 'control' && (CONTROL_METHODS as readonly string[]).includes(method);
  if (!known) return reply(404, { error: { code: 'NOT_FOUND', message: `unknown control method '${name}'` } });
  let args: unknown[];
  try {
    const body = JSON.parse(await readBody(req)) as { args?: unknown };
    if (!Array.isArray(body.args)) throw new ValidationError('the body must be {"args": [...]}', 'args');
    args = body.args;
  } catch (error) {
    return reply(400, { error: describe(error instanceof OpenCdpError ? error : new ValidationError(`unreadable request: ${(error as Error).message}`, 'body')) });
  }
  const target = scope === 'recovery' ? control.recovery : scope === 'images' ? control.images : scope === 'extra' ? options.extra : control;
  if (!target) return reply(404, { error: { code: 'UNSUPPORTED', message: `appliance of site '${control.siteId}' has no ${scope === 'images' ? 'checkpoint images' : 'recovery role'}` } });
  const fn = (target as unknown as Record<string, ((...a: unknown[]) => Promise<unknown>) | undefined>)[method];
  // An optional ApplianceControl method this appliance does not implement.
  if (typeof fn !== 'function') return reply(404, { error: { code: 'UNSUPPORTED', message: `appliance of site '${control.siteId}' does not offer '${name}'` } });
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  if ((WITH_PROGRESS.has(method) && scope === 'recovery') || (CONTROL_WITH_PROGRESS.has(method) && scope === 'control') || (IMAGES_WITH_PROGRESS.has(method) && scope === 'images')) {
    args = [...args.slice(0, 1), ((percent: number, step: string) => res.write(JSON.stringify({ progress: { percent, step } }) + '\n')) satisfies ProgressSink];
  }
  try {
    let result = await fn.apply(target, args);
    if (Buffer.isBuffer(result)) result = { base64: result.toString('base64') };
    res.end(JSON.stringify({ result: result ?? null }) + '\n');
  } catch (error) {
    options.log?.('control-call-failed', { method: name, message: (error as Error).message });
    res.end(JSON.stringify({ error: describe(error) }) + '\n');
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ValidationError(`request body over ${MAX_BODY_BYTES} bytes`, 'body'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

interface WireError {
  code: string;
  message: string;
  name?: string;
  field?: string;
  hint?: string;
  /** What was not found (NotFoundError), so the client rebuilds the same error. */
  kind?: string;
  id?: string;
}

function describe(error: unknown): WireError {
  if (error instanceof OpenCdpError) {
    return {
      code: error.code, message: error.message, name: error.name,
      ...('field' in error && typeof error.field === 'string' ? { field: error.field } : {}), ...(error.hint ? { hint: error.hint } : {}),
      ...(error instanceof NotFoundError ? { kind: error.kind, id: error.id } : {}),
    };
  }
  return { code: 'INTERNAL', message: (error as Error)?.message ?? String(error) };
}

/** An error from the other side of the control link, with its code and (for validation) the field. */
export class RemoteControlError extends OpenCdpError {
  constructor(readonly remote: WireError) {
    super(remote.code, remote.message);
    this.name = remote.name ?? 'RemoteControlError';
  }
}

function revive(e: WireError): Error {
  if (e.code === 'VALIDATION') return new ValidationError(e.message, e.field);
  if (e.code === 'CONFLICT') return new ConflictError(e.message);
  if (e.code === 'NOT_FOUND' && e.kind !== undefined && e.id !== undefined) return new NotFoundError(e.kind, e.id);
  return new RemoteControlError(e);
}

export interface RemoteControlOptions {
  /** Bounds every call without progress (default 30 s). */
  timeoutMs?: number;
  /** Mutual TLS from this site's identity; needed for an https:// URL. */
  tls?: ControlTls;
  /** Allows a plain http:// URL beyond loopback; never the default. */
  insecureHttp?: boolean;
}

/** ApplianceControl of an appliance in another process, over the control link. */
export class RemoteApplianceControl implements ApplianceControl {
  readonly recovery: RecoveryOperations;
  readonly images: ImageOperations;
  /** The appliance's name within its site, as the host's configuration gives it (a site may run one per host). */
  applianceId?: string;
  private readonly timeoutMs: number;
  private readonly options: RemoteControlOptions;

  /**
   * `timeoutMs` (or `options.timeoutMs`) bounds every call without progress (default 30 s), so a hung
   * appliance cannot hang its caller; long recovery calls stream progress and are bounded by the operation
   * itself. An https:// URL needs `options.tls`: the appliance must then prove to be site `siteId`.
   */
  constructor(readonly siteId: string, private readonly url: string, private readonly token: string, options: number | RemoteControlOptions = {}) {
    this.options = typeof options === 'number' ? { timeoutMs: options } : options;
    this.timeoutMs = this.options.timeoutMs ?? 30_000;
    const call = <T>(method: string, args: unknown[], progress?: ProgressSink): Promise<T> => this.call<T>(`recovery.${method}`, args, progress);
    this.recovery = {
      listCheckpoints: (groupId: GroupId) => call<Checkpoint[]>('listCheckpoints', [groupId]),
      active: async (groupId: GroupId) => (await call<ActiveRecovery | null>('active', [groupId])) ?? undefined,
      startFailoverTest: (r: FailoverTestRequest, p?: ProgressSink) => call<ActiveRecovery>('startFailoverTest', [r], p),
      stopFailoverTest: (r: FailoverTestStopRequest, p?: ProgressSink) => call<RecoveryReport>('stopFailoverTest', [r], p),
      failover: (r: FailoverRequest, p?: ProgressSink) => call<ActiveRecovery>('failover', [r], p),
      move: (r: MoveRequest, p?: ProgressSink) => call<ActiveRecovery>('move', [r], p),
      commit: (r: CommitRequest, p?: ProgressSink) => call<RecoveryReport>('commit', [r], p),
      rollback: (groupId: GroupId, p?: ProgressSink) => call<RecoveryReport>('rollback', [groupId], p),
      clone: (r: CloneRequest, p?: ProgressSink) => call<RecoveryReport>('clone', [r], p),
      openFileRestore: (groupId, checkpointId, vmId, volumeId) => call<FileRestoreSession>('openFileRestore', [groupId, checkpointId, vmId, volumeId]),
      listFiles: (sessionId: string, path: string) => call<RestoredFileEntry[]>('listFiles', [sessionId, path]),
      extractFile: async (sessionId: string, path: string) => Buffer.from((await call<{ base64: string }>('extractFile', [sessionId, path])).base64, 'base64'),
      closeFileRestore: (sessionId: string) => call<void>('closeFileRestore', [sessionId]),
      deleteGroup: (r: DeleteGroupRequest, p?: ProgressSink) => call<void>('deleteGroup', [r], p),
      reports: (groupId?: GroupId) => call<RecoveryReport[]>('reports', groupId === undefined ? [] : [groupId]),
    };
    const image = <T>(method: string, args: unknown[], progress?: ProgressSink): Promise<T> => this.call<T>(`images.${method}`, args, progress);
    this.images = {
      exportImage: (r: ImageExportRequest, p?: ProgressSink) => image<ImageExportReport>('exportImage', [r], p),
      listExports: (groupId?: GroupId) => image<ImageExportReport[]>('listExports', groupId === undefined ? [] : [groupId]),
      readExportFile: async (exportId: string, fileName: string, offset: number, length: number) => Buffer.from((await image<{ base64: string }>('readExportFile', [exportId, fileName, offset, length])).base64, 'base64'),
      deleteExport: (exportId: string) => image<void>('deleteExport', [exportId]),
      serveImage: (r: ImageServeRequest) => image<ImageSessionInfo>('serveImage', [r]),
      listSessions: (groupId?: GroupId) => image<ImageSessionInfo[]>('listSessions', groupId === undefined ? [] : [groupId]),
      stopSession: (sessionId: string) => image<void>('stopSession', [sessionId]),
    };
  }

  /** Calls a method the server offers beyond ApplianceControl (`ControlServerOptions.extra`). */
  extra<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.call(`extra.${method}`, args);
  }

  inventory(): Promise<Inventory> {
    return this.call('inventory', []);
  }
  protectGroup(spec: ProtectGroupSpec): Promise<void> {
    return this.call('protectGroup', [spec]);
  }
  unprotectGroup(groupId: GroupId, options: { deleteSourceVms: boolean }): Promise<void> {
    return this.call('unprotectGroup', [groupId, options]);
  }
  pause(groupId: GroupId): Promise<void> {
    return this.call('pause', [groupId]);
  }
  resume(groupId: GroupId): Promise<void> {
    return this.call('resume', [groupId]);
  }
  forceSync(groupId: GroupId): Promise<void> {
    return this.call('forceSync', [groupId]);
  }
  async cutCheckpoints(request: CheckpointCutRequest): Promise<(Checkpoint | undefined)[]> {
    return (await this.call<(Checkpoint | null)[]>('cutCheckpoints', [request])).map((c) => c ?? undefined);
  }
  finalCheckpoint(groupId: GroupId, id: string, timestamp: number): Promise<Checkpoint> {
    return this.call('finalCheckpoint', [groupId, id, timestamp]);
  }
  shutdownVms(groupId: GroupId, vmIds: VmId[], policy: ShutdownPolicy): Promise<void> {
    return this.call('shutdownVms', [groupId, vmIds, policy]);
  }
  powerOnVms(groupId: GroupId, vmIds: VmId[]): Promise<void> {
    return this.call('powerOnVms', [groupId, vmIds]);
  }
  groupFacts(groupId: GroupId): Promise<GroupFacts> {
    return this.call('groupFacts', [groupId]);
  }
  defineRecoveryGroup(definition: RecoveryGroupDefinition): Promise<void> {
    return this.call('defineRecoveryGroup', [definition]);
  }
  seedReverseReplicas(request: SeedReverseReplicasRequest, progress?: ProgressSink): Promise<SeedReverseReplicasResult> {
    return this.call('seedReverseReplicas', [request], progress);
  }
  /** Bounded by the hold itself: an answer later than `holdMs` is useless (the appliance has dropped the round). */
  holdBarrier(request: BarrierHoldRequest): Promise<BarrierHoldResult> {
    return this.call('holdBarrier', [request], undefined, boundedTimeout(request?.holdMs, this.timeoutMs));
  }
  releaseBarrier(request: BarrierReleaseRequest): Promise<BarrierReleaseResult> {
    return this.call('releaseBarrier', [request], undefined, this.barrierTimeoutMs);
  }
  abortBarrier(roundId: string, reason: string): Promise<void> {
    return this.call('abortBarrier', [roundId, reason], undefined, this.barrierTimeoutMs);
  }
  groupFactsMany(groupIds: GroupId[]): Promise<GroupFactsEntry[]> {
    return this.call('groupFactsMany', [groupIds]);
  }
  describe(): Promise<ApplianceDescription> {
    return this.call('describe', []);
  }

  /** A barrier's release or abort is small and urgent: a member that takes longer is treated as failed. */
  private readonly barrierTimeoutMs = 10_000;

  private async call<T>(method: string, args: unknown[], progress?: ProgressSink, callTimeoutMs = this.timeoutMs): Promise<T> {
    const timeoutMs = progress ? undefined : callTimeoutMs;
    const send = (): ReturnType<typeof sendControlRequest> => sendControlRequest(new URL(`${this.url.replace(/\/$/, '')}/control/v1/${method}`), {
      name: method, method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ args }),
      expectSiteId: this.siteId, ...(this.options.tls ? { tls: this.options.tls } : {}), ...(this.options.insecureHttp ? { insecureHttp: true } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    let response: Awaited<ReturnType<typeof sendControlRequest>>;
    try {
      response = await send();
    } catch (error) {
      // A kept-alive connection the server closed just as it was reused (the idle timers of both ends cross
      // on a loaded machine): a read that changes nothing is sent once more on a fresh connection.
      if (!(error instanceof ControlUnreachableError) || !READ_ONLY.has(method) || !/ECONNRESET|socket hang up|other side closed/i.test(error.message)) throw error;
      response = await send();
    }
    try {
      return await this.readAnswer<T>(method, response, progress);
    } catch (error) {
      if (error instanceof OpenCdpError) throw error;
      throw new ControlUnreachableError(this.url, timeoutMs !== undefined && (error as Error).name === 'AbortError' ? `no answer to '${method}' within ${timeoutMs} ms` : (error as Error).message);
    }
  }

  private async readAnswer<T>(method: string, response: IncomingMessage, progress: ProgressSink | undefined): Promise<T> {
    let pending = '';
    const decoder = new TextDecoder();
    for await (const chunk of response as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = JSON.parse(pending.slice(0, nl)) as { progress?: { percent: number; step: string }; result?: T; error?: WireError };
        pending = pending.slice(nl + 1);
        if (line.progress) progress?.(line.progress.percent, line.progress.step);
        else if (line.error) throw revive(line.error);
        else if ('result' in line) return line.result as T;
      }
    }
    throw new ControlUnreachableError(this.url, `the answer to '${method}' ended early (HTTP ${response.statusCode})`);
  }
}

/** A call's timeout bounded by `ms` when that is a sensible positive number, else the default. */
function boundedTimeout(ms: unknown, fallback: number): number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(fallback, Math.ceil(ms)) : fallback;
}

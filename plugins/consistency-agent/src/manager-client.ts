// The VSS agent's client of the manager's REST API. That API arrives with the manager issue; until then
// this module is where the two requests the agent makes are defined (paths and bodies below), and the
// manager must implement exactly these — or this module follows whatever the manager settles on.
//   GET  /v1/vms/{vmId}                      → { groupId }   (only when the config names no group)
//   POST /v1/vpgs/{groupId}/checkpoints      { checkpointName, kind: 'vss', vmId } → 2xx { checkpointId?, taskId? }
import type { GroupId, VmId } from '@opencdp/core';
import { CheckpointRequestError, UsageError } from './errors.js';
import type { ManagerAttempt } from './errors.js';
import { requestJson, TransportError } from './http-json.js';
import type { JsonResponse } from './http-json.js';

export interface ManagerEndpoint {
  role: 'local' | 'remote';
  /** Base URL, e.g. `http://10.0.0.2:9080`. */
  url: string;
}

/** Body of the checkpoint request. `vmId` names the quiesced VM: only it is application-consistent (J3). */
export interface VssCheckpointRequest {
  checkpointName: string;
  kind: 'vss';
  vmId: VmId;
}

/** What a manager may answer; every field is optional until the manager's API is written. */
export interface VssCheckpointAnswer {
  checkpointId?: string;
  taskId?: string;
  [key: string]: unknown;
}

export interface ManagerAnswer<T> {
  manager: 'local' | 'remote';
  /** The manager's base URL (each attempt lists the full request URL). */
  url: string;
  status: number;
  body: T;
  attempts: ManagerAttempt[];
}

export interface ManagerClientOptions {
  /** Bearer token for the REST API. */
  token?: string;
  /** A manager that does not accept the connection this fast counts as unreachable. Default 2000. */
  connectTimeoutMs?: number;
}

export interface CallOptions {
  /** Budget for the whole call, fallback included (wall-clock). */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** `host`, `http://host` or `https://host[/base]`, with the port argument, as a base URL. */
export function managerUrl(host: string, portNumber: number): string {
  let url: URL;
  try {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host
      : host.includes(':') && !host.startsWith('[') ? `http://[${host}]` : `http://${host}`;
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`'${host}' is not a host name, an IP address or a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`'${host}': only http and https managers are supported`);
  url.port = String(portNumber);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function vssCheckpointPath(groupId: GroupId): string {
  return `/v1/vpgs/${encodeURIComponent(groupId)}/checkpoints`;
}

export function vmPath(vmId: VmId): string {
  return `/v1/vms/${encodeURIComponent(vmId)}`;
}

/**
 * Tries the managers in order (local first), as the anchor's agent does. A checkpoint request moves on
 * to the next manager only when the previous one was unreachable — the request never left. After a
 * timeout or an error answer it stops: the first manager may have taken the checkpoint, and asking the
 * other one too could cut two.
 */
export class ManagerClient {
  private readonly endpoints: ManagerEndpoint[];
  private readonly connectTimeoutMs: number;

  constructor(endpoints: readonly ManagerEndpoint[], private readonly options: ManagerClientOptions = {}) {
    // One manager for both sites (the anchor allows it): ask it once.
    this.endpoints = endpoints.filter((e, i) => endpoints.findIndex((o) => o.url === e.url) === i);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  }

  /** Asks for a VSS-kind checkpoint of `groupId`. Throws CheckpointRequestError with every attempt. */
  requestVssCheckpoint(groupId: GroupId, request: VssCheckpointRequest, call: CallOptions): Promise<ManagerAnswer<VssCheckpointAnswer>> {
    return this.tryManagers('POST', vssCheckpointPath(groupId), request, call, false, (body) =>
      typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as VssCheckpointAnswer) : {});
  }

  /** Asks which group protects `vmId`. A read: any manager failing to answer lets the next one try. */
  findGroup(vmId: VmId, call: CallOptions): Promise<ManagerAnswer<{ groupId: GroupId }>> {
    return this.tryManagers('GET', vmPath(vmId), undefined, call, true, (body) => {
      const groupId = (body as { groupId?: unknown } | undefined)?.groupId;
      if (typeof groupId !== 'string' || groupId === '') throw new Error(`answer has no groupId: ${JSON.stringify(body)}`);
      return { groupId };
    });
  }

  private async tryManagers<T>(
    method: 'GET' | 'POST', path: string, body: unknown, call: CallOptions, idempotent: boolean, parse: (body: unknown) => T,
  ): Promise<ManagerAnswer<T>> {
    const deadline = performance.now() + call.timeoutMs;
    const attempts: ManagerAttempt[] = [];
    for (const endpoint of this.endpoints) {
      const url = `${endpoint.url.replace(/\/+$/, '')}${path}`;
      const remaining = Math.floor(deadline - performance.now());
      if (remaining <= 0) {
        attempts.push({ manager: endpoint.role, url, outcome: 'timeout', error: 'no time left to try it' });
        break;
      }
      let res: JsonResponse;
      try {
        res = await requestJson({
          method, url, body, timeoutMs: remaining, connectTimeoutMs: Math.min(this.connectTimeoutMs, remaining),
          ...(this.options.token !== undefined ? { bearer: this.options.token } : {}),
          ...(call.signal ? { signal: call.signal } : {}),
        });
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        const outcome: ManagerAttempt['outcome'] = error.kind === 'aborted' ? 'aborted'
          : error.phase === 'connect' ? 'unreachable' : error.kind === 'timeout' ? 'timeout' : 'unreachable';
        attempts.push({ manager: endpoint.role, url, outcome, error: error.message });
        if (outcome === 'aborted') break;
        if (error.phase === 'connect' || idempotent) continue;
        break;
      }
      if (res.status >= 200 && res.status < 300) {
        let parsed: T;
        try {
          parsed = parse(res.body);
        } catch (error) {
          attempts.push({ manager: endpoint.role, url, outcome: 'http-error', status: res.status, error: (error as Error).message });
          break;
        }
        attempts.push({ manager: endpoint.role, url, outcome: 'ok', status: res.status });
        return { manager: endpoint.role, url: endpoint.url, status: res.status, body: parsed, attempts };
      }
      attempts.push({ manager: endpoint.role, url, outcome: 'http-error', status: res.status, error: describeAnswer(res) });
      break;
    }
    throw new CheckpointRequestError(summarize(method, path, attempts), attempts);
  }
}

function describeAnswer(res: JsonResponse): string {
  const error = (res.body as { error?: { message?: unknown } } | undefined)?.error;
  if (typeof error?.message === 'string') return `HTTP ${res.status}: ${error.message}`;
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '');
  return `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

function summarize(method: string, path: string, attempts: readonly ManagerAttempt[]): string {
  const what = method === 'GET' ? `looking up ${path}` : `requesting the checkpoint (${method} ${path})`;
  const tries = attempts.map((a) => `${a.manager} manager ${a.url}: ${a.outcome}${a.error ? ` (${a.error})` : ''}`).join('; ');
  return `${what} failed: ${tries || 'no manager to ask'}`;
}

// The kernel's side of application consistency: a ConsistencyAgent that quiesces a VM by calling the
// guest agent running inside it over HTTP. Guest agents' error answers come back as the same typed
// errors the guest raised, so callers can tell "busy" from "hook failed" from "froze too long".
import { inject, injectable } from 'inversify';
import type { ConsistencyAgent, QuiesceToken, VmId } from '@opencdp/core';
import {
  AgentAuthError, AgentTimeoutError, AgentUnreachableError, AlreadyThawedError, FreezeBusyError, FreezeExpiredError,
  GuestAgentError, NoGuestAgentError, QuiesceFailedError, ThawIncompleteError, UnknownFreezeTokenError,
} from './errors.js';
import type { FailedStep } from './errors.js';
import { requestJson, TransportError } from './http-json.js';
import type { JsonResponse } from './http-json.js';
import { FREEZE_PATH, THAW_PATH } from './protocol.js';
import type { ErrorBody, FreezeRequest, FreezeResponse, ThawRequest } from './protocol.js';

export const DEFAULT_AGENT_REQUEST_TIMEOUT_MS = 60_000;

export interface GuestAgentEndpoint {
  /** Base URL of the guest agent, e.g. `http://10.0.0.5:9480`. */
  url: string;
  /** Its bearer token. */
  token: string;
}

/** Bind this symbol to configure the module's agent (the interface of the same name is its shape). */
export const HttpConsistencyAgentConfig = Symbol('HttpConsistencyAgentConfig');

export interface HttpConsistencyAgentConfig {
  /** The guest agent of each VM this agent quiesces. */
  guests: Readonly<Record<VmId, GuestAgentEndpoint>>;
  /**
   * Longest a freeze or thaw request may take. A freeze runs the guest's pre-freeze hooks, so this is
   * long by default; a freeze that finishes after the caller gave up is thawed by the guest at once.
   */
  requestTimeoutMs?: number;
  /** Longest the guest should stay frozen (the guest caps it at its own maxFreezeMs). */
  freezeTimeoutMs?: number;
  /** Default 'http-guest-agent'. */
  name?: string;
}

@injectable()
export class HttpConsistencyAgent implements ConsistencyAgent {
  readonly name: string;
  private readonly timeoutMs: number;

  constructor(@inject(HttpConsistencyAgentConfig) private readonly config: HttpConsistencyAgentConfig) {
    this.name = config.name ?? 'http-guest-agent';
    this.timeoutMs = config.requestTimeoutMs ?? DEFAULT_AGENT_REQUEST_TIMEOUT_MS;
  }

  handles(vmId: VmId): boolean {
    return Object.prototype.hasOwnProperty.call(this.config.guests, vmId);
  }

  /** Freezes the VM's guest; the token's handle is the guest's freeze token. */
  async quiesce(vmId: VmId): Promise<QuiesceToken> {
    const body: FreezeRequest = this.config.freezeTimeoutMs !== undefined ? { timeoutMs: this.config.freezeTimeoutMs } : {};
    const res = await this.call(vmId, FREEZE_PATH, body);
    const answer = res.body as Partial<FreezeResponse> | undefined;
    if (typeof answer?.token !== 'string' || answer.token === '') {
      throw new GuestAgentError(res.status, 'AGENT_PROTOCOL', `freeze answer without a token: ${JSON.stringify(res.body)}`);
    }
    return { vmId, handle: answer.token };
  }

  async thaw(token: QuiesceToken): Promise<void> {
    const body: ThawRequest = { token: token.handle };
    await this.call(token.vmId, THAW_PATH, body);
  }

  private endpoint(vmId: VmId): GuestAgentEndpoint {
    if (!this.handles(vmId)) throw new NoGuestAgentError(vmId);
    return this.config.guests[vmId]!;
  }

  private async call(vmId: VmId, path: string, body: unknown): Promise<JsonResponse> {
    const endpoint = this.endpoint(vmId);
    const url = `${endpoint.url.replace(/\/+$/, '')}${path}`;
    let res: JsonResponse;
    try {
      res = await requestJson({ method: 'POST', url, body, bearer: endpoint.token, timeoutMs: this.timeoutMs });
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      if (error.phase === 'response' && error.kind === 'timeout') throw new AgentTimeoutError(url, this.timeoutMs);
      throw new AgentUnreachableError(url, error.phase === 'connect' ? error.message : `connection lost after sending: ${error.message}`);
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw errorFromAnswer(vmId, url, res);
  }
}

/** Rebuilds the guest's typed error from its JSON error body. */
function errorFromAnswer(vmId: VmId, url: string, res: JsonResponse): Error {
  if (res.status === 401) return new AgentAuthError(`the guest agent of VM '${vmId}' (${url})`);
  const error = (res.body as Partial<ErrorBody> | undefined)?.error;
  if (typeof error?.code !== 'string') {
    return new GuestAgentError(res.status, 'AGENT_PROTOCOL', `not a guest agent error answer: ${typeof res.body === 'string' ? res.body.slice(0, 200) : JSON.stringify(res.body)}`);
  }
  const details = error.details ?? {};
  switch (error.code) {
    case 'QUIESCE_FAILED': {
      const failed = details.failed as FailedStep | undefined;
      return new QuiesceFailedError(failed ?? { kind: 'hook', name: '(unknown)', reason: error.message }, strings(details.undoErrors));
    }
    case 'FREEZE_BUSY': return new FreezeBusyError(typeof details.state === 'string' ? details.state : 'frozen');
    case 'UNKNOWN_TOKEN': return new UnknownFreezeTokenError();
    case 'ALREADY_THAWED': return new AlreadyThawedError();
    case 'FREEZE_EXPIRED': return new FreezeExpiredError(typeof details.reason === 'string' ? details.reason : 'expired');
    case 'THAW_INCOMPLETE': return new ThawIncompleteError(strings(details.errors));
    default: return new GuestAgentError(res.status, error.code, error.message);
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

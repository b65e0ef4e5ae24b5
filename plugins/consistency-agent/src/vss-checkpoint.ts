// One application-consistent checkpoint, run from inside the guest (the anchor's VSS agent flow):
// quiesce this guest through its hooks, ask a manager to cut a VSS-kind checkpoint while it is quiet,
// and thaw — always, whether the request succeeded, failed, timed out or was interrupted.
import { OpenCdpError, SystemClock } from '@opencdp/core';
import type { Clock, GroupId, VmId } from '@opencdp/core';
import type { AgentConfig } from './config.js';
import { CheckpointRequestError, FreezeExpiredError, QuiesceFailedError, ThawIncompleteError } from './errors.js';
import type { ManagerAttempt } from './errors.js';
import { FsfreezeCommand } from './filesystem-freezer.js';
import type { FilesystemFreezer } from './filesystem-freezer.js';
import { GuestFreezer } from './guest-freezer.js';
import type { AgentLog } from './guest-freezer.js';
import { ManagerClient } from './manager-client.js';
import type { ManagerEndpoint, VssCheckpointAnswer } from './manager-client.js';
import type { FreezeResponse, MountOutcome, ThawReason } from './protocol.js';

export const EXIT_OK = 0;
export const EXIT_REQUEST_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_QUIESCE_FAILED = 3;
export const EXIT_THAW_FAILED = 4;
export type ExitCode = typeof EXIT_OK | typeof EXIT_REQUEST_FAILED | typeof EXIT_USAGE | typeof EXIT_QUIESCE_FAILED | typeof EXIT_THAW_FAILED;

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** The request must end this long before the freeze bound, so the thaw is ours and not the watchdog's. */
const THAW_MARGIN_MS = 250;

export interface VssCheckpointOptions {
  config: AgentConfig;
  checkpointName: string;
  vmId: VmId;
  /** Looked up from the managers when absent. */
  groupId?: GroupId;
  /** Local manager first. */
  managers: readonly ManagerEndpoint[];
  /** Budget for the checkpoint request (both managers); capped to end inside the freeze bound. */
  timeoutMs?: number;
  clock?: Clock;
  /** Default: fsfreeze, or the config's freezeCommand. */
  freezer?: FilesystemFreezer;
  log?: AgentLog;
  /** Aborting it (SIGINT, SIGTERM) ends the request early; the guest is thawed all the same. */
  signal?: AbortSignal;
}

export interface VssCheckpointResult {
  ok: boolean;
  exitCode: ExitCode;
  checkpointName: string;
  vmId: VmId;
  groupId?: GroupId;
  /** The manager that took the checkpoint. */
  manager?: 'local' | 'remote';
  managerUrl?: string;
  /** The manager's answer (checkpointId, taskId, ...). */
  checkpoint?: VssCheckpointAnswer;
  attempts: ManagerAttempt[];
  quiesce?: { mounts: MountOutcome[]; hooks: string[] };
  thaw?: { reason: ThawReason; frozenMs?: number; errors: string[] };
  error?: { code: string; message: string; hint?: string };
}

/** Runs the whole flow and reports it; never throws for an expected failure (see `exitCode`). */
export async function takeVssCheckpoint(options: VssCheckpointOptions): Promise<VssCheckpointResult> {
  const log = options.log ?? (() => undefined);
  const clock = options.clock ?? new SystemClock();
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const client = new ManagerClient(options.managers, options.config.managerToken !== undefined ? { token: options.config.managerToken } : {});
  const result: VssCheckpointResult = { ok: false, exitCode: EXIT_REQUEST_FAILED, checkpointName: options.checkpointName, vmId: options.vmId, attempts: [] };
  const fail = (exitCode: ExitCode, error: unknown): VssCheckpointResult => {
    result.exitCode = exitCode;
    result.error = describe(error);
    return result;
  };

  // The group first, before freezing: the lookup must not eat into the freeze bound.
  let groupId = options.groupId;
  if (groupId === undefined) {
    try {
      const answer = await client.findGroup(options.vmId, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
      groupId = answer.body.groupId;
      log('info', `VM '${options.vmId}' is in group '${groupId}' (asked the ${answer.manager} manager)`);
    } catch (error) {
      result.attempts = attemptsOf(error);
      return fail(EXIT_REQUEST_FAILED, error);
    }
  }
  result.groupId = groupId;

  const freezer = new GuestFreezer({
    hooks: options.config.hooks,
    mounts: options.config.mounts,
    maxFreezeMs: options.config.maxFreezeMs,
    clock,
    freezer: options.freezer ?? new FsfreezeCommand(options.config.freezeCommand ? { command: options.config.freezeCommand } : {}),
    cwd: options.config.dir,
    log,
  });
  let frozen: FreezeResponse;
  try {
    frozen = await freezer.freeze();
  } catch (error) {
    if (error instanceof QuiesceFailedError) return fail(EXIT_QUIESCE_FAILED, error);
    throw error;
  }
  result.quiesce = { mounts: frozen.mounts, hooks: frozen.hooks };

  let requestError: unknown;
  try {
    const budget = Math.max(1, Math.min(timeoutMs, frozen.thawDeadline - clock.now() - THAW_MARGIN_MS));
    const answer = await client.requestVssCheckpoint(groupId, { checkpointName: options.checkpointName, kind: 'vss', vmId: options.vmId }, {
      timeoutMs: budget, ...(options.signal ? { signal: options.signal } : {}),
    });
    result.attempts = answer.attempts;
    result.manager = answer.manager;
    result.managerUrl = answer.url;
    result.checkpoint = answer.body;
  } catch (error) {
    // Every error is caught here, so the thaw below runs whatever happened to the request.
    requestError = error;
    result.attempts = attemptsOf(error);
  }

  try {
    const thawed = await freezer.thaw(frozen.token);
    result.thaw = { reason: 'request', frozenMs: thawed.frozenMs, errors: [] };
  } catch (error) {
    if (error instanceof FreezeExpiredError) {
      // The watchdog thawed first: a checkpoint cut after that is only crash-consistent.
      const record = freezer.status().thaws.at(-1);
      result.thaw = { reason: error.reason as ThawReason, ...(record ? { frozenMs: record.frozenMs } : {}), errors: record?.errors ?? [] };
      if (result.thaw.errors.length > 0) return fail(EXIT_THAW_FAILED, new ThawIncompleteError(result.thaw.errors));
      requestError ??= error;
    } else if (error instanceof ThawIncompleteError) {
      result.thaw = { reason: 'request', errors: [...error.errors] };
      return fail(EXIT_THAW_FAILED, error);
    } else {
      throw error;
    }
  }
  if (requestError !== undefined) return fail(EXIT_REQUEST_FAILED, requestError);
  result.ok = true;
  result.exitCode = EXIT_OK;
  return result;
}

function attemptsOf(error: unknown): ManagerAttempt[] {
  return error instanceof CheckpointRequestError ? [...error.attempts] : [];
}

function describe(error: unknown): { code: string; message: string; hint?: string } {
  if (error instanceof OpenCdpError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: 'INTERNAL', message: (error as Error)?.message ?? String(error) };
}

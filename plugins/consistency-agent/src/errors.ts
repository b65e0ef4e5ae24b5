// Typed errors of the consistency agent: the guest side (config, hooks, freeze state) and the kernel
// side (reaching a guest agent, asking a manager for a checkpoint). Each carries a stable code and a
// hint, and the guest agent sends the same code over HTTP so the kernel can rebuild the right class.
import { OpenCdpError } from '@opencdp/core';

/** The agent's config file is missing, unreadable or invalid. Nothing was frozen. */
export class AgentConfigError extends OpenCdpError {
  constructor(message: string, readonly file?: string, readonly field?: string) {
    super('AGENT_CONFIG', file ? `${file}: ${message}` : message, 'fix the config file (see the plugin README for its format)');
  }
}

/** One step of a freeze that failed: a hook, or fsfreeze on a mount. */
export interface FailedStep {
  kind: 'hook' | 'mount';
  /** The hook's name or the mount point. */
  name: string;
  reason: string;
}

/**
 * The guest could not be quiesced: a pre-freeze hook or a filesystem freeze failed. What had been done
 * was undone (mounts unfrozen, post-thaw hooks of the completed steps run); `undoErrors` lists what
 * the undo itself could not do.
 */
export class QuiesceFailedError extends OpenCdpError {
  constructor(readonly failed: FailedStep, readonly undoErrors: readonly string[] = []) {
    super('QUIESCE_FAILED',
      `could not quiesce the guest: ${failed.kind} '${failed.name}' failed: ${failed.reason}` +
        (undoErrors.length > 0 ? `; the undo also failed: ${undoErrors.join('; ')}` : '; everything done before it was undone'),
      undoErrors.length > 0 ? 'check the guest: an application may still be in backup mode' : 'fix the hook or mount, or take a crash-consistent checkpoint');
  }
}

/** A freeze was asked for while another one is running or held (one freeze at a time per guest). */
export class FreezeBusyError extends OpenCdpError {
  constructor(readonly state: string) {
    super('FREEZE_BUSY', `the guest is already ${state}`, 'thaw the open freeze first, or wait for it to end (it cannot outlast maxFreezeMs)');
  }
}

/** A thaw named a token this agent never issued (or forgot long ago). Nothing was changed. */
export class UnknownFreezeTokenError extends OpenCdpError {
  constructor() {
    super('UNKNOWN_TOKEN', 'no freeze with this token', 'pass the token the freeze returned');
  }
}

/** A thaw named a freeze that was already thawed on request. */
export class AlreadyThawedError extends OpenCdpError {
  constructor() {
    super('ALREADY_THAWED', 'this freeze was already thawed', 'thaw each token once');
  }
}

/**
 * The freeze ended before the caller thawed it: the watchdog hit maxFreezeMs, the caller went away, or
 * the agent shut down. A checkpoint cut after that moment is only crash-consistent.
 */
export class FreezeExpiredError extends OpenCdpError {
  constructor(readonly reason: string) {
    super('FREEZE_EXPIRED', `the guest was thawed already (${reason}) before this thaw`,
      'a checkpoint cut during this freeze may be only crash-consistent; cut faster or raise maxFreezeMs');
  }
}

/** The filesystems were thawed but a post-thaw hook or an unfreeze failed. */
export class ThawIncompleteError extends OpenCdpError {
  constructor(readonly errors: readonly string[]) {
    super('THAW_INCOMPLETE', `thawed, but: ${errors.join('; ')}`, 'check the guest: a filesystem may still be frozen or an application still in backup mode');
  }
}

/** Wrong or missing bearer token (HTTP 401). */
export class AgentAuthError extends OpenCdpError {
  constructor(what: string) {
    super('UNAUTHORIZED', `${what} refused the credentials`, 'check the bearer token configured on both sides');
  }
}

/** The kernel has no guest agent configured for this VM. */
export class NoGuestAgentError extends OpenCdpError {
  constructor(readonly vmId: string) {
    super('NO_GUEST_AGENT', `no guest agent is configured for VM '${vmId}'`, 'add the VM to the agent map, or take a crash-consistent checkpoint');
  }
}

/** A guest agent or manager could not be reached (refused, unknown host, connect timeout). */
export class AgentUnreachableError extends OpenCdpError {
  constructor(readonly url: string, reason: string) {
    super('UNREACHABLE', `${url} is unreachable: ${reason}`, 'check the address, the port and that the service runs');
  }
}

/** A guest agent or manager took the request but did not answer in time. */
export class AgentTimeoutError extends OpenCdpError {
  constructor(readonly url: string, readonly timeoutMs: number) {
    super('TIMEOUT', `${url} did not answer within ${timeoutMs} ms`, 'the request may still take effect there; check before retrying');
  }
}

/** The guest agent answered with an error this client has no class for, or with something that is not the protocol. */
export class GuestAgentError extends OpenCdpError {
  constructor(readonly status: number, code: string, message: string) {
    super(code, `guest agent answered ${status}: ${message}`, 'see the guest agent log');
  }
}

/** One try at one manager. */
export interface ManagerAttempt {
  manager: 'local' | 'remote';
  url: string;
  outcome: 'ok' | 'unreachable' | 'timeout' | 'http-error' | 'aborted';
  status?: number;
  error?: string;
}

/** No manager took the checkpoint request. `attempts` says what each one answered. */
export class CheckpointRequestError extends OpenCdpError {
  constructor(message: string, readonly attempts: readonly ManagerAttempt[]) {
    super('CHECKPOINT_REQUEST_FAILED', message, 'check the manager addresses and that a manager runs; the guest is not left frozen');
  }
}

/** Bad command line (exit code 2). */
export class UsageError extends OpenCdpError {
  constructor(message: string, hint = 'run with --help for usage') {
    super('USAGE', message, hint);
  }
}

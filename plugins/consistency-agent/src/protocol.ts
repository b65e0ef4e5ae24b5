// The guest agent's HTTP protocol (version 1): request and response bodies shared by the server in the
// guest and the kernel's client, so both sides change together. Every call carries
// `Authorization: Bearer <token>`; every error answer is an `ErrorBody`.

export const FREEZE_PATH = '/v1/freeze';
export const THAW_PATH = '/v1/thaw';
export const STATUS_PATH = '/v1/status';

export interface FreezeRequest {
  /** Longest the caller wants the guest frozen; the agent caps it at its own maxFreezeMs. */
  timeoutMs?: number;
}

/** What happened to one configured mount point. */
export interface MountOutcome {
  mount: string;
  frozen: boolean;
  /** Why it was not frozen (not root, not Linux, no fsfreeze binary). */
  skipped?: string;
}

export interface FreezeResponse {
  token: string;
  /** Clock time the filesystems started freezing (after the pre-freeze hooks). */
  frozenAt: number;
  /** Clock time the watchdog thaws the guest unless thawed before. */
  thawDeadline: number;
  mounts: MountOutcome[];
  /** Pre-freeze hooks that ran, in order. */
  hooks: string[];
}

export interface ThawRequest {
  token: string;
}

export type ThawReason = 'request' | 'watchdog' | 'caller-gone' | 'shutdown';

export interface ThawResponse {
  thawed: true;
  /** Milliseconds the guest was frozen, on the agent's clock. */
  frozenMs: number;
}

export type FreezeState = 'idle' | 'freezing' | 'frozen' | 'thawing';

export interface ThawRecord {
  at: number;
  reason: ThawReason;
  frozenMs: number;
  errors: string[];
}

export interface StatusResponse {
  state: FreezeState;
  frozenAt?: number;
  thawDeadline?: number;
  maxFreezeMs: number;
  /** The latest thaws, oldest first (a watchdog thaw shows up here). */
  thaws: ThawRecord[];
}

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    hint?: string;
    /** Extra facts for some codes: the failed step of QUIESCE_FAILED, the errors of THAW_INCOMPLETE. */
    details?: Record<string, unknown>;
  };
}

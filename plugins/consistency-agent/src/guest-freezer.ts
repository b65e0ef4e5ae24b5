// The quiesce engine inside a guest, shared by the HTTP guest agent and the opencdp-vss-agent CLI:
// pre-freeze hooks in order, fsfreeze per mount, a token; thaw undoes it in reverse. One freeze at a
// time, and never longer than maxFreezeMs: a watchdog on the injected clock thaws a forgotten freeze.
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '@opencdp/core';
import type { HookConfig } from './config.js';
import { AlreadyThawedError, FreezeBusyError, FreezeExpiredError, QuiesceFailedError, ThawIncompleteError, UnknownFreezeTokenError } from './errors.js';
import type { FailedStep } from './errors.js';
import type { FilesystemFreezer } from './filesystem-freezer.js';
import type { FreezeRequest, FreezeResponse, FreezeState, MountOutcome, StatusResponse, ThawReason, ThawRecord, ThawResponse } from './protocol.js';
import { runCommand } from './run-command.js';

export type AgentLogLevel = 'info' | 'warn' | 'error';
export type AgentLog = (level: AgentLogLevel, message: string) => void;

export interface GuestFreezerOptions {
  hooks: readonly HookConfig[];
  mounts: readonly string[];
  maxFreezeMs: number;
  clock: Clock;
  freezer: FilesystemFreezer;
  /** Folder the hooks run in (the config file's folder). */
  cwd?: string;
  log?: AgentLog;
  /** Makes freeze tokens; default 128 random bits in hex. */
  newToken?: () => string;
}

interface OpenFreeze {
  token: string;
  frozenAt: number;
  thawDeadline: number;
  /** Mounts this freeze froze, in freeze order. */
  frozenMounts: string[];
  /** Hooks whose pre-freeze step completed (or that have none), in list order. */
  ranHooks: HookConfig[];
  watchdog: TimerHandle;
}

/** Finished freezes remembered to tell "already thawed" and "expired" from "never issued". */
const REMEMBERED_TOKENS = 64;
const HISTORY = 20;

export class GuestFreezer {
  private currentState: FreezeState = 'idle';
  private open: OpenFreeze | undefined;
  /** The freeze or thaw under way, so shutdown and concurrent thaws can wait for it. */
  private busy: Promise<unknown> | undefined;
  private readonly finished = new Map<string, ThawRecord>();
  private readonly history: ThawRecord[] = [];
  private readonly log: AgentLog;
  private readonly newToken: () => string;

  constructor(private readonly options: GuestFreezerOptions) {
    this.log = options.log ?? (() => undefined);
    this.newToken = options.newToken ?? (() => randomBytes(16).toString('hex'));
  }

  get state(): FreezeState {
    return this.currentState;
  }

  get maxFreezeMs(): number {
    return this.options.maxFreezeMs;
  }

  status(): StatusResponse {
    return {
      state: this.currentState,
      ...(this.open ? { frozenAt: this.open.frozenAt, thawDeadline: this.open.thawDeadline } : {}),
      maxFreezeMs: this.options.maxFreezeMs,
      thaws: this.history.map((t) => ({ ...t, errors: [...t.errors] })),
    };
  }

  /**
   * Runs the pre-freeze hooks in order, then freezes every mount (or skips them all with the reason
   * freezing cannot work here). A failure undoes what ran and throws QuiesceFailedError; a second
   * freeze while one is open throws FreezeBusyError.
   */
  freeze(request: FreezeRequest = {}): Promise<FreezeResponse> {
    if (this.currentState !== 'idle') return Promise.reject(new FreezeBusyError(this.currentState));
    this.currentState = 'freezing';
    return this.track(this.doFreeze(request));
  }

  /** Thaws the freeze `token` names: unfreezes the mounts, then runs the post-thaw hooks in reverse. */
  async thaw(token: string): Promise<ThawResponse> {
    if (this.open?.token === token && this.currentState === 'frozen') {
      const record = await this.track(this.release('request'));
      if (record.errors.length > 0) throw new ThawIncompleteError(record.errors);
      return { thawed: true, frozenMs: record.frozenMs };
    }
    // A thaw racing the watchdog: let it finish, then answer from its record.
    if (this.open?.token === token) await this.settled();
    const record = this.finished.get(token);
    if (!record) throw new UnknownFreezeTokenError();
    if (record.reason === 'request') throw new AlreadyThawedError();
    throw new FreezeExpiredError(record.reason);
  }

  /** Thaws at once if `token` is still frozen (its caller can no longer thaw it). */
  async abandon(token: string): Promise<void> {
    if (this.open?.token === token && this.currentState === 'frozen') await this.track(this.release('caller-gone'));
  }

  /** Waits for a freeze under way, and thaws whatever is frozen (for shutdown). */
  async close(): Promise<ThawRecord | undefined> {
    await this.settled();
    if (this.currentState === 'frozen') return this.track(this.release('shutdown'));
    return undefined;
  }

  /** Resolves when no freeze or thaw is under way (e.g. after the watchdog fired). */
  async settled(): Promise<void> {
    while (this.busy) await this.busy.catch(() => undefined);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    const tracked = work.finally(() => {
      if (this.busy === tracked) this.busy = undefined;
    });
    this.busy = tracked;
    return tracked;
  }

  private async doFreeze(request: FreezeRequest): Promise<FreezeResponse> {
    const { clock, hooks, mounts, freezer } = this.options;
    const ranHooks: HookConfig[] = [];
    const frozenMounts: string[] = [];
    const outcomes: MountOutcome[] = [];
    let failed: FailedStep | undefined;
    let frozenAt = clock.now();
    try {
      for (const hook of hooks) {
        if (hook.preFreeze !== undefined) {
          const result = await runCommand(hook.preFreeze, {
            cwd: this.options.cwd, timeoutMs: hook.timeoutMs, env: { OPENCDP_PHASE: 'pre-freeze', OPENCDP_HOOK: hook.name },
          });
          if (!result.ok) {
            failed = { kind: 'hook', name: hook.name, reason: result.reason ?? 'failed' };
            break;
          }
          this.log('info', `pre-freeze hook '${hook.name}' done in ${result.durationMs} ms`);
        }
        ranHooks.push(hook);
      }
      if (!failed) {
        const unavailable = mounts.length > 0 ? await freezer.unavailableReason() : undefined;
        if (unavailable !== undefined) this.log('warn', `not freezing ${mounts.join(', ')}: ${unavailable}; the hooks alone quiesce this guest`);
        frozenAt = clock.now();
        for (const mount of mounts) {
          if (unavailable !== undefined) {
            outcomes.push({ mount, frozen: false, skipped: unavailable });
            continue;
          }
          try {
            await freezer.freeze(mount);
          } catch (error) {
            failed = { kind: 'mount', name: mount, reason: (error as Error).message };
            break;
          }
          frozenMounts.push(mount);
          outcomes.push({ mount, frozen: true });
        }
      }
    } catch (error) {
      // Not expected (runCommand never rejects), but a freeze must never leave the guest half-frozen.
      failed = { kind: 'hook', name: '(agent)', reason: (error as Error).message };
    }
    if (failed) {
      this.log('error', `freeze aborted: ${failed.kind} '${failed.name}' failed: ${failed.reason}; undoing`);
      const undoErrors = await this.undo(frozenMounts, ranHooks, 'abort');
      this.currentState = 'idle';
      throw new QuiesceFailedError(failed, undoErrors);
    }

    const bound = Math.min(request.timeoutMs ?? this.options.maxFreezeMs, this.options.maxFreezeMs);
    const token = this.newToken();
    const thawDeadline = frozenAt + bound;
    // Counted from the first mount's freeze, so time spent freezing the others is part of the bound.
    const watchdog = clock.setTimer(Math.max(0, thawDeadline - clock.now()), () => { void this.expire(token); });
    this.open = { token, frozenAt, thawDeadline, frozenMounts, ranHooks, watchdog };
    this.currentState = 'frozen';
    this.log('info', `frozen (${frozenMounts.length} of ${mounts.length} mounts, ${ranHooks.length} hooks); thaws by ${bound} ms at the latest`);
    return { token, frozenAt, thawDeadline, mounts: outcomes, hooks: ranHooks.filter((h) => h.preFreeze !== undefined).map((h) => h.name) };
  }

  private async expire(token: string): Promise<void> {
    if (this.open?.token !== token || this.currentState !== 'frozen') return;
    this.log('warn', `frozen for the whole bound (${this.open.thawDeadline - this.open.frozenAt} ms) without a thaw: the watchdog thaws the guest`);
    await this.track(this.release('watchdog'));
  }

  private async release(reason: ThawReason): Promise<ThawRecord> {
    const open = this.open!;
    this.currentState = 'thawing';
    open.watchdog.cancel();
    const errors = await this.undo(open.frozenMounts, open.ranHooks, reason);
    const now = this.options.clock.now();
    const record: ThawRecord = { at: now, reason, frozenMs: now - open.frozenAt, errors };
    this.finished.set(open.token, record);
    for (const old of this.finished.keys()) {
      if (this.finished.size <= REMEMBERED_TOKENS) break;
      this.finished.delete(old);
    }
    this.history.push(record);
    if (this.history.length > HISTORY) this.history.shift();
    this.open = undefined;
    this.currentState = 'idle';
    this.log(errors.length > 0 ? 'error' : 'info', `thawed (${reason}) after ${record.frozenMs} ms${errors.length > 0 ? `, with errors: ${errors.join('; ')}` : ''}`);
    return record;
  }

  /** Unfreezes mounts in reverse order, then runs post-thaw hooks in reverse order; returns what failed. */
  private async undo(frozenMounts: readonly string[], ranHooks: readonly HookConfig[], reason: ThawReason | 'abort'): Promise<string[]> {
    const errors: string[] = [];
    for (const mount of [...frozenMounts].reverse()) {
      try {
        await this.options.freezer.unfreeze(mount);
      } catch (error) {
        errors.push(`unfreeze ${mount}: ${(error as Error).message}`);
      }
    }
    for (const hook of [...ranHooks].reverse()) {
      if (hook.postThaw === undefined) continue;
      const result = await runCommand(hook.postThaw, {
        cwd: this.options.cwd, timeoutMs: hook.timeoutMs,
        env: { OPENCDP_PHASE: 'post-thaw', OPENCDP_HOOK: hook.name, OPENCDP_THAW_REASON: reason },
      });
      if (!result.ok) errors.push(`post-thaw hook '${hook.name}': ${result.reason ?? 'failed'}`);
    }
    return errors;
  }
}

// A virtual clock for harnesses whose kernel does real I/O (journals in files, a hypervisor behind a
// socket): `advance` fires each due timer and then waits, on the wall clock, until the real work that
// timer started has finished, so virtual time never runs ahead of the disk. Plain `VirtualClock` waits
// one event-loop turn only, which is right for in-memory fakes and wrong for everything else.
import { OpenCdpError, ValidationError } from './errors.js';
import { VirtualClock, settle } from './clock.js';

/**
 * `process.getActiveResourcesInfo()` names of requests that are file I/O in flight. Sockets and
 * servers are left out on purpose: they stay open for a whole run and would never look idle; work
 * on them is made visible with `track` or `addSettler` instead.
 */
export const FILE_IO_RESOURCES: readonly string[] = ['FSReqCallback', 'FSReqPromise', 'CloseReq', 'FileHandleCloseReq', 'StatWatcher'];

export interface IoAwareClockOptions {
  /** Start of virtual time, ms since the epoch (default 2026-01-01). */
  startMs?: number;
  /** Wall-clock bound on waiting for I/O after one timer (default 30 s); past it `advance` rejects with IoSettleTimeoutError. */
  settleTimeoutMs?: number;
  /** Resource types that count as I/O in flight (default FILE_IO_RESOURCES). */
  ioResources?: readonly string[];
  /** Consecutive idle event-loop turns needed before I/O counts as settled (default 2). */
  idleTurns?: number;
}

/** Real I/O started by a timer did not finish within the bound: something hangs, or the bound is too short. */
export class IoSettleTimeoutError extends OpenCdpError {
  constructor(readonly waitedMs: number, readonly pending: readonly string[]) {
    super('IO_SETTLE_TIMEOUT', `the virtual clock waited ${waitedMs} ms of wall time for real I/O to settle; still pending: ${pending.join(', ') || 'tracked work'}`,
      'a request that never completes (a lost socket reply, a hung disk) holds the clock; raise settleTimeoutMs only if the I/O is merely slow');
  }
}

/**
 * `advance(ms)` = VirtualClock's advance, where "settled" means: no tracked promise pending, every
 * settler resolved, and no file request active for `idleTurns` turns in a row.
 */
export class IoAwareVirtualClock extends VirtualClock {
  private readonly tracked = new Set<Promise<unknown>>();
  private readonly settlers = new Set<() => Promise<void>>();
  private readonly settleTimeoutMs: number;
  private readonly ioResources: ReadonlySet<string>;
  private readonly idleTurns: number;

  constructor(options: IoAwareClockOptions = {}) {
    super(options.startMs);
    const timeout = options.settleTimeoutMs ?? 30_000;
    if (!(Number.isFinite(timeout) && timeout > 0)) throw new ValidationError(`settleTimeoutMs must be a positive number of milliseconds, got ${timeout}`, 'settleTimeoutMs');
    const turns = options.idleTurns ?? 2;
    if (!Number.isSafeInteger(turns) || turns < 1) throw new ValidationError(`idleTurns must be a whole number ≥ 1, got ${turns}`, 'idleTurns');
    this.settleTimeoutMs = timeout;
    this.idleTurns = turns;
    this.ioResources = new Set(options.ioResources ?? FILE_IO_RESOURCES);
  }

  /**
   * Makes `advance` wait for `work` too (work the kernel cannot see as a file request: a reply over a
   * socket, a child process starting). Returns `work` unchanged, so it wraps a call in place.
   */
  track<T>(work: Promise<T>): Promise<T> {
    const done = work.then(() => undefined, () => undefined);
    this.tracked.add(done);
    void done.then(() => this.tracked.delete(done));
    return work;
  }

  /** Registers a function `advance` awaits after every timer (e.g. an adapter's `settled()`); returns its removal. */
  addSettler(settler: () => Promise<void>): () => void {
    this.settlers.add(settler);
    return () => { this.settlers.delete(settler); };
  }

  /** File requests active right now, by type (what `advance` is waiting for). */
  activeIo(): string[] {
    return process.getActiveResourcesInfo().filter((r) => this.ioResources.has(r));
  }

  protected override async settle(): Promise<void> {
    const deadline = Date.now() + this.settleTimeoutMs;
    let idle = 0;
    while (idle < this.idleTurns) {
      await settle();
      if (this.tracked.size > 0) {
        idle = 0;
        await this.waitOr(Promise.allSettled([...this.tracked]), deadline);
        continue;
      }
      if (this.settlers.size > 0) await this.waitOr(Promise.allSettled([...this.settlers].map((s) => s())), deadline);
      if (this.activeIo().length > 0) {
        idle = 0;
        if (Date.now() > deadline) throw new IoSettleTimeoutError(this.settleTimeoutMs, this.activeIo());
        continue;
      }
      idle++;
    }
  }

  private async waitOr(work: Promise<unknown>, deadline: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new IoSettleTimeoutError(this.settleTimeoutMs, this.activeIo());
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => { timer = setTimeout(() => resolve('expired'), left); });
    try {
      if ((await Promise.race([work.then(() => 'done' as const), expired])) === 'expired') throw new IoSettleTimeoutError(this.settleTimeoutMs, this.activeIo());
    } finally {
      clearTimeout(timer);
    }
  }
}

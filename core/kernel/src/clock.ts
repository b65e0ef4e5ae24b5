// Time is injected everywhere so that the fake data centre and the conformance suite run on a virtual
// clock: a test of a 24-hour journal history takes milliseconds and behaves the same on every run.

export const Clock = Symbol('Clock');

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Resolves `ms` from now. */
  sleep(ms: number): Promise<void>;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

interface PendingTimer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

export interface VirtualClockOptions {
  /**
   * Awaited after every timer `advance` fires, besides letting promise chains settle: a harness whose
   * timers start real I/O (an S3 request, a process) passes a function resolving once that I/O is done,
   * so the work a timer starts still completes at the virtual instant it was due.
   */
  idle?: () => Promise<void>;
}

/**
 * A clock that moves only when told to. `advance` fires due timers in time order and lets the
 * promise chains they start settle before moving on, so asynchronous work scheduled by a timer
 * (a checkpoint, a trim) completes at the virtual instant it was due.
 */
export class VirtualClock implements Clock {
  private current: number;
  private timers: PendingTimer[] = [];
  private order = 0;
  private readonly idle?: () => Promise<void>;

  constructor(startMs = Date.UTC(2026, 0, 1), options: VirtualClockOptions = {}) {
    this.current = startMs;
    this.idle = options.idle;
  }

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(ms, resolve));
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await this.settle();
      const next = this.nextDue(target);
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = Math.max(this.current, next.at);
      if (!next.cancelled) next.fn();
    }
    this.current = target;
    await this.settle();
  }

  /**
   * What `advance` waits for after each timer: here one macrotask turn (promise chains and I/O
   * completions already due). `IoAwareVirtualClock` also waits for real I/O the timers started.
   */
  protected async settle(): Promise<void> {
    await settle();
    if (this.idle) await this.idle();
  }

  private nextDue(limit: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    }
    return best;
  }
}

/** Lets pending promise callbacks and I/O completions run (a macrotask turn, then microtasks). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// Backoff after failed logins, per user name and per client address: after `threshold` failures in a
// row, each further attempt must wait a delay that doubles with every failure (capped); attempts during
// the wait are refused without looking at the password, so guessing is slowed to a few tries an hour
// while the right password still works once the wait is over. Kept in memory (a restart clears it): a
// refused attempt writes nothing, and failures are forgotten `windowMs` after the last one.
import type { Clock } from '@opencdp/core';

export interface LoginThrottleOptions {
  /** Failures in a row before the backoff engages (default 5). */
  threshold?: number;
  /** The first wait (default 1 s); it doubles with each further failure. */
  baseDelayMs?: number;
  /** The longest wait (default 15 min). */
  maxDelayMs?: number;
  /** Failures older than this are forgotten (default 1 h). */
  windowMs?: number;
  /** Keys tracked at most (oldest dropped first), so a spray of names cannot exhaust memory (default 10 000). */
  maxKeys?: number;
}

interface Entry { failures: number; lastAt: number; reported: boolean }

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  readonly threshold: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;

  constructor(private readonly clock: Clock, options: LoginThrottleOptions = {}) {
    this.threshold = options.threshold ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 15 * 60_000;
    this.windowMs = options.windowMs ?? 3_600_000;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** How long the caller must still wait before trying any of `keys` again (0: it may try now). */
  waitMs(keys: string[]): number {
    const now = this.clock.now();
    let wait = 0;
    for (const key of keys) {
      const e = this.live(key, now);
      if (e && e.failures >= this.threshold) wait = Math.max(wait, e.lastAt + this.delayAfter(e.failures) - now);
    }
    return Math.max(0, wait);
  }

  /** Counts a failure for each key. */
  fail(keys: string[]): void {
    const now = this.clock.now();
    for (const key of keys) {
      const e = this.live(key, now) ?? { failures: 0, lastAt: now, reported: false };
      e.failures++;
      e.lastAt = now;
      this.entries.delete(key);
      this.entries.set(key, e); // newest last, so the oldest go first
    }
    while (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
  }

  /** A successful login clears the user's failures. */
  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Takes back one failure counted before the attempt turned out right (an address's other failures stay). */
  forgive(key: string): void {
    const e = this.entries.get(key);
    if (e && --e.failures <= 0) this.entries.delete(key);
  }

  /** Keys at or past the threshold not reported yet (each reported once until its failures are forgotten). */
  newlyEngaged(keys: string[]): string[] {
    const now = this.clock.now();
    return keys.filter((key) => {
      const e = this.live(key, now);
      if (!e || e.failures < this.threshold || e.reported) return false;
      e.reported = true;
      return true;
    });
  }

  /** Failures counted for `key` (0 once forgotten). */
  failures(key: string): number {
    return this.live(key, this.clock.now())?.failures ?? 0;
  }

  private delayAfter(failures: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(30, failures - this.threshold));
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && now - e.lastAt > this.windowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }
}

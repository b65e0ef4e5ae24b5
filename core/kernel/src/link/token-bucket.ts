// A token bucket on the injected clock: the site link's bandwidth limit. Senders take tokens (bytes)
// before writing; when the bucket runs dry they wait exactly as long as the rate needs to pay it back.
import type { Clock } from '../clock.js';

/** Something that can delay a write of `bytes`; `undefined` means "go now". */
export interface Throttle {
  take(bytes: number): Promise<void> | undefined;
}

export class TokenBucket implements Throttle {
  private rate: number | undefined;
  private capacity = 0;
  private tokens = 0;
  private last: number;

  /**
   * @param burstMs how much unused bandwidth may be saved up, in milliseconds of the rate. Kept small
   *   (default 20 ms) so the limit holds over short transfers too.
   */
  constructor(private readonly clock: Clock, bytesPerSecond?: number, private readonly burstMs = 20) {
    this.last = clock.now();
    this.setRate(bytesPerSecond);
  }

  /** Bytes per second, or undefined for unthrottled. */
  get bytesPerSecond(): number | undefined {
    return this.rate;
  }

  /** Changes the rate. Senders already waiting keep their computed delay; later ones see the new rate. */
  setRate(bytesPerSecond: number | undefined): void {
    if (bytesPerSecond !== undefined && !(Number.isFinite(bytesPerSecond) && bytesPerSecond > 0)) {
      throw new RangeError(`a bandwidth limit must be a positive number of bytes per second, got ${bytesPerSecond}`);
    }
    this.refill();
    const wasUnlimited = this.rate === undefined;
    this.rate = bytesPerSecond;
    this.capacity = bytesPerSecond === undefined ? 0 : (bytesPerSecond * this.burstMs) / 1000;
    // A fresh limit starts with a full bucket; a changed one keeps what was saved (or owed).
    this.tokens = wasUnlimited ? this.capacity : Math.min(this.tokens, this.capacity);
  }

  /**
   * Takes `bytes` tokens. The balance may go negative: the caller then sleeps until it is back at zero,
   * which also makes every later caller queue behind it, so concurrent senders share the rate.
   */
  take(bytes: number): Promise<void> | undefined {
    if (this.rate === undefined) return undefined;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return undefined;
    return this.clock.sleep(Math.ceil((-this.tokens * 1000) / this.rate));
  }

  private refill(): void {
    const now = this.clock.now();
    if (this.rate !== undefined) this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }
}

// The fake splitter: the data centre hands every guest write of a VM to each started tap, in the order
// the guest issued them, and the guest's write completes only when every tap's sink has answered.
import { ClosedError, ValidationError } from '@opencdp/core';
import type { GuestWrite, VmId, WriteSink, WriteTap } from '@opencdp/core';

export type TapCloseListener = (reason: Error | undefined) => void;

/**
 * A write tap on one VM of a `FakeDataCenter` (open it with `FakeHypervisor.openTap` or
 * `FakeDataCenter.openTap`).
 *
 * Semantics, as on a real write-blocking splitter (QEMU's `copy-mode: write-blocking`, a VAIO filter):
 * - the write reaches the protected volume first, then the sink; the guest's write completes when the
 *   sink's promise settles, so holding that promise holds the guest;
 * - a rejected sink promise fails the guest's write, but the data is already on the protected volume
 *   (the splitter cannot undo it) — the kernel must treat the volume as dirty there and resync it;
 * - the sink gets its own copy of the data: the guest may reuse its buffer at once.
 *
 * The tap closes when its VM's host restarts or the VM is deleted; `onClose` listeners learn why, and
 * the owner must open a new tap (writes in between are the resync's job).
 */
export class FakeWriteTap implements WriteTap {
  private sink: WriteSink | undefined;
  private count = 0;
  private isClosed = false;
  private reason: Error | undefined;
  private readonly listeners: TapCloseListener[] = [];

  /** @param detach called once when the tap closes, so the data centre stops feeding it. */
  constructor(readonly vmId: VmId, private readonly detach: (tap: FakeWriteTap) => void) {}

  get delivered(): number {
    return this.count;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Started and not closed: writes go to the sink. */
  get accepting(): boolean {
    return this.sink !== undefined && !this.isClosed;
  }

  /** Why the tap closed: undefined when it was closed by its owner (or is still open). */
  get closeReason(): Error | undefined {
    return this.reason;
  }

  start(sink: WriteSink): void {
    if (this.isClosed) throw new ClosedError(`write tap on VM '${this.vmId}'`);
    if (this.sink) throw new ValidationError(`write tap on VM '${this.vmId}' is already started`, 'sink', 'open another tap for a second consumer');
    this.sink = sink;
  }

  /** Calls `listener` once when the tap closes (at once, asynchronously, if it already has). */
  onClose(listener: TapCloseListener): void {
    if (this.isClosed) {
      const reason = this.reason;
      queueMicrotask(() => listener(reason));
      return;
    }
    this.listeners.push(listener);
  }

  close(): Promise<void> {
    this.shutdown(undefined);
    // In-flight writes keep their sink promises; waiting for them here could deadlock an owner that
    // closes the tap while it holds a barrier.
    return Promise.resolve();
  }

  /**
   * Data centre side: hands one write to the sink. Returns the sink's answer, or undefined when the
   * tap is not started or already closed (the write is then not this tap's business).
   */
  deliver(write: GuestWrite): Promise<void> | undefined {
    if (!this.sink || this.isClosed) return undefined;
    this.count++;
    try {
      return Promise.resolve(this.sink(write));
    } catch (error) {
      // A sink that throws instead of rejecting still fails only this write, not the data centre.
      return Promise.reject(error);
    }
  }

  /** Data centre side: closes the tap with a reason (host restart, VM deleted). Idempotent. */
  shutdown(reason: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.reason = reason;
    this.detach(this);
    for (const listener of this.listeners.splice(0)) {
      try {
        listener(reason);
      } catch (error) {
        // A listener's bug must not stop the host restart that is closing taps; surface it anyway.
        queueMicrotask(() => { throw error; });
      }
    }
  }
}

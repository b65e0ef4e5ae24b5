// A write tap is the splitter: every guest write of one VM, in order, handed to the protected appliance.
import type { GuestWrite, VmId } from '../model.js';

/**
 * Receives split writes. The guest's write completes only when the returned promise settles, so a
 * sink that delays its answer holds the guest (write-blocking), which is what the checkpoint
 * barrier relies on. A rejected promise fails the guest write.
 */
export type WriteSink = (write: GuestWrite) => Promise<void>;

export interface WriteTap {
  readonly vmId: VmId;
  /** Starts delivering writes to `sink`. Writes made before `start` are not delivered (they are the initial sync's job). */
  start(sink: WriteSink): void;
  /** Number of writes delivered to the sink so far (the tap's own position). */
  readonly delivered: number;
  /**
   * Called when the platform closes the tap by itself (host restart, hypervisor-manager restart, VM
   * moved), with the reason: the kernel must re-open it and run a sync for what it missed. Required
   * wherever taps can close on their own (a harness declaring `faultHostRestart` or
   * `faultHypervisorManagerRestart` is checked for it, P2.2/P2.3); only platforms whose taps never close
   * by themselves may omit it.
   */
  onClose?(listener: (reason: Error | undefined) => void): void;
  /** Stops delivering and detaches; in-flight writes complete. */
  close(): Promise<void>;
}

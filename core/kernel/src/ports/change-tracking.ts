// Change tracking: the capture mode for platforms without a write splitter (vSphere CBT, Hyper-V RCT,
// EBS changed blocks, QEMU dirty bitmaps with fleecing). Each cycle the kernel freezes a view (a platform
// snapshot) of a group's VMs, reads from that view only the regions changed since the previous cycle's
// token, ships them, and lists the cycle's checkpoint once all of it is durable at the recovery site.
import { OpenCdpError } from '../errors.js';
import type { VmId, VolumeId } from '../model.js';

/** Every view the kernel takes is named with this prefix, so leftovers of a killed process can be found. */
export const VIEW_NAME_PREFIX = 'opencdp-';

export interface ChangedRegion {
  volumeId: VolumeId;
  offset: number;
  length: number;
}

/** A view as the platform lists it: enough to release it. */
export interface ViewRef {
  /** The platform's own id (a snapshot id, a checkpoint id, a fleecing node…). */
  readonly id: string;
  /** The name the kernel gave it (starts with `VIEW_NAME_PREFIX`). */
  readonly name: string;
  readonly vmIds: readonly VmId[];
}

/**
 * A frozen, read-only point-in-time view of the volumes of one or several VMs. Guest writes after the
 * view was taken never show through it. Every method may be called many times until the view is released.
 */
export interface ChangeView extends ViewRef {
  /** When the platform froze the view (ms since the epoch, on the adapter's clock): actual RPO counts from it. */
  readonly takenAt: number;
  /**
   * Regions of `volumeId` that may differ between the state `token` names and this view. No misses, ever;
   * false positives are allowed. Regions are in the volume's bounds; the kernel merges overlaps.
   * Throws `ChangeTokenLostError` when the platform no longer knows `token` (reset, expired, unknown):
   * the kernel then runs a delta sync, never an empty cycle.
   */
  changedSince(volumeId: VolumeId, token: string): Promise<ChangedRegion[]>;
  /** Regions that may hold data (the first cycle reads only these); unallocated space reads as zeros. */
  allocated(volumeId: VolumeId): Promise<ChangedRegion[]>;
  /** Reads the view's bytes (never the live disk). */
  read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer>;
  /** The token naming this view's state of `volumeId`, for a later view's `changedSince`. */
  token(volumeId: VolumeId): string;
}

/** A platform's change tracking, offered as `HypervisorAdapter.changeTracking`. */
export interface ChangeTracking {
  /** The shortest cycle the platform supports; groups with a shorter interval are refused, naming it. */
  readonly minIntervalMs: number;
  /** The granularity of the platform's change records, in bytes (reported with amplification figures). */
  readonly granularityBytes: number;
  /** True when one view of several VMs is one consistent cut (then J2 holds across the group's VMs). */
  readonly multiVmViews: boolean;
  /** Starts tracking the VM's volumes; idempotent. May take effect only from the next view on. */
  enable(vmId: VmId): Promise<void>;
  /** Stops tracking, removes what `enable` added and forgets every token of the VM; idempotent. */
  disable(vmId: VmId): Promise<void>;
  /**
   * Freezes one view of `vmIds` named `name`. More than one VM only when `multiVmViews`. On failure
   * nothing is left on the platform.
   */
  openView(vmIds: readonly VmId[], name: string): Promise<ChangeView>;
  /**
   * Releases a view; releasing an unknown or already released view is a no-op. Tokens taken from the
   * view stay valid: the platform keeps what they need (until `retireToken`).
   */
  releaseView(viewId: string): Promise<void>;
  /** The views on the platform whose name starts with `prefix`: the kernel's own and leftovers of a killed process. */
  listViews(prefix: string): Promise<ViewRef[]>;
  /**
   * The kernel will never pass `token` again (a newer one was acknowledged by the recovery site): the
   * platform may free what kept it valid (an EBS base snapshot, an RCT reference point, a QEMU bitmap).
   * Idempotent; unknown tokens are ignored.
   */
  retireToken(vmId: VmId, volumeId: VolumeId, token: string): Promise<void>;
}

export type ChangeTokenLossReason = 'unknown' | 'reset' | 'expired';

/** The platform cannot list changes since a token: tracking was reset, the token expired or was never known. */
export class ChangeTokenLostError extends OpenCdpError {
  constructor(readonly volumeId: VolumeId, readonly reason: ChangeTokenLossReason, detail: string) {
    super('CHANGE_TOKEN_LOST', `change tracking of volume '${volumeId}' lost its token (${reason}): ${detail}`,
      'the kernel runs a delta sync of the volume; nothing to do unless it repeats every cycle');
  }
}

/** A view could not be taken, read or released. */
export class ChangeViewError extends OpenCdpError {
  constructor(readonly step: 'open' | 'read' | 'release' | 'list', message: string, hint?: string) {
    super('CHANGE_VIEW', message, hint);
  }
}

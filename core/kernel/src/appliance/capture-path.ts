// How a protected group's changes enter the streaming path. A platform with a write splitter feeds every
// guest write as it happens and syncs what it could not send (`SplitterCapture`); a platform with change
// tracking ships, every cycle, the regions changed between two frozen views (`ChangeTrackingCapture`).
// The group's sender, its link, its stream and its lifecycle are the same for both.
import type { CaptureMode } from '../capture/capture-mode.js';
import type { Checkpoint, CheckpointKind, VmId, VmInfo } from '../model.js';
import type { GroupOpenedMeta } from './protocol.js';
import type { WriteItem } from './send-stream.js';

export interface CaptureStats {
  /** Memory the capture path keeps to remember what to resend (the splitter's bitmap). */
  bitmapBytes: number;
  /** Bytes that memory says must be resent. */
  bitmapDirtyBytes: number;
  /** Change tracking: cycles whose every region the recovery site acknowledged. */
  cycles?: number;
  /** Change tracking: bytes the platform listed as changed (or allocated, on a first cycle). */
  listedBytes?: number;
  /** Change tracking: bytes read from views. */
  viewBytesRead?: number;
}

/** Something the capture path wants an operator to know (an event with its cause). */
export interface CaptureNotice {
  kind: 'change-token-lost' | 'view-open-failed' | 'view-read-failed' | 'view-release-failed' | 'view-leftover-released' | 'region-list-refused' | 'token-file-discarded';
  message: string;
  vmId?: VmId;
  volumeId?: string;
}

export interface CapturePath {
  readonly mode: CaptureMode;
  /** Attaches to the group's VMs (taps, or change tracking); the link comes up afterwards. */
  start(): Promise<void>;
  /** The receiver opened the group on a connection and said where each VM's journal stands. */
  opened(meta: GroupOpenedMeta): void;
  /** Runs whatever is due now (a sync, a cycle) when the group can; cheap to call often. */
  kick(): void;
  /** A write left the stream unacknowledged: it must reach the receiver again later. */
  dropped(write: WriteItem): void;
  /** Capture-side conditions for a checkpoint hold (every VM attached, nothing being cut). */
  readonly ready: boolean;
  /** Nothing is due or under way on the capture side (no cycle running or asked for; always true for the splitter, whose backlog is its bitmap). */
  readonly idle: boolean;
  /** The checkpoint barrier: hold write completions (or the next view) until `release`. */
  hold(): void;
  release(): void;
  /** Queues a checkpoint after every change captured so far. */
  mark(id: string, kind: CheckpointKind, timestamp: number, tag?: string): Checkpoint;
  /** True once what the cut of `checkpointId` must hold is frozen (at once for the splitter), false if it never will be. */
  whenFrozen(checkpointId: string): Promise<boolean>;
  /** Delta sync by comparison with the receiver (trigger ForceSync). */
  forceSync(): void;
  /** A VM joins: called once it is listed in the group, before the receiver re-opens the group. */
  vmJoining(vm: VmInfo): void;
  /** The joining VM is known to the receiver: start capturing it. */
  attach(vmId: VmId): Promise<void>;
  /** A volume was added to a VM of the group and registered. */
  volumeAdded(vmId: VmId, volumeId: string): void;
  /** A VM leaves: stop capturing it (its volumes are unregistered already). */
  detach(vmId: VmId, volumeIds: readonly string[]): Promise<void>;
  /** The leaving VM's unacknowledged writes were handed back: forget what belonged to it. */
  vmLeft(): void;
  stats(): CaptureStats;
  /** Resolves once the changes captured so far (and the checkpoints asked for) are queued: at once for the splitter. */
  settled(): Promise<void>;
  /** Detaches from every VM. */
  stop(): Promise<void>;
  /** Stops at once, as a kill -9 would: nothing is released or detached (crash tests). */
  kill(): void;
}

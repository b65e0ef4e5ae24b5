// A read-only view of a VM's volumes as they were at one checkpoint: replica plus journaled writes up to
// the checkpoint's sequence number. It pins the checkpoint, so trimming never pulls it away mid-use.
import { ClosedError, UnknownVolumeError, UnsupportedError } from '../errors.js';
import type { Checkpoint, VolumeId } from '../model.js';
import type { VolumeSource } from '../ports/hypervisor-adapter.js';

export interface ImageVolume {
  id: VolumeId;
  sizeBytes: number;
  sectorSize: number;
}

/** What the journal lends an image: reads at the image's sequence number, and a way to unpin. */
export interface ImageBacking {
  read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer>;
  /** Extents of a volume that come from journaled writes rather than the replica (see `journaledExtents`). */
  journaledExtents?(volumeId: VolumeId): { offset: number; length: number }[];
  release(): void;
}

export class PointInTimeImage implements VolumeSource {
  private closed = false;

  constructor(
    readonly checkpoint: Checkpoint,
    readonly volumes: readonly ImageVolume[],
    private readonly backing: ImageBacking,
  ) {}

  sizeBytes(volumeId: VolumeId): number {
    const v = this.volumes.find((x) => x.id === volumeId);
    if (!v) throw new UnknownVolumeError(volumeId, `the image at checkpoint '${this.checkpoint.id}'`);
    return v.sizeBytes;
  }

  read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ClosedError(`the image at checkpoint '${this.checkpoint.id}'`));
    return this.backing.read(volumeId, offset, length);
  }

  /**
   * Where this image may differ from the volume's replica: the extents of journaled writes (not yet
   * promoted) up to the checkpoint, in sequence order, overlapping. Everything else reads from the
   * replica, so a platform that keeps its own copy of the replica (an EBS standby snapshot) only needs
   * these extents plus what the replica changed since its copy.
   */
  journaledExtents(volumeId: VolumeId): { offset: number; length: number }[] {
    if (this.closed) throw new ClosedError(`the image at checkpoint '${this.checkpoint.id}'`);
    this.sizeBytes(volumeId);
    if (!this.backing.journaledExtents) throw new UnsupportedError(`listing the journaled extents of the image at checkpoint '${this.checkpoint.id}'`);
    return this.backing.journaledExtents(volumeId);
  }

  /** Unpins the checkpoint; trimming may then pass it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backing.release();
  }
}

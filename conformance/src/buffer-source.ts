// A point-in-time image stand-in served from plain buffers, for cases that create recovery VMs without a
// journal: it counts reads (a detached disk must not read it) and hands out copies, as a journal image would.
import { createHash } from 'node:crypto';
import { UnknownVolumeError, VolumeRangeError } from '@opencdp/core';
import type { VolumeId, VolumeSource } from '@opencdp/core';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export class BufferSource implements VolumeSource {
  reads = 0;

  constructor(readonly volumes: Map<VolumeId, Buffer>) {}

  sizeBytes(volumeId: VolumeId): number {
    return this.volume(volumeId).length;
  }

  async read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const data = this.volume(volumeId);
    if (offset < 0 || length < 0 || offset + length > data.length) throw new VolumeRangeError(volumeId, offset, length, data.length);
    this.reads++;
    return Buffer.from(data.subarray(offset, offset + length));
  }

  private volume(volumeId: VolumeId): Buffer {
    const data = this.volumes.get(volumeId);
    if (!data) throw new UnknownVolumeError(volumeId, 'the buffer source');
    return data;
  }
}

// Helpers shared by this package's specs: hashing volumes against an oracle, watching a promise's
// state without awaiting it, and a point-in-time image stand-in served from plain buffers.
import { createHash } from 'node:crypto';
import type { VmId, VolumeId, VolumeSource } from '@opencdp/core';
import type { FakeDataCenter } from './fake-data-center.js';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function volumeHash(dc: FakeDataCenter, vmId: VmId, volumeId: VolumeId): Promise<string> {
  const volume = dc.getVm(vmId).volumes.find((v) => v.id === volumeId)!;
  return sha256(await dc.guestRead(vmId, volumeId, 0, volume.sizeBytes));
}

export interface Watched<T> {
  readonly state: 'pending' | 'resolved' | 'rejected';
  readonly value?: T;
  readonly error?: unknown;
}

/** Records how a promise settles, so a test can assert it is still pending. */
export function watch<T>(promise: Promise<T>): Watched<T> {
  const w: { state: Watched<T>['state']; value?: T; error?: unknown } = { state: 'pending' };
  promise.then((value) => { w.state = 'resolved'; w.value = value; }, (error: unknown) => { w.state = 'rejected'; w.error = error; });
  return w;
}

/** A read-only image over buffers; counts reads and hands out copies, like a journal image would. */
export class BufferSource implements VolumeSource {
  reads = 0;
  constructor(readonly volumes: Map<VolumeId, Buffer>) {}

  sizeBytes(volumeId: VolumeId): number {
    return this.volumes.get(volumeId)!.length;
  }

  async read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    this.reads++;
    return Buffer.from(this.volumes.get(volumeId)!.subarray(offset, offset + length));
  }
}

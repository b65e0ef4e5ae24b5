// The one place that decides whether an I/O fits a volume; the journal, images and adapters all ask it.
import { AlignmentError, VolumeRangeError } from './errors.js';
import type { VolumeInfo } from './model.js';

export type VolumeShape = Pick<VolumeInfo, 'id' | 'sizeBytes' | 'sectorSize'>;

/** Throws unless [offset, offset+length) lies inside the volume. */
export function checkRange(volume: VolumeShape, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > volume.sizeBytes) {
    throw new VolumeRangeError(volume.id, offset, length, volume.sizeBytes);
  }
}

/** Throws unless the write lies inside the volume and is aligned to its sectors. */
export function checkWrite(volume: VolumeShape, offset: number, length: number): void {
  checkRange(volume, offset, length);
  if (length === 0 || offset % volume.sectorSize !== 0 || length % volume.sectorSize !== 0) {
    throw new AlignmentError(volume.id, offset, length, volume.sectorSize);
  }
}

// Region lists from a platform's change tracking, checked before anything is read: every region in its
// volume's bounds, whole bytes, and then sorted with overlapping and adjacent regions merged, so that no
// byte is read or shipped twice in a cycle. A list that breaks the contract is refused as a whole.
import { OpenCdpError } from '../errors.js';
import type { ChangedRegion } from '../ports/change-tracking.js';
import type { VolumeId } from '../model.js';

/** The platform listed a region the kernel cannot use (outside the volume, not whole bytes, another volume's). */
export class RegionListError extends OpenCdpError {
  constructor(readonly volumeId: VolumeId, message: string) {
    super('REGION_LIST', message, 'the platform\'s change tracking broke its contract; the volume is compared by a delta sync instead');
  }
}

/** `regions` of `volume`, checked, sorted and merged; throws RegionListError (and returns nothing) on a bad one. */
export function checkRegions(volume: { id: VolumeId; sizeBytes: number }, regions: readonly ChangedRegion[]): ChangedRegion[] {
  if (!Array.isArray(regions)) throw new RegionListError(volume.id, `the region list of volume '${volume.id}' is not a list`);
  const sorted = [...regions];
  for (const r of sorted) {
    const where = `region ${JSON.stringify(r)} of volume '${volume.id}'`;
    if (typeof r !== 'object' || r === null || r.volumeId !== volume.id) throw new RegionListError(volume.id, `${where} names another volume`);
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length <= 0) throw new RegionListError(volume.id, `${where} is not a range of whole bytes`);
    if (r.offset + r.length > volume.sizeBytes) throw new RegionListError(volume.id, `${where} reaches past the end of the volume (${volume.sizeBytes} bytes)`);
  }
  sorted.sort((a, b) => a.offset - b.offset);
  const merged: ChangedRegion[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else merged.push({ volumeId: volume.id, offset: r.offset, length: r.length });
  }
  return merged;
}

/** Total bytes of a checked list. */
export function regionBytes(regions: readonly ChangedRegion[]): number {
  return regions.reduce((n, r) => n + r.length, 0);
}

/** Splits regions into pieces of at most `maxBytes` (the largest write a sync sends). */
export function* pieces(regions: readonly ChangedRegion[], maxBytes: number): Generator<ChangedRegion> {
  for (const r of regions) {
    for (let at = r.offset; at < r.offset + r.length; at += maxBytes) yield { volumeId: r.volumeId, offset: at, length: Math.min(maxBytes, r.offset + r.length - at) };
  }
}

// A volume of a VolumeSource (a point-in-time image, typically) as a read-only NBD export. When the source
// knows its allocation, block status reports everything outside it as a zero hole, so qemu-img and other
// readers skip it instead of reading zeros through the socket.
import { VolumeRangeError } from '../errors.js';
import type { ChangedRegion } from '../ports/change-tracking.js';
import type { VolumeSource } from '../ports/hypervisor-adapter.js';
import type { VolumeId } from '../model.js';
import { StateFlag, type NbdExtent } from './nbd-protocol.js';
import type { NbdExport } from './nbd-server.js';

const HOLE = StateFlag.HOLE | StateFlag.ZERO;

export interface VolumeExportOptions {
  /** Called on every request (reads and block status), e.g. to track a session's idle time. */
  onActivity?: () => void;
  /** The source's allocation when the caller already has it (else asked of the source once, if it can tell). */
  allocation?: readonly ChangedRegion[];
}

export function volumeExport(source: VolumeSource, volumeId: VolumeId, options: VolumeExportOptions = {}): NbdExport {
  const sizeBytes = source.sizeBytes(volumeId);
  // Asked once: an image's allocation at its checkpoint only ever moves between journal and replica.
  let regions: Promise<readonly ChangedRegion[]> | undefined = options.allocation && Promise.resolve(options.allocation);
  const allocation = (): Promise<readonly ChangedRegion[]> => (regions ??= source.allocated!(volumeId));
  return {
    sizeBytes,
    readOnly: true,
    read: (offset, length) => {
      options.onActivity?.();
      if (offset + length > sizeBytes) return Promise.reject(new VolumeRangeError(volumeId, offset, length, sizeBytes));
      return source.read(volumeId, offset, length);
    },
    write: () => Promise.reject(new Error('point-in-time images are read-only')),
    ...(source.allocated || options.allocation ? {
      blockStatus: async (offset: number, length: number, maxExtents: number): Promise<NbdExtent[]> => {
        options.onActivity?.();
        return extentsOf(await allocation(), offset, length, maxExtents);
      },
    } : {}),
  };
}

/**
 * `base:allocation` extents of `[offset, offset + length)` from sorted allocated regions: at most
 * `maxExtents` of them (a prefix of the range when it holds more), found by binary search.
 */
export function extentsOf(regions: readonly ChangedRegion[], offset: number, length: number, maxExtents = Number.POSITIVE_INFINITY): NbdExtent[] {
  const end = offset + length;
  const out: NbdExtent[] = [];
  // First region that ends after `offset` (binary search: a session asks many times over a large list).
  let lo = 0;
  let hi = regions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (regions[mid].offset + regions[mid].length <= offset) lo = mid + 1;
    else hi = mid;
  }
  let at = offset;
  const add = (stop: number, flags: number): void => {
    out.push({ offset: at, length: stop - at, flags });
    at = stop;
  };
  for (let i = lo; i < regions.length && at < end && out.length < maxExtents; i++) {
    const r = regions[i];
    if (r.offset > at) {
      add(Math.min(end, r.offset), HOLE);
      if (at >= end || out.length >= maxExtents) return out;
    }
    const stop = Math.min(end, r.offset + r.length);
    if (stop > at) add(stop, 0);
  }
  // Past the last region (not stopped by the cap): the rest is a hole.
  if (at < end && out.length < maxExtents) add(end, HOLE);
  return out;
}

// What one change-tracking cycle reads from its view, volume by volume, and hands to a sink (the
// appliance's stream, or a journal in process): the changed regions since the volume's token; the
// allocated regions on a volume's first cycle (never the empty rest of it); or, when the token is lost,
// a delta sync — the view compared by hash with the recovery side, only differing blocks put.
import type { ChangedRegion, ChangeView } from '../ports/change-tracking.js';
import type { VmId, VolumeId } from '../model.js';
import { deltaSync, type RemoteHasher } from '../sync/delta-sync.js';
import { nonZeroRuns } from '../sync/non-zero-runs.js';
import { checkRegions, pieces, regionBytes } from './region-list.js';

/** The largest write a cycle puts (as every sync: any piece fits a small journal). */
export const CYCLE_PIECE_BYTES = 1024 * 1024;

export interface CycleVolume {
  id: VolumeId;
  sizeBytes: number;
  sectorSize: number;
}

export interface CycleSink {
  /** Takes writes of one volume, in offset order; may wait (back-pressure). */
  put(vmId: VmId, volumeId: VolumeId, writes: { offset: number; data: Buffer }[]): Promise<void>;
  /** The recovery side's hashes of the volume, for a delta sync. */
  remote(vmId: VmId, volumeId: VolumeId): RemoteHasher;
  /** Throws when the cycle must stop (link down, paused, stopped). */
  check(): void;
}

/** What a volume cost in one cycle. */
export interface ShipStats {
  /** Bytes the platform listed (changed or allocated); a delta sync lists the whole volume. */
  listedBytes: number;
  /** Bytes read from the view. */
  readBytes: number;
  /** Bytes put into the sink. */
  sentBytes: number;
}

/** Regions of `volume` changed since `token`, checked and merged (ChangeTokenLostError and RegionListError pass through). */
export async function changedRegions(view: ChangeView, volume: CycleVolume, token: string): Promise<ChangedRegion[]> {
  return checkRegions(volume, await view.changedSince(volume.id, token));
}

/** Regions of `volume` that may hold data, checked and merged. */
export async function allocatedRegions(view: ChangeView, volume: CycleVolume): Promise<ChangedRegion[]> {
  return checkRegions(volume, await view.allocated(volume.id));
}

/**
 * Reads `regions` from the view in pieces of at most 1 MiB and puts them. `skipZeros` drops all-zero runs
 * (a first copy: the replica holds zeros there already); changed regions are put whole, zeros included.
 */
export async function shipRegions(view: ChangeView, vmId: VmId, volume: CycleVolume, regions: readonly ChangedRegion[], sink: CycleSink, options: { skipZeros: boolean }): Promise<ShipStats> {
  const stats: ShipStats = { listedBytes: regionBytes(regions), readBytes: 0, sentBytes: 0 };
  for (const p of pieces(regions, CYCLE_PIECE_BYTES)) {
    sink.check();
    const data = await view.read(volume.id, p.offset, p.length);
    stats.readBytes += p.length;
    const writes = options.skipZeros
      ? nonZeroRuns(data, Math.max(4096, volume.sectorSize)).map(([start, end]) => ({ offset: p.offset + start, data: data.subarray(start, end) }))
      : [{ offset: p.offset, data }];
    if (writes.length === 0) continue;
    await sink.put(vmId, volume.id, writes);
    stats.sentBytes += writes.reduce((n, w) => n + w.data.length, 0);
  }
  return stats;
}

/** Compares the view's volume with the recovery side by hash and puts only the blocks that differ. */
export async function shipDelta(view: ChangeView, vmId: VmId, volume: CycleVolume, sink: CycleSink): Promise<ShipStats> {
  const stats: ShipStats = { listedBytes: volume.sizeBytes, readBytes: 0, sentBytes: 0 };
  sink.check();
  await deltaSync({
    sizeBytes: volume.sizeBytes,
    readLocal: async (offset, length) => {
      sink.check();
      stats.readBytes += length;
      return view.read(volume.id, offset, length);
    },
    remote: sink.remote(vmId, volume.id),
    sendBlock: async (offset, data) => {
      // `data` is reused once this returns: the sink keeps copies, in pieces of at most 1 MiB.
      const writes: { offset: number; data: Buffer }[] = [];
      for (let at = 0; at < data.length; at += CYCLE_PIECE_BYTES) writes.push({ offset: offset + at, data: Buffer.from(data.subarray(at, Math.min(at + CYCLE_PIECE_BYTES, data.length))) });
      await sink.put(vmId, volume.id, writes);
      stats.sentBytes += data.length;
    },
  });
  return stats;
}

// Promotion (R7): recovered VMs start at once on disks that read through a point-in-time image
// (replica + journal); afterwards the image's data is copied into the disks in the background, in
// chunks and optionally paced, so the VMs keep running and the journal's checkpoint can be let go.
import type { Clock } from '../clock.js';
import type { VmId, VolumeId } from '../model.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';

export interface PromotionDisk {
  vmId: VmId;
  volumeId: VolumeId;
  sizeBytes: number;
}

export interface PromotionOptions {
  clock: Clock;
  hypervisor: HypervisorAdapter;
  disks: readonly PromotionDisk[];
  /** Bytes per promoteDisk call (default 1 MiB). */
  chunkBytes?: number;
  /** Paces promotion on the clock (default: unpaced), so it does not starve the running VMs' I/O. */
  bytesPerSecond?: number;
  /** 0–100 after every chunk. */
  onProgress?: (percent: number) => void;
}

/** Promotes every disk and detaches it from its source; false when the platform cannot promote (disks stay on the image). */
export async function promoteDisks(o: PromotionOptions): Promise<boolean> {
  const h = o.hypervisor.promotion;
  if (!h) return false;
  const chunk = o.chunkBytes ?? 1024 * 1024;
  const total = o.disks.reduce((n, d) => n + d.sizeBytes, 0);
  let done = 0;
  o.onProgress?.(0);
  for (const d of o.disks) {
    for (let at = 0; at < d.sizeBytes; at += chunk) {
      const length = Math.min(chunk, d.sizeBytes - at);
      await h.promoteDisk(d.vmId, d.volumeId, at, length);
      done += length;
      if (o.bytesPerSecond) await o.clock.sleep(Math.ceil((length / o.bytesPerSecond) * 1000));
      o.onProgress?.(total === 0 ? 100 : Math.floor((done / total) * 100));
    }
    await h.detachDiskSource(d.vmId, d.volumeId);
  }
  o.onProgress?.(100);
  return true;
}

// Reverse protection's first step at the original site: the original VMs' disks become the replica
// volumes of the reverse group's journals (preseeded targets), copied locally, so the reverse sender
// starts with a delta sync and only the blocks that differ cross the site link.
import { AllocationMap, allocationFileName } from '../journal/replica-allocation.js';
import type { GroupId, VmId, VolumeId } from '../model.js';
import type { StorageAdapter } from '../ports/storage-adapter.js';

/** Same layout as Journal and RecoveryAppliance: `<root>/<groupId>/<vmId>/replica/<volumeId>.img`. */
export function replicaVolumeName(journalRoot: string, groupId: GroupId, vmId: VmId, volumeId: VolumeId): string {
  return `${journalRoot}/${groupId}/${vmId}/replica/${encodeURIComponent(volumeId)}.img`;
}

export interface SeedReplicaOptions {
  storage: StorageAdapter;
  /** The journal root of the recovery appliance that will receive the group (default `journals`). */
  journalRoot?: string;
  groupId: GroupId;
  /** The VM id the journal is keyed by (the VM being protected, i.e. the recovered VM). */
  vmId: VmId;
  volumeId: VolumeId;
  sizeBytes: number;
  /** Reads the preseed source (the original disk). */
  read(offset: number, length: number): Promise<Buffer>;
  chunkBytes?: number;
}

/**
 * Writes a preseed source into the replica volume a journal will open, skipping all-zero chunks (the
 * replica is sparse), and the replica's allocation map beside it (what point-in-time images report as
 * their allocation). Must run before the receiving appliance opens the group's journal.
 */
export async function seedReplicaVolume(o: SeedReplicaOptions): Promise<{ bytesWritten: number }> {
  const name = replicaVolumeName(o.journalRoot ?? 'journals', o.groupId, o.vmId, o.volumeId);
  const file = await o.storage.open(name, { create: true, size: o.sizeBytes });
  const chunk = o.chunkBytes ?? 1024 * 1024;
  let bytesWritten = 0;
  const allocation = new AllocationMap(o.sizeBytes);
  try {
    for (let at = 0; at < o.sizeBytes; at += chunk) {
      const length = Math.min(chunk, o.sizeBytes - at);
      const data = await o.read(at, length);
      if (data.every((b) => b === 0)) continue;
      await file.write(at, data);
      allocation.mark(at, length);
      bytesWritten += length;
    }
    await file.flush();
    // After the data: a crash before this leaves no map, and the journal then takes the replica as full.
    await o.storage.replace(allocationFileName(name), allocation.encode());
  } finally {
    await file.close();
  }
  return { bytesWritten };
}

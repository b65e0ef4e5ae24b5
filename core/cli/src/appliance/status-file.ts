// What a protected appliance process reports for verification: the checkpoints it cut with no write in
// flight, each with the SHA-256 of every protected volume at that instant, plus the sender's state and
// stats. A test (or an operator) compares a recovered image against these hashes without sharing memory.
import { createHash } from 'node:crypto';
import type { ReplicationPhase, SenderState, SenderStats, VmInfo } from '@opencdp/core';
import type { FakeDataCenter } from '@opencdp/adapter-fake';
import { writeFileAtomic } from './identity-files.js';

export interface VerifiedCheckpoint {
  id: string;
  seq: number;
  timestamp: number;
  tag?: string;
  /** SHA-256 (hex) of each protected volume's whole content at the checkpoint, by volume id. */
  volumeSha256: Record<string, string>;
}

export interface ProtectedStatus {
  pid: number;
  siteId: string;
  groupId: string;
  startedAt: number;
  updatedAt: number;
  /** True in the last snapshot of a cleanly stopped process (the sender then reads disconnected). */
  stopped: boolean;
  /** Bytes loaded back from `volumeDir` at start (0 without one, or on the first start). */
  restoredBytes: number;
  vms: { name: string; vmId: string; volumes: { volumeId: string; sizeBytes: number; sectorSize: number }[] }[];
  sender: SenderState & { stats: SenderStats };
  /** Every phase this process's sender went through, in order, repeats folded. */
  phasesSeen: ReplicationPhase[];
  /** Verified checkpoints of this process, oldest first (the most recent 50). */
  verified: VerifiedCheckpoint[];
  lastVerified?: VerifiedCheckpoint;
}

const HASH_CHUNK = 1024 * 1024;

/** Reads a volume's bytes (a fake guest's view, or a platform's `readVolume`). */
export type VolumeRead = (vmId: string, volumeId: string, offset: number, length: number) => Promise<Buffer>;

/** SHA-256 of every volume of `vms` as the guest sees it now (read from the fake data centre or through `read`), by volume id. */
export async function hashVolumes(from: FakeDataCenter | VolumeRead, vms: VmInfo[]): Promise<Record<string, string>> {
  const read: VolumeRead = typeof from === 'function' ? from : (vmId, volumeId, offset, length) => from.guestRead(vmId, volumeId, offset, length);
  const out: Record<string, string> = {};
  for (const vm of vms) {
    for (const v of vm.volumes) {
      const hash = createHash('sha256');
      for (let off = 0; off < v.sizeBytes; off += HASH_CHUNK) hash.update(await read(vm.id, v.id, off, Math.min(HASH_CHUNK, v.sizeBytes - off)));
      out[v.id] = hash.digest('hex');
    }
  }
  return out;
}

/** Writes status snapshots to one file, atomically and one at a time (the last call wins). */
export class StatusWriter {
  private chain: Promise<void> = Promise.resolve();
  private pending?: ProtectedStatus;

  constructor(private readonly file: string, private readonly onError: (e: Error) => void) {}

  write(status: ProtectedStatus): Promise<void> {
    // Coalesce: while a write is under way only the newest snapshot waits, older ones are dropped.
    const queued = this.pending !== undefined;
    this.pending = status;
    if (!queued) {
      this.chain = this.chain.then(async () => {
        const next = this.pending!;
        this.pending = undefined;
        await writeFileAtomic(this.file, `${JSON.stringify(next, null, 2)}\n`).catch((e: Error) => this.onError(e));
      });
    }
    return this.chain;
  }

  /** Resolves once every snapshot handed in so far is written. */
  flushed(): Promise<void> {
    return this.chain;
  }
}

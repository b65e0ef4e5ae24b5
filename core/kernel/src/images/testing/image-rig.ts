// A recovery site's journals for the image specs: one group, one VM with a 512-byte-sector and a
// 4096-byte-sector volume on local sparse files, seeded random writes kept in an oracle, checkpoints whose
// oracle images are written as raw files (what qemu-img compare checks exports against), and a way to
// hold an image's reads at a gate (to trim or close the journal while an export runs).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirtualClock } from '../../clock.js';
import { Journal } from '../../journal/journal.js';
import type { Checkpoint } from '../../model.js';
import { seededRandom, type Random } from '../../random.js';
import { StaticGroupDirectory, type RecoveryJournalSource } from '../../recovery/recovery-platform.js';
import { LocalFileStorage } from '../../storage/local-file-storage.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export const RIG_VOLUMES = [
  { id: 'disk', sizeBytes: 64 * MiB, sectorSize: 512 },
  { id: 'disk4k', sizeBytes: 8 * MiB, sectorSize: 4096 },
];
export const HISTORY_MS = 60_000;

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface ImageRig {
  dir: string;
  clock: VirtualClock;
  storage: LocalFileStorage;
  journal: Journal;
  groups: StaticGroupDirectory;
  journals: RecoveryJournalSource;
  oracle: Map<string, Buffer>;
  /** Oracle images by checkpoint id and volume id. */
  snapshots: Map<string, Map<string, Buffer>>;
  /** Random writes of `count` extents of 4–64 KiB within the first `spanBytes` of a volume (and its last MiB). */
  writeRandom(volumeId: string, count: number, spanBytes?: number): Promise<void>;
  write(volumeId: string, offset: number, data: Buffer): Promise<void>;
  /** Cuts a checkpoint after every write so far (named `cp-<n>` unless `id` is given). */
  checkpoint(id?: string): Promise<Checkpoint>;
  /** The oracle image of a volume at a checkpoint, as a raw file (written once). */
  oracleFile(checkpointId: string, volumeId: string): Promise<string>;
  close(): Promise<void>;
}

/** `names`: the group and VM ids the journal is kept under (default `g` and `vm-1`). */
export async function imageRig(seed = 1, names: { groupId?: string; vmId?: string } = {}): Promise<ImageRig> {
  const groupId = names.groupId ?? 'g';
  const vmId = names.vmId ?? 'vm-1';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocimgs-'));
  const clock = new VirtualClock();
  const storage = new LocalFileStorage(path.join(dir, 'store'));
  const journal = await Journal.open({
    storage, clock, path: `journals/${groupId}/${vmId}`, vmId, volumes: RIG_VOLUMES, historyMs: HISTORY_MS,
    hardLimitBytes: 512 * MiB, warningBytes: 400 * MiB, autoTrim: false,
  });
  const groups = new StaticGroupDirectory([{ groupId, name: 'app', vms: [{ id: vmId, name: 'web' }], plan: {} }]);
  const oracle = new Map(RIG_VOLUMES.map((v) => [v.id, Buffer.alloc(v.sizeBytes)]));
  const snapshots = new Map<string, Map<string, Buffer>>();
  const files = new Map<string, string>();
  const rnd: Random = seededRandom(seed);
  let seq = 0;
  let cps = 0;
  const rig: ImageRig = {
    dir, clock, storage, journal, groups, oracle, snapshots,
    journals: { journal: (g, v) => (g === groupId && v === vmId ? rig.journal : undefined) },
    async write(volumeId, offset, data) {
      await rig.journal.append({ volumeId, offset, data, seq: ++seq });
      data.copy(oracle.get(volumeId)!, offset);
    },
    async writeRandom(volumeId, count, spanBytes) {
      const v = RIG_VOLUMES.find((x) => x.id === volumeId)!;
      const span = Math.min(spanBytes ?? 4 * MiB, v.sizeBytes);
      for (let i = 0; i < count; i++) {
        const length = rnd.int(1, 16) * 4 * KiB;
        // One write in eight lands in the volume's last MiB, so the allocation has two far-apart parts.
        const base = i % 8 === 7 ? v.sizeBytes - MiB : 0;
        const room = (i % 8 === 7 ? MiB : span) - length;
        const offset = base + rnd.int(0, room / v.sectorSize) * v.sectorSize;
        await rig.write(volumeId, offset, rnd.bytes(length));
      }
    },
    async checkpoint(id) {
      const cp: Checkpoint = { id: id ?? `cp-${++cps}`, groupId, seq, timestamp: clock.now(), kind: 'auto' };
      await rig.journal.addCheckpoint(cp);
      snapshots.set(cp.id, new Map([...oracle].map(([k, b]) => [k, Buffer.from(b)])));
      return cp;
    },
    async oracleFile(checkpointId, volumeId) {
      const key = `${checkpointId}/${volumeId}`;
      const known = files.get(key);
      if (known) return known;
      const file = path.join(dir, `oracle-${checkpointId}-${volumeId}.raw`);
      await fs.writeFile(file, snapshots.get(checkpointId)!.get(volumeId)!);
      files.set(key, file);
      return file;
    },
    async close() {
      await rig.journal.close().catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** A promise with its resolve function, for gates in tests. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

/**
 * The rig's journals, with every read of an opened image held until `gate` opens; `reading` resolves at
 * the first held read (an export is then under way, its checkpoint pinned).
 */
export function gatedJournals(rig: ImageRig, gate: Promise<void>): { journals: RecoveryJournalSource; reading: Promise<void> } {
  const first = deferred();
  const bind = <T extends object>(target: T, key: PropertyKey): unknown => {
    const value = Reflect.get(target, key, target) as unknown;
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  };
  const journals: RecoveryJournalSource = {
    journal: (groupId, vmId) => {
      const real = rig.journals.journal(groupId, vmId);
      if (!real) return undefined;
      return new Proxy(real, {
        get(target, key) {
          if (key !== 'openImage') return bind(target, key);
          return async (id: string) => {
            const image = await target.openImage(id);
            return new Proxy(image, {
              get(img, k) {
                if (k !== 'read') return bind(img, k);
                return async (volumeId: string, offset: number, length: number) => {
                  first.resolve();
                  await gate;
                  return img.read(volumeId, offset, length);
                };
              },
            });
          };
        },
      });
    },
  };
  return { journals, reading: first.promise };
}

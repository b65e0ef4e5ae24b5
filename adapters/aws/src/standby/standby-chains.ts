// Standby EBS snapshot chains: per replica volume at the recovery site, a chain of incremental EBS
// snapshots kept close to the replica in the background (each new snapshot is a child of the last and
// holds only the 512 KiB blocks the journal's promotion changed since), so that a failover writes only
// those blocks plus the image's journaled extents: the time to a running instance follows what changed,
// not the volume's size. Changes are learned from ReplicaTrackingStorage; after a restart they are
// unknown, so the next update starts a fresh chain with a full copy and prunes the old one.
import type { Clock, StoredFile, StorageAdapter, TimerHandle } from '@opencdp/core';
import { EBS_BLOCK_SIZE, gibFor, type EbsDirect } from '../ebs/ebs-direct.js';
import { writeSnapshot } from '../ebs/snapshot-io.js';
import { tagsOf, type Ec2Api } from '../ec2/ec2-api.js';
import type { ReplicaChangeListener, ReplicaKey } from './replica-tracking-storage.js';

/** Tag naming a standby snapshot's chain (`<group>/<vm>/<volume>`). */
export const STANDBY_TAG = 'opencdp:standby';

export interface StandbyChainsOptions {
  ebs: EbsDirect;
  ec2: Ec2Api;
  /** The store the replicas live in (untracked), to read a replica no one has open. */
  storage: StorageAdapter;
  clock: Clock;
  /** Background update period (default 5 min); 0 = only on `update()`. */
  intervalMs?: number;
  /** Snapshots kept per chain (default 2: the newest and its parent). */
  keep?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** What a failover builds on: the newest standby snapshot and the blocks that changed since it. */
export interface StandbyBase {
  snapshotId: string;
  sizeGiB: number;
  changed: ReadonlySet<number>;
}

/** Where a failover looks for a standby to build on (StandbyChains, or anything that knows one). */
export interface StandbyBaseSource {
  base(key: ReplicaKey): StandbyBase | undefined;
}

interface Chain {
  key: string;
  name: string;
  sizeBytes: number;
  snapshots: { id: string; sizeGiB: number }[];
  /** Blocks changed since the newest snapshot; 'all' when unknown (no snapshot yet, or after a restart). */
  dirty: Set<number> | 'all';
  /** Blocks the update in progress is writing (still changed relative to the newest snapshot). */
  inFlight?: Set<number> | 'all';
  updating?: Promise<void>;
  open?: StoredFile;
}

export function standbyKey(k: ReplicaKey): string {
  return `${k.groupId}/${k.vmId}/${k.volumeId}`;
}

export class StandbyChains implements ReplicaChangeListener, StandbyBaseSource {
  private readonly chains = new Map<string, Chain>();
  private timer?: TimerHandle;
  private stopped = false;

  constructor(private readonly o: StandbyChainsOptions) {}

  // ---- ReplicaChangeListener ----------------------------------------------------------------

  replicaChanged(name: string, key: ReplicaKey, offset: number, length: number): void {
    const chain = this.chainOf(name, key);
    if (chain.dirty === 'all' || length <= 0) return;
    // A trim may name a range far past the end: only blocks inside the volume matter.
    const end = chain.sizeBytes > 0 ? Math.min(offset + length, chain.sizeBytes) : offset + length;
    for (let i = Math.floor(offset / EBS_BLOCK_SIZE); i * EBS_BLOCK_SIZE < end; i++) chain.dirty.add(i);
  }

  replicaResized(name: string, key: ReplicaKey, size: number): void {
    this.chainOf(name, key).sizeBytes = size;
  }

  replicaOpened(name: string, key: ReplicaKey, file: StoredFile): void {
    this.chainOf(name, key).open = file;
  }

  replicaClosed(name: string, key: ReplicaKey, file: StoredFile): void {
    const chain = this.chainOf(name, key);
    if (chain.open === file) chain.open = undefined;
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** Finds the chains left by an earlier run (by tag); their change sets are unknown, so they refresh fully. */
  async load(): Promise<void> {
    const snaps = await this.o.ec2.describeSnapshots([{ Name: 'tag-key', Values: [STANDBY_TAG] }]);
    for (const s of snaps.sort((a, b) => (a.StartTime?.getTime() ?? 0) - (b.StartTime?.getTime() ?? 0))) {
      const key = tagsOf(s)[STANDBY_TAG];
      if (s.State !== 'completed') {
        await this.o.ec2.deleteSnapshot(s.SnapshotId!);
        continue;
      }
      const chain = this.chains.get(key) ?? { key, name: tagsOf(s)['opencdp:replica'] ?? '', sizeBytes: 0, snapshots: [], dirty: 'all' as const };
      chain.snapshots.push({ id: s.SnapshotId!, sizeGiB: s.VolumeSize ?? 1 });
      this.chains.set(key, chain);
    }
  }

  /** Updates every chain with changes every `intervalMs` on the clock. */
  start(): void {
    const every = this.o.intervalMs ?? 5 * 60_000;
    if (every <= 0 || this.stopped) return;
    const arm = (): void => {
      this.timer = this.o.clock.setTimer(every, () => {
        void this.update().finally(() => { if (!this.stopped) arm(); });
      });
    };
    arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await Promise.allSettled([...this.chains.values()].map((c) => c.updating));
  }

  /**
   * What kill -9 of the appliance does to the chains: the change sets were in its memory, so every chain's
   * changes are unknown from now on (the next update starts a fresh chain; failovers copy fully until then).
   */
  invalidate(): void {
    for (const c of this.chains.values()) {
      c.dirty = 'all';
      c.open = undefined;
    }
  }

  /** Resolves once no chain is updating. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.chains.values()].map((c) => c.updating));
  }

  /** Brings chains (all, or the one of `key`) up to date with their replicas now. */
  async update(key?: ReplicaKey): Promise<void> {
    const chains = key ? [this.chains.get(standbyKey(key))].filter((c): c is Chain => c !== undefined) : [...this.chains.values()];
    const results = await Promise.allSettled(chains.map((c) => this.updateChain(c)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && key) throw failed.reason;
  }

  /** The newest standby snapshot of a replica and what changed since, or undefined when a full copy is needed. */
  base(key: ReplicaKey): StandbyBase | undefined {
    const chain = this.chains.get(standbyKey(key));
    const newest = chain?.snapshots.at(-1);
    if (!chain || !newest || chain.dirty === 'all' || chain.inFlight === 'all') return undefined;
    return { snapshotId: newest.id, sizeGiB: newest.sizeGiB, changed: new Set([...chain.dirty, ...(chain.inFlight ?? [])]) };
  }

  /** Snapshot ids of every chain (for tests and reports). */
  snapshotsOf(key: ReplicaKey): string[] {
    return this.chains.get(standbyKey(key))?.snapshots.map((s) => s.id) ?? [];
  }

  /** Deletes every standby snapshot of a replica (the group was deleted). */
  async drop(key: ReplicaKey): Promise<void> {
    const chain = this.chains.get(standbyKey(key));
    if (!chain) return;
    await chain.updating?.catch(() => undefined);
    this.chains.delete(chain.key);
    for (const s of chain.snapshots) await this.o.ec2.deleteSnapshot(s.id);
  }

  // ---- internals ----------------------------------------------------------------------------

  private chainOf(name: string, key: ReplicaKey): Chain {
    const k = standbyKey(key);
    let chain = this.chains.get(k);
    if (!chain) {
      chain = { key: k, name, sizeBytes: 0, snapshots: [], dirty: 'all' };
      this.chains.set(k, chain);
    }
    chain.name = name;
    return chain;
  }

  private updateChain(chain: Chain): Promise<void> {
    if (chain.updating) return chain.updating;
    const run = async (): Promise<void> => {
      const dirty = chain.dirty;
      if (dirty !== 'all' && dirty.size === 0 && chain.snapshots.length > 0) return;
      if (chain.sizeBytes === 0 || chain.name === '') return;
      chain.inFlight = dirty;
      chain.dirty = new Set();
      const newest = dirty === 'all' ? undefined : chain.snapshots.at(-1);
      const sizeGiB = Math.max(gibFor(chain.sizeBytes), newest?.sizeGiB ?? 0);
      const blockCount = Math.ceil(chain.sizeBytes / EBS_BLOCK_SIZE);
      const blocks = dirty === 'all' ? range(blockCount) : [...dirty].filter((i) => i < blockCount).sort((a, b) => a - b);
      const handle = chain.open ?? await this.o.storage.open(chain.name);
      const own = handle !== chain.open;
      try {
        const result = await writeSnapshot({
          ebs: this.o.ebs, ec2: this.o.ec2, volumeSizeGiB: sizeGiB, ...(newest ? { parentSnapshotId: newest.id } : {}), blocks,
          read: (i) => handle.read(i * EBS_BLOCK_SIZE, Math.min(EBS_BLOCK_SIZE, chain.sizeBytes - i * EBS_BLOCK_SIZE)),
          tags: { Name: `opencdp-standby-${chain.key}`.slice(0, 255), [STANDBY_TAG]: chain.key, 'opencdp:replica': chain.name.slice(0, 255) },
          description: `OpenCDP standby of replica ${chain.key}`,
        });
        chain.snapshots.push({ id: result.snapshotId, sizeGiB });
        chain.inFlight = undefined;
        this.o.log?.('standby-updated', { key: chain.key, snapshotId: result.snapshotId, blocksWritten: result.blocksWritten, full: newest === undefined });
      } catch (error) {
        // The changes go back into the set: the next update retries them.
        const lost = chain.inFlight;
        const current = chain.dirty as Set<number> | 'all';
        if (lost === 'all') chain.dirty = 'all';
        else if (current !== 'all') for (const i of lost ?? []) current.add(i);
        chain.inFlight = undefined;
        this.o.log?.('standby-update-failed', { key: chain.key, message: (error as Error).message });
        throw error;
      } finally {
        if (own) await handle.close().catch(() => undefined);
      }
      const keep = Math.max(1, this.o.keep ?? 2);
      while (chain.snapshots.length > keep) {
        const old = chain.snapshots.shift()!;
        await this.o.ec2.deleteSnapshot(old.id).catch((e: Error) => this.o.log?.('standby-prune-failed', { snapshotId: old.id, message: e.message }));
      }
    };
    chain.updating = run().finally(() => { chain.updating = undefined; });
    return chain.updating;
  }
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

// Change tracking for a group replicated in process (LocalReplication without a splitter): every
// checkpoint is one cycle — freeze the group's view(s), append to each VM's journal the regions changed
// since its volumes' tokens (allocated regions on a first cycle; a delta sync against the journal when a
// token was lost or the process restarted), list the checkpoint once all of it is in, then advance the
// tokens. Cycles run one at a time; views are always released, and leftovers of a killed process are
// released when the group starts.
import type { Checkpoint, CheckpointKind, VmId, VmInfo } from '../model.js';
import { ChangeTokenLostError, type ChangeTracking } from '../ports/change-tracking.js';
import type { Journal } from '../journal/journal.js';
import { hashRanges } from '../sync/delta-sync.js';
import { CycleViews, sweepViews, viewPrefix } from '../capture/cycle-views.js';
import { allocatedRegions, changedRegions, shipDelta, shipRegions, type CycleSink } from '../capture/cycle-reader.js';
import { TokenBook } from '../capture/token-book.js';

export interface LocalCyclesOptions {
  groupId: string;
  tracking: ChangeTracking;
  vms: VmInfo[];
  journals: Map<VmId, Journal>;
  /** Stamps the next sequence number of the group. */
  nextSeq(): number;
  /** Queues a checkpoint marker in every journal after the writes stamped so far. */
  mark(kind: CheckpointKind, tag: string | undefined, timestamp: number): { checkpoint: Checkpoint; durable: Promise<void> };
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** A cycle whose views are frozen: `finish` ships it and lists its checkpoint; `abort` only releases the views. */
export interface FrozenCycle {
  readonly takenAt: number;
  finish(kind: CheckpointKind, tag: string | undefined, timestamp: number): Promise<Checkpoint>;
  abort(): Promise<void>;
}

export class LocalChangeCycles {
  private lock: Promise<void> = Promise.resolve();
  private count = 0;
  private readonly prefix: string;

  private constructor(private readonly options: LocalCyclesOptions, private readonly tokens: TokenBook) {
    this.prefix = viewPrefix(options.groupId);
  }

  /** Enables tracking on every VM and releases views a killed process left behind. */
  static async start(options: LocalCyclesOptions): Promise<LocalChangeCycles> {
    for (const vm of options.vms) await options.tracking.enable(vm.id);
    const cycles = new LocalChangeCycles(options, await TokenBook.open(options.groupId, undefined));
    const vmIds = new Set(options.vms.map((v) => v.id));
    const swept = await sweepViews(options.tracking, cycles.prefix, (id) => vmIds.has(id));
    for (const v of swept.released) options.log?.('view-leftover-released', { groupId: options.groupId, view: v.name });
    for (const f of swept.failed) options.log?.('view-release-failed', { groupId: options.groupId, view: f.view.name, message: f.error.message });
    return cycles;
  }

  /** Resolves once no cycle runs. */
  async settled(): Promise<void> {
    for (let seen: Promise<void> | undefined; seen !== this.lock;) {
      seen = this.lock;
      await seen;
    }
  }

  /** Freezes the next cycle's views, after the cycle before has ended. */
  async freeze(): Promise<FrozenCycle> {
    const before = this.lock;
    let done!: () => void;
    this.lock = new Promise((resolve) => (done = resolve));
    await before;
    let views: CycleViews;
    try {
      views = await CycleViews.open(this.options.tracking, this.options.vms.map((v) => v.id), this.prefix, `${++this.count}`);
    } catch (e) {
      done();
      throw e;
    }
    const end = async (): Promise<void> => {
      for (const error of await views.release()) this.options.log?.('view-release-failed', { groupId: this.options.groupId, message: error.message });
      done();
    };
    return {
      takenAt: views.takenAt,
      finish: async (kind, tag, timestamp) => {
        try {
          return await this.ship(views, kind, tag, timestamp);
        } finally {
          await end();
        }
      },
      abort: end,
    };
  }

  private async ship(views: CycleViews, kind: CheckpointKind, tag: string | undefined, timestamp: number): Promise<Checkpoint> {
    const { journals, nextSeq, groupId } = this.options;
    const sink: CycleSink = {
      put: (vmId, volumeId, writes) => journals.get(vmId)!.appendMany(writes.map((w) => ({ volumeId, offset: w.offset, data: w.data, seq: nextSeq() }))),
      remote: (vmId, volumeId) => ({
        hashBlocks: async (req) => {
          const journal = journals.get(vmId)!;
          await journal.idle();
          return hashRanges((offset, length) => journal.readAt(volumeId, offset, length, journal.lastSeq), req);
        },
      }),
      check: () => undefined,
    };
    const next: [VmId, string, string][] = [];
    for (const vm of this.options.vms) {
      const view = views.of(vm.id);
      const journal = journals.get(vm.id)!;
      for (const volume of vm.volumes) {
        const token = this.tokens.get(vm.id, volume.id);
        if (token !== undefined) {
          try {
            await shipRegions(view, vm.id, volume, await changedRegions(view, volume, token), sink, { skipZeros: false });
          } catch (e) {
            if (!(e instanceof ChangeTokenLostError)) throw e;
            this.options.log?.('change-token-lost', { groupId, vmId: vm.id, volumeId: volume.id, reason: e.reason, message: e.message });
            await shipDelta(view, vm.id, volume, sink);
          }
        } else if (journal.lastSeq === 0 && journal.checkpoints().length === 0) {
          await shipRegions(view, vm.id, volume, await allocatedRegions(view, volume), sink, { skipZeros: true }); // first cycle
        } else {
          await shipDelta(view, vm.id, volume, sink); // the journal holds data from before (a restart): compare
        }
        next.push([vm.id, volume.id, view.token(volume.id)]);
      }
    }
    const { checkpoint, durable } = this.options.mark(kind, tag, timestamp);
    await durable;
    for (const [vmId, volumeId, token] of next) {
      const old = this.tokens.commit(vmId, volumeId, token, checkpoint.seq);
      if (old !== undefined) await this.options.tracking.retireToken(vmId, volumeId, old);
    }
    return checkpoint;
  }
}

// A seeded guest workload: writes of chosen sizes, sector-aligned, optionally skewed to a hot region,
// issued through the data centre (so taps see them) and paced on the injected clock. The same seed
// gives the same writes in the same order, hence the same volume contents, on every run.
import { ValidationError, seededRandom, settle } from '@opencdp/core';
import type { Random, VmId, VolumeInfo } from '@opencdp/core';
import type { FakeDataCenter } from './fake-data-center.js';

export interface WorkloadOptions {
  seed: number;
  /** The VMs to write to; each write picks a VM, then one of its volumes, uniformly. */
  vms: VmId[];
  /** Sizes to pick from, uniformly; rounded up to a volume's sector size. Default [4096, 65536]. */
  writeSizes?: number[];
  /**
   * Skew: the fraction of each volume's space that is hot (e.g. 0.2). `hotWriteShare` of the writes
   * (default 0.8) go there, the rest to the cold remainder. Uniform when absent.
   */
  hotFraction?: number;
  hotWriteShare?: number;
  /** Writes stay below this offset on every volume (the volume's size when smaller). */
  maxOffset?: number;
}

export interface WorkloadRunOptions {
  /** Stop after this many writes have been issued. */
  writes?: number;
  /** Stop issuing writes once this much clock time has passed since the start. */
  durationMs?: number;
  /** Issue write i at start + i/rate seconds, on the injected clock. As fast as possible when absent. */
  ratePerSecond?: number;
  /** Writes in flight at once (default 1). */
  concurrency?: number;
  /** Told each completed write's latency (issue to completion, ms on the clock): how long the guest waited. */
  onCompleted?: (latencyMs: number) => void;
}

export interface WorkloadCounts {
  writes: number;
  bytes: number;
}

export interface WorkloadResult extends WorkloadCounts {
  /** Guest writes that were rejected (host down, sink failure…); not in `writes` or `bytes`. */
  failed: number;
  firstError?: unknown;
  perVm: Record<VmId, WorkloadCounts>;
  /** Clock time from the start of `run` to the completion of its last write. */
  elapsedMs: number;
}

interface Target {
  vmId: VmId;
  volumes: VolumeInfo[];
}

const DEFAULT_WRITE_SIZES = [4096, 65536];
/** Without pacing, let macrotasks (a virtual clock's `advance`, I/O) run this often. */
const YIELD_EVERY = 64;

export class Workload {
  private readonly random: Random;
  private readonly writeSizes: number[];
  private readonly targets: Target[];
  private running = false;
  private stopRequested = false;

  constructor(private readonly dc: FakeDataCenter, private readonly options: WorkloadOptions) {
    if (!Number.isSafeInteger(options.seed)) throw new ValidationError('seed must be an integer', 'seed');
    if (!Array.isArray(options.vms) || options.vms.length === 0) throw new ValidationError('a workload needs at least one VM', 'vms');
    this.writeSizes = options.writeSizes ?? DEFAULT_WRITE_SIZES;
    if (this.writeSizes.length === 0 || !this.writeSizes.every((s) => Number.isSafeInteger(s) && s > 0)) {
      throw new ValidationError('writeSizes must be positive whole numbers of bytes', 'writeSizes');
    }
    checkFraction(options.hotFraction, 'hotFraction');
    checkFraction(options.hotWriteShare, 'hotWriteShare');
    if (options.maxOffset !== undefined && (!Number.isSafeInteger(options.maxOffset) || options.maxOffset <= 0)) {
      throw new ValidationError('maxOffset must be a positive whole number of bytes', 'maxOffset');
    }
    // getVm throws UnknownVmError for a wrong id: nothing runs against a half-valid list.
    this.targets = options.vms.map((vmId) => ({ vmId, volumes: dc.getVm(vmId).volumes }));
    for (const t of this.targets) {
      for (const v of t.volumes) {
        if (this.spaceOf(v) === 0) throw new ValidationError(`maxOffset leaves no room on volume '${v.id}'`, 'maxOffset');
      }
    }
    this.random = seededRandom(options.seed);
  }

  /** Ends a running `run` after the writes in flight complete. */
  stop(): void {
    this.stopRequested = true;
  }

  /**
   * Issues writes until `writes` are issued or `durationMs` has passed (whichever first), then waits
   * for them. On a virtual clock time moves only when advanced: a `durationMs` run without a rate
   * writes until someone advances the clock past its end (it yields to macrotasks so they can).
   */
  async run(options: WorkloadRunOptions = {}): Promise<WorkloadResult> {
    const { writes, durationMs, ratePerSecond } = options;
    const concurrency = options.concurrency ?? 1;
    if (writes === undefined && durationMs === undefined) throw new ValidationError('give writes or durationMs, or the run never ends', 'writes');
    if (writes !== undefined && (!Number.isSafeInteger(writes) || writes < 0)) throw new ValidationError('writes must be a whole number', 'writes');
    if (durationMs !== undefined && !(durationMs >= 0)) throw new ValidationError('durationMs must be ≥ 0', 'durationMs');
    if (ratePerSecond !== undefined && !(ratePerSecond > 0 && Number.isFinite(ratePerSecond))) throw new ValidationError('ratePerSecond must be > 0', 'ratePerSecond');
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new ValidationError('concurrency must be a whole number ≥ 1', 'concurrency');
    if (this.running) throw new ValidationError('this workload is already running', 'run', 'wait for run() to finish or create another workload');
    this.running = true;
    this.stopRequested = false;

    const clock = this.dc.clock;
    const start = clock.now();
    const result: WorkloadResult = { writes: 0, bytes: 0, failed: 0, perVm: {}, elapsedMs: 0 };
    for (const t of this.targets) result.perVm[t.vmId] = { writes: 0, bytes: 0 };
    const inFlight = new Set<Promise<void>>();
    try {
      for (let i = 0; !this.stopRequested; i++) {
        if (writes !== undefined && i >= writes) break;
        const due = ratePerSecond === undefined ? clock.now() : start + Math.round((i * 1000) / ratePerSecond);
        if (durationMs !== undefined && due >= start + durationMs) break;
        if (due > clock.now()) await clock.sleep(due - clock.now());
        while (inFlight.size >= concurrency) await Promise.race(inFlight);
        if (this.stopRequested) break;

        // Planned only when issued, from one generator: the sequence is the same however writes interleave.
        const { vmId, volumeId, offset, data } = this.nextWrite();
        const issuedAt = clock.now();
        const done: Promise<void> = this.dc.guestWrite(vmId, volumeId, offset, data).then(
          () => {
            options.onCompleted?.(clock.now() - issuedAt);
            result.writes++;
            result.bytes += data.length;
            result.perVm[vmId].writes++;
            result.perVm[vmId].bytes += data.length;
          },
          (error: unknown) => {
            result.failed++;
            if (result.firstError === undefined) result.firstError = error;
          },
        ).finally(() => inFlight.delete(done));
        inFlight.add(done);
        if (ratePerSecond === undefined && (i + 1) % YIELD_EVERY === 0) await settle();
      }
      await Promise.all(inFlight);
    } finally {
      this.running = false;
    }
    result.elapsedMs = clock.now() - start;
    return result;
  }

  private nextWrite(): { vmId: VmId; volumeId: string; offset: number; data: Buffer } {
    const target = this.random.pick(this.targets);
    const volume = this.random.pick(target.volumes);
    const sector = volume.sectorSize;
    const space = this.spaceOf(volume);
    const size = Math.min(Math.ceil(this.random.pick(this.writeSizes) / sector) * sector, space);
    const slots = (space - size) / sector + 1;
    let slot: number;
    if (this.options.hotFraction === undefined) {
      slot = this.random.int(0, slots - 1);
    } else {
      const hotSlots = Math.max(1, Math.floor(slots * this.options.hotFraction));
      const hot = this.random.next() < (this.options.hotWriteShare ?? 0.8);
      slot = hot || hotSlots >= slots ? this.random.int(0, hotSlots - 1) : this.random.int(hotSlots, slots - 1);
    }
    return { vmId: target.vmId, volumeId: volume.id, offset: slot * sector, data: this.random.bytes(size) };
  }

  private spaceOf(volume: VolumeInfo): number {
    const limit = Math.min(volume.sizeBytes, this.options.maxOffset ?? volume.sizeBytes);
    return Math.floor(limit / volume.sectorSize) * volume.sectorSize;
  }
}

function checkFraction(value: number | undefined, field: string): void {
  if (value !== undefined && !(value > 0 && value <= 1)) throw new ValidationError(`${field} must be in (0, 1]`, field);
}

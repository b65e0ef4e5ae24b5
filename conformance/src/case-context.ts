// What one conformance case works with: a fresh harness, the oracle, seeded randomness, and protection
// groups replicated end to end (guest writes → tap → LocalReplication → journals on the harness's
// recovery storage), each remembering which oracle snapshot every checkpoint it has seen must equal.
import assert from 'node:assert/strict';
import {
  DEFAULT_SECTOR_SIZES, LocalReplication, parseProtectionGroupSettings, seededRandom,
} from '@opencdp/core';
import type {
  CapabilityTable, Checkpoint, CheckpointKind, ConformanceHarness, Journal, PointInTimeImage, ProtectedVmSpec,
  ProtectionGroupSettings, ProtectionGroupSettingsInput, Random, VmId, VmInfo, VolumeId, VolumeInfo,
} from '@opencdp/core';
import { assertImageEquals, Oracle, type OracleSnapshot } from './oracle.js';

export interface GroupOptions {
  groupId?: string;
  /** Settings besides the name, validated by the core schema. */
  settings?: Omit<ProtectionGroupSettingsInput, 'name'>;
  /** VMs to create for the group (each at a host of the harness's choosing unless `hostId` is set). */
  vms: ProtectedVmSpec[];
  /** Cut auto checkpoints on the group's interval (default true). */
  autoCheckpoints?: boolean;
  /** Hand the harness's consistency agent to the group (for VSS checkpoints). */
  withAgent?: boolean;
}

/** A checkpoint the suite has seen; `snapshot` is what its image must equal, when that is known. */
export interface SeenCheckpoint {
  checkpoint: Checkpoint;
  snapshot?: OracleSnapshot;
  /** Cut on purpose while writes were in flight (J2 races): only listed, never compared whole. */
  racing?: boolean;
}

/** One protection group under test. */
export class GroupRig {
  replication!: LocalReplication;
  /** Every checkpoint seen listed, in the order seen. */
  readonly seen = new Map<string, SeenCheckpoint>();
  /** Failures the kernel reported only as events (a failed auto checkpoint or background trim). */
  readonly errors: Error[] = [];
  private ids = 0;

  constructor(
    readonly ctx: CaseContext,
    readonly groupId: string,
    readonly settings: ProtectionGroupSettings,
    readonly vms: VmInfo[],
    private readonly options: GroupOptions,
  ) {}

  get harness(): ConformanceHarness {
    return this.ctx.harness;
  }

  get oracle(): Oracle {
    return this.ctx.oracle;
  }

  get vmIds(): VmId[] {
    return this.vms.map((v) => v.id);
  }

  /** Starts (or, after `stop`, restarts) replication on the same recovery storage. */
  async start(): Promise<void> {
    const agent = this.harness.consistencyAgent;
    this.replication = await LocalReplication.start({
      groupId: this.groupId,
      settings: this.settings,
      vmIds: this.vmIds,
      hypervisor: this.harness.hypervisor,
      storage: this.harness.recoveryStorage,
      clock: this.harness.clock,
      ...(this.options.withAgent && agent ? { agents: [agent] } : {}),
      autoCheckpoints: this.options.autoCheckpoints !== false,
      // Readable, deterministic ids that stay unique across restarts of the group.
      newId: () => `${this.groupId}-cp-${++this.ids}`,
    });
    // Without these a failing timer-driven checkpoint or trim would only show up as something missing.
    this.replication.on('checkpoint-error', (e) => this.errors.push(e));
    this.replication.on('replication-error', ({ vmId, error }) => this.errors.push(new Error(`VM '${vmId}': ${error.message}`)));
    for (const journal of this.journals()) journal.on('trim-error', (e) => this.errors.push(e));
  }

  async stop(): Promise<void> {
    await this.replication?.stop();
  }

  /** Stops replication and starts it again on the same storage, as after an appliance restart. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  journal(vmId: VmId): Journal {
    return this.replication.journal(vmId);
  }

  journals(): Journal[] {
    return this.vmIds.map((id) => this.journal(id));
  }

  /** Writes as the guest and records the write in the oracle once it completes. */
  write(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
    return this.oracle.guestWrite(this.harness, vmId, volumeId, offset, data);
  }

  /** A random sector-aligned write to a random volume of the group (up to `maxBytes`, at least one sector). */
  randomWrite(maxBytes = 32 * 1024, hotBytes?: number): Promise<void> {
    const vm = this.ctx.random.pick(this.vms);
    const volume = this.ctx.random.pick(vm.volumes);
    const { offset, data } = this.ctx.randomExtent(volume, maxBytes, hotBytes);
    return this.write(vm.id, volume.id, offset, data);
  }

  /**
   * `count` random writes, several in flight at once but never two on one volume, so the order in which
   * overlapping writes take effect is the order the guest issued them.
   */
  async randomWrites(count: number, maxBytes = 32 * 1024, hotBytes?: number): Promise<void> {
    const volumes = this.vms.flatMap((vm) => vm.volumes.map((v) => ({ vm, v })));
    for (let done = 0; done < count;) {
      const batch = Math.min(count - done, this.ctx.random.int(1, volumes.length));
      const picked = this.ctx.shuffle(volumes).slice(0, batch);
      await Promise.all(picked.map(({ vm, v }) => {
        const { offset, data } = this.ctx.randomExtent(v, maxBytes, hotBytes);
        return this.write(vm.id, v.id, offset, data);
      }));
      done += batch;
    }
  }

  /** Cuts a checkpoint with no write in flight; its image must then equal the oracle as it is now. */
  async cut(kind: Exclude<CheckpointKind, 'vss'> = 'tagged', tag?: string): Promise<Checkpoint> {
    assert.equal(this.oracle.inFlight, 0, 'the suite cuts checkpoints for exact comparison only when no write is in flight');
    const cp = await this.replication.checkpoint(kind, tag);
    this.adopt(cp, this.oracle.snapshot());
    return cp;
  }

  /** Records a checkpoint cut outside `cut` (several groups at once, VSS) with the snapshot it must equal. */
  adopt(cp: Checkpoint, snapshot: OracleSnapshot | 'racing' | undefined): void {
    if (snapshot === 'racing') this.seen.set(cp.id, { checkpoint: cp, racing: true });
    else this.seen.set(cp.id, { checkpoint: cp, ...(snapshot ? { snapshot } : {}) });
  }

  /** Waits until every journal has finished its queued work (appends, markers, background trims). */
  async idle(): Promise<void> {
    await this.replication.settled(); // a change-tracking cycle in flight (none in splitter mode)
    await Promise.all(this.journals().map((j) => j.idle()));
  }

  /**
   * Notes checkpoints that appeared since the last look (auto ones, cut by the group's timer). One whose
   * sequence number is the group's last, seen with no write in flight, holds every completed write and
   * nothing else, so it must equal the oracle now; any other was cut mid-burst and is only listed.
   */
  async sync(): Promise<Checkpoint[]> {
    await this.idle();
    assert.deepEqual(this.errors.map((e) => e.message), [], `group '${this.groupId}' reported errors in the background`);
    const fresh: Checkpoint[] = [];
    const quiet = this.oracle.inFlight === 0;
    let snapshot: OracleSnapshot | undefined;
    for (const cp of this.replication.checkpoints()) {
      if (this.seen.has(cp.id)) continue;
      if (quiet && cp.seq === this.replication.lastSeq) snapshot ??= this.oracle.snapshot();
      this.adopt(cp, quiet && cp.seq === this.replication.lastSeq ? snapshot : undefined);
      fresh.push(cp);
    }
    return fresh;
  }

  /** Moves time on (auto checkpoints, trims), then waits for the journals and notes new checkpoints. */
  async advance(ms: number): Promise<Checkpoint[]> {
    await this.harness.advance(ms);
    return this.sync();
  }

  /** Checkpoints seen so far, in the order seen. */
  seenCheckpoints(): Checkpoint[] {
    return [...this.seen.values()].map((s) => s.checkpoint);
  }

  /** Opens every VM's image at `cpId` and compares it with the oracle's snapshot for that checkpoint. */
  async verify(cpId: string): Promise<void> {
    const seen = this.seen.get(cpId);
    assert.ok(seen?.snapshot, `checkpoint '${cpId}' has no oracle snapshot to compare with`);
    for (const vmId of this.vmIds) {
      const image = await this.journal(vmId).openImage(cpId);
      try {
        await assertImageEquals(image, seen.snapshot.vm(vmId), describeCheckpoint(seen.checkpoint, vmId));
      } finally {
        image.close();
      }
    }
  }

  /**
   * Verifies every retained checkpoint with a known snapshot. On a virtual clock every checkpoint must
   * have one (nothing runs between the suite's steps); returns how many were compared.
   */
  async verifyRetained(): Promise<number> {
    await this.sync();
    let compared = 0;
    for (const cp of this.replication.checkpoints()) {
      const seen = this.seen.get(cp.id);
      if (!seen?.snapshot) {
        // On a virtual clock the timer only cuts while the suite waits with nothing in flight.
        assert.ok(seen?.racing || !this.ctx.virtualClock, `checkpoint '${cp.id}' was cut while writes were in flight on a virtual clock`);
        continue;
      }
      await this.verify(cp.id);
      compared++;
    }
    return compared;
  }

  /** Opens an image that the case context closes at the end if the case does not. */
  async openImage(vmId: VmId, cpId: string): Promise<PointInTimeImage> {
    const image = await this.journal(vmId).openImage(cpId);
    this.ctx.track(image);
    return image;
  }
}

/** Everything a case gets; `dispose` stops every group and disposes the harness. */
export class CaseContext {
  readonly oracle = new Oracle();
  readonly random: Random;
  private readonly groups: GroupRig[] = [];
  private readonly images: PointInTimeImage[] = [];
  private readonly disposers: (() => Promise<void>)[] = [];
  private groupCount = 0;

  constructor(readonly harness: ConformanceHarness, readonly capabilities: CapabilityTable, seed: number) {
    this.random = seededRandom(seed);
  }

  /** Time moves only when the suite says so: then counts and spacings must be exact. */
  get virtualClock(): boolean {
    return this.capabilities.virtualClock === true;
  }

  /** Creates the group's VMs on the harness and starts replicating them. */
  async group(options: GroupOptions): Promise<GroupRig> {
    const groupId = options.groupId ?? `g-${++this.groupCount}`;
    const settings = parseProtectionGroupSettings({ name: `conformance ${groupId}`, ...options.settings });
    const vms: VmInfo[] = [];
    for (const spec of options.vms) {
      const vm = await this.harness.createVm(spec);
      this.oracle.addVm(vm);
      vms.push(vm);
    }
    const rig = new GroupRig(this, groupId, settings, vms, options);
    this.groups.push(rig);
    await rig.start();
    return rig;
  }

  /** Logical sector sizes the protected platform hosts (the harness's `sectorSizes`, [512, 4096] when absent). */
  get sectorSizes(): readonly number[] {
    return this.harness.sectorSizes ?? DEFAULT_SECTOR_SIZES;
  }

  /** Logical sector sizes recovery VM disks can have (the harness's `recoverySectorSizes`, else `sectorSizes`). */
  get recoverySectorSizes(): readonly number[] {
    return this.harness.recoverySectorSizes ?? this.sectorSizes;
  }

  /** The suites' 4 KiB-sector volume: 4096 where the protected platform hosts it, else 512. */
  get largeSector(): number {
    return this.sectorSizes.includes(4096) ? 4096 : 512;
  }

  /**
   * The same for a volume the case will recover: 4096 only where both platforms host it (a volume recovery
   * must bring across cannot have sectors the recovery platform lacks).
   */
  get recoverableLargeSector(): number {
    return this.largeSector === 4096 && this.recoverySectorSizes.includes(4096) ? 4096 : 512;
  }

  /**
   * `ms`, or the platform's shortest change-tracking cycle when that is longer and the group will run in
   * change-tracking mode (the platform has no splitter): the shortest interval a case can ask for.
   */
  atLeastMinInterval(ms: number): number {
    const hv = this.harness.hypervisor;
    return !hv.openTap && hv.changeTracking ? Math.max(ms, hv.changeTracking.minIntervalMs) : ms;
  }

  /** Up to two distinct protected hosts, so a group's VMs can span hosts (J2). */
  async protectedHosts(): Promise<(string | undefined)[]> {
    const hosts = (await this.harness.hypervisor.inventory()).hosts.map((h) => h.id);
    return hosts.length >= 2 ? hosts.slice(0, 2) : [undefined, undefined];
  }

  /** A random sector-aligned extent of at most `maxBytes` (within the first `hotBytes` when given, to force overlap). */
  randomExtent(volume: VolumeInfo, maxBytes: number, hotBytes?: number): { offset: number; data: Buffer } {
    const sector = volume.sectorSize;
    const span = Math.max(sector, Math.min(volume.sizeBytes, hotBytes ?? volume.sizeBytes));
    const sectors = this.random.int(1, Math.max(1, Math.floor(Math.min(maxBytes, span) / sector)));
    const length = sectors * sector;
    const offset = this.random.int(0, (span - length) / sector) * sector;
    return { offset, data: this.random.bytes(length) };
  }

  /** A seeded Fisher–Yates shuffle (a copy). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.random.int(0, i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  track(image: PointInTimeImage): void {
    this.images.push(image);
  }

  /** Runs `fn` when the case ends, before the harness is disposed (last registered, first run). */
  onDispose(fn: () => Promise<void>): void {
    this.disposers.unshift(fn);
  }

  async dispose(): Promise<void> {
    for (const image of this.images) image.close();
    // Teardown is not subject to injected faults: a slow store would hold an appliance's stop on a clock
    // nobody moves any more (appliances wait for the messages they are handling before they stop).
    await this.harness.clearFaults().catch(() => undefined);
    const cleanups = await Promise.allSettled(this.disposers.map((fn) => fn()));
    // Stop every group even if one fails, then always dispose the harness.
    const stops = await Promise.allSettled(this.groups.map((g) => g.stop()));
    await this.harness.dispose();
    const failed = [...cleanups, ...stops].find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

export function describeCheckpoint(cp: Checkpoint, vmId: VmId): string {
  return `image of VM '${vmId}' at ${cp.kind} checkpoint '${cp.id}' (seq ${cp.seq}${cp.tag !== undefined ? `, tag '${cp.tag}'` : ''})`;
}

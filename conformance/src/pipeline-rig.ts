// A protection group under test through the whole pipeline: the adapter's VMs and taps, one protected
// appliance per host, the kernel's site link (the in-process fake link on the harness's clock, so link
// faults are exact), a recovery appliance writing journals to the harness's recovery storage, the
// checkpoint scheduler and the status tracker. The sync suite drives faults through it.
import assert from 'node:assert/strict';
import {
  CheckpointScheduler, GroupStatusTracker, ProtectedAppliance, RecoveryAppliance, parseProtectionGroupSettings,
  type CaptureNotice, type Checkpoint, type GroupSender, type GroupState, type Journal, type ProtectionGroupSettingsInput,
  type ProtectedVmSpec, type ReplicationFacts, type ReplicationPhase, type VmId, type VmInfo, type VolumeId,
} from '@opencdp/core';
import { FakeNetwork, type FakeLinkProfile } from '@opencdp/adapter-fake';
import { assertImageEquals, type OracleSnapshot } from './oracle.js';
import type { CaseContext } from './case-context.js';

export interface PipelineOptions {
  groupId?: string;
  settings?: Omit<ProtectionGroupSettingsInput, 'name'>;
  vms: ProtectedVmSpec[];
  /** Protected appliance buffer (default 8 MiB). */
  bufferBytes?: number;
  bitmapBudgetBytes?: number;
  /** Recovery appliance buffer (default 8 MiB). */
  receiverBufferBytes?: number;
  preseeded?: boolean;
  link?: FakeLinkProfile;
  /** Start the scheduler's auto checkpoints (default false: the suite cuts its own). */
  autoCheckpoints?: boolean;
}

/** OPENCDP_RIG_LOG=1 prints the appliances' events (with clock time) to stderr, for debugging a case. */
const rigLog = (clock: { now(): number }, who: string) => process.env.OPENCDP_RIG_LOG
  ? (event: string, fields: Record<string, unknown>): void => console.error(`${clock.now()} ${who} ${event} ${JSON.stringify(fields)}`)
  : undefined;

const PHASE_ORDER: ReplicationPhase[] = ['paused-user', 'paused-system', 'recording', 'initial-sync', 'volume-initial-sync', 'full-sync', 'delta-sync', 'volume-delta-sync', 'bitmap-sync', 'creating', 'streaming'];

export class PipelineRig {
  readonly network: FakeNetwork;
  recovery!: RecoveryAppliance;
  readonly appliances = new Map<string, ProtectedAppliance>();
  senders: GroupSender[] = [];
  scheduler!: CheckpointScheduler;
  readonly tracker = new GroupStatusTracker();
  /** What the senders' capture paths reported (change tracking: lost tokens, view failures, leftovers released). */
  readonly notices: CaptureNotice[] = [];
  readonly settings;
  readonly groupId: string;
  private ids = 0;
  private recoveryAddress = '';

  private constructor(readonly ctx: CaseContext, readonly vms: VmInfo[], private readonly options: PipelineOptions) {
    this.groupId = options.groupId ?? 'pg-1';
    this.settings = parseProtectionGroupSettings({ name: `conformance ${this.groupId}`, ...options.settings });
    this.network = new FakeNetwork(ctx.harness.clock, 7);
    if (options.link) this.network.setProfile(options.link);
  }

  static async create(ctx: CaseContext, options: PipelineOptions): Promise<PipelineRig> {
    const vms: VmInfo[] = [];
    for (const spec of options.vms) {
      const vm = await ctx.harness.createVm(spec);
      ctx.oracle.addVm(vm);
      vms.push(vm);
    }
    return new PipelineRig(ctx, vms, options);
  }

  get clock(): CaseContext['harness']['clock'] {
    return this.ctx.harness.clock;
  }

  /** Starts the recovery appliance (once) and the protected appliances, then protects the group. */
  async start(options: { preseeded?: boolean } = {}): Promise<void> {
    if (!this.recoveryAddress) await this.startRecovery();
    const hosts = new Map<string, VmId[]>();
    for (const vm of this.vms) hosts.set(vm.hostId, [...(hosts.get(vm.hostId) ?? []), vm.id]);
    this.senders = [];
    for (const [hostId, vmIds] of hosts) {
      const appliance = new ProtectedAppliance({
        siteId: 'protected', hypervisor: this.ctx.harness.hypervisor, network: this.network.endpoint('protected'), clock: this.clock,
        bufferBytes: this.options.bufferBytes ?? 8 * 1024 * 1024, bitmapBudgetBytes: this.options.bitmapBudgetBytes ?? 64 * 1024,
        ...(rigLog(this.clock, hostId) ? { log: rigLog(this.clock, hostId) } : {}),
      });
      this.appliances.set(hostId, appliance);
      const sender = await appliance.protect({ groupId: this.groupId, settings: this.settings, vmIds, recoveryAddress: this.recoveryAddress, preseeded: options.preseeded ?? this.options.preseeded });
      sender.on('state', () => this.observe());
      sender.on('notice', (n) => this.notices.push(n));
      this.senders.push(sender);
    }
    this.scheduler = new CheckpointScheduler({ clock: this.clock, senders: this.senders, intervalMs: this.settings.checkpointIntervalMs, newId: () => `${this.groupId}-cp-${++this.ids}` });
    if (this.options.autoCheckpoints) this.scheduler.start();
    this.observe();
  }

  /** Creates a VM on the harness (known to the oracle) that is not protected yet. */
  async createVm(spec: ProtectedVmSpec): Promise<VmInfo> {
    const vm = await this.ctx.harness.createVm(spec);
    this.ctx.oracle.addVm(vm);
    return vm;
  }

  /** Adds a VM to the running group, through the appliance of its host. */
  async addVm(vm: VmInfo): Promise<void> {
    const host = this.vms.find((v) => v.hostId === vm.hostId);
    assert.ok(host, `an appliance already protects part of the group on host '${vm.hostId}'`);
    const sender = this.senders[[...this.appliances.keys()].indexOf(vm.hostId)];
    await this.whileAdvancing(`VM '${vm.id}' to be added`, sender.addVm(vm.id));
    this.vms.push(vm);
  }

  /** Adds a volume to a protected VM on the harness (hot-add) and to the group (volume initial sync). */
  async addVolume(vm: VmInfo, spec: ProtectedVmSpec['volumes'][number]): Promise<VmInfo['volumes'][number]> {
    assert.ok(this.ctx.harness.addVolume, 'the harness can hot-add volumes');
    const volume = await this.ctx.harness.addVolume(vm.id, spec);
    this.ctx.oracle.addVolume(vm.id, volume.id, volume.sizeBytes);
    vm.volumes.push(volume);
    await this.whileAdvancing(`volume '${volume.id}' to be added`, this.senderOf(vm).addVolume(vm.id, volume.id));
    return volume;
  }

  /** Removes a VM from the running group (its journal closes at the recovery site). */
  async removeVm(vm: VmInfo): Promise<void> {
    await this.whileAdvancing(`VM '${vm.id}' to be removed`, this.senderOf(vm).removeVm(vm.id));
    this.vms.splice(this.vms.indexOf(vm), 1);
  }

  private senderOf(vm: VmInfo): GroupSender {
    const sender = this.senders[[...this.appliances.keys()].indexOf(vm.hostId)];
    assert.ok(sender, `an appliance protects VM '${vm.id}' on host '${vm.hostId}'`);
    return sender;
  }

  /** Waits for an action that talks over the link, moving time so its messages get through. */
  async whileAdvancing<T>(what: string, action: Promise<T>): Promise<T> {
    let outcome: { value: T } | { error: unknown } | undefined;
    action.then((value) => (outcome = { value }), (error: unknown) => (outcome = { error }));
    await this.waitFor(what, () => outcome !== undefined);
    if ('error' in outcome!) throw outcome.error;
    return outcome!.value;
  }

  /** Stops the protected appliances (their memory — buffer and bitmap — is lost, as in a crash). */
  async stopProtected(): Promise<void> {
    this.scheduler?.stop();
    for (const a of this.appliances.values()) await a.stop();
    this.appliances.clear();
  }

  /** Kills the protected appliances as kill -9 would: nothing is released on the platform, links drop. */
  async killProtected(): Promise<void> {
    this.scheduler?.stop();
    for (const a of this.appliances.values()) await a.kill();
    this.appliances.clear();
  }

  /** Stops the recovery appliance and starts a new one on the same storage and address. */
  async restartRecovery(): Promise<void> {
    await this.recovery.stop();
    await this.startRecovery(this.recoveryAddress);
  }

  private async startRecovery(address = 'recovery:0'): Promise<void> {
    this.recovery = new RecoveryAppliance({ siteId: 'recovery', storage: this.ctx.harness.recoveryStorage, clock: this.clock, network: this.network.endpoint('recovery'), bufferBytes: this.options.receiverBufferBytes ?? 8 * 1024 * 1024, ...(rigLog(this.clock, 'recovery') ? { log: rigLog(this.clock, 'recovery') } : {}) });
    this.recoveryAddress = await this.recovery.listen(address);
  }

  async stop(): Promise<void> {
    await this.stopProtected();
    await this.recovery?.stop();
  }

  journal(vmId: VmId): Journal {
    const j = this.recovery.journal(this.groupId, vmId);
    assert.ok(j, `the recovery appliance has no journal for VM '${vmId}' yet`);
    return j;
  }

  /** Checkpoints listed in every VM's journal, oldest first. */
  checkpoints(): Checkpoint[] {
    const lists = this.vms.map((vm) => this.recovery.journal(this.groupId, vm.id)?.checkpoints() ?? []);
    return lists[0].filter((cp) => lists.every((l) => l.some((c) => c.id === cp.id)));
  }

  write(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
    return this.ctx.oracle.guestWrite(this.ctx.harness, vmId, volumeId, offset, data);
  }

  /** `count` random writes of up to `maxBytes`, one volume at a time per batch so the order is the guest's. */
  async randomWrites(count: number, maxBytes = 32 * 1024): Promise<void> {
    for (let i = 0; i < count; i++) {
      const vm = this.ctx.random.pick(this.vms);
      const v = this.ctx.random.pick(vm.volumes);
      const { offset, data } = this.ctx.randomExtent(v, maxBytes);
      await this.write(vm.id, v.id, offset, data);
    }
  }

  /** Moves time in small steps, letting the appliances work between them, and re-evaluates the status. */
  async advance(ms: number, step = 20): Promise<void> {
    for (let done = 0; done < ms; done += step) {
      await this.ctx.harness.advance(Math.min(step, ms - done));
      this.observe();
    }
  }

  /** Advances until `predicate` holds; fails after `limitMs` of clock time, saying what it waited for. */
  async waitFor(what: string, predicate: () => boolean, limitMs = 60_000): Promise<void> {
    for (let waited = 0; !predicate(); waited += 20) {
      if (waited >= limitMs) assert.fail(`waited ${limitMs} ms of clock time for ${what}; status ${JSON.stringify(this.observe())}, senders ${JSON.stringify(this.senders.map((s) => ({ ...s.state, ...s.currentStats() })))}`);
      await this.advance(20);
    }
  }

  /**
   * Streaming, connected, nothing buffered or recorded, no change-tracking cycle running or due: the
   * recovery site holds every completed write (change tracking: up to the last cycle's view).
   */
  get converged(): boolean {
    return this.senders.every((s) => s.state.phase === 'streaming' && s.state.connected && s.captureIdle && s.currentStats().bufferedBytes === 0 && s.currentStats().bitmapDirtyBytes === 0);
  }

  async converge(limitMs = 120_000): Promise<void> {
    await this.waitFor('the group to converge (streaming, buffers and bitmaps empty)', () => this.converged, limitMs);
  }

  /**
   * Cuts a checkpoint now (no write in flight), waits until every journal lists it, and checks every
   * VM's image against the oracle. Returns undefined when the scheduler refuses (and says why).
   */
  async cutAndVerify(tag?: string): Promise<Checkpoint> {
    assert.equal(this.ctx.oracle.inFlight, 0, 'checkpoints for exact comparison are cut with no write in flight');
    const snapshot = this.ctx.oracle.snapshot();
    const cp = this.scheduler.cut('tagged', tag);
    assert.ok(cp, `a checkpoint could be cut (${this.scheduler.blockedBy() ?? ''})`);
    await this.waitFor(`checkpoint ${cp.id} to be listed in every journal`, () => this.checkpoints().some((c) => c.id === cp.id));
    await this.verify(cp.id, snapshot);
    return cp;
  }

  async verify(cpId: string, snapshot: OracleSnapshot): Promise<void> {
    for (const vm of this.vms) {
      const image = await this.journal(vm.id).openImage(cpId);
      try {
        await assertImageEquals(image, snapshot.vms.get(vm.id)!, `image of VM '${vm.id}' at checkpoint '${cpId}'`);
      } finally {
        image.close();
      }
    }
  }

  /**
   * Waits (moving time) until a cut is fixed on every appliance: at once with a splitter; in change-tracking
   * mode once the cut's view is frozen — writes made after that are not in its checkpoint. False when a
   * cycle failed before freezing it (the checkpoint will not be listed).
   */
  async frozen(cp: Checkpoint): Promise<boolean> {
    const taken = await this.whileAdvancing(`the view of checkpoint ${cp.id}`, Promise.all(this.senders.map((s) => s.whenFrozen(cp.id))));
    return taken.every(Boolean);
  }

  /** Waits (moving time) until no change-tracking cycle runs on any appliance (its views are released by then). */
  async cyclesEnded(): Promise<void> {
    await this.whileAdvancing('the running cycles to end', Promise.all(this.senders.map((s) => s.whenDrained().catch(() => undefined))));
  }

  /** Re-evaluates the group's status from the senders and the journals. */
  observe(): GroupState {
    const states = this.senders.map((s) => s.state);
    const worst = states.slice().sort((a, b) => phaseRank(a) - phaseRank(b))[0];
    const journals = this.vms.map((vm) => this.recovery?.journal(this.groupId, vm.id)).filter((j): j is Journal => !!j);
    const cps = this.recovery ? this.checkpoints() : [];
    const latest = cps.at(-1);
    const ranks = { ok: 0, warning: 1, error: 2 } as const;
    const history = journals.map((j) => j.stats().historyStatus).sort((a, b) => ranks[b] - ranks[a])[0] ?? 'ok';
    const facts: ReplicationFacts = {
      phase: worst ? (worst.connected ? worst.phase : worst.phase.startsWith('paused') ? worst.phase : 'recording') : 'creating',
      connected: states.every((s) => s.connected),
      ...(worst?.trigger ? { trigger: worst.trigger } : {}),
      ...(states.find((s) => s.cause)?.cause ? { cause: states.find((s) => s.cause)!.cause } : {}),
      ...(states.find((s) => s.storageError)?.storageError ? { storageError: states.find((s) => s.storageError)!.storageError } : {}),
      vmCount: this.vms.length,
      hasCheckpoints: cps.length > 0,
      ...(latest ? { actualRpoMs: this.clock.now() - latest.timestamp } : {}),
      rpoTargetMs: this.settings.rpoTargetSeconds * 1000,
      historyStatus: history,
    };
    return this.tracker.update(facts, this.clock.now());
  }
}

function phaseRank(s: { phase: ReplicationPhase; connected: boolean }): number {
  return s.connected ? PHASE_ORDER.indexOf(s.phase) : -1;
}

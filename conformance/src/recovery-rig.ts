// The recovery suite's rig: a PipelineRig (protected appliances → fake link → recovery appliance)
// plus a RecoveryOrchestrator on the harness's recovery platform, a ProtectedSiteControl over the
// harness's protected platform (which can be made unreachable, as in a disaster), and reverse
// protection that seeds the original disks as replicas at the original site and protects the
// recovered VMs back over the same fake link. Helpers compare recovered VMs with the oracle by hash.
import assert from 'node:assert/strict';
import {
  CheckpointScheduler, MemoryStorage, OpenCdpError, ProtectedAppliance, RecoveryAppliance, RecoveryOrchestrator,
  StaticGroupDirectory, seedReplicaVolume,
} from '@opencdp/core';
import type {
  ActiveRecovery, Checkpoint, GroupId, GroupSender, HypervisorAdapter, ProtectedSiteControl, RecoveryGroupDefinition,
  RecoveryPlan, RecoveryReport, ReverseProtectionRequest, ShutdownPolicy, VmId, VmInfo, VolumeId,
} from '@opencdp/core';
import type { CaseContext } from './case-context.js';
import { assertImageEquals, type ImageReader, type OracleSnapshot } from './oracle.js';
import { PipelineRig, type PipelineOptions } from './pipeline-rig.js';

const MiB = 1024 * 1024;

/** The protected site could not be reached (its manager or the site itself is down). */
export class SiteUnreachableError extends OpenCdpError {
  constructor(what: string) {
    super('SITE_UNREACHABLE', `the protected site is unreachable: cannot ${what}`);
  }
}

export interface RecoveryRigOptions extends Partial<PipelineOptions> {
  /** The recovery plan, given the protected VMs. */
  plan?: (vms: VmInfo[]) => RecoveryPlan;
  /** Paces promotion so the 'promoting' phase lasts a while on the clock. */
  promotionBytesPerSecond?: number;
}

/** ProtectedSiteControl over the harness's protected platform and the pipeline. */
export class RigProtectedSite implements ProtectedSiteControl {
  reachable = true;
  readonly calls: string[] = [];
  /** The oracle snapshot taken when the last final checkpoint (move) was cut. */
  finalSnapshot?: OracleSnapshot;

  constructor(private readonly rig: RecoveryRig) {}

  async shutdownVms(_groupId: GroupId, vmIds: VmId[], policy: ShutdownPolicy, options: { timeoutSec?: number } = {}): Promise<void> {
    this.check(`shut down ${vmIds.join(', ')}`);
    this.calls.push(`shutdown:${policy}`);
    const hv = this.rig.ctx.harness.hypervisor;
    const clock = this.rig.clock;
    for (const id of vmIds) {
      if (policy === 'none') continue;
      // Force: a clean shutdown first, powered off if the guest is still up after the timeout.
      await hv.shutdownGuest(id).catch((e: unknown) => { if (policy === 'shutdown') throw e; });
      if (policy !== 'force') continue;
      const until = clock.now() + (options.timeoutSec ?? 0) * 1000;
      while ((await hv.getVm(id)).powerState === 'on' && clock.now() < until) await clock.sleep(100);
      if ((await hv.getVm(id)).powerState === 'on') await hv.powerOff(id);
    }
  }

  async finalCheckpoint(_groupId: GroupId): Promise<Checkpoint> {
    this.check('cut the final checkpoint');
    this.calls.push('final-checkpoint');
    const { pipeline } = this.rig;
    while (!pipeline.converged) await this.rig.clock.sleep(20);
    this.finalSnapshot = this.rig.ctx.oracle.snapshot();
    const cp = pipeline.scheduler.cut('tagged', 'move');
    if (!cp) throw new Error(`the final checkpoint could not be cut: ${pipeline.scheduler.blockedBy() ?? ''}`);
    return cp;
  }

  async stopProtection(_groupId: GroupId, options: { deleteSourceVms: boolean }): Promise<void> {
    this.check('stop protection');
    this.calls.push(`stop-protection:${options.deleteSourceVms ? 'delete' : 'keep'}`);
    await this.rig.pipeline.stopProtected();
    if (options.deleteSourceVms) {
      const hv = this.rig.ctx.harness.hypervisor;
      for (const vm of this.rig.pipeline.vms) {
        await hv.powerOff(vm.id);
        await hv.deleteVm(vm.id);
      }
    }
  }

  async resumeProtection(_groupId: GroupId): Promise<void> {
    this.check('resume protection');
    this.calls.push('resume-protection');
    await this.rig.pipeline.start({ preseeded: true });
  }

  async powerOnVms(_groupId: GroupId, vmIds: VmId[]): Promise<void> {
    this.check(`power on ${vmIds.join(', ')}`);
    this.calls.push('power-on');
    for (const id of vmIds) await this.rig.ctx.harness.hypervisor.powerOn(id);
  }

  private check(what: string): void {
    if (!this.reachable) throw new SiteUnreachableError(what);
  }
}

/** Reverse protection as started by the rig: recovered VMs → original site, preseeded with the original disks. */
export interface ReverseSite {
  groupId: string;
  request: ReverseProtectionRequest;
  receiver: RecoveryAppliance;
  appliance: ProtectedAppliance;
  sender: GroupSender;
  scheduler: CheckpointScheduler;
  /** Bytes of original disk copied locally into the reverse replicas (never over the link). */
  seededBytes: number;
}

export class RecoveryRig {
  readonly directory = new StaticGroupDirectory();
  readonly site: RigProtectedSite;
  readonly orchestrator: RecoveryOrchestrator;
  readonly recoveryHypervisor: HypervisorAdapter;
  reverse?: ReverseSite;
  /** Further groups the orchestrator knows (each its own pipeline and recovery appliance). */
  readonly others: PipelineRig[] = [];
  private ids = 0;

  private constructor(readonly ctx: CaseContext, readonly pipeline: PipelineRig, options: RecoveryRigOptions) {
    const h = ctx.harness;
    this.recoveryHypervisor = h.recoveryHypervisor ?? h.hypervisor;
    this.site = new RigProtectedSite(this);
    this.directory.set(this.definition(options.plan?.(pipeline.vms) ?? {}));
    this.orchestrator = new RecoveryOrchestrator({
      clock: h.clock,
      hypervisor: this.recoveryHypervisor,
      // Indirect: the pipeline may restart its recovery appliance.
      journals: {
        journal: (groupId, vmId) => [this.pipeline, ...this.others].find((p) => p.groupId === groupId)?.recovery.journal(groupId, vmId),
      },
      groups: this.directory,
      protectedSite: this.site,
      reverseProtection: (request) => this.startReverse(request),
      storage: h.recoveryStorage,
      journalRoot: 'journals',
      ...(options.promotionBytesPerSecond ? { promotionBytesPerSecond: options.promotionBytesPerSecond, promotionChunkBytes: 256 * 1024 } : {}),
      newId: () => `op-${++this.ids}`,
    });
  }

  /** Two VMs on the protected hosts (three volumes, two sector sizes where both platforms host 4096), replicating and converged after `writes` writes. */
  static async start(ctx: CaseContext, options: RecoveryRigOptions = {}, writes = 20): Promise<RecoveryRig> {
    const [h1, h2] = await ctx.protectedHosts();
    const pipeline = await PipelineRig.create(ctx, {
      vms: [
        { name: 'app', ...(h1 ? { hostId: h1 } : {}), volumes: [{ sizeBytes: 2 * MiB }, { sizeBytes: 1 * MiB, sectorSize: ctx.recoverableLargeSector }] },
        { name: 'db', ...(h2 ? { hostId: h2 } : {}), volumes: [{ sizeBytes: 2 * MiB }] },
      ],
      ...options,
    });
    const rig = new RecoveryRig(ctx, pipeline, options);
    ctx.onDispose(() => rig.stop());
    await pipeline.start();
    await pipeline.randomWrites(writes);
    await pipeline.converge();
    return rig;
  }

  get clock(): CaseContext['harness']['clock'] {
    return this.ctx.harness.clock;
  }

  get groupId(): string {
    return this.pipeline.groupId;
  }

  get vms(): VmInfo[] {
    return this.pipeline.vms;
  }

  definition(plan: RecoveryPlan, pipeline: PipelineRig = this.pipeline): RecoveryGroupDefinition {
    return {
      groupId: pipeline.groupId,
      name: pipeline.settings.name,
      vms: pipeline.vms.map((vm) => ({ id: vm.id, name: vm.name, nics: vm.nics.map((n) => ({ networkId: n.networkId, mac: n.mac })) })),
      plan,
    };
  }

  /** A second group (one VM, its own pipeline), replicating and converged, known to the same orchestrator. */
  async addGroup(groupId: string): Promise<PipelineRig> {
    const other = await PipelineRig.create(this.ctx, { groupId, vms: [{ name: `${groupId}-vm`, volumes: [{ sizeBytes: 1 * MiB }] }] });
    this.ctx.onDispose(() => other.stop());
    await other.start();
    await other.randomWrites(5);
    await other.converge();
    this.others.push(other);
    this.directory.set(this.definition({}, other));
    return other;
  }

  /** Cuts a checkpoint with nothing in flight, verifies the journals against the oracle, returns it with the oracle snapshot. */
  async checkpoint(tag?: string): Promise<{ cp: Checkpoint; snapshot: OracleSnapshot }> {
    await this.pipeline.converge();
    const snapshot = this.ctx.oracle.snapshot();
    const cp = await this.pipeline.cutAndVerify(tag);
    return { cp, snapshot };
  }

  /** Runs an operation to its end while the clock moves (boot delays, promotion, final sync). */
  run<T>(what: string, action: Promise<T>): Promise<T> {
    return this.pipeline.whileAdvancing(what, action);
  }

  /** A reader of a recovered VM's volumes by the source VM's volume ids (disks are in the source's order). */
  async recoveredReader(recoveredVmId: VmId, sourceVmId: VmId): Promise<ImageReader> {
    const source = this.vms.find((v) => v.id === sourceVmId);
    assert.ok(source, `'${sourceVmId}' is a protected VM of the group`);
    const recovered = await this.recoveryHypervisor.getVm(recoveredVmId);
    assert.equal(recovered.volumes.length, source.volumes.length, `recovered VM '${recoveredVmId}' has one disk per protected volume`);
    const map = new Map<VolumeId, VolumeId>(source.volumes.map((v, i) => [v.id, recovered.volumes[i].id]));
    return { read: (volumeId, offset, length) => this.recoveryHypervisor.readVolume(recoveredVmId, map.get(volumeId)!, offset, length) };
  }

  /** Every recovered VM of an operation equals the oracle snapshot of its source VM, block by block. */
  async assertRecovered(vms: ActiveRecovery['vms'], snapshot: OracleSnapshot, label: string): Promise<void> {
    assert.ok(vms.length > 0, `${label}: VMs were recovered`);
    for (const v of vms) {
      await assertImageEquals(await this.recoveredReader(v.recoveredVmId, v.sourceVmId), snapshot.vm(v.sourceVmId), `${label}: recovered VM '${v.recoveredVmId}' (from '${v.sourceVmId}')`);
    }
  }

  /** True when every NIC of the VM sits on an isolated (test) network. */
  async onIsolatedNetworks(vmId: VmId): Promise<boolean> {
    const [vm, inventory] = await Promise.all([this.recoveryHypervisor.getVm(vmId), this.recoveryHypervisor.inventory()]);
    return vm.nics.length > 0 && vm.nics.every((n) => inventory.networks.find((x) => x.id === n.networkId)?.isolated === true);
  }

  async vmExists(vmId: VmId): Promise<boolean> {
    return (await this.recoveryHypervisor.inventory()).vms.some((v) => v.id === vmId);
  }

  lastReport(): RecoveryReport {
    const r = this.orchestrator.reportsNow(this.groupId).at(-1);
    assert.ok(r, 'a recovery report was recorded');
    return r;
  }

  /** The content of every volume of the source VMs now (for a second oracle that follows recovered VMs). */
  contents(): Map<VmId, Map<VolumeId, Buffer>> {
    const out = new Map<VmId, Map<VolumeId, Buffer>>();
    for (const vm of this.vms) out.set(vm.id, new Map(vm.volumes.map((v) => [v.id, this.ctx.oracle.read(vm.id, v.id, 0, v.sizeBytes)])));
    return out;
  }

  /** Starts reverse protection: seeds the reverse replicas from the original disks (locally), then protects the recovered VMs back. */
  async startReverse(request: ReverseProtectionRequest): Promise<void> {
    const h = this.ctx.harness;
    const storage = new MemoryStorage();
    const groupId = `${request.groupId}-reverse`;
    let seededBytes = 0;
    for (const vm of request.vms) {
      for (const v of vm.volumes) {
        const r = await seedReplicaVolume({
          storage, groupId, vmId: vm.recoveredVmId, volumeId: v.recoveredVolumeId, sizeBytes: v.sizeBytes,
          read: (offset, length) => h.hypervisor.readVolume(vm.sourceVmId, v.sourceVolumeId, offset, length),
        });
        seededBytes += r.bytesWritten;
      }
    }
    const receiver = new RecoveryAppliance({ siteId: 'original', storage, clock: h.clock, network: this.pipeline.network.endpoint('protected') });
    const address = await receiver.listen('protected:0');
    const appliance = new ProtectedAppliance({
      siteId: 'recovery', hypervisor: this.recoveryHypervisor, network: this.pipeline.network.endpoint('recovery'), clock: h.clock,
      bufferBytes: 8 * MiB, bitmapBudgetBytes: 64 * 1024,
    });
    const sender = await appliance.protect({ groupId, settings: this.pipeline.settings, vmIds: request.vms.map((v) => v.recoveredVmId), recoveryAddress: address, preseeded: true });
    let n = 0;
    const scheduler = new CheckpointScheduler({ clock: h.clock, senders: [sender], intervalMs: this.pipeline.settings.checkpointIntervalMs, newId: () => `${groupId}-cp-${++n}` });
    this.reverse = { groupId, request, receiver, appliance, sender, scheduler, seededBytes };
  }

  /** Waits until reverse protection streams with nothing buffered or recorded. */
  async reverseConverged(): Promise<ReverseSite> {
    const r = this.reverse;
    assert.ok(r, 'reverse protection was started');
    await this.pipeline.waitFor('reverse protection to converge', () => {
      const s = r.sender.state;
      const st = r.sender.currentStats();
      return s.phase === 'streaming' && s.connected && st.bufferedBytes === 0 && st.bitmapDirtyBytes === 0;
    });
    return r;
  }

  /** Cuts a reverse checkpoint and compares the original site's image of every recovered VM with `expected` (keyed by recovered VM id). */
  async verifyReverse(expected: OracleSnapshot): Promise<Checkpoint> {
    const r = await this.reverseConverged();
    const cp = r.scheduler.cut('tagged', 'reverse');
    assert.ok(cp, `a reverse checkpoint could be cut (${r.scheduler.blockedBy() ?? ''})`);
    const vmIds = r.request.vms.map((v) => v.recoveredVmId);
    await this.pipeline.waitFor('the reverse checkpoint to be listed', () => vmIds.every((id) => r.receiver.journal(r.groupId, id)?.checkpoints().some((c) => c.id === cp.id)));
    for (const id of vmIds) {
      const image = await r.receiver.journal(r.groupId, id)!.openImage(cp.id);
      try {
        await assertImageEquals(image, expected.vm(id), `reverse-protected image of recovered VM '${id}'`);
      } finally {
        image.close();
      }
    }
    return cp;
  }

  async stop(): Promise<void> {
    if (this.reverse) {
      this.reverse.scheduler.stop();
      await this.reverse.appliance.stop();
      await this.reverse.receiver.stop();
    }
    await this.pipeline.stop();
  }
}

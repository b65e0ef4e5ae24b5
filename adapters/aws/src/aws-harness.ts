// The conformance harness of the AWS adapter. Recovery storage is S3 (a real s3rver in a child process,
// through @aws-sdk/client-s3) behind the fault injector, with standby snapshot chains following the
// replicas; the recovery platform is AwsHypervisor on the EBS/EC2 SIMULATION (real SDK clients over
// loopback). The protected site depends on the capture mode asked for: `splitter` (default) protects
// VMs of the fake data centre through its write tap, so groups protected on another platform recover
// into AWS; `change-tracking` protects simulated EC2 instances by EBS snapshots. The kernel's clock is
// virtual; it waits for S3 and the standby chains to go idle after every timer, so work a timer starts
// completes at its virtual instant.
import {
  CAPABILITIES, ValidationError, VirtualClock,
  type Capability, type CapabilityTable, type ConformanceHarness, type Fault, type HarnessOptions, type HypervisorAdapter, type ProtectedVmSpec,
  type VmId, type VmInfo, type VolumeId, type VolumeInfo,
} from '@opencdp/core';
import { FakeConsistencyAgent, FakeDataCenter, FakeHypervisor, FaultyStorage } from '@opencdp/adapter-fake';
import { AwsHypervisor } from './aws-hypervisor.js';
import { GIB, gibFor } from './ebs/ebs-direct.js';
import { VIEW_STATE_TAG, VIEW_VM_TAG } from './ec2/ebs-change-tracking.js';
import { VM_ID_TAG, deviceNameOf } from './ec2/vm-info.js';
import { S3Storage } from './s3/s3-storage.js';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from './s3/s3rver-process.js';
import { createS3Client } from './aws-clients.js';
import { writeBlocks } from './simulation/simulated-block-store.js';
import { ReplicaTrackingStorage } from './standby/replica-tracking-storage.js';
import { StandbyChains } from './standby/standby-chains.js';
import { launchInstance, startSimulatedAws, type SimulatedAwsRig } from './testing/simulated-aws-rig.js';

export interface AwsHarnessOptions extends HarnessOptions {
  seed?: number;
  /** Standby chains update every this much clock time (default 10 s); 0 turns them off. */
  standbyIntervalMs?: number;
  /** S3 chunk size of journals and replicas (default 256 KiB: conformance volumes are small). */
  chunkBytes?: number;
  /** How long an injected host restart keeps a fake host down (default 1000 ms of clock time). */
  hostDownMs?: number;
  /**
   * An s3rver to use (its bucket `opencdp-harness` must exist) instead of starting one; with it the
   * harness works under `prefix` and leaves the server running at dispose.
   */
  s3rver?: S3rverHandle;
  /** Key prefix of the harness's recovery storage (default `site/`). */
  prefix?: string;
  managerDownMs?: number;
}

export interface AwsHarness extends ConformanceHarness {
  readonly clock: VirtualClock;
  readonly capture: 'splitter' | 'change-tracking';
  readonly s3rver: S3rverHandle;
  readonly s3Storage: S3Storage;
  readonly recoveryStorage: FaultyStorage;
  readonly aws: SimulatedAwsRig;
  readonly recoveryHypervisor: AwsHypervisor;
  readonly standby?: StandbyChains;
  readonly dataCenter?: FakeDataCenter;
}

export const AWS_UNSUPPORTED = {
  noSplitter: 'EC2 has no write splitter: instances are protected by EBS snapshots (capture mode change-tracking)',
  noCt: 'the protected VMs are the fake data centre\'s, split by its write tap (capture mode splitter); EBS change tracking is the change-tracking harness',
  noHostRestart: 'a tenant cannot restart an EC2 host',
  noManager: 'EC2 has no hypervisor manager a tenant could restart',
  noAgent: 'no guest agent runs in the simulated EC2 instances',
} as const;

export async function createAwsHarness(options: AwsHarnessOptions = {}): Promise<AwsHarness> {
  const capture = options.capture ?? 'splitter';
  const ownServer = options.s3rver === undefined;
  const s3rver = options.s3rver ?? await startS3rver({ buckets: ['opencdp-harness'] });
  const s3Client = createS3Client({ region: 'us-east-1', endpoint: s3rver.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 3 });
  const s3Storage = new S3Storage({ client: s3Client, bucket: 'opencdp-harness', prefix: options.prefix ?? 'site/', chunkBytes: options.chunkBytes ?? 256 * 1024 });
  let standby: StandbyChains | undefined;
  const idle = async (): Promise<void> => {
    for (let round = 0; round < 3; round++) {
      await s3Storage.idle();
      await standby?.idle();
    }
  };
  const clock = new VirtualClock(Date.now(), { idle });
  let aws: SimulatedAwsRig;
  try {
    aws = await startSimulatedAws({ clock, seed: options.seed ?? 1 });
  } catch (error) {
    s3Client.destroy();
    if (ownServer) await s3rver.stop();
    throw error;
  }
  const recoveryHypervisor = aws.hypervisor;
  const interval = options.standbyIntervalMs ?? 10_000;
  if (interval > 0) {
    standby = new StandbyChains({ ebs: recoveryHypervisor.ebs, ec2: recoveryHypervisor.ec2, storage: s3Storage, clock, intervalMs: interval });
    recoveryHypervisor.useStandby(standby);
    standby.start();
  }
  const recoveryStorage = new FaultyStorage(standby ? new ReplicaTrackingStorage(s3Storage, standby) : s3Storage, clock);

  let dataCenter: FakeDataCenter | undefined;
  let hypervisor: HypervisorAdapter = recoveryHypervisor;
  let protectedHosts: string[] = [];
  if (capture === 'splitter') {
    dataCenter = new FakeDataCenter({ clock, seed: options.seed ?? 1 });
    const site = dataCenter.addSite('protected');
    protectedHosts = [dataCenter.addHost(site.id, 'protected-host-1').id, dataCenter.addHost(site.id, 'protected-host-2').id];
    hypervisor = new FakeHypervisor(dataCenter, site.id);
  }
  const dc = dataCenter;
  const agent = dc ? new FakeConsistencyAgent(dc) : undefined;
  let created = 0;

  /** The simulated volume a guest of `vmId` writes to (an instance, or the instance of a recovery VM). */
  const simVolume = async (vmId: VmId, volumeId: VolumeId): Promise<ReturnType<SimulatedAwsRig['sim']['state']['guestVolume']>> => {
    const state = aws.sim.state;
    state.tick();
    const instance = vmId.startsWith('ami-')
      ? [...state.instances.values()].find((i) => i.tags.get(VM_ID_TAG) === vmId && i.state !== 'terminated' && i.state !== 'shutting-down')
      : state.instances.get(vmId);
    if (!instance) throw new ValidationError(`VM '${vmId}' has no running instance to write to`, 'vmId', 'power the VM on first');
    return state.guestVolume(instance.id, volumeId);
  };

  const harness: AwsHarness = {
    name: capture === 'splitter' ? 'aws' : 'aws-ec2',
    capture,
    capabilities: awsCapabilities(capture),
    clock,
    hypervisor,
    recoveryHypervisor,
    recoveryStorage,
    s3rver,
    s3Storage,
    aws,
    ...(standby ? { standby } : {}),
    ...(dc ? { dataCenter: dc } : {}),
    ...(agent ? { consistencyAgent: agent } : {}),

    async createVm(spec: ProtectedVmSpec): Promise<VmInfo> {
      if (dc) {
        const hostId = spec.hostId ?? protectedHosts[created % protectedHosts.length];
        if (!protectedHosts.includes(hostId)) throw new ValidationError(`host '${hostId}' is not at the protected site`, 'hostId', `use one of ${protectedHosts.join(', ')}`);
        created++;
        return dc.createVm({ name: spec.name, hostId, volumes: spec.volumes });
      }
      // EBS volumes come in whole GiB: the protected instance gets the next size up.
      created++;
      return launchInstance(aws, spec.name, spec.volumes.map((v) => gibFor(v.sizeBytes)));
    },

    async addVolume(vmId: VmId, volume: ProtectedVmSpec['volumes'][number]): Promise<VolumeInfo> {
      if (dc) return dc.addVolumeToVm(vmId, volume);
      const vm = await recoveryHypervisor.getVm(vmId);
      const volumeId = await recoveryHypervisor.ec2.createVolume(vm.hostId, gibFor(volume.sizeBytes), 'gp3', { Name: volume.name ?? `${vm.name} disk ${vm.volumes.length}` });
      await recoveryHypervisor.ec2.attachVolume(volumeId, vmId, deviceNameOf(vm.volumes.length));
      const added = (await recoveryHypervisor.getVm(vmId)).volumes.find((v) => v.id === volumeId);
      if (!added) throw new ValidationError(`volume '${volumeId}' did not attach to '${vmId}'`, 'vmId');
      return added;
    },

    async guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      if (dc && dc.inventory().vms.some((v) => v.id === vmId)) return dc.guestWrite(vmId, volumeId, offset, data);
      const volume = await simVolume(vmId, volumeId);
      if (offset + data.length > volume.size * GIB) throw new ValidationError(`write past the end of volume '${volumeId}'`, 'offset');
      writeBlocks(aws.sim.state.blocks, volume.blocks, offset, data);
    },

    advance(ms: number): Promise<void> {
      return clock.advance(ms);
    },

    async injectFault(fault: Fault): Promise<void> {
      const state = aws.sim.state;
      switch (fault.kind) {
        case 'storage-error':
        case 'storage-full':
        case 'storage-slow':
          recoveryStorage.setFault(fault);
          return;
        case 'host-restart': {
          if (!dc) throw new ValidationError(AWS_UNSUPPORTED.noHostRestart, 'kind');
          const back = dc.restartHost(fault.hostId, options.hostDownMs ?? 1000);
          if (dc.isHostUp(fault.hostId)) await back;
          return;
        }
        case 'hypervisor-manager-restart':
          if (!dc) throw new ValidationError(AWS_UNSUPPORTED.noManager, 'kind');
          dc.restartHypervisorManager(dc.sites()[0].id, options.managerDownMs ?? 1000);
          return;
        case 'view-open-fail':
          state.inject({ kind: 'server-error', service: 'ec2', operation: 'CreateSnapshots', count: Number.MAX_SAFE_INTEGER });
          return;
        case 'view-release-fail':
          for (const operation of ['DeleteSnapshot', 'CreateTags']) state.inject({ kind: 'server-error', service: 'ec2', operation, count: Number.MAX_SAFE_INTEGER });
          return;
        case 'token-reset':
          // As if the volume's snapshot lineage were gone: every token of the VM is deleted behind the kernel's back.
          for (const s of [...state.snapshots.values()]) if (s.tags.get(VIEW_VM_TAG) === fault.vmId && s.tags.get(VIEW_STATE_TAG) === 'token') state.dropSnapshot(s);
          return;
        case 'view-lost':
          for (const s of [...state.snapshots.values()]) if (s.tags.get(VIEW_STATE_TAG) === 'view') state.dropSnapshot(s);
          return;
        default:
          throw new ValidationError(`unknown fault '${(fault as { kind: string }).kind}'`, 'kind');
      }
    },

    async clearFaults(): Promise<void> {
      recoveryStorage.setFault(undefined);
      aws.sim.clearFaults();
      if (dc) for (const host of dc.inventory().hosts) dc.bringHostUp(host.id);
    },

    async crashRecoveryStorage(): Promise<void> {
      // kill -9 of the recovery appliance: S3 requests are cut off, unflushed writes and the standby
      // chains' change sets (process memory) are lost; what S3 acknowledged stays.
      s3Storage.crash();
      standby?.invalidate();
    },

    async dispose(): Promise<void> {
      recoveryStorage.setFault(undefined);
      await standby?.stop();
      dc?.dispose();
      await aws.dispose();
      s3Client.destroy();
      if (ownServer) await s3rver.stop();
    },
  };
  return harness;
}

/** Every capability said explicitly, for the capture mode asked for. */
export function awsCapabilities(capture: 'splitter' | 'change-tracking'): CapabilityTable {
  const splitter = capture === 'splitter';
  const known: Partial<Record<Capability, true | string>> = {
    writeTap: splitter ? true : AWS_UNSUPPORTED.noSplitter,
    changeTracking: splitter ? AWS_UNSUPPORTED.noCt : true,
    virtualClock: true,
    faultStorageError: true,
    faultStorageFull: true,
    faultStorageSlow: true,
    faultStorageCrash: true,
    faultHostRestart: splitter ? true : AWS_UNSUPPORTED.noHostRestart,
    faultHypervisorManagerRestart: splitter ? true : AWS_UNSUPPORTED.noManager,
    volumeHotAdd: true,
    consistencyAgent: splitter ? true : AWS_UNSUPPORTED.noAgent,
    recoveryVm: true,
    recoveryPromotion: true,
    faultChangeTracking: splitter ? AWS_UNSUPPORTED.noCt : true,
  };
  return Object.fromEntries(CAPABILITIES.map((c) => [c, known[c] ?? `the aws harness does not implement '${c}' yet`])) as CapabilityTable;
}

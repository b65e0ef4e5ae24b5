// Test support: the EBS/EC2 SIMULATION on loopback with the real SDK clients and an AwsHypervisor
// pointed at it, plus helpers that do what an AWS operator would (launch an instance with empty
// volumes, move a virtual clock while an operation polls). Used by specs, the harness and benchmarks.
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { VirtualClock, type Clock, type VmInfo } from '@opencdp/core';
import { createEbsClient, createEc2Client } from '../aws-clients.js';
import { AwsHypervisor, type AwsHypervisorOptions } from '../aws-hypervisor.js';
import { tagSpec } from '../ec2/ec2-api.js';
import { SIMULATED_CREDENTIALS, SimulatedAwsServer } from '../simulation/simulated-aws-server.js';
import type { SimulationDelays } from '../simulation/simulated-aws-state.js';

export const SIM_REGION = 'eu-west-1';
export const SIM_LIVE_SUBNET = 'subnet-0live0000000000000';
export const SIM_TEST_SUBNET = 'subnet-0test0000000000000';

export interface SimulatedAwsRig {
  readonly sim: SimulatedAwsServer;
  readonly ec2Client: EC2Client;
  readonly ebsClient: EBSClient;
  readonly hypervisor: AwsHypervisor;
  readonly clock: Clock;
  dispose(): Promise<void>;
}

export interface SimulatedAwsRigOptions {
  clock: Clock;
  seed?: number;
  delays?: SimulationDelays;
  /** SDK attempts per call (default 4: throttling and 5xx are retried). */
  maxAttempts?: number;
  hypervisor?: Partial<Omit<AwsHypervisorOptions, 'ec2' | 'ebs' | 'clock'>>;
}

export async function startSimulatedAws(options: SimulatedAwsRigOptions): Promise<SimulatedAwsRig> {
  const sim = await SimulatedAwsServer.start({ clock: options.clock, region: SIM_REGION, seed: options.seed ?? 1, ...(options.delays ? { delays: options.delays } : {}) });
  // Short fixed retry delays: the SDK's real backoff would make throttling tests slow, not more faithful.
  const client = { region: SIM_REGION, endpoint: sim.endpoint, credentials: SIMULATED_CREDENTIALS, maxAttempts: options.maxAttempts ?? 4, retryDelayMs: 5 };
  const ec2Client = createEc2Client(client);
  const ebsClient = createEbsClient(client);
  const hypervisor = new AwsHypervisor({
    ec2: ec2Client, ebs: ebsClient, clock: options.clock, wait: { pollMs: 2000, timeoutMs: 10 * 60_000 },
    recovery: { securityGroupIds: ['sg-0live'], testSecurityGroupIds: ['sg-0test'] }, ...options.hypervisor,
  });
  return {
    sim, ec2Client, ebsClient, hypervisor, clock: options.clock,
    async dispose() {
      ec2Client.destroy();
      ebsClient.destroy();
      await sim.stop();
    },
  };
}

/**
 * Launches an instance the way an operator would: empty EBS snapshots (EBS direct, no blocks) of the
 * given sizes become an AMI, and RunInstances starts it on `subnetId`. Returns it as a VM.
 */
export async function launchInstance(rig: SimulatedAwsRig, name: string, volumeGiB: readonly number[], subnetId = SIM_LIVE_SUBNET): Promise<VmInfo> {
  const hv = rig.hypervisor;
  const snapshots: string[] = [];
  for (const gib of volumeGiB) {
    const upload = await hv.ebs.startSnapshot({ volumeSizeGiB: gib, description: `empty ${gib} GiB` });
    await upload.complete();
    snapshots.push(upload.snapshotId);
  }
  await hv.ec2.waitSnapshots(snapshots);
  const imageId = await hv.ec2.registerImage({
    Name: `base-${name}`, RootDeviceName: '/dev/xvda',
    BlockDeviceMappings: snapshots.map((s, i) => ({ DeviceName: i === 0 ? '/dev/xvda' : `/dev/sd${String.fromCharCode(98 + i)}`, Ebs: { SnapshotId: s, DeleteOnTermination: true } })),
  });
  const instance = await hv.ec2.runInstance({ ImageId: imageId, InstanceType: 't3.micro', SubnetId: subnetId, TagSpecifications: [tagSpec('instance', { Name: name })] });
  await whileAdvancing(rig.clock, hv.ec2.waitInstance(instance.InstanceId!, 'running'));
  return hv.getVm(instance.InstanceId!);
}

/** Resolves `action`, moving a virtual clock on meanwhile so its polls and delays pass. */
export async function whileAdvancing<T>(clock: Clock, action: Promise<T>, stepMs = 2000): Promise<T> {
  if (!(clock instanceof VirtualClock)) return action;
  let done = false;
  const result = action.finally(() => { done = true; });
  result.catch(() => undefined);
  while (!done) {
    await clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return result;
}

// The EC2 calls the adapter makes, typed and in one place: every SDK failure becomes an AwsApiError that
// names the operation and AWS's code; waits poll on the injected clock (first look at once, so a
// platform whose state is already there costs no sleep) and end in typed errors that name what AWS said.
import {
  AttachVolumeCommand, CreateVolumeCommand, CreateSnapshotCommand, CreateSnapshotsCommand, CreateTagsCommand, DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand,
  DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeSubnetsCommand, DescribeVolumesCommand, RegisterImageCommand, RunInstancesCommand,
  StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand,
  type EC2Client, type Filter, type Image, type Instance, type RunInstancesCommandInput, type Snapshot, type Subnet, type Volume, type VolumeType,
} from '@aws-sdk/client-ec2';
import type { Clock } from '@opencdp/core';
import { AwsApiError, InstanceStateError, SnapshotFailedError, toAwsApiError } from '../aws-errors.js';

export type Tags = Record<string, string>;

export function tagSpec(resourceType: 'instance' | 'volume' | 'snapshot' | 'image', tags: Tags): { ResourceType: typeof resourceType; Tags: { Key: string; Value: string }[] } {
  return { ResourceType: resourceType, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) };
}

export function tagsOf(resource: { Tags?: { Key?: string; Value?: string }[] }): Tags {
  return Object.fromEntries((resource.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

export interface Ec2WaitOptions {
  /** Between two looks at a resource (default 2 s). */
  pollMs: number;
  /** Give up after this long (default 15 min). */
  timeoutMs: number;
}

export class Ec2Api {
  constructor(readonly client: EC2Client, private readonly clock: Clock, private readonly wait: Ec2WaitOptions = { pollMs: 2000, timeoutMs: 15 * 60_000 }) {}

  async describeInstances(ids?: readonly string[], filters?: Filter[]): Promise<Instance[]> {
    if (ids && ids.length === 0) return [];
    const out: Instance[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('DescribeInstances', () => this.client.send(new DescribeInstancesCommand({
        ...(ids ? { InstanceIds: [...ids] } : { MaxResults: 1000 }), ...(filters ? { Filters: filters } : {}), ...(token ? { NextToken: token } : {}),
      })));
      for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
      token = page.NextToken;
    } while (token);
    return out;
  }

  async instance(id: string): Promise<Instance | undefined> {
    try {
      return (await this.describeInstances([id]))[0];
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'InvalidInstanceID.NotFound') return undefined;
      throw error;
    }
  }

  async describeVolumes(filters?: Filter[], ids?: readonly string[]): Promise<Volume[]> {
    if (ids && ids.length === 0) return [];
    const out: Volume[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('DescribeVolumes', () => this.client.send(new DescribeVolumesCommand({
        ...(ids ? { VolumeIds: [...ids] } : { MaxResults: 500 }), ...(filters ? { Filters: filters } : {}), ...(token ? { NextToken: token } : {}),
      })));
      out.push(...(page.Volumes ?? []));
      token = page.NextToken;
    } while (token);
    return out;
  }

  async describeSnapshots(filters?: Filter[], ids?: readonly string[]): Promise<Snapshot[]> {
    if (ids && ids.length === 0) return [];
    const out: Snapshot[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('DescribeSnapshots', () => this.client.send(new DescribeSnapshotsCommand({
        OwnerIds: ['self'], ...(ids ? { SnapshotIds: [...ids] } : { MaxResults: 1000 }), ...(filters ? { Filters: filters } : {}), ...(token ? { NextToken: token } : {}),
      })));
      out.push(...(page.Snapshots ?? []));
      token = page.NextToken;
    } while (token);
    return out;
  }

  async describeImages(filters?: Filter[], ids?: readonly string[]): Promise<Image[]> {
    if (ids && ids.length === 0) return [];
    const out = await this.send('DescribeImages', () => this.client.send(new DescribeImagesCommand({ Owners: ['self'], ...(ids ? { ImageIds: [...ids] } : {}), ...(filters ? { Filters: filters } : {}) })));
    return out.Images ?? [];
  }

  async describeSubnets(): Promise<Subnet[]> {
    const out = await this.send('DescribeSubnets', () => this.client.send(new DescribeSubnetsCommand({})));
    return out.Subnets ?? [];
  }

  /** Snapshots of every volume of one instance at one instant (crash-consistent across them). */
  async createSnapshots(instanceId: string, tags: Tags, description: string): Promise<Snapshot[]> {
    const out = await this.send('CreateSnapshots', () => this.client.send(new CreateSnapshotsCommand({
      InstanceSpecification: { InstanceId: instanceId, ExcludeBootVolume: false }, Description: description, TagSpecifications: [tagSpec('snapshot', tags)],
    })));
    return (out.Snapshots ?? []).map((s) => ({ SnapshotId: s.SnapshotId, VolumeId: s.VolumeId, State: s.State, StartTime: s.StartTime, VolumeSize: s.VolumeSize }));
  }

  async createSnapshot(volumeId: string, tags: Tags, description: string): Promise<string> {
    const out = await this.send('CreateSnapshot', () => this.client.send(new CreateSnapshotCommand({ VolumeId: volumeId, Description: description, TagSpecifications: [tagSpec('snapshot', tags)] })));
    return out.SnapshotId!;
  }

  /** Deletes a snapshot; one that is already gone is no error. */
  async deleteSnapshot(id: string): Promise<void> {
    try {
      await this.send('DeleteSnapshot', () => this.client.send(new DeleteSnapshotCommand({ SnapshotId: id })));
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'InvalidSnapshot.NotFound') return;
      throw error;
    }
  }

  async createTags(ids: readonly string[], tags: Tags): Promise<void> {
    await this.send('CreateTags', () => this.client.send(new CreateTagsCommand({ Resources: [...ids], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) })));
  }

  async registerImage(input: ConstructorParameters<typeof RegisterImageCommand>[0]): Promise<string> {
    const out = await this.send('RegisterImage', () => this.client.send(new RegisterImageCommand(input)));
    return out.ImageId!;
  }

  /** Deregisters an AMI; one that is already gone is no error. */
  async deregisterImage(id: string): Promise<void> {
    try {
      await this.send('DeregisterImage', () => this.client.send(new DeregisterImageCommand({ ImageId: id })));
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'InvalidAMIID.NotFound') return;
      throw error;
    }
  }

  async runInstance(input: Omit<RunInstancesCommandInput, 'MinCount' | 'MaxCount'>): Promise<Instance> {
    const out = await this.send('RunInstances', () => this.client.send(new RunInstancesCommand({ ...input, MinCount: 1, MaxCount: 1 })));
    return out.Instances![0];
  }

  async createVolume(availabilityZone: string, sizeGiB: number, volumeType: string, tags: Tags): Promise<string> {
    const out = await this.send('CreateVolume', () => this.client.send(new CreateVolumeCommand({
      AvailabilityZone: availabilityZone, Size: sizeGiB, VolumeType: volumeType as VolumeType, TagSpecifications: [tagSpec('volume', tags)],
    })));
    return out.VolumeId!;
  }

  async attachVolume(volumeId: string, instanceId: string, device: string): Promise<void> {
    await this.send('AttachVolume', () => this.client.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: device })));
  }

  async startInstance(id: string): Promise<void> {
    await this.send('StartInstances', () => this.client.send(new StartInstancesCommand({ InstanceIds: [id] })));
  }

  async stopInstance(id: string, force: boolean): Promise<void> {
    await this.send('StopInstances', () => this.client.send(new StopInstancesCommand({ InstanceIds: [id], Force: force })));
  }

  async terminateInstance(id: string): Promise<void> {
    try {
      await this.send('TerminateInstances', () => this.client.send(new TerminateInstancesCommand({ InstanceIds: [id] })));
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'InvalidInstanceID.NotFound') return;
      throw error;
    }
  }

  /** Waits until the instance is in `wanted`; one that terminates instead fails with its state reason. */
  async waitInstance(id: string, wanted: 'running' | 'stopped' | 'terminated'): Promise<Instance> {
    const deadline = this.clock.now() + this.wait.timeoutMs;
    for (;;) {
      const i = await this.instance(id);
      const state = i?.State?.Name;
      if (state === wanted) return i!;
      if (!i || (state === 'terminated' && wanted !== 'terminated') || (state === 'shutting-down' && wanted !== 'terminated')) {
        const reason = i?.StateReason ? `${i.StateReason.Code}: ${i.StateReason.Message}` : 'the instance is gone';
        throw new InstanceStateError(id, wanted, `it is ${state ?? 'unknown'} (${reason})`);
      }
      if (this.clock.now() >= deadline) throw new InstanceStateError(id, wanted, `still ${state} after ${Math.round(this.wait.timeoutMs / 1000)} s`);
      await this.clock.sleep(this.wait.pollMs);
    }
  }

  /** Waits until every snapshot is completed; one in state error fails the wait (the caller cleans up). */
  async waitSnapshots(ids: readonly string[]): Promise<Snapshot[]> {
    const deadline = this.clock.now() + this.wait.timeoutMs;
    for (;;) {
      const snaps = await this.describeSnapshots(undefined, ids);
      const failed = snaps.find((s) => s.State === 'error');
      if (failed) throw new SnapshotFailedError(failed.SnapshotId!, failed.StateMessage ?? 'state error');
      if (snaps.length === ids.length && snaps.every((s) => s.State === 'completed')) return snaps;
      if (this.clock.now() >= deadline) throw new SnapshotFailedError(ids.join(', '), `not completed after ${Math.round(this.wait.timeoutMs / 1000)} s`);
      await this.clock.sleep(this.wait.pollMs);
    }
  }

  private async send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw toAwsApiError('EC2', operation, error);
    }
  }
}

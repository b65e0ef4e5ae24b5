// SIMULATION of an AWS account's EC2 and EBS resources for tests: snapshots, volumes, instances, AMIs
// and subnets, with the state machines AWS documents (a snapshot is pending, then completed or error;
// an instance is pending → running → stopping → stopped, shutting-down → terminated) advanced lazily
// on an injected clock, so a virtual clock drives them without sleeping. Faults are injected on demand
// (throttling, 5xx, a failing snapshot or launch, a corrupted block). The HTTP front ends
// (simulated-ebs-api.ts, simulated-ec2-api.ts) translate the wire protocols into calls on this state.
import { seededRandom, type Clock, type Random } from '@opencdp/core';
import { EBS_BLOCK_BYTES, SimulatedBlockStore, type BlockMap } from './simulated-block-store.js';

export type SimService = 'ebs' | 'ec2';

/** An AWS error the simulation answers with: code, HTTP status, message, and for EBS a `Reason`. */
export class SimulatedAwsError extends Error {
  constructor(readonly code: string, readonly status: number, message: string, readonly reason?: string) {
    super(message);
    this.name = code;
  }
}

export type SimulatedFault =
  /** The next `count` calls (of `operation`, or any) are throttled: RequestThrottledException / RequestLimitExceeded. */
  | { kind: 'throttle'; service: SimService; operation?: string; count: number }
  /** The next `count` calls fail with a 5xx: InternalServerException / InternalError. */
  | { kind: 'server-error'; service: SimService; operation?: string; count: number }
  /** The next `count` snapshots to complete go to state `error` instead. */
  | { kind: 'snapshot-error'; count: number }
  /** The next `count` launched instances go pending → terminated (Server.InternalError). */
  | { kind: 'launch-failure'; count: number }
  /** The next `count` GetSnapshotBlock answers carry data that does not match their checksum. */
  | { kind: 'corrupt-block'; count: number }
  /** Every session token issued so far is expired: ExpiredTokenException / RequestExpired. */
  | { kind: 'expire-session' };

export interface SimSnapshot {
  id: string;
  volumeSize: number;
  state: 'pending' | 'completed' | 'error';
  stateMessage?: string;
  startTime: number;
  /** When a pending snapshot whose data is all there becomes completed. */
  completesAt?: number;
  /** When an EBS-direct snapshot not completed by then goes to error (StartSnapshot's Timeout). */
  timeoutAt?: number;
  /** Every block of the snapshot (inherited ones included). */
  blocks: BlockMap;
  /** EBS direct: block index → checksum of the blocks written to this snapshot (ChangedBlocksCount, LINEAR checksum). */
  written: Map<number, string>;
  parentId?: string;
  lineage: string;
  origin: 'ebs-direct' | 'ec2';
  volumeId?: string;
  description?: string;
  tags: Map<string, string>;
  clientToken?: string;
  sealed: boolean;
}

export interface SimVolume {
  id: string;
  size: number;
  type: string;
  availabilityZone: string;
  state: 'available' | 'in-use' | 'deleted';
  snapshotId?: string;
  blocks: BlockMap;
  lineage: string;
  tags: Map<string, string>;
  attachment?: { instanceId: string; device: string; deleteOnTermination: boolean; attachTime: number };
  createTime: number;
}

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export const INSTANCE_STATE_CODES: Record<InstanceState, number> = {
  pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80,
};

export interface SimNic {
  id: string;
  subnetId: string;
  privateIp: string;
  mac: string;
  groups: string[];
  deviceIndex: number;
}

export interface SimInstance {
  id: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  availabilityZone: string;
  state: InstanceState;
  next?: { state: InstanceState; at: number; reason?: { code: string; message: string } };
  stateReason?: { code: string; message: string };
  nics: SimNic[];
  rootDeviceName: string;
  devices: { deviceName: string; volumeId: string; deleteOnTermination: boolean }[];
  tags: Map<string, string>;
  launchTime: number;
  clientToken?: string;
}

export interface SimImage {
  id: string;
  name: string;
  rootDeviceName: string;
  mappings: { deviceName: string; snapshotId: string; volumeSize: number; volumeType: string; deleteOnTermination: boolean }[];
  tags: Map<string, string>;
  creationDate: number;
}

export interface SimSubnet {
  id: string;
  vpcId: string;
  cidr: string;
  availabilityZone: string;
  tags: Map<string, string>;
}

export interface SimulationDelays {
  /** From CreateSnapshot(s) or CompleteSnapshot to state completed (default 0). */
  snapshotMs?: number;
  /** pending → running (default 0). */
  bootMs?: number;
  /** stopping → stopped (default 0). */
  stopMs?: number;
  /** shutting-down → terminated (default 0). */
  terminateMs?: number;
}

export interface SimulatedAwsOptions {
  clock: Clock;
  seed?: number;
  region?: string;
  accountId?: string;
  delays?: SimulationDelays;
  /** How long block tokens stay valid (default 7 days). */
  blockTokenTtlMs?: number;
  /** Subnets of the account (default: a live and an isolated test subnet in `<region>a`). */
  subnets?: { id: string; cidr: string; availabilityZone?: string; name?: string; tags?: Record<string, string> }[];
}

export class SimulatedAwsState {
  readonly clock: Clock;
  readonly region: string;
  readonly accountId: string;
  readonly blocks = new SimulatedBlockStore();
  readonly snapshots = new Map<string, SimSnapshot>();
  readonly volumes = new Map<string, SimVolume>();
  readonly instances = new Map<string, SimInstance>();
  readonly images = new Map<string, SimImage>();
  readonly subnets = new Map<string, SimSubnet>();
  readonly delays: Required<SimulationDelays>;
  readonly blockTokenTtlMs: number;
  /** Every call answered, as `service:Operation` (for tests that count calls). */
  readonly calls: string[] = [];
  private readonly faults: SimulatedFault[] = [];
  private readonly random: Random;
  /** Session tokens issued before this instant are expired (set by the `expire-session` fault). */
  sessionsExpiredAt = Number.NEGATIVE_INFINITY;

  constructor(options: SimulatedAwsOptions) {
    this.clock = options.clock;
    this.region = options.region ?? 'eu-west-1';
    this.accountId = options.accountId ?? '123456789012';
    this.random = seededRandom(options.seed ?? 1);
    this.delays = { snapshotMs: 0, bootMs: 0, stopMs: 0, terminateMs: 0, ...options.delays };
    this.blockTokenTtlMs = options.blockTokenTtlMs ?? 7 * 24 * 3_600_000;
    const az = `${this.region}a`;
    const subnets = options.subnets ?? [
      { id: 'subnet-0live0000000000000', cidr: '10.1.0.0/24', name: 'production' },
      { id: 'subnet-0test0000000000000', cidr: '192.168.77.0/24', name: 'dr-test', tags: { 'opencdp:isolated': 'true' } },
    ];
    for (const s of subnets) {
      const tags = new Map(Object.entries({ ...(s.name ? { Name: s.name } : {}), ...s.tags }));
      this.subnets.set(s.id, { id: s.id, vpcId: 'vpc-0sim00000000000000', cidr: s.cidr, availabilityZone: s.availabilityZone ?? az, tags });
    }
  }

  // ---- ids, faults, time ---------------------------------------------------------------------

  newId(prefix: string): string {
    let hex = '';
    for (let i = 0; i < 17; i++) hex += this.random.int(0, 15).toString(16);
    return `${prefix}-${hex}`;
  }

  newMac(): string {
    return ['0a', ...Array.from({ length: 5 }, () => this.random.int(0, 255).toString(16).padStart(2, '0'))].join(':');
  }

  inject(fault: SimulatedFault): void {
    if (fault.kind === 'expire-session') {
      this.sessionsExpiredAt = Date.now() + 1;
      return;
    }
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.sessionsExpiredAt = Number.NEGATIVE_INFINITY;
  }

  /** Takes one unit of a pending fault of `kind` matching the call, if any. */
  takeFault(kind: SimulatedFault['kind'], service?: SimService, operation?: string): boolean {
    const i = this.faults.findIndex((f) => f.kind === kind
      && (!('service' in f) || f.service === service)
      && (!('operation' in f) || f.operation === undefined || f.operation === operation));
    if (i < 0) return false;
    const f = this.faults[i] as { count: number };
    if (--f.count <= 0) this.faults.splice(i, 1);
    return true;
  }

  /** Applies every state change due by now (snapshots completing or timing out, instances changing state). */
  tick(): void {
    const now = this.clock.now();
    for (const s of this.snapshots.values()) {
      if (s.state !== 'pending') continue;
      if (s.completesAt !== undefined && s.completesAt <= now) {
        if (this.takeFault('snapshot-error')) {
          s.state = 'error';
          s.stateMessage = 'Snapshot creation failed (simulated fault)';
        } else s.state = 'completed';
      } else if (s.completesAt === undefined && s.timeoutAt !== undefined && s.timeoutAt <= now) {
        s.state = 'error';
        s.stateMessage = 'Snapshot was not completed before its timeout';
      }
    }
    for (const i of this.instances.values()) {
      while (i.next && i.next.at <= now) {
        const { state, reason } = i.next;
        i.next = undefined;
        this.enterState(i, state, reason);
      }
    }
  }

  /** Moves an instance to `state` now, or schedules it `delayMs` from now (through `via` meanwhile). */
  transition(i: SimInstance, via: InstanceState, to: InstanceState, delayMs: number, reason?: { code: string; message: string }): void {
    this.enterState(i, via);
    if (delayMs <= 0) this.enterState(i, to, reason);
    else i.next = { state: to, at: this.clock.now() + delayMs, ...(reason ? { reason } : {}) };
  }

  private enterState(i: SimInstance, state: InstanceState, reason?: { code: string; message: string }): void {
    i.state = state;
    if (reason) i.stateReason = reason;
    if (state === 'terminated') {
      for (const d of i.devices) {
        const v = this.volumes.get(d.volumeId);
        if (!v) continue;
        v.attachment = undefined;
        if (d.deleteOnTermination) this.dropVolume(v);
        else v.state = 'available';
      }
      i.devices = [];
    }
  }

  dropVolume(v: SimVolume): void {
    this.blocks.releaseAll(v.blocks);
    v.state = 'deleted';
    this.volumes.delete(v.id);
  }

  dropSnapshot(s: SimSnapshot): void {
    this.blocks.releaseAll(s.blocks);
    this.snapshots.delete(s.id);
  }

  // ---- what a guest inside an instance does (test backdoor, not an AWS API) -------------------

  /** The volume as an instance's guest sees it; the instance must be running. */
  guestVolume(instanceId: string, volumeId: string): SimVolume {
    this.tick();
    const i = this.instances.get(instanceId);
    if (!i || i.state !== 'running') throw new SimulatedAwsError('IncorrectInstanceState', 400, `instance ${instanceId} is not running`);
    const v = this.volumes.get(volumeId);
    if (!v || v.attachment?.instanceId !== instanceId) throw new SimulatedAwsError('InvalidVolume.NotFound', 400, `volume ${volumeId} is not attached to ${instanceId}`);
    return v;
  }

  /** Counts of live resources (for tests asserting that nothing was left behind). */
  census(): { snapshots: number; volumes: number; instances: number; images: number } {
    this.tick();
    return {
      snapshots: this.snapshots.size,
      volumes: this.volumes.size,
      instances: [...this.instances.values()].filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down').length,
      images: this.images.size,
    };
  }
}

/** Block count of a volume of `sizeGiB`. */
export function blocksOf(sizeGiB: number): number {
  return (sizeGiB * 1024 * 1024 * 1024) / EBS_BLOCK_BYTES;
}

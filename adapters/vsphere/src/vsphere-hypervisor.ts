// The vSphere platform as a HypervisorAdapter: inventory of one datacenter, CBT change tracking (no write
// splitter: vSphere has none without a VAIO filter in ESXi), volume reads through the disk transport, and
// recovery VMs built from uploaded flat extents. Every call is tracked so a harness on a virtual clock
// can wait until the real I/O a timer started has finished (`settled`).
import { InvalidStateError, UnknownVmError, ValidationError, VolumeRangeError } from '@opencdp/core';
import type {
  Clock, HypervisorAdapter, Inventory, RecoveryDiskPromotion, RecoveryVmSpec, VmId, VmInfo, VolumeId,
} from '@opencdp/core';
import type { DiskReader, DiskTransport } from './disk-transport.js';
import type { DatastoreFiles } from './datastore-http.js';
import { VimClient } from './vim-client.js';
import type { VimTrust } from './vim-http.js';
import { MoRef } from './vim-types.js';
import { VsphereChangeTracking } from './vsphere-change-tracking.js';
import { VsphereRecovery, type RecoveryPlacement } from './vsphere-recovery.js';
import { VsphereSite } from './vsphere-site.js';
import { VimFaultError, VimTaskError, VsphereObjectNotFoundError } from './vsphere-errors.js';

export interface VsphereConnectOptions {
  url: string;
  user: string;
  password: string;
  trust: VimTrust;
  datacenter: string;
  siteId: string;
  clock: Clock;
  /** Names of isolated test portgroups. */
  testPortgroups?: readonly string[];
  /** The live portgroup recovered VMs join by default (listed first). */
  livePortgroup?: string;
  /** VM folder name and cluster name for recovered VMs (resolved at connect). */
  folder?: string;
  cluster?: string;
  placement?: Omit<RecoveryPlacement, 'folder' | 'resourcePool'>;
  minIntervalMs?: number;
  granularityBytes?: number;
  quiesce?: boolean;
  taskTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How long shutdownGuest waits for the guest to power off (default 120 s). */
  guestShutdownTimeoutMs?: number;
  transport?: (files: DatastoreFiles) => DiskTransport;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** Counts calls in flight so a virtual-clock harness can wait for them. */
class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  track<T>(p: Promise<T>): Promise<T> {
    this.count++;
    const done = (): void => {
      if (--this.count === 0) for (const w of this.waiters.splice(0)) w();
    };
    p.then(done, done);
    return p;
  }

  settled(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

/** How long a live disk's file and extents are trusted before being looked up again. */
const READER_TTL_MS = 2000;

export class VsphereHypervisor implements HypervisorAdapter, RecoveryDiskPromotion {
  readonly platform = 'vsphere';
  readonly changeTracking: VsphereChangeTracking;
  /** Recovered disks are full copies, so promotion only checks ranges (see `promoteDisk`). */
  readonly promotion: RecoveryDiskPromotion = this;
  private readonly recovery: VsphereRecovery;
  private readonly inFlight = new InFlight();
  private readonly readers = new Map<string, { reader: Promise<DiskReader>; until: number }>();

  private constructor(readonly site: VsphereSite, private readonly options: VsphereConnectOptions, placement: RecoveryPlacement) {
    const inFlight = this.inFlight;
    this.changeTracking = new VsphereChangeTracking({
      site, clock: options.clock,
      ...(options.minIntervalMs !== undefined ? { minIntervalMs: options.minIntervalMs } : {}),
      ...(options.granularityBytes !== undefined ? { granularityBytes: options.granularityBytes } : {}),
      ...(options.quiesce !== undefined ? { quiesce: options.quiesce } : {}),
      ...(options.log ? { log: options.log } : {}),
      // Views and tokens count as the adapter's own calls for `settled`.
      track: (work) => inFlight.track(work),
    });
    this.recovery = new VsphereRecovery(site, placement, options.log);
  }

  /** Logs in (certificate verified first), resolves the datacenter, folder and cluster named in the options. */
  static async connect(options: VsphereConnectOptions): Promise<VsphereHypervisor> {
    const client = await VimClient.connect({
      url: options.url, user: options.user, password: () => options.password, trust: options.trust,
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.taskTimeoutMs ? { taskTimeoutMs: options.taskTimeoutMs } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    try {
      const site = await VsphereSite.open(client, {
        datacenter: options.datacenter, siteId: options.siteId,
        ...(options.testPortgroups ? { testNetworks: options.testPortgroups } : {}),
        ...(options.transport ? { transport: options.transport } : {}),
      });
      const placement: RecoveryPlacement = { ...(options.placement ?? {}) };
      if (options.folder !== undefined || options.cluster !== undefined) {
        const found = await client.inventory(site.datacenter, [{ type: 'Folder', paths: ['name'] }, { type: 'ClusterComputeResource', paths: ['name', 'resourcePool'] }]);
        if (options.folder !== undefined) {
          const folder = found.find((o) => o.obj.type === 'Folder' && o.props.name === options.folder);
          if (!folder) throw new VsphereObjectNotFoundError('VM folder', options.folder, 'folder');
          placement.folder = folder.obj;
        }
        if (options.cluster !== undefined) {
          const cluster = found.find((o) => o.obj.type === 'ClusterComputeResource' && o.props.name === options.cluster);
          if (!cluster || !(cluster.props.resourcePool instanceof MoRef)) throw new VsphereObjectNotFoundError('cluster', options.cluster, 'cluster');
          placement.resourcePool = cluster.props.resourcePool;
        }
      }
      if (options.placement?.datastore !== undefined && !(await site.datastores()).some((d) => d.name === options.placement!.datastore)) {
        throw new VsphereObjectNotFoundError('datastore', options.placement.datastore, 'datastore');
      }
      const networks = await site.networkRecords();
      for (const [field, names] of [['livePortgroup', options.livePortgroup === undefined ? [] : [options.livePortgroup]], ['testPortgroups', options.testPortgroups ?? []]] as const) {
        for (const n of names) if (!networks.some((x) => x.name === n)) throw new VsphereObjectNotFoundError('portgroup', n, field);
      }
      return new VsphereHypervisor(site, options, placement);
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  get client(): VimClient {
    return this.site.client;
  }

  /** Resolves once no call the adapter started is still waiting for vCenter. */
  settled(): Promise<void> {
    return this.inFlight.settled();
  }

  inventory(): Promise<Inventory> {
    return this.inFlight.track((async () => {
      const [hosts, records, networks, datastores] = await Promise.all([this.site.hosts(), this.site.vmRecords(), this.site.networks(), this.site.datastores()]);
      const live = this.options.livePortgroup;
      // The configured live portgroup first: the orchestrator takes the first live network as the default.
      networks.sort((a, b) => Number(b.name === live) - Number(a.name === live));
      return {
        hosts: hosts.map(({ id, name, siteId }) => ({ id, name, siteId })),
        vms: records.map((r) => this.site.toVmInfo(r)),
        networks,
        datastores,
      };
    })());
  }

  getVm(vmId: VmId): Promise<VmInfo> {
    return this.inFlight.track(this.site.vmRecord(vmId).then((r) => this.site.toVmInfo(r)));
  }

  /**
   * Reads a VM's current disk. On a running VM this is crash-inconsistent (the change-tracking mode reads
   * from views instead); while a snapshot exists on real vSphere the current disk is a delta, which only a
   * VDDK transport can read.
   */
  readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    return this.inFlight.track((async () => {
      const reader = await this.liveReader(vmId, volumeId);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > reader.capacityBytes) {
        throw new VolumeRangeError(volumeId, offset, length, reader.capacityBytes);
      }
      try {
        return await reader.read(offset, length);
      } catch (error) {
        this.readers.delete(`${vmId}/${volumeId}`);
        throw error;
      }
    })());
  }

  /**
   * A reader of the VM's current disk. Syncs read a volume in many chunks: the disk's file and extents are
   * looked up once and kept for a couple of seconds (a failed read forgets them), not once per chunk.
   */
  private async liveReader(vmId: VmId, volumeId: VolumeId): Promise<DiskReader> {
    const key = `${vmId}/${volumeId}`;
    const cached = this.readers.get(key);
    if (cached && cached.until > Date.now()) return cached.reader;
    const reader = (async () => {
      const vm = await this.site.vmRecord(vmId);
      const disk = this.site.diskOf(vm, volumeId);
      return this.site.transport.open({ vm: vm.ref, deviceKey: disk.key, fileName: disk.fileName, capacityBytes: disk.capacityBytes });
    })();
    this.readers.set(key, { reader, until: Date.now() + READER_TTL_MS });
    reader.catch(() => this.readers.delete(key));
    return reader;
  }

  createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    return this.inFlight.track(this.recovery.createRecoveryVm(spec));
  }

  powerOn(vmId: VmId): Promise<void> {
    return this.inFlight.track(this.powerTask(vmId, 'PowerOnVM_Task'));
  }

  powerOff(vmId: VmId): Promise<void> {
    return this.inFlight.track(this.powerTask(vmId, 'PowerOffVM_Task'));
  }

  /** Asks VMware Tools to shut the guest down and waits until the VM is off (or the timeout passes). */
  shutdownGuest(vmId: VmId): Promise<void> {
    return this.inFlight.track((async () => {
      const ref = new MoRef('VirtualMachine', vmId);
      try {
        await this.client.invoke('ShutdownGuest', { _this: ref });
      } catch (error) {
        const e = this.vmError(vmId, error, 'InvalidPowerState');
        if (e) throw e;
      }
      const deadline = Date.now() + (this.options.guestShutdownTimeoutMs ?? 120_000);
      while ((await this.site.vmRecord(vmId)).powerState !== 'off') {
        if (Date.now() > deadline) throw new ValidationError(`VM '${vmId}' did not shut down within ${this.options.guestShutdownTimeoutMs ?? 120_000} ms`, 'vmId', 'power it off instead (force shutdown)');
        await new Promise((r) => setTimeout(r, 250));
      }
    })());
  }

  /**
   * Destroys a powered-off VM with its files. A running (or suspended) VM is refused, as vSphere's own
   * Destroy_Task refuses it with InvalidPowerState; the adapter checks first so nothing is touched.
   */
  deleteVm(vmId: VmId): Promise<void> {
    return this.inFlight.track((async () => {
      const vm = await this.site.vmRecord(vmId);
      if (vm.powerState !== 'off') throw poweredOnError(vmId, vm.powerState);
      for (const key of [...this.readers.keys()]) if (key.startsWith(`${vmId}/`)) this.readers.delete(key);
      try {
        await this.client.runTask('Destroy_Task', { _this: vm.ref });
      } catch (error) {
        // Powered on between the check and the task: vSphere refuses with InvalidPowerState.
        const fault = error instanceof VimFaultError || error instanceof VimTaskError ? error.faultName : undefined;
        if (fault === 'InvalidPowerState') throw poweredOnError(vmId, 'on');
        throw this.vmError(vmId, error) ?? error;
      }
      this.options.log?.('vsphere-vm-deleted', { vmId });
    })());
  }

  /**
   * Recovery disks on vSphere are full copies uploaded when the VM is created, so they never read through
   * the journal's image: there is nothing left to copy. This checks the range and the disk, nothing more.
   */
  promoteDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void> {
    return this.inFlight.track((async () => {
      const disk = this.site.diskOf(await this.site.vmRecord(vmId), volumeId);
      if (offset < 0 || length < 0 || offset + length > disk.capacityBytes) throw new VolumeRangeError(volumeId, offset, length, disk.capacityBytes);
    })());
  }

  /** Nothing reads through the image after creation (see promoteDisk); checks the disk exists. */
  detachDiskSource(vmId: VmId, volumeId: VolumeId): Promise<void> {
    return this.inFlight.track(this.site.vmRecord(vmId).then((vm) => { this.site.diskOf(vm, volumeId); }));
  }

  /** Logs out and closes the connections; never touches VMs. */
  async dispose(): Promise<void> {
    await this.settled();
    await this.client.close();
  }

  private async powerTask(vmId: VmId, operation: 'PowerOnVM_Task' | 'PowerOffVM_Task'): Promise<void> {
    try {
      await this.client.runTask(operation, { _this: new MoRef('VirtualMachine', vmId) });
    } catch (error) {
      // Already in the asked state: done (the port's power calls are idempotent).
      const e = this.vmError(vmId, error, 'InvalidPowerState');
      if (e) throw e;
    }
  }

  /** ManagedObjectNotFound → UnknownVmError; the `ignore` fault → undefined (nothing to throw); anything else unchanged. */
  private vmError(vmId: VmId, error: unknown, ignore?: string): Error | undefined {
    const fault = error instanceof VimFaultError || error instanceof VimTaskError ? error.faultName : undefined;
    if (fault === 'ManagedObjectNotFound') return new UnknownVmError(vmId);
    if (ignore !== undefined && fault === ignore) return undefined;
    return error as Error;
  }
}

function poweredOnError(vmId: VmId, state: string): InvalidStateError {
  return new InvalidStateError(`VM '${vmId}' is powered ${state === 'suspended' ? 'on (suspended)' : state}; vSphere destroys only powered-off VMs`, 'power the VM off first (powerOff), then delete it');
}

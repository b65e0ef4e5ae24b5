// The in-memory data centre behind the fake adapter: sites, hosts, networks, datastores and VMs whose
// volumes live in memory, on an injected clock. It is exact and deterministic (ids, MACs and timing
// depend only on the calls made and the seed), because the conformance suite and the demo run on it.
import { inject, injectable } from 'inversify';
import {
  ClosedError, UnknownVmError, UnknownVolumeError, ValidationError, checkRange, checkWrite, seededRandom,
} from '@opencdp/core';
import type {
  Clock, DatastoreId, DatastoreInfo, FolderInfo, HostId, HostInfo, Inventory, NetworkId, NetworkInfo,
  NicInfo, PowerState, Random, RecoveryVmSpec, SiteId, TimerHandle, VmId, VmInfo, VolumeId, VolumeInfo,
} from '@opencdp/core';
import { HostDownError, HypervisorManagerDownError, VmPoweredOffError } from './fake-errors.js';
import { FakeWriteTap } from './fake-write-tap.js';
import { CHUNK_SIZE, SparseVolume } from './sparse-volume.js';

export const FakeDataCenterOptions = Symbol('FakeDataCenterOptions');
export interface FakeDataCenterOptions {
  clock: Clock;
  /** Seeds generated MAC addresses; default 1. */
  seed?: number;
  /**
   * Prefixes every generated id (`<prefix>.vm-1`): data centres in different processes that replicate to
   * each other then never hand out the same VM or volume id. None by default.
   */
  idPrefix?: string;
}

export interface FakeSite {
  id: SiteId;
  name: string;
  /** Where VMs' NICs go by default. */
  productionNetworkId: NetworkId;
  /** The isolated network failover tests attach recovered VMs to. */
  testNetworkId: NetworkId;
  /** Where volumes go by default. */
  datastoreId: DatastoreId;
}

export interface FakeVolumeSpec {
  name?: string;
  sizeBytes: number;
  /** 512 by default; a power of two up to 64 KiB. */
  sectorSize?: number;
}

export interface FakeNicSpec {
  networkId: NetworkId;
  /** Generated (locally administered, from the seed) when absent. */
  mac?: string;
  ipv4?: string;
}

export interface CreateFakeVmOptions {
  name: string;
  hostId: HostId;
  volumes: FakeVolumeSpec[];
  /** One NIC on the site's production network when absent. */
  nics?: FakeNicSpec[];
  /** The site's default datastore when absent. */
  datastoreId?: DatastoreId;
  /** `on` by default: a protected VM is running. */
  powerState?: PowerState;
}

/** What a recovery VM was made from, for reports and tests. */
export interface FakeRecoveryRecord {
  sourceVmId: VmId;
  /** The recovery VM's volume for each protected volume of the spec. */
  disks: { volumeId: VolumeId; sourceVolumeId: VolumeId }[];
  /** Re-IP as requested: network and address per NIC. */
  nics: NicInfo[];
}

/** Default capacity of a site's datastore; volumes are thin, so this only bounds `freeBytes`. */
const DEFAULT_DATASTORE_BYTES = 64 * 2 ** 40;
/** How long a restarted host stays down unless told otherwise. */
const DEFAULT_HOST_DOWN_MS = 1000;

interface HostRecord {
  info: HostInfo;
  up: boolean;
  restartTimer?: TimerHandle;
  /** Resolvers of `restartHost` promises waiting for the host to come back. */
  upWaiters: (() => void)[];
}

interface DatastoreRecord {
  id: DatastoreId;
  name: string;
  siteId: SiteId;
  capacityBytes: number;
}

interface HeldWrite {
  volume: SparseVolume;
  offset: number;
  data: Buffer;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface VmRecord {
  id: VmId;
  name: string;
  hostId: HostId;
  siteId: SiteId;
  datastoreId: DatastoreId;
  powerState: PowerState;
  volumes: Map<VolumeId, SparseVolume>;
  nics: NicInfo[];
  /** Open taps, in the order they were opened (each gets every write). */
  taps: FakeWriteTap[];
  /** Quiesce holds: while > 0, new guest writes wait in `held`. */
  holds: number;
  held: HeldWrite[];
  /** Change-tracking generation that writes are stamped with; `freezeVm` moves it on. */
  generation: number;
  /** Power state to return to when a host restart ends. */
  stateBeforeRestart?: PowerState;
  recovery?: FakeRecoveryRecord;
}

@injectable()
export class FakeDataCenter {
  readonly clock: Clock;
  private readonly random: Random;
  private readonly counters = new Map<string, number>();
  private readonly siteRecords = new Map<SiteId, FakeSite>();
  private readonly hostRecords = new Map<HostId, HostRecord>();
  private readonly networkRecords = new Map<NetworkId, NetworkInfo & { siteId: SiteId }>();
  private readonly datastoreRecords = new Map<DatastoreId, DatastoreRecord>();
  private readonly folderRecords = new Map<string, FolderInfo & { siteId: SiteId }>();
  private readonly vmRecords = new Map<VmId, VmRecord>();
  /** Which VM each volume belongs to, so recovery VMs can inherit a protected volume's geometry. */
  private readonly volumeOwners = new Map<VolumeId, VmId>();
  private readonly macs = new Set<string>();
  private readonly idPrefix: string;
  /** Sites whose hypervisor manager is restarting: no tap opens there until it is back. */
  private readonly managersDown = new Map<SiteId, TimerHandle>();

  constructor(@inject(FakeDataCenterOptions) options: FakeDataCenterOptions) {
    this.clock = options.clock;
    this.random = seededRandom(options.seed ?? 1);
    this.idPrefix = options.idPrefix ? `${options.idPrefix}.` : '';
  }

  // ---- topology -------------------------------------------------------------------------------

  /** Adds a site with a production network, an isolated test network and a datastore. */
  addSite(name: string): FakeSite {
    requireName(name, 'name');
    const id = this.nextId('site');
    const site: FakeSite = { id, name, productionNetworkId: '', testNetworkId: '', datastoreId: '' };
    this.siteRecords.set(id, site);
    site.productionNetworkId = this.addNetwork(id, `${name}-production`, false).id;
    site.testNetworkId = this.addNetwork(id, `${name}-test`, true).id;
    site.datastoreId = this.addDatastore(id, `${name}-datastore`).id;
    return { ...site };
  }

  addHost(siteId: SiteId, name: string): HostInfo {
    this.site(siteId);
    requireName(name, 'name');
    const info: HostInfo = { id: this.nextId('host'), name, siteId };
    this.hostRecords.set(info.id, { info, up: true, upWaiters: [] });
    return { ...info };
  }

  addNetwork(siteId: SiteId, name: string, isolated: boolean): NetworkInfo {
    this.site(siteId);
    requireName(name, 'name');
    if (typeof isolated !== 'boolean') throw new ValidationError('isolated must be true or false', 'isolated');
    const info = { id: this.nextId('net'), name, isolated, siteId };
    this.networkRecords.set(info.id, info);
    return { id: info.id, name, isolated };
  }

  addDatastore(siteId: SiteId, name: string, capacityBytes = DEFAULT_DATASTORE_BYTES): DatastoreInfo {
    this.site(siteId);
    requireName(name, 'name');
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes <= 0) {
      throw new ValidationError(`datastore capacity ${capacityBytes} is not a positive whole number of bytes`, 'capacityBytes');
    }
    const record: DatastoreRecord = { id: this.nextId('ds'), name, siteId, capacityBytes };
    this.datastoreRecords.set(record.id, record);
    return this.datastoreInfo(record);
  }

  /** A VM folder (as vSphere has them) holding `vmIds`; sites without folders report none. */
  addFolder(siteId: SiteId, name: string, vmIds: VmId[] = []): FolderInfo {
    this.site(siteId);
    requireName(name, 'name');
    for (const id of vmIds) if (this.vmRecords.get(id)?.siteId !== siteId) throw new ValidationError(`VM '${id}' is not at site '${siteId}'`, 'vmIds');
    const folder = { id: this.nextId('folder'), name, siteId, vmIds: [...vmIds] };
    this.folderRecords.set(folder.id, folder);
    return { id: folder.id, name, vmIds: [...vmIds] };
  }

  sites(): FakeSite[] {
    return [...this.siteRecords.values()].map((s) => ({ ...s }));
  }

  getSite(siteId: SiteId): FakeSite {
    return { ...this.site(siteId) };
  }

  /** Hosts, VMs, networks and datastores of one site, or of the whole data centre. */
  inventory(siteId?: SiteId): Inventory {
    if (siteId !== undefined) this.site(siteId);
    const inSite = (s: SiteId): boolean => siteId === undefined || s === siteId;
    return {
      hosts: [...this.hostRecords.values()].filter((h) => inSite(h.info.siteId)).map((h) => ({ ...h.info })),
      vms: [...this.vmRecords.values()].filter((vm) => inSite(vm.siteId)).map((vm) => this.vmInfo(vm)),
      networks: [...this.networkRecords.values()].filter((n) => inSite(n.siteId))
        .map((n) => ({ id: n.id, name: n.name, isolated: n.isolated })),
      datastores: [...this.datastoreRecords.values()].filter((d) => inSite(d.siteId)).map((d) => this.datastoreInfo(d)),
      ...this.foldersOf(inSite),
    };
  }

  private foldersOf(inSite: (s: SiteId) => boolean): { folders?: FolderInfo[] } {
    const folders = [...this.folderRecords.values()].filter((f) => inSite(f.siteId)).map((f) => ({ id: f.id, name: f.name, vmIds: [...f.vmIds] }));
    return folders.length > 0 ? { folders } : {};
  }

  // ---- VMs ------------------------------------------------------------------------------------

  createVm(options: CreateFakeVmOptions): VmInfo {
    requireName(options.name, 'name');
    const host = this.host(options.hostId);
    const siteId = host.info.siteId;
    const datastoreId = this.datastoreIn(siteId, options.datastoreId);
    const powerState = options.powerState ?? 'on';
    if (!['on', 'off', 'suspended'].includes(powerState)) throw new ValidationError(`unknown power state '${powerState}'`, 'powerState');
    if (powerState === 'on' && !host.up) throw new HostDownError(host.info.id);
    if (!Array.isArray(options.volumes) || options.volumes.length === 0) {
      throw new ValidationError(`VM '${options.name}' needs at least one volume`, 'volumes');
    }
    // Validate everything before allocating ids, so that a refused call changes nothing.
    const volumeSpecs = options.volumes.map((v, i) => checkVolumeSpec(v.sizeBytes, v.sectorSize ?? 512, v.name ?? `disk-${i}`, `volumes[${i}]`));
    const nicSpecs = options.nics ?? [{ networkId: this.site(siteId).productionNetworkId }];
    nicSpecs.forEach((n, i) => this.checkNic(siteId, n, `nics[${i}]`));

    const id = this.nextId('vm');
    const vm = this.newVmRecord(id, options.name, host.info.id, siteId, datastoreId, powerState);
    for (const spec of volumeSpecs) this.addVolume(vm, spec.name, spec.sizeBytes, spec.sectorSize);
    vm.nics = nicSpecs.map((n) => this.newNic(n));
    this.vmRecords.set(id, vm);
    return this.vmInfo(vm);
  }

  /**
   * Creates a powered-off VM at a site whose disks read through the spec's sources (point-in-time
   * images) and keep the VM's own writes in a copy-on-write overlay; the sources are never written.
   */
  async createRecoveryVm(siteId: SiteId, spec: RecoveryVmSpec): Promise<VmInfo> {
    this.site(siteId);
    requireName(spec.name, 'name');
    const hostId = spec.hostId ?? this.firstHost(siteId);
    const host = this.host(hostId);
    if (host.info.siteId !== siteId) throw new ValidationError(`host '${hostId}' is not at site '${siteId}'`, 'hostId');
    const datastoreId = this.datastoreIn(siteId, spec.datastoreId);
    if (!Array.isArray(spec.disks) || spec.disks.length === 0) throw new ValidationError(`recovery VM '${spec.name}' needs at least one disk`, 'disks');
    const disks = spec.disks.map((d, i) => {
      const protectedVolume = this.findVolume(d.volumeId);
      // The spec's sector size (the kernel always gives it); a same-data-centre volume's otherwise.
      const geometry = checkVolumeSpec(d.source.sizeBytes(d.volumeId), d.sectorSize ?? protectedVolume?.info.sectorSize ?? 512,
        protectedVolume?.info.name ?? d.volumeId, `disks[${i}]`);
      return { ...geometry, sourceVolumeId: d.volumeId, source: d.source };
    });
    (spec.nics ?? []).forEach((n, i) => this.checkNic(siteId, n, `nics[${i}]`));

    const id = this.nextId('vm');
    const vm = this.newVmRecord(id, spec.name, hostId, siteId, datastoreId, 'off');
    const recovery: FakeRecoveryRecord = { sourceVmId: spec.sourceVmId, disks: [], nics: [] };
    for (const d of disks) {
      const volume = this.addVolume(vm, d.name, d.sizeBytes, d.sectorSize, { source: d.source, volumeId: d.sourceVolumeId });
      recovery.disks.push({ volumeId: volume.info.id, sourceVolumeId: d.sourceVolumeId });
    }
    vm.nics = (spec.nics ?? []).map((n) => this.newNic(n));
    recovery.nics = vm.nics.map((n) => ({ ...n }));
    vm.recovery = recovery;
    this.vmRecords.set(id, vm);
    return this.vmInfo(vm);
  }

  getVm(vmId: VmId): VmInfo {
    return this.vmInfo(this.vm(vmId));
  }

  /** The site a VM runs at. */
  siteOf(vmId: VmId): SiteId {
    return this.vm(vmId).siteId;
  }

  /** What a recovery VM was made from; undefined for a VM created with `createVm`. */
  recoveryOf(vmId: VmId): FakeRecoveryRecord | undefined {
    const r = this.vm(vmId).recovery;
    return r && { sourceVmId: r.sourceVmId, disks: r.disks.map((d) => ({ ...d })), nics: r.nics.map((n) => ({ ...n })) };
  }

  /** Promotion (R7): copies a recovery VM's disk range from its point-in-time image into the disk itself. */
  async promoteRecoveryDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void> {
    const volume = this.volume(this.vm(vmId), volumeId);
    if (!volume.base) throw new ValidationError(`volume '${volumeId}' of VM '${vmId}' is not a recovery disk`, 'volumeId');
    checkRange(volume.info, offset, length);
    await volume.promote(offset, length);
  }

  /** Ends promotion of a recovery disk: reads no longer go to the image, which may then be closed. */
  detachRecoveryDiskSource(vmId: VmId, volumeId: VolumeId): void {
    const volume = this.volume(this.vm(vmId), volumeId);
    if (!volume.base) throw new ValidationError(`volume '${volumeId}' of VM '${vmId}' is not a recovery disk`, 'volumeId');
    volume.detach();
  }

  /** Whether a recovery VM's disk still reads through its image (false once promoted, and for ordinary volumes). */
  isOnImage(vmId: VmId, volumeId: VolumeId): boolean {
    return this.volume(this.vm(vmId), volumeId).onBase;
  }

  /** The datastore a VM's volumes live on. */
  datastoreOf(vmId: VmId): DatastoreId {
    return this.vm(vmId).datastoreId;
  }

  powerOn(vmId: VmId): void {
    const vm = this.vm(vmId);
    const host = this.host(vm.hostId);
    if (!host.up) throw new HostDownError(host.info.id, vmId);
    vm.powerState = 'on';
  }

  /** The guest shuts down cleanly: writes it had queued (held by a quiesce) never happen. */
  shutdownGuest(vmId: VmId): void {
    this.powerOff(vmId);
  }

  powerOff(vmId: VmId): void {
    const vm = this.vm(vmId);
    vm.powerState = 'off';
    this.failHeld(vm, new VmPoweredOffError(vmId));
  }

  /** Deletes a powered-off VM and its volumes; its taps close with a reason. */
  deleteVm(vmId: VmId): void {
    const vm = this.vm(vmId);
    if (vm.powerState === 'on') throw new ValidationError(`VM '${vmId}' is powered on`, 'vmId', 'power it off before deleting it');
    this.failHeld(vm, new VmPoweredOffError(vmId));
    for (const tap of [...vm.taps]) tap.shutdown(new ClosedError(`VM '${vmId}' (deleted)`));
    for (const volumeId of vm.volumes.keys()) this.volumeOwners.delete(volumeId);
    this.vmRecords.delete(vmId);
  }

  // ---- guest I/O ------------------------------------------------------------------------------

  /**
   * Writes as the guest would. The data lands on the volume and is handed to every started tap
   * synchronously, in call order; the promise resolves when the write *completes*, i.e. when every
   * tap's sink has answered (write-blocking), and rejects if a sink rejects (the data stays written).
   * While the VM is quiesced the write waits, neither applied nor delivered, until thaw.
   * Bad input rejects with a typed error and changes nothing.
   */
  guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
    let vm: VmRecord;
    let volume: SparseVolume;
    try {
      vm = this.vm(vmId);
      volume = this.volume(vm, volumeId);
      if (!Buffer.isBuffer(data)) throw new ValidationError('write data must be a Buffer', 'data');
      checkWrite(volume.info, offset, data.length);
      this.checkRunning(vm);
    } catch (error) {
      return Promise.reject(error);
    }
    // Our own copy: the guest may reuse its buffer as soon as the call returns.
    const owned = Buffer.from(data);
    if (vm.holds > 0 || vm.held.length > 0) {
      return new Promise((resolve, reject) => vm.held.push({ volume, offset, data: owned, resolve, reject }));
    }
    return this.commit(vm, volume, offset, owned);
  }

  /** Reads a volume as the guest sees it (overlay over image for recovery VMs); works whatever the power state. */
  async guestRead(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const volume = this.volume(this.vm(vmId), volumeId);
    checkRange(volume.info, offset, length);
    return volume.read(offset, length);
  }

  /** Opens a write tap on a running host's VM; start it to receive writes. */
  openTap(vmId: VmId): FakeWriteTap {
    const vm = this.vm(vmId);
    const host = this.host(vm.hostId);
    if (!host.up) throw new HostDownError(host.info.id, vmId);
    if (this.managersDown.has(vm.siteId)) throw new HypervisorManagerDownError(vm.siteId);
    const tap = new FakeWriteTap(vmId, (t) => {
      const i = vm.taps.indexOf(t);
      if (i >= 0) vm.taps.splice(i, 1);
    });
    vm.taps.push(tap);
    return tap;
  }

  /**
   * Holds the VM's new guest writes (they wait, neither applied nor failed) until the returned
   * release function is called. Holds nest; release is idempotent.
   */
  holdWrites(vmId: VmId): () => void {
    const vm = this.vm(vmId);
    vm.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      vm.holds--;
      this.drain(vm);
    };
  }

  /** Number of guest writes of a VM waiting on a quiesce hold. */
  heldWrites(vmId: VmId): number {
    return this.vm(vmId).held.length;
  }

  // ---- change tracking (views and tokens: fake-change-tracking.ts) ------------------------------

  /**
   * Freezes every volume of a VM as of now (copy-on-write, so it costs what the guest changes afterwards)
   * and moves the VM's change generation on: the frozen copies hold exactly the writes stamped with the
   * returned generation or earlier.
   */
  freezeVm(vmId: VmId): { generation: number; volumes: Map<VolumeId, SparseVolume> } {
    const vm = this.vm(vmId);
    const volumes = new Map([...vm.volumes].map(([id, volume]) => [id, volume.freeze()] as const));
    const generation = vm.generation++;
    return { generation, volumes };
  }

  // ---- faults ---------------------------------------------------------------------------------

  /**
   * Restarts a host: at once its VMs go off, their taps close (reason `HostDownError`), held writes
   * fail, and guest writes reject; after `downMs` on the clock the host is back and VMs that were on
   * run again (taps must be re-opened). The promise resolves when the host is back.
   */
  restartHost(hostId: HostId, downMs = DEFAULT_HOST_DOWN_MS): Promise<void> {
    let host: HostRecord;
    try {
      host = this.host(hostId);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!host.up) return Promise.reject(new ValidationError(`host '${hostId}' is already down`, 'hostId', 'wait for it to come back'));
    if (!Number.isFinite(downMs) || downMs < 0) return Promise.reject(new ValidationError(`downtime ${downMs} ms is not a duration`, 'downMs'));
    host.up = false;
    for (const vm of this.vmRecords.values()) {
      if (vm.hostId !== hostId) continue;
      const reason = new HostDownError(hostId, vm.id);
      vm.stateBeforeRestart = vm.powerState;
      vm.powerState = 'off';
      this.failHeld(vm, reason);
      for (const tap of [...vm.taps]) tap.shutdown(reason);
    }
    const back = new Promise<void>((resolve) => host.upWaiters.push(resolve));
    host.restartTimer = this.clock.setTimer(downMs, () => this.bringHostUp(hostId));
    return back;
  }

  /**
   * Restarts a site's hypervisor manager: every write tap at the site closes at once (reason
   * HypervisorManagerDownError) and none can be opened for `downMs` on the clock; the VMs keep running,
   * and what they write meanwhile is split by nobody.
   */
  restartHypervisorManager(siteId: SiteId, downMs = DEFAULT_HOST_DOWN_MS): void {
    this.site(siteId);
    if (!Number.isFinite(downMs) || downMs < 0) throw new ValidationError(`downtime ${downMs} ms is not a duration`, 'downMs');
    if (this.managersDown.has(siteId)) throw new ValidationError(`the hypervisor manager of site '${siteId}' is already restarting`, 'siteId');
    const reason = new HypervisorManagerDownError(siteId);
    for (const vm of this.vmRecords.values()) if (vm.siteId === siteId) for (const tap of [...vm.taps]) tap.shutdown(reason);
    this.managersDown.set(siteId, this.clock.setTimer(downMs, () => this.managersDown.delete(siteId)));
  }

  /** Adds a volume to an existing VM (hot-add); its open taps deliver the new volume's writes too. */
  addVolumeToVm(vmId: VmId, spec: { name?: string; sizeBytes: number; sectorSize?: number }): VolumeInfo {
    const vm = this.vm(vmId);
    const checked = checkVolumeSpec(spec.sizeBytes, spec.sectorSize ?? 512, spec.name ?? `disk-${vm.volumes.size}`, 'volume');
    return { ...this.addVolume(vm, checked.name, checked.sizeBytes, checked.sectorSize).info };
  }

  /** Ends a host restart now (idempotent): VMs that were running run again. */
  bringHostUp(hostId: HostId): void {
    const host = this.host(hostId);
    if (host.up) return;
    host.restartTimer?.cancel();
    host.restartTimer = undefined;
    host.up = true;
    for (const vm of this.vmRecords.values()) {
      if (vm.hostId !== hostId || vm.stateBeforeRestart === undefined) continue;
      vm.powerState = vm.stateBeforeRestart;
      vm.stateBeforeRestart = undefined;
    }
    for (const resolve of host.upWaiters.splice(0)) resolve();
  }

  isHostUp(hostId: HostId): boolean {
    return this.host(hostId).up;
  }

  /** Closes every tap, ends host restarts and fails held writes; the data centre stays readable. */
  dispose(): void {
    for (const host of this.hostRecords.values()) this.bringHostUp(host.info.id);
    for (const timer of this.managersDown.values()) timer.cancel();
    this.managersDown.clear();
    for (const vm of this.vmRecords.values()) {
      this.failHeld(vm, new ClosedError('fake data centre'));
      for (const tap of [...vm.taps]) tap.shutdown(new ClosedError('fake data centre'));
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  /** Applies a write and hands it to every started tap; resolves when all sinks have answered. */
  private commit(vm: VmRecord, volume: SparseVolume, offset: number, data: Buffer): Promise<void> {
    volume.write(offset, data, vm.generation);
    const taps = vm.taps.filter((t) => t.accepting);
    // The first tap may have our copy (the volume copied it already); the others get theirs before any
    // sink runs, so one consumer changing its buffer cannot leak into another's.
    const copies = taps.map((_, i) => (i === 0 ? data : Buffer.from(data)));
    const answers: Promise<void>[] = [];
    taps.forEach((tap, i) => {
      const answer = tap.deliver({ volumeId: volume.info.id, offset, data: copies[i] });
      if (answer) answers.push(answer);
    });
    if (answers.length === 0) return Promise.resolve();
    if (answers.length === 1) return answers[0];
    // Wait for every sink before failing, so no consumer is still holding a write the guest gave up on.
    return Promise.allSettled(answers).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
  }

  private drain(vm: VmRecord): void {
    while (vm.holds === 0 && vm.held.length > 0) {
      const w = vm.held.shift()!;
      this.commit(vm, w.volume, w.offset, w.data).then(w.resolve, w.reject);
    }
  }

  private failHeld(vm: VmRecord, error: Error): void {
    for (const w of vm.held.splice(0)) w.reject(error);
  }

  private checkRunning(vm: VmRecord): void {
    const host = this.host(vm.hostId);
    if (!host.up) throw new HostDownError(host.info.id, vm.id);
    if (vm.powerState !== 'on') throw new VmPoweredOffError(vm.id);
  }

  private newVmRecord(id: VmId, name: string, hostId: HostId, siteId: SiteId, datastoreId: DatastoreId, powerState: PowerState): VmRecord {
    return {
      id, name, hostId, siteId, datastoreId, powerState,
      volumes: new Map(), nics: [], taps: [], holds: 0, held: [], generation: 0,
    };
  }

  private addVolume(vm: VmRecord, name: string, sizeBytes: number, sectorSize: number, base?: SparseVolume['base']): SparseVolume {
    const info: VolumeInfo = { id: this.nextId('vol'), vmId: vm.id, name, sizeBytes, sectorSize };
    const volume = new SparseVolume(info, base);
    vm.volumes.set(info.id, volume);
    this.volumeOwners.set(info.id, vm.id);
    return volume;
  }

  private checkNic(siteId: SiteId, nic: { networkId: NetworkId; mac?: string; ipv4?: string }, field: string): void {
    const network = this.networkRecords.get(nic.networkId);
    if (!network || network.siteId !== siteId) {
      throw new ValidationError(`network '${nic.networkId}' is not at site '${siteId}'`, `${field}.networkId`, 'pick a network from the inventory');
    }
    if (nic.mac !== undefined && !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(nic.mac)) throw new ValidationError(`'${nic.mac}' is not a MAC address`, `${field}.mac`);
    if (nic.ipv4 !== undefined && !isIpv4(nic.ipv4)) throw new ValidationError(`'${nic.ipv4}' is not an IPv4 address`, `${field}.ipv4`);
  }

  private newNic(spec: { networkId: NetworkId; mac?: string; ipv4?: string }): NicInfo {
    const nic: NicInfo = { id: this.nextId('nic'), networkId: spec.networkId, mac: spec.mac?.toLowerCase() ?? this.newMac() };
    if (spec.ipv4 !== undefined) nic.ipv4 = spec.ipv4;
    this.macs.add(nic.mac);
    return nic;
  }

  private newMac(): string {
    for (;;) {
      // 02:… is a locally administered unicast prefix: never clashes with a vendor's real MAC.
      const mac = ['02', '00', ...[...this.random.bytes(4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
      if (!this.macs.has(mac)) return mac;
    }
  }

  private vmInfo(vm: VmRecord): VmInfo {
    return {
      id: vm.id,
      name: vm.name,
      hostId: vm.hostId,
      powerState: vm.powerState,
      volumes: [...vm.volumes.values()].map((v) => ({ ...v.info })),
      nics: vm.nics.map((n) => ({ ...n })),
    };
  }

  private datastoreInfo(record: DatastoreRecord): DatastoreInfo {
    let used = 0;
    for (const vm of this.vmRecords.values()) {
      if (vm.datastoreId !== record.id) continue;
      for (const v of vm.volumes.values()) used += v.allocatedBytes;
    }
    return { id: record.id, name: record.name, capacityBytes: record.capacityBytes, freeBytes: Math.max(0, record.capacityBytes - used) };
  }

  private datastoreIn(siteId: SiteId, datastoreId: DatastoreId | undefined): DatastoreId {
    if (datastoreId === undefined) return this.site(siteId).datastoreId;
    const record = this.datastoreRecords.get(datastoreId);
    if (!record || record.siteId !== siteId) throw new ValidationError(`datastore '${datastoreId}' is not at site '${siteId}'`, 'datastoreId');
    return datastoreId;
  }

  private firstHost(siteId: SiteId): HostId {
    for (const h of this.hostRecords.values()) if (h.info.siteId === siteId) return h.info.id;
    throw new ValidationError(`site '${siteId}' has no hosts`, 'hostId', 'add a host first');
  }

  private findVolume(volumeId: VolumeId): SparseVolume | undefined {
    const owner = this.volumeOwners.get(volumeId);
    return owner === undefined ? undefined : this.vmRecords.get(owner)?.volumes.get(volumeId);
  }

  private site(siteId: SiteId): FakeSite {
    const site = this.siteRecords.get(siteId);
    if (!site) throw new ValidationError(`site '${siteId}' does not exist`, 'siteId', 'check the site id');
    return site;
  }

  private host(hostId: HostId): HostRecord {
    const host = this.hostRecords.get(hostId);
    if (!host) throw new ValidationError(`host '${hostId}' does not exist`, 'hostId', 'check the host id against the inventory');
    return host;
  }

  private vm(vmId: VmId): VmRecord {
    const vm = this.vmRecords.get(vmId);
    if (!vm) throw new UnknownVmError(vmId);
    return vm;
  }

  private volume(vm: VmRecord, volumeId: VolumeId): SparseVolume {
    const volume = vm.volumes.get(volumeId);
    if (!volume) throw new UnknownVolumeError(volumeId, `VM '${vm.id}'`);
    return volume;
  }

  private nextId(kind: string): string {
    const n = (this.counters.get(kind) ?? 0) + 1;
    this.counters.set(kind, n);
    return `${this.idPrefix}${kind}-${n}`;
  }
}

function requireName(name: unknown, field: string): void {
  if (typeof name !== 'string' || name.trim() === '') throw new ValidationError(`${field} must be a non-empty string`, field);
}

function checkVolumeSpec(sizeBytes: number, sectorSize: number, name: string, field: string): { name: string; sizeBytes: number; sectorSize: number } {
  if (!Number.isSafeInteger(sectorSize) || sectorSize < 512 || sectorSize > CHUNK_SIZE || (sectorSize & (sectorSize - 1)) !== 0) {
    throw new ValidationError(`sector size ${sectorSize} is not a power of two between 512 and ${CHUNK_SIZE}`, `${field}.sectorSize`);
  }
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % sectorSize !== 0) {
    throw new ValidationError(`volume size ${sizeBytes} is not a positive multiple of the ${sectorSize}-byte sector`, `${field}.sizeBytes`);
  }
  requireName(name, `${field}.name`);
  return { name, sizeBytes, sectorSize };
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

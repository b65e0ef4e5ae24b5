// vSphere Changed Block Tracking as the kernel's ChangeTracking port. A view is a VM snapshot
// (CreateSnapshot_Task, quiesced through VMware Tools when asked), a token is the disk's CBT changeId in
// the snapshot's config, changed regions come from QueryChangedDiskAreas looped on startOffset until the
// disk is covered (changeId "*" lists the allocated areas), and the bytes come through the disk transport
// from the snapshot's frozen disk. Views are per VM: vSphere snapshots do not span VMs.
import { ChangeTokenLostError, ChangeViewError, ValidationError } from '@opencdp/core';
import type { ChangeTracking, ChangeView, ChangedRegion, Clock, VmId, VolumeId, ViewRef } from '@opencdp/core';
import type { DiskReader } from './disk-transport.js';
import { MoRef, at, disksOf, num, objects, type VirtualDiskInfo } from './vim-types.js';
import { volumeIdOf, type VsphereSite } from './vsphere-site.js';
import { CbtAnswerError, VimFaultError, VimTaskError } from './vsphere-errors.js';

export interface VsphereChangeTrackingOptions {
  site: VsphereSite;
  clock: Clock;
  /** Shortest cycle accepted (default 60 s: each cycle is a snapshot, a CBT query and a consolidation). */
  minIntervalMs?: number;
  /** Reported granularity of CBT records (vSphere does not publish it; default 64 KiB). */
  granularityBytes?: number;
  /** Quiesce through VMware Tools unless openView says otherwise (default false: crash-consistent). */
  quiesce?: boolean;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** Wraps every call that talks to vCenter (the hypervisor counts them for `settled`). */
  track?: <T>(work: Promise<T>) => Promise<T>;
}

export interface OpenViewOptions {
  /** Application consistency: VMware Tools quiesces the guest (VSS in Windows guests) for the snapshot. */
  quiesce?: boolean;
}

const SNAPSHOT_DESCRIPTION = 'OpenCDP change-tracking view; removed when the cycle ends. Leftovers are removed by the appliance on restart.';
/** vSphere snapshot names are limited to 80 characters. */
const MAX_NAME = 80;

export class VsphereChangeTracking implements ChangeTracking {
  readonly multiVmViews = false;
  readonly minIntervalMs: number;
  readonly granularityBytes: number;

  constructor(private readonly options: VsphereChangeTrackingOptions) {
    this.minIntervalMs = options.minIntervalMs ?? 60_000;
    this.granularityBytes = options.granularityBytes ?? 64 * 1024;
  }

  private get client(): VsphereSite['client'] {
    return this.options.site.client;
  }

  /** How views read their snapshot's disks. */
  get transport(): VsphereSite['transport'] {
    return this.options.site.transport;
  }

  /** Calls that talk to vCenter go through here. */
  track<T>(work: Promise<T>): Promise<T> {
    return this.options.track ? this.options.track(work) : work;
  }

  enable(vmId: VmId): Promise<void> {
    return this.track(this.setTracking(vmId, true));
  }

  disable(vmId: VmId): Promise<void> {
    return this.track(this.setTracking(vmId, false));
  }

  openView(vmIds: readonly VmId[], name: string, options: OpenViewOptions = {}): Promise<ChangeView> {
    return this.track(this.open(vmIds, name, options));
  }

  releaseView(viewId: string): Promise<void> {
    return this.track(this.release(viewId));
  }

  listViews(prefix: string): Promise<ViewRef[]> {
    return this.track(this.list(prefix));
  }

  private async setTracking(vmId: VmId, on: boolean): Promise<void> {
    const vm = await this.options.site.vmRecord(vmId);
    if (vm.changeTracking === on) return;
    await this.client.runTask('ReconfigVM_Task', { _this: vm.ref, spec: { changeTrackingEnabled: on } });
    this.options.log?.(on ? 'vsphere-cbt-enabled' : 'vsphere-cbt-disabled', { vmId });
  }

  /** One snapshot of one VM. On any failure the snapshot (if it was made) is removed before the error is thrown. */
  private async open(vmIds: readonly VmId[], name: string, options: OpenViewOptions): Promise<ChangeView> {
    if (vmIds.length !== 1) throw new ValidationError(`a vSphere view holds exactly one VM (snapshots are per VM), got ${vmIds.length}`, 'vmIds', 'open one view per VM');
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) throw new ValidationError(`view name must be 1 to ${MAX_NAME} characters`, 'name');
    const vm = await this.options.site.vmRecord(vmIds[0]);
    const quiesce = options.quiesce ?? this.options.quiesce ?? false;
    const takenAt = this.options.clock.now();
    let snapshot: MoRef | undefined;
    try {
      const result = await this.client.runTask('CreateSnapshot_Task', { _this: vm.ref, name, description: SNAPSHOT_DESCRIPTION, memory: false, quiesce });
      if (!(result instanceof MoRef)) throw new ChangeViewError('open', `CreateSnapshot_Task of VM '${vm.ref.value}' answered no snapshot`);
      snapshot = result;
      const config = await this.client.properties(snapshot, ['config.hardware.device']);
      const disks = disksOf(config['config.hardware.device']);
      this.options.log?.('vsphere-view-opened', { vmId: vm.ref.value, snapshot: snapshot.value, name, quiesce });
      return new VsphereChangeView(this, vm.ref, snapshot, name, takenAt, disks);
    } catch (error) {
      await this.removeLeftover(vm.ref, name, snapshot);
      if (error instanceof ChangeViewError) throw error;
      throw new ChangeViewError('open', `snapshot '${name}' of VM '${vm.ref.value}' could not be taken: ${(error as Error).message}`,
        'the cycle is retried; check the VM in the vSphere client (running tasks, disk space, consolidation)');
    }
  }

  /** Removes the snapshot a failed openView may have made, found by reference or (after a lost answer) by name. */
  private async removeLeftover(vm: MoRef, name: string, snapshot: MoRef | undefined): Promise<void> {
    const refs: MoRef[] = snapshot ? [snapshot] : [];
    try {
      const record = await this.options.site.vmRecord(vm.value);
      for (const s of record.snapshots) if (s.name === name && !refs.some((r) => r.equals(s.snapshot))) refs.push(s.snapshot);
    } catch {
      // The VM may be gone; then so are its snapshots.
    }
    for (const ref of refs) {
      await this.release(ref.value).catch((e: Error) => this.options.log?.('vsphere-view-leftover', { vmId: vm.value, snapshot: ref.value, message: e.message }));
    }
  }

  private async release(viewId: string): Promise<void> {
    try {
      await this.client.runTask('RemoveSnapshot_Task', { _this: new MoRef('VirtualMachineSnapshot', viewId), removeChildren: false, consolidate: true });
      this.options.log?.('vsphere-view-released', { snapshot: viewId });
    } catch (error) {
      const fault = error instanceof VimFaultError ? error.faultName : error instanceof VimTaskError ? error.faultName : '';
      if (fault === 'ManagedObjectNotFound') return;
      throw new ChangeViewError('release', `snapshot '${viewId}' could not be removed: ${(error as Error).message}`,
        'the appliance retries; if it stays, remove the snapshot in the vSphere client and consolidate the VM\'s disks');
    }
  }

  private async list(prefix: string): Promise<ViewRef[]> {
    try {
      const vms = await this.options.site.vmRecords();
      return vms.flatMap((vm) => vm.snapshots.filter((s) => s.name.startsWith(prefix)).map((s) => ({ id: s.snapshot.value, name: s.name, vmIds: [vm.ref.value] })));
    } catch (error) {
      throw new ChangeViewError('list', `snapshots could not be listed: ${(error as Error).message}`);
    }
  }

  async retireToken(): Promise<void> {
    // A CBT changeId needs nothing kept alive on the platform: vSphere answers for any changeId it still knows.
  }

  /** QueryChangedDiskAreas over the whole disk, validating every answer. */
  async changedAreas(vm: MoRef, snapshot: MoRef, disk: VirtualDiskInfo, volumeId: VolumeId, changeId: string): Promise<ChangedRegion[]> {
    const out: ChangedRegion[] = [];
    for (let start = 0; start < disk.capacityBytes;) {
      let info;
      try {
        info = await this.client.invoke('QueryChangedDiskAreas', { _this: vm, snapshot, deviceKey: disk.key, startOffset: start, changeId });
      } catch (error) {
        throw queryError(error, vm, snapshot, volumeId);
      }
      const from = num(at(info, 'startOffset'), -1);
      const length = num(at(info, 'length'), 0);
      if (from !== start) throw new CbtAnswerError(vm.value, disk.key, `asked from offset ${start}, answered from ${from}`);
      if (length <= 0) throw new CbtAnswerError(vm.value, disk.key, `answered an empty window at offset ${start}`);
      const end = from + length;
      if (end > disk.capacityBytes) throw new CbtAnswerError(vm.value, disk.key, `answered a window up to ${end} on a ${disk.capacityBytes}-byte disk`);
      let last = from;
      for (const area of objects(at(info, 'changedArea'))) {
        const a = num(area.start, -1);
        const n = num(area.length, -1);
        if (a < 0 || n <= 0) throw new CbtAnswerError(vm.value, disk.key, `area (${a}, ${n}) is empty or negative`);
        if (a < last) throw new CbtAnswerError(vm.value, disk.key, `area at ${a} overlaps or precedes the previous one (ending at ${last})`);
        if (a + n > end) throw new CbtAnswerError(vm.value, disk.key, `area [${a}, ${a + n}) leaves the answered window [${from}, ${end}) (disk of ${disk.capacityBytes} bytes)`);
        out.push({ volumeId, offset: a, length: n });
        last = a + n;
      }
      start = end;
    }
    return out;
  }
}

function queryError(error: unknown, vm: MoRef, snapshot: MoRef, volumeId: VolumeId): Error {
  if (error instanceof VimFaultError) {
    if ((error.faultName === 'InvalidArgument' && error.details.invalidProperty === 'changeId') || error.faultName === 'FileFault') {
      return new ChangeTokenLostError(volumeId, 'reset', `vSphere refused the changeId (${error.faultName}: ${error.faultMessage}); CBT was reset (storage migration, restore, or tracking turned off)`);
    }
    if (error.faultName === 'ManagedObjectNotFound') {
      return new ChangeViewError('read', `the view's snapshot ${snapshot.value} of VM '${vm.value}' no longer exists`, 'the cycle is retried with a new view');
    }
  }
  return error as Error;
}

/** A snapshot of one VM, with the disks its config names (frozen files, changeIds). */
class VsphereChangeView implements ChangeView {
  readonly id: string;
  readonly vmIds: readonly VmId[];
  private readonly disks = new Map<VolumeId, VirtualDiskInfo>();
  private readonly readers = new Map<VolumeId, Promise<DiskReader>>();

  constructor(
    private readonly tracking: VsphereChangeTracking,
    private readonly vm: MoRef,
    private readonly snapshot: MoRef,
    readonly name: string,
    readonly takenAt: number,
    disks: VirtualDiskInfo[],
  ) {
    this.id = snapshot.value;
    this.vmIds = [vm.value];
    for (const d of disks) this.disks.set(volumeIdOf(vm.value, d.key), d);
  }

  private disk(volumeId: VolumeId): VirtualDiskInfo {
    const d = this.disks.get(volumeId);
    if (!d) throw new ValidationError(`volume '${volumeId}' is not a disk of view '${this.name}' (VM '${this.vm.value}')`, 'volumeId');
    return d;
  }

  async changedSince(volumeId: VolumeId, token: string): Promise<ChangedRegion[]> {
    const disk = this.disk(volumeId);
    if (typeof token !== 'string' || !/\/\d+$/.test(token)) {
      throw new ChangeTokenLostError(volumeId, 'unknown', token === '' ? 'CBT was not active when the previous view was taken' : `'${token}' is not a vSphere changeId`);
    }
    return this.tracking.track(this.tracking.changedAreas(this.vm, this.snapshot, disk, volumeId, token));
  }

  async allocated(volumeId: VolumeId): Promise<ChangedRegion[]> {
    const disk = this.disk(volumeId);
    if (!disk.changeId) {
      // Without CBT vSphere cannot list allocated areas: the whole disk may hold data.
      return [{ volumeId, offset: 0, length: disk.capacityBytes }];
    }
    return this.tracking.track(this.tracking.changedAreas(this.vm, this.snapshot, disk, volumeId, '*'));
  }

  read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    return this.tracking.track(this.readView(volumeId, offset, length));
  }

  private async readView(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const disk = this.disk(volumeId);
    let reader = this.readers.get(volumeId);
    if (!reader) {
      reader = this.tracking.transport.open({ vm: this.vm, snapshot: this.snapshot, deviceKey: disk.key, fileName: disk.fileName, capacityBytes: disk.capacityBytes });
      this.readers.set(volumeId, reader);
      reader.catch(() => this.readers.delete(volumeId));
    }
    try {
      return await (await reader).read(offset, length);
    } catch (error) {
      if (error instanceof ValidationError || (error as { code?: string }).code === 'VOLUME_RANGE') throw error;
      throw new ChangeViewError('read', `view '${this.name}' (snapshot ${this.snapshot.value}) could not be read: ${(error as Error).message}`, 'the cycle is retried with a new view');
    }
  }

  token(volumeId: VolumeId): string {
    return this.disk(volumeId).changeId ?? '';
  }
}


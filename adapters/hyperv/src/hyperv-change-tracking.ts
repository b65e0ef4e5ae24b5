// Change tracking on Hyper-V with RCT: a view is a recovery checkpoint (application-consistent through the
// guest's VSS when it can be), read through the disk transport from its frozen VHDX; changes since a token
// come from Msvm_ImageManagementService.GetVirtualDiskChanges on that frozen VHDX against the RCT id of the
// reference point the token's view became; releasing a view converts its checkpoint into a reference point
// (Hyper-V merges the checkpoint away), and retiring every token of a reference point destroys it.
import { ChangeTokenLostError, ChangeViewError, UnknownVolumeError, ValidationError, VIEW_NAME_PREFIX } from '@opencdp/core';
import type { ChangedRegion, ChangeTracking, ChangeView, Clock, VmId, VolumeId, ViewRef } from '@opencdp/core';
import { CONVERT_TO_REFERENCE_POINT, GET_RECOVERY_CHECKPOINTS, GET_VIRTUAL_DISK_CHANGES, NEW_RECOVERY_CHECKPOINT, REMOVE_RECOVERY_CHECKPOINT, REMOVE_REFERENCE_POINT, type HvCheckpoint } from './hyperv-scripts.js';
import { RctUnavailableError } from './hyperv-errors.js';
import { PowerShellCommandError } from './powershell/powershell-errors.js';
import type { HypervHostClient } from './hyperv-host-client.js';
import { RctTokenStore } from './rct-token-store.js';
import type { VhdxFile } from './vhdx/vhdx-file.js';

/** RCT reference points exist from VM configuration version 8.0 (Windows Server 2016 hosts). */
export const MIN_RCT_CONFIG_VERSION = 8.0;

export interface HypervChangeTrackingOptions {
  minIntervalMs: number;
  granularityBytes: number;
  consistency: 'application' | 'crash' | 'application-or-crash';
  maxReferencePointsPerVm: number;
  store: RctTokenStore;
  /** Stamps views (`takenAt`); absent: the checkpoint's creation time on the host. */
  clock?: Clock;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

interface TokenParts {
  viewName: string;
  volumeId: VolumeId;
}

export function encodeToken(t: TokenParts): string {
  return `hvrct:${encodeURIComponent(t.viewName)}:${encodeURIComponent(t.volumeId)}`;
}

export function decodeToken(token: string): TokenParts | undefined {
  const m = /^hvrct:([^:]+):([^:]+)$/.exec(token);
  if (!m) return undefined;
  try {
    return { viewName: decodeURIComponent(m[1]), volumeId: decodeURIComponent(m[2]) };
  } catch {
    return undefined;
  }
}

export class HypervChangeTracking implements ChangeTracking {
  readonly multiVmViews = false;
  private readonly open = new Map<string, HypervChangeView>();

  constructor(private readonly client: HypervHostClient, private readonly options: HypervChangeTrackingOptions) {}

  get minIntervalMs(): number {
    return this.options.minIntervalMs;
  }

  get granularityBytes(): number {
    return this.options.granularityBytes;
  }

  async enable(vmId: VmId): Promise<void> {
    const vm = await this.client.getVmRecord(vmId);
    if (!(Number(vm.Version) >= MIN_RCT_CONFIG_VERSION)) throw new RctUnavailableError(vmId, `its configuration version is ${vm.Version}; reference points need ${MIN_RCT_CONFIG_VERSION.toFixed(1)} or later`);
    const notVhdx = vm.Disks.filter((d) => d.VhdFormat.toUpperCase() !== 'VHDX');
    if (notVhdx.length > 0) throw new RctUnavailableError(vmId, `disks ${notVhdx.map((d) => d.Path).join(', ')} are not VHDX`);
    await this.options.store.load();
  }

  async disable(vmId: VmId): Promise<void> {
    await this.options.store.load();
    for (const r of this.options.store.forVm(vmId)) {
      if (r.referencePoint) await this.client.run(REMOVE_REFERENCE_POINT, { instanceId: r.referencePoint });
      else await this.client.run(REMOVE_RECOVERY_CHECKPOINT, { vmId, checkpointId: r.checkpointId });
      await this.options.store.delete(r.viewName);
    }
  }

  async openView(vmIds: readonly VmId[], name: string): Promise<ChangeView> {
    if (vmIds.length !== 1) throw new ValidationError(`a Hyper-V view holds one VM (got ${vmIds.length}); recovery checkpoints are per VM`, 'vmIds');
    if (typeof name !== 'string' || !name.startsWith(VIEW_NAME_PREFIX)) throw new ValidationError(`view names start with '${VIEW_NAME_PREFIX}'`, 'name');
    const vmId = this.client.checkVmId(vmIds[0]);
    await this.options.store.load();
    const vm = await this.client.getVmRecord(vmId);
    let checkpoint: HvCheckpoint;
    try {
      checkpoint = await this.createCheckpoint(vmId, name);
    } catch (error) {
      throw new ChangeViewError('open', `recovery checkpoint '${name}' of VM '${vm.Name}' could not be taken: ${(error as Error).message}`, 'see the Hyper-V message; nothing was left on the host');
    }
    const disks: Record<string, string> = {};
    for (const d of checkpoint.Disks) disks[this.client.volumeId(vmId, d)] = d.Path;
    const sizes = new Map(vm.Disks.map((d) => [this.client.volumeId(vmId, d), d.Size]));
    await this.options.store.put({ viewName: name, vmId, checkpointId: checkpoint.Id, disks, retired: [], createdAt: Date.parse(checkpoint.CreationTime) || Date.now() });
    const takenAt = this.options.clock?.now() ?? (Date.parse(checkpoint.CreationTime) || Date.now());
    const view = new HypervChangeView(this, { id: checkpoint.Id, name, vmIds: [vmId], takenAt }, disks, sizes);
    this.open.set(checkpoint.Id, view);
    return view;
  }

  async releaseView(viewId: string): Promise<void> {
    await this.options.store.load();
    const view = this.open.get(viewId);
    this.open.delete(viewId);
    await view?.closeFiles();
    const record = this.options.store.byCheckpoint(viewId);
    const listed = record ? undefined : (await this.client.run(GET_RECOVERY_CHECKPOINTS, { prefix: VIEW_NAME_PREFIX })).find((c) => c.Id.toLowerCase() === viewId.toLowerCase());
    if (!record && !listed) return; // unknown or already released
    const vmId = record?.vmId ?? listed!.VMId;
    if (record?.referencePoint) return;
    try {
      const point = await this.client.run(CONVERT_TO_REFERENCE_POINT, { checkpointId: viewId });
      if (record) {
        const rct: Record<string, string> = {};
        for (const [volumeId, path] of Object.entries(record.disks)) {
          const disk = point.Disks.find((d) => samePath(d.Path, path)) ?? point.Disks.find((d) => samePath(baseOf(d.Path), baseOf(path)));
          if (disk) rct[volumeId] = disk.ResilientChangeTrackingIdentifier;
        }
        await this.options.store.put({ ...record, referencePoint: point.InstanceID, rct });
      } else {
        // A leftover of a process that died: nothing will ever use its tokens.
        await this.client.run(REMOVE_REFERENCE_POINT, { instanceId: point.InstanceID });
      }
      await this.prune(vmId);
    } catch (error) {
      // No reference point: the checkpoint must not stay. Its tokens are lost (the next cycle says so).
      this.options.log?.('hyperv-convert-failed', { viewId, message: (error as Error).message });
      try {
        await this.client.run(REMOVE_RECOVERY_CHECKPOINT, { vmId, checkpointId: viewId });
      } catch (removal) {
        throw new ChangeViewError('release', `recovery checkpoint ${viewId} could neither become a reference point (${(error as Error).message}) nor be removed (${(removal as Error).message})`,
          'it stays on the host; the next release (or Remove-VMSnapshot) removes it');
      }
      if (record) await this.options.store.delete(record.viewName);
    }
  }

  async listViews(prefix: string): Promise<ViewRef[]> {
    try {
      return (await this.client.run(GET_RECOVERY_CHECKPOINTS, { prefix })).map((c) => ({ id: c.Id, name: c.Name, vmIds: [c.VMId.toLowerCase()] }));
    } catch (error) {
      throw new ChangeViewError('list', `listing recovery checkpoints failed: ${(error as Error).message}`);
    }
  }

  async retireToken(_vmId: VmId, volumeId: VolumeId, token: string): Promise<void> {
    const t = decodeToken(token);
    if (!t) return;
    await this.options.store.load();
    const r = this.options.store.get(t.viewName);
    if (!r || !(t.volumeId in r.disks) || t.volumeId !== volumeId) return;
    if (!r.retired.includes(volumeId)) r.retired.push(volumeId);
    if (r.referencePoint && Object.keys(r.disks).every((v) => r.retired.includes(v))) {
      await this.client.run(REMOVE_REFERENCE_POINT, { instanceId: r.referencePoint });
      await this.options.store.delete(r.viewName);
    } else {
      await this.options.store.put(r);
    }
  }

  // ---- used by views -------------------------------------------------------------------------------

  /** Regions of `volumeId` changed between the token's reference point and the frozen disk `path`. */
  async changes(view: HypervChangeView, volumeId: VolumeId, token: string, sizeBytes: number): Promise<ChangedRegion[]> {
    const t = decodeToken(token);
    if (!t) throw new ChangeTokenLostError(volumeId, 'unknown', `'${token}' is not a token of the Hyper-V adapter`);
    await this.options.store.load();
    const r = this.options.store.get(t.viewName);
    const limitId = r?.rct?.[t.volumeId];
    if (!r || t.volumeId !== volumeId) throw new ChangeTokenLostError(volumeId, 'unknown', `no reference point is known for view '${t.viewName}'`);
    if (!limitId) throw new ChangeTokenLostError(volumeId, 'unknown', `view '${t.viewName}' has not become a reference point (it was not released, or its conversion failed)`);
    const path = view.diskPath(volumeId);
    const out: ChangedRegion[] = [];
    let offset = 0;
    while (offset < sizeBytes) {
      let answer;
      try {
        answer = await this.client.run(GET_VIRTUAL_DISK_CHANGES, { path, limitId, byteOffset: offset, byteLength: sizeBytes - offset });
      } catch (error) {
        if (error instanceof PowerShellCommandError && (error.returnValue === 32773 || error.returnValue === 32775)) {
          throw new ChangeTokenLostError(volumeId, 'reset', `Hyper-V no longer knows RCT id ${limitId} (${error.psMessage}): the VHDX was moved, merged or its tracking reset`);
        }
        throw new ChangeViewError('read', `GetVirtualDiskChanges on ${path} failed: ${(error as Error).message}`);
      }
      if (answer.ChangedByteOffsets.length !== answer.ChangedByteLengths.length || answer.ProcessedByteLength <= 0) {
        throw new ChangeViewError('read', `GetVirtualDiskChanges on ${path} answered ${answer.ChangedByteOffsets.length} offsets, ${answer.ChangedByteLengths.length} lengths and processed ${answer.ProcessedByteLength} bytes`);
      }
      const end = Math.min(sizeBytes, offset + answer.ProcessedByteLength);
      answer.ChangedByteOffsets.forEach((o, i) => {
        const l = answer.ChangedByteLengths[i];
        const from = Math.max(o, offset);
        const to = Math.min(o + l, end);
        if (l < 0 || o < 0) throw new ChangeViewError('read', `GetVirtualDiskChanges on ${path} answered a negative range ${o}+${l}`);
        if (to > from) out.push({ volumeId, offset: from, length: to - from });
      });
      offset = end;
    }
    return out;
  }

  openFile(path: string): Promise<VhdxFile> {
    return this.client.transport.open(path);
  }

  private async createCheckpoint(vmId: VmId, name: string): Promise<HvCheckpoint> {
    const mode = this.options.consistency;
    if (mode === 'crash') return this.client.run(NEW_RECOVERY_CHECKPOINT, { vmId, name, consistencyLevel: 2 });
    try {
      return await this.client.run(NEW_RECOVERY_CHECKPOINT, { vmId, name, consistencyLevel: 1 });
    } catch (error) {
      if (mode === 'application' || !(error instanceof PowerShellCommandError) || error.cmdlet !== 'CreateSnapshot') throw error;
      this.options.log?.('hyperv-vss-fallback', { vmId, message: error.psMessage });
      return this.client.run(NEW_RECOVERY_CHECKPOINT, { vmId, name, consistencyLevel: 2 });
    }
  }

  /** Keeps at most `maxReferencePointsPerVm` reference points of the VM: the oldest go first. */
  private async prune(vmId: VmId): Promise<void> {
    const points = this.options.store.forVm(vmId).filter((r) => r.referencePoint);
    for (const r of points.slice(0, Math.max(0, points.length - this.options.maxReferencePointsPerVm))) {
      await this.client.run(REMOVE_REFERENCE_POINT, { instanceId: r.referencePoint! });
      await this.options.store.delete(r.viewName);
    }
  }
}

export class HypervChangeView implements ChangeView {
  readonly id: string;
  readonly name: string;
  readonly vmIds: readonly VmId[];
  readonly takenAt: number;
  private readonly files = new Map<VolumeId, Promise<VhdxFile>>();

  constructor(private readonly tracking: HypervChangeTracking, ref: ViewRef & { takenAt: number }, private readonly disks: Record<string, string>, private readonly sizes: Map<string, number>) {
    this.id = ref.id;
    this.name = ref.name;
    this.vmIds = ref.vmIds;
    this.takenAt = ref.takenAt;
  }

  diskPath(volumeId: VolumeId): string {
    const path = this.disks[volumeId];
    if (path === undefined) throw new UnknownVolumeError(volumeId, `view '${this.name}'`);
    return path;
  }

  changedSince(volumeId: VolumeId, token: string): Promise<ChangedRegion[]> {
    return this.tracking.changes(this, volumeId, token, this.size(volumeId));
  }

  async allocated(volumeId: VolumeId): Promise<ChangedRegion[]> {
    const f = await this.file(volumeId);
    return f.allocatedRanges().map((r) => ({ volumeId, ...r }));
  }

  async read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const f = await this.file(volumeId);
    try {
      return await f.read(offset, length);
    } catch (error) {
      throw new ChangeViewError('read', `reading view '${this.name}' volume '${volumeId}' at ${offset}: ${(error as Error).message}`);
    }
  }

  token(volumeId: VolumeId): string {
    this.diskPath(volumeId);
    return encodeToken({ viewName: this.name, volumeId });
  }

  async closeFiles(): Promise<void> {
    const files = [...this.files.values()];
    this.files.clear();
    for (const f of files) await f.then((x) => x.close(), () => undefined);
  }

  private size(volumeId: VolumeId): number {
    const s = this.sizes.get(volumeId);
    if (s === undefined) throw new UnknownVolumeError(volumeId, `view '${this.name}'`);
    return s;
  }

  private file(volumeId: VolumeId): Promise<VhdxFile> {
    let f = this.files.get(volumeId);
    if (!f) {
      f = this.tracking.openFile(this.diskPath(volumeId)).catch((error: unknown) => {
        this.files.delete(volumeId);
        throw new ChangeViewError('read', `the frozen disk of view '${this.name}' (${this.disks[volumeId]}) cannot be opened: ${(error as Error).message}`, 'the checkpoint may have been deleted on the host');
      });
      this.files.set(volumeId, f);
    }
    return f;
  }
}

function samePath(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The base VHDX a checkpoint chain starts from (an AVHDX `<base>_<GUID>.avhdx` belongs to `<base>.vhdx`). */
function baseOf(p: string): string {
  return p.replace(/_[0-9A-Fa-f-]{36}\.avhdx$/, '.vhdx');
}

// The Hyper-V platform as the kernel sees it: inventory from Get-VM/Get-VMSwitch/Get-Volume (and the
// cluster's VM roles), change tracking with RCT (no write splitter exists on Hyper-V), volume reads through
// the disk transport, and recovery VMs whose disks are written as dynamic VHDX onto the host's storage
// before New-VM attaches them — so a recovered VM never reads through the journal, and "promotion" has
// nothing left to copy. A failed recovery removes what it made.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { UnknownVolumeError, ValidationError, VolumeRangeError } from '@opencdp/core';
import type {
  Clock, DatastoreId, HypervisorAdapter, Inventory, NicInfo, PowerState, RecoveryDiskPromotion, RecoveryVmSpec, VmId, VmInfo, VolumeId,
} from '@opencdp/core';
import type { HypervConfig } from './hyperv-config.js';
import { HypervChangeTracking } from './hyperv-change-tracking.js';
import type { HypervHostClient } from './hyperv-host-client.js';
import {
  GET_HOST, GET_INVENTORY, NEW_RECOVERY_VM, REMOVE_VM, SET_GUEST_NETWORK, START_VM, STOP_VM, type HvInventory, type HvSwitch, type HvVm,
} from './hyperv-scripts.js';
import { RctTokenStore } from './rct-token-store.js';

const NOTES_PREFIX = 'opencdp:';

interface RecoveryNotes {
  source: string;
  folder: string;
}

export interface HypervHypervisorOptions {
  client: HypervHostClient;
  config: HypervConfig;
  siteId: string;
  /** The 0700 folder for the adapter's state (the RCT token map); absent: memory only. */
  dataDir?: string;
  /** The clock views are stamped with (the kernel's); absent: the host's checkpoint creation time. */
  clock?: Clock;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export class HypervHypervisor implements HypervisorAdapter, RecoveryDiskPromotion {
  readonly platform = 'hyperv';
  readonly changeTracking: HypervChangeTracking;
  /** Recovered disks are full copies, so promotion only checks ranges (see `promoteDisk`). */
  readonly promotion: RecoveryDiskPromotion = this;
  private readonly client: HypervHostClient;
  private readonly config: HypervConfig;

  constructor(private readonly options: HypervHypervisorOptions) {
    this.client = options.client;
    this.config = options.config;
    this.changeTracking = new HypervChangeTracking(this.client, {
      minIntervalMs: this.config.minIntervalMs ?? 30_000,
      granularityBytes: this.config.rctGranularityBytes ?? 64 * 1024,
      consistency: this.config.consistency ?? 'application-or-crash',
      maxReferencePointsPerVm: this.config.maxReferencePointsPerVm ?? 8,
      ...(options.clock ? { clock: options.clock } : {}),
      store: new RctTokenStore(options.dataDir ? path.join(options.dataDir, 'hyperv-rct-tokens.json') : undefined),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  async inventory(): Promise<Inventory> {
    const inv = await this.client.run(GET_INVENTORY, { storagePaths: this.config.storagePaths });
    const hostId = this.hostId(inv);
    const clustered = new Set(inv.ClusterGroups.map((g) => g.Name));
    return {
      hosts: [{ id: hostId, name: inv.Host.ComputerName, siteId: this.options.siteId }],
      vms: inv.Vms.map((vm) => this.toVmInfo(vm, inv.Switches, clustered.has(vm.Name) ? `${hostId}` : hostId)),
      networks: inv.Switches.map((s) => ({ id: s.Id.toLowerCase(), name: s.Name, isolated: this.isolated(s) })),
      datastores: inv.Volumes.map((v) => ({ id: v.Path, name: v.Path, capacityBytes: v.Size, freeBytes: v.SizeRemaining })),
    };
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    const vm = await this.client.getVmRecord(vmId);
    const host = await this.client.run(GET_HOST, {});
    return this.toVmInfo(vm, host.Switches, `hyperv-${host.ComputerName.toLowerCase()}`);
  }

  async readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const vm = await this.client.getVmRecord(vmId);
    const disk = vm.Disks.find((d) => this.client.volumeId(vm.Id, d) === volumeId);
    if (!disk) throw new UnknownVolumeError(volumeId, `VM '${vmId}'`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > disk.Size) {
      throw new VolumeRangeError(volumeId, offset, length, disk.Size);
    }
    const file = await this.client.transport.open(disk.Path);
    try {
      return await file.read(offset, length);
    } finally {
      await file.close();
    }
  }

  async createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    if (typeof spec?.name !== 'string' || spec.name.trim() === '') throw new ValidationError('a recovery VM needs a name', 'name');
    if (!Array.isArray(spec.disks) || spec.disks.length === 0) throw new ValidationError('a recovery VM needs at least one disk', 'disks');
    const inv = await this.client.run(GET_INVENTORY, { storagePaths: this.config.storagePaths });
    if (spec.hostId !== undefined && spec.hostId !== this.hostId(inv)) throw new ValidationError(`host '${spec.hostId}' is not this Hyper-V host (${this.hostId(inv)})`, 'hostId');
    const datastore: DatastoreId = spec.datastoreId ?? this.config.storagePaths[0];
    if (!this.config.storagePaths.includes(datastore)) throw new ValidationError(`datastore '${datastore}' is not one of this host's storage paths`, 'datastoreId', `use one of ${this.config.storagePaths.join(', ')}`);
    const nics = spec.nics.map((n, i) => {
      const sw = inv.Switches.find((s) => s.Id.toLowerCase() === String(n.networkId).toLowerCase());
      if (!sw) throw new ValidationError(`network '${n.networkId}' is not a switch of this host`, `nics[${i}].networkId`);
      return { Name: `Network Adapter ${i + 1}`, SwitchName: sw.Name, MacAddress: hypervMac(n.mac), ipv4: n.ipv4 };
    });
    const rv = this.config.recoveryVm ?? {};
    const folder = `${datastore.replace(/\\+$/, '')}\\${this.config.recoveryFolder ?? 'OpenCDP'}\\${randomUUID()}`;
    const notes: RecoveryNotes = { source: spec.sourceVmId, folder };
    let vmId: string | undefined;
    try {
      await this.client.transport.mkdir(folder);
      const disks: { Path: string }[] = [];
      for (const [i, d] of spec.disks.entries()) {
        const diskPath = `${folder}\\disk${i}.vhdx`;
        const sector = rv.logicalSectorSize === 'source' || rv.logicalSectorSize === undefined ? sectorSizeOf(d.source, d.volumeId) : rv.logicalSectorSize;
        await this.client.transport.writeVhdx(diskPath, { sizeBytes: d.source.sizeBytes(d.volumeId), read: (o, l) => d.source.read(d.volumeId, o, l) }, {
          blockSize: rv.blockSizeBytes ?? 32 * 1024 * 1024,
          logicalSectorSize: sector === 4096 ? 4096 : 512,
          physicalSectorSize: 4096,
          creator: 'OpenCDP recovery',
        });
        disks.push({ Path: diskPath });
      }
      const vm = await this.client.run(NEW_RECOVERY_VM, {
        name: spec.name, generation: rv.generation ?? 2, memoryBytes: rv.memoryBytes ?? 2 * 1024 ** 3, processorCount: rv.processorCount ?? 2,
        vmPath: folder, notes: NOTES_PREFIX + JSON.stringify(notes), disks, nics: nics.map(({ ipv4: _ip, ...n }) => n),
      });
      vmId = vm.Id.toLowerCase();
      for (const n of nics) {
        if (!n.ipv4) continue;
        await this.client.run(SET_GUEST_NETWORK, {
          vmId, nicName: n.Name, ipAddress: n.ipv4, subnet: rv.subnetMask ?? '255.255.255.0', gateways: rv.gateways ?? [], dnsServers: rv.dnsServers ?? [],
        });
      }
      return await this.getVm(vmId);
    } catch (error) {
      // Nothing half-made stays: the VM (with its disks) if it exists, else the files written so far.
      if (vmId) await this.client.run(REMOVE_VM, { vmId, folder }).catch(() => undefined);
      await this.client.transport.remove(folder).catch(() => undefined);
      this.options.log?.('hyperv-recovery-vm-failed', { name: spec.name, message: (error as Error).message });
      throw error;
    }
  }

  async powerOn(vmId: VmId): Promise<void> {
    await this.client.run(START_VM, { vmId: this.client.checkVmId(vmId) });
  }

  async shutdownGuest(vmId: VmId): Promise<void> {
    await this.client.run(STOP_VM, { vmId: this.client.checkVmId(vmId), mode: 'shutdown' });
  }

  async powerOff(vmId: VmId): Promise<void> {
    await this.client.run(STOP_VM, { vmId: this.client.checkVmId(vmId), mode: 'turnoff' });
  }

  /** Remove-VM with its disks; the folder too for a VM this adapter recovered. */
  async deleteVm(vmId: VmId): Promise<void> {
    const vm = await this.client.getVmRecord(vmId);
    const notes = recoveryNotes(vm.Notes);
    await this.client.run(REMOVE_VM, { vmId: vm.Id.toLowerCase(), folder: notes?.folder ?? null });
  }

  /**
   * Promotion: the recovered disk was written in full when the VM was made, so there is nothing to copy;
   * this checks that the disk exists, which is what the orchestrator relies on afterwards.
   */
  async promoteDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void> {
    const vm = await this.client.getVmRecord(vmId);
    const disk = vm.Disks.find((d) => this.client.volumeId(vm.Id, d) === volumeId);
    if (!disk) throw new UnknownVolumeError(volumeId, `VM '${vmId}'`);
    if (offset < 0 || offset + length > disk.Size) throw new VolumeRangeError(volumeId, offset, length, disk.Size);
  }

  async detachDiskSource(vmId: VmId, volumeId: VolumeId): Promise<void> {
    await this.promoteDisk(vmId, volumeId, 0, 0);
  }

  // ---- mapping --------------------------------------------------------------------------------------

  private hostId(inv: HvInventory): string {
    return `hyperv-${inv.Host.ComputerName.toLowerCase()}`;
  }

  private isolated(s: HvSwitch): boolean {
    return this.config.testSwitches ? this.config.testSwitches.includes(s.Name) : s.SwitchType === 'Private';
  }

  private toVmInfo(vm: HvVm, switches: HvSwitch[], hostId: string): VmInfo {
    const id = vm.Id.toLowerCase();
    return {
      id, name: vm.Name, hostId, powerState: powerState(vm.State),
      volumes: vm.Disks.map((d) => ({ id: this.client.volumeId(id, d), vmId: id, name: path.win32.basename(d.Path), sizeBytes: d.Size, sectorSize: d.LogicalSectorSize })),
      nics: vm.Nics.map((n): NicInfo => {
        const ipv4 = [...n.StaticIPAddresses, ...n.IPAddresses].find((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a));
        const sw = switches.find((s) => s.Name === n.SwitchName);
        return { id: n.Id, networkId: sw ? sw.Id.toLowerCase() : '', mac: kernelMac(n.MacAddress), ...(ipv4 ? { ipv4 } : {}) };
      }),
    };
  }
}

function powerState(state: string): PowerState {
  if (state === 'Running') return 'on';
  if (state === 'Saved' || state === 'Paused') return 'suspended';
  return 'off';
}

/** `52:54:00:aa:bb:cc` → `525400AABBCC` (Hyper-V's form); undefined or unparsable → a dynamic MAC. */
export function hypervMac(mac: string | undefined): string | null {
  if (!mac) return null;
  const hex = mac.replace(/[:-]/g, '').toUpperCase();
  return /^[0-9A-F]{12}$/.test(hex) ? hex : null;
}

function kernelMac(mac: string): string {
  const hex = mac.replace(/[:-]/g, '').toLowerCase();
  return hex.length === 12 ? hex.match(/../g)!.join(':') : mac;
}

function recoveryNotes(notes: string): RecoveryNotes | undefined {
  if (!notes.startsWith(NOTES_PREFIX)) return undefined;
  try {
    const n = JSON.parse(notes.slice(NOTES_PREFIX.length)) as Partial<RecoveryNotes>;
    return typeof n.folder === 'string' && typeof n.source === 'string' ? (n as RecoveryNotes) : undefined;
  } catch {
    return undefined;
  }
}

/** The sector size of a volume when the source says (a point-in-time image does); 512 otherwise. */
function sectorSizeOf(source: unknown, volumeId: VolumeId): number {
  const volumes = (source as { volumes?: readonly { id: string; sectorSize?: number }[] }).volumes;
  return volumes?.find((v) => v.id === volumeId)?.sectorSize ?? 512;
}

// One vCenter datacenter as the adapter sees it: the datacenter and its folders resolved from the config's
// names, the inventory read through container views (hosts, VMs with disks, NICs, snapshots and CBT state,
// networks, datastores), the datastore file interface and the disk transport. OpenCDP ids are vSphere's
// managed object ids (`vm-42`, `host-7`, `dvportgroup-13`); a volume is `<vm>-disk-<device key>`.
import { UnknownVmError, UnknownVolumeError } from '@opencdp/core';
import type { DatastoreInfo, HostInfo, NetworkInfo, NicInfo, VmInfo, VolumeInfo } from '@opencdp/core';
import { DatastoreFiles } from './datastore-http.js';
import { DatastoreHttpTransport, type DiskTransport } from './disk-transport.js';
import type { VimClient } from './vim-client.js';
import {
  MoRef, arr, at, bool, disksOf, flattenSnapshots, moRef, nicsOf, num, objects, str,
  type SnapshotNode, type VimValue, type VirtualDiskInfo, type VirtualNicInfo,
} from './vim-types.js';
import { VimFaultError, VsphereObjectNotFoundError } from './vsphere-errors.js';

export const VM_PROPERTIES = [
  'name', 'runtime.powerState', 'runtime.host', 'config.hardware.device', 'config.changeTrackingEnabled',
  'config.files.vmPathName', 'config.template', 'snapshot', 'guest.net',
] as const;

export interface VmRecord {
  ref: MoRef;
  name: string;
  powerState: 'on' | 'off' | 'suspended';
  host?: MoRef;
  disks: VirtualDiskInfo[];
  nics: VirtualNicInfo[];
  /** NIC device key → IPv4 addresses the guest reports (VMware Tools; guest customization in vcsim). */
  guestIps: Map<number, string>;
  changeTracking: boolean;
  vmPathName: string;
  snapshots: SnapshotNode[];
  template: boolean;
}

export interface NetworkRecord {
  ref: MoRef;
  name: string;
  /** For distributed portgroups: the portgroup key and its switch's uuid (a NIC backing needs both). */
  portgroupKey?: string;
  switchUuid?: string;
}

export interface VsphereSiteOptions {
  /** Datacenter name, or its inventory path (`Folder/DC0`). */
  datacenter: string;
  siteId: string;
  /** Portgroup names that are isolated test networks (failover tests attach recovered VMs there). */
  testNetworks?: readonly string[];
  /** The disk transport (default: the datastore HTTP interface). */
  transport?: (files: DatastoreFiles) => DiskTransport;
}

const POWER: Record<string, VmRecord['powerState']> = { poweredOn: 'on', poweredOff: 'off', suspended: 'suspended' };

export function volumeIdOf(vmId: string, deviceKey: number): string {
  return `${vmId}-disk-${deviceKey}`;
}

export class VsphereSite {
  readonly files: DatastoreFiles;
  readonly transport: DiskTransport;
  private readonly testNetworks: ReadonlySet<string>;

  private constructor(
    readonly client: VimClient,
    readonly options: VsphereSiteOptions,
    readonly datacenter: MoRef,
    readonly datacenterPath: string,
    readonly vmFolder: MoRef,
    readonly hostFolder: MoRef,
  ) {
    this.files = new DatastoreFiles(client.http, datacenterPath);
    this.transport = options.transport?.(this.files) ?? new DatastoreHttpTransport(this.files);
    this.testNetworks = new Set(options.testNetworks ?? []);
  }

  /** Resolves the datacenter named in the config; VsphereObjectNotFoundError naming the field when it is not there. */
  static async open(client: VimClient, options: VsphereSiteOptions): Promise<VsphereSite> {
    const found = await client.inventory(client.content.rootFolder, [
      { type: 'Datacenter', paths: ['name', 'parent', 'vmFolder', 'hostFolder'] },
      { type: 'Folder', paths: ['name', 'parent'] },
    ]);
    const byRef = new Map(found.map((o) => [o.obj.toString(), o]));
    const pathOf = (ref: MoRef): string => {
      const parts: string[] = [];
      for (let cur: MoRef | undefined = ref; cur && !cur.equals(client.content.rootFolder);) {
        const o = byRef.get(cur.toString());
        if (!o) break;
        parts.unshift(str(o.props.name));
        cur = moRef(o.props.parent);
      }
      return parts.join('/');
    };
    const dcs = found.filter((o) => o.obj.type === 'Datacenter');
    const dc = dcs.find((o) => pathOf(o.obj) === options.datacenter) ?? dcs.find((o) => str(o.props.name) === options.datacenter);
    if (!dc) throw new VsphereObjectNotFoundError('datacenter', options.datacenter, 'datacenter');
    return new VsphereSite(client, options, dc.obj, pathOf(dc.obj), moRef(dc.props.vmFolder)!, moRef(dc.props.hostFolder)!);
  }

  isTestNetwork(name: string): boolean {
    return this.testNetworks.has(name);
  }

  // ---- VMs -------------------------------------------------------------------------------------------

  async vmRecords(): Promise<VmRecord[]> {
    const found = await this.client.inventory(this.datacenter, [{ type: 'VirtualMachine', paths: VM_PROPERTIES }]);
    return found.map((o) => vmRecord(o.obj, o.props)).filter((v) => !v.template);
  }

  /** One VM; UnknownVmError when vCenter does not have it. */
  async vmRecord(vmId: string): Promise<VmRecord> {
    const ref = new MoRef('VirtualMachine', vmId);
    try {
      return vmRecord(ref, await this.client.properties(ref, VM_PROPERTIES));
    } catch (error) {
      if (error instanceof VimFaultError && error.faultName === 'ManagedObjectNotFound') throw new UnknownVmError(vmId);
      throw error;
    }
  }

  /** The disk of `volumeId` in the VM; UnknownVolumeError when the VM has no such disk. */
  diskOf(vm: VmRecord, volumeId: string): VirtualDiskInfo {
    const disk = vm.disks.find((d) => volumeIdOf(vm.ref.value, d.key) === volumeId);
    if (!disk) throw new UnknownVolumeError(volumeId, `VM '${vm.ref.value}'`);
    return disk;
  }

  toVmInfo(vm: VmRecord): VmInfo {
    const volumes: VolumeInfo[] = vm.disks.map((d) => ({ id: volumeIdOf(vm.ref.value, d.key), vmId: vm.ref.value, name: d.label, sizeBytes: d.capacityBytes, sectorSize: 512 }));
    const nics: NicInfo[] = vm.nics.map((n) => {
      const ip = vm.guestIps.get(n.key);
      return { id: `${vm.ref.value}-nic-${n.key}`, networkId: n.networkId, mac: n.macAddress, ...(ip ? { ipv4: ip } : {}) };
    });
    return { id: vm.ref.value, name: vm.name, hostId: vm.host?.value ?? '', powerState: vm.powerState, volumes, nics };
  }

  // ---- hosts, networks, datastores ---------------------------------------------------------------------

  async hosts(): Promise<(HostInfo & { ref: MoRef; parent?: MoRef })[]> {
    const found = await this.client.inventory(this.datacenter, [{ type: 'HostSystem', paths: ['name', 'parent'] }]);
    return found.map((o) => ({ id: o.obj.value, name: str(o.props.name), siteId: this.options.siteId, ref: o.obj, ...(moRef(o.props.parent) ? { parent: moRef(o.props.parent) } : {}) }));
  }

  async networkRecords(): Promise<NetworkRecord[]> {
    const found = await this.client.inventory(this.datacenter, [
      { type: 'Network', paths: ['name'] },
      { type: 'DistributedVirtualPortgroup', paths: ['name', 'key', 'config.distributedVirtualSwitch', 'config.uplink'] },
      { type: 'DistributedVirtualSwitch', paths: ['uuid'] },
    ]);
    const switches = new Map(found.filter((o) => o.obj.type.endsWith('DistributedVirtualSwitch')).map((o) => [o.obj.value, str(o.props.uuid)]));
    const out: NetworkRecord[] = [];
    for (const o of found) {
      if (o.obj.type === 'Network' || o.obj.type === 'OpaqueNetwork') out.push({ ref: o.obj, name: str(o.props.name) });
      if (o.obj.type === 'DistributedVirtualPortgroup' && !bool(o.props['config.uplink'])) {
        const dvs = moRef(o.props['config.distributedVirtualSwitch']);
        out.push({ ref: o.obj, name: str(o.props.name), portgroupKey: str(o.props.key, o.obj.value), ...(dvs ? { switchUuid: switches.get(dvs.value) ?? '' } : {}) });
      }
    }
    return out;
  }

  async networks(): Promise<NetworkInfo[]> {
    return (await this.networkRecords()).map((n) => ({ id: n.portgroupKey ?? n.ref.value, name: n.name, isolated: this.isTestNetwork(n.name) }));
  }

  async datastoreRecords(): Promise<(DatastoreInfo & { ref: MoRef; accessible: boolean })[]> {
    const found = await this.client.inventory(this.datacenter, [{ type: 'Datastore', paths: ['name', 'summary'] }]);
    return found.map((o) => ({
      id: o.obj.value, ref: o.obj, name: str(o.props.name),
      capacityBytes: num(at(o.props.summary, 'capacity')), freeBytes: num(at(o.props.summary, 'freeSpace')),
      accessible: bool(at(o.props.summary, 'accessible'), true),
    }));
  }

  async datastores(): Promise<DatastoreInfo[]> {
    return (await this.datastoreRecords()).map(({ id, name, capacityBytes, freeBytes }) => ({ id, name, capacityBytes, freeBytes }));
  }
}

function vmRecord(ref: MoRef, props: Record<string, VimValue>): VmRecord {
  const devices = props['config.hardware.device'];
  const guestIps = new Map<number, string>();
  for (const n of objects(props['guest.net'])) {
    const ip = arr(n.ipAddress).map((x) => str(x)).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    if (ip) guestIps.set(num(n.deviceConfigId), ip);
  }
  return {
    ref,
    name: str(props.name),
    powerState: POWER[str(props['runtime.powerState'])] ?? 'off',
    ...(moRef(props['runtime.host']) ? { host: moRef(props['runtime.host']) } : {}),
    disks: disksOf(devices),
    nics: nicsOf(devices),
    guestIps,
    changeTracking: bool(props['config.changeTrackingEnabled']),
    vmPathName: str(props['config.files.vmPathName']),
    snapshots: flattenSnapshots(at(props.snapshot, 'rootSnapshotList')),
    template: bool(props['config.template']),
  };
}

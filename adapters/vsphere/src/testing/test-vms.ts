// Protected VMs for tests and the harness, made through the real API: CreateVM_Task with new, empty disks
// (fileOperation "create") on a datastore, a NIC on a portgroup, powered on. The simulated guest then
// writes into their disk files through the fixture.
import type { VmInfo } from '@opencdp/core';
import { MoRef, moRef, typed, type VimValue } from '../vim-types.js';
import type { VsphereHypervisor } from '../vsphere-hypervisor.js';

export interface TestVmSpec {
  name: string;
  /** Disk sizes in bytes (multiples of 1 KiB). */
  disks: number[];
  /** Host moref value; default: the first host of a cluster. */
  hostId?: string;
  /** Datastore name; default the first. */
  datastore?: string;
  /** Portgroup name of the one NIC; default: the first network listed. */
  portgroup?: string;
  powerOn?: boolean;
}

export async function createTestVm(hv: VsphereHypervisor, spec: TestVmSpec): Promise<VmInfo> {
  const site = hv.site;
  const client = hv.client;
  const hosts = await site.hosts();
  const host = spec.hostId !== undefined ? hosts.find((h) => h.id === spec.hostId) : hosts.find((h) => h.parent?.type === 'ClusterComputeResource') ?? hosts[0];
  if (!host?.parent) throw new Error(`no host '${spec.hostId ?? '(any)'}' to place test VM '${spec.name}'`);
  const pool = moRef((await client.properties(host.parent, ['resourcePool'])).resourcePool)!;
  const datastores = await site.datastoreRecords();
  const ds = spec.datastore !== undefined ? datastores.find((d) => d.name === spec.datastore) : datastores[0];
  if (!ds) throw new Error(`no datastore '${spec.datastore}'`);
  const networks = await site.networkRecords();
  const net = spec.portgroup !== undefined ? networks.find((n) => n.name === spec.portgroup) : networks[0];
  if (!net) throw new Error(`no portgroup '${spec.portgroup}'`);
  const deviceChange: VimValue[] = [
    { operation: 'add', device: typed('ParaVirtualSCSIController', { key: -100, busNumber: 0, sharedBus: 'noSharing' }) },
    ...spec.disks.map((size, i) => ({
      operation: 'add',
      fileOperation: 'create',
      device: typed('VirtualDisk', {
        key: -200 - i,
        backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: `[${ds.name}]`, diskMode: 'persistent', thinProvisioned: true }),
        controllerKey: -100,
        unitNumber: i < 7 ? i : i + 1,
        capacityInKB: Math.floor(size / 1024),
        capacityInBytes: size,
      }),
    })),
    {
      operation: 'add',
      device: typed('VirtualVmxnet3', {
        key: -300,
        backing: net.portgroupKey !== undefined && net.switchUuid !== undefined
          ? typed('VirtualEthernetCardDistributedVirtualPortBackingInfo', { port: { switchUuid: net.switchUuid, portgroupKey: net.portgroupKey } })
          : typed('VirtualEthernetCardNetworkBackingInfo', { deviceName: net.name, network: net.ref }),
        connectable: { startConnected: true, allowGuestControl: true, connected: false },
        addressType: 'generated',
      }),
    },
  ];
  const vm = await client.runTask('CreateVM_Task', {
    _this: site.vmFolder,
    config: { name: spec.name, guestId: 'otherGuest64', files: { vmPathName: `[${ds.name}]` }, numCPUs: 1, memoryMB: 128, deviceChange },
    pool,
    host: host.ref,
  });
  if (!(vm instanceof MoRef)) throw new Error('CreateVM_Task answered no VM');
  if (spec.powerOn ?? true) await hv.powerOn(vm.value);
  return hv.getVm(vm.value);
}

/** The device key of a volume id (`<vm>-disk-<key>`). */
export function deviceKeyOf(volumeId: string): number {
  const m = /-disk-(\d+)$/.exec(volumeId);
  if (!m) throw new Error(`'${volumeId}' is not a vSphere volume id`);
  return Number(m[1]);
}

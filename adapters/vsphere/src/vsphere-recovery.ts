// Recovery VMs on vSphere: each recovered disk is uploaded as a flat extent plus its descriptor through the
// datastore HTTP interface and read back by hash, then CreateVM_Task makes the VM on the chosen host or
// cluster, datastore and folder with those disks, NICs on the mapped portgroups (keeping the source MAC
// when vSphere allows it), boot order disk first, and re-IP through guest customization. A failure at any
// step removes what was made: the VM (Destroy_Task) and the uploaded files (DeleteDatastoreFile_Task).
import { randomBytes } from 'node:crypto';
import { ValidationError } from '@opencdp/core';
import type { RecoveryVmSpec, VmInfo } from '@opencdp/core';
import { formatDatastorePath, type DatastorePath } from './datastore-http.js';
import { MoRef, moRef, typed, type VimObject, type VimValue } from './vim-types.js';
import { flatDescriptor } from './vmdk-descriptor.js';
import { DatastoreTransferError, SectorSizeUnsupportedError, VimFaultError, VimTaskError, VimTaskTimeoutError } from './vsphere-errors.js';
import type { NetworkRecord, VsphereSite } from './vsphere-site.js';

export interface RecoveryPlacement {
  /** Datastore name for recovered disks when the spec names none (default: the first accessible one). */
  datastore?: string;
  /** VM folder (default: the datacenter's VM folder). */
  folder?: MoRef;
  /** Resource pool when the spec names no host (default: the first cluster's or host's root pool). */
  resourcePool?: MoRef;
  /** vSphere guest OS id of recovered VMs (default `otherGuest64`). */
  guestId?: string;
  memoryMB?: number;
  numCPUs?: number;
  /** `keep`: a source MAC in VMware's manual range (00:50:56:00-3F) is kept; otherwise vSphere generates one. */
  macPolicy?: 'keep' | 'generate';
  /** Subnet mask for re-IP (default 255.255.255.0). */
  subnetMask?: string;
  /** Upload chunk size (default 4 MiB). */
  chunkBytes?: number;
}

const MANUAL_MAC = /^00:50:56:[0-3][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/i;
const UNITS_PER_CONTROLLER = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15];
const MAX_CONTROLLERS = 4;

/** A folder name on the datastore: the VM's name made safe, plus a random suffix (recoveries never collide). */
export function recoveryFolderName(vmName: string): string {
  const safe = vmName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'vm';
  return `opencdp-${safe}-${randomBytes(4).toString('hex')}`;
}

export class VsphereRecovery {
  constructor(private readonly site: VsphereSite, private readonly placement: RecoveryPlacement = {}, private readonly log?: (event: string, fields: Record<string, unknown>) => void) {}

  private get client(): VsphereSite['client'] {
    return this.site.client;
  }

  async createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    if (typeof spec.name !== 'string' || spec.name.trim() === '' || spec.name.length > 80) throw new ValidationError('a recovery VM needs a name of 1 to 80 characters', 'name');
    const capacity = UNITS_PER_CONTROLLER.length * MAX_CONTROLLERS;
    if (spec.disks.length > capacity) throw new ValidationError(`a recovery VM takes at most ${capacity} disks, got ${spec.disks.length}`, 'disks');
    const sizes = spec.disks.map((d, i) => {
      const size = d.source.sizeBytes(d.volumeId);
      if (!Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) throw new ValidationError(`disk ${i} (${d.volumeId}) has ${size} bytes, not a positive multiple of 512`, `disks[${i}]`);
      return size;
    });
    spec.disks.forEach((d, i) => {
      if ((d.sectorSize ?? 512) !== 512) throw new SectorSizeUnsupportedError(d.volumeId, d.sectorSize!, `disks[${i}].sectorSize`);
    });
    const { datastore, pool, host } = await this.placementFor(spec);
    const networks = await this.site.networkRecords();
    const nicNetworks = spec.nics.map((n, i) => {
      const net = networks.find((x) => (x.portgroupKey ?? x.ref.value) === n.networkId);
      if (!net) throw new ValidationError(`network '${n.networkId}' of NIC ${i} is not at the recovery site`, `nics[${i}].networkId`, `use one of ${networks.map((x) => x.portgroupKey ?? x.ref.value).join(', ')}`);
      return net;
    });

    const folder: DatastorePath = { datastore: datastore.name, path: recoveryFolderName(spec.name) };
    const folderPath = formatDatastorePath(folder);
    let vm: MoRef | undefined;
    let folderMade = false;
    try {
      await this.client.invoke('MakeDirectory', { _this: this.client.content.fileManager, name: folderPath, datacenter: this.site.datacenter, createParentDirectories: true });
      folderMade = true;
      const diskFiles: string[] = [];
      for (let i = 0; i < spec.disks.length; i++) diskFiles.push(await this.uploadDisk(folder, i, spec.disks[i], sizes[i]));
      const config = this.configSpec(spec, folder, datastore.ref, diskFiles, sizes, nicNetworks);
      try {
        const created = await this.client.runTask('CreateVM_Task', { _this: this.placement.folder ?? this.site.vmFolder, config, pool, ...(host ? { host } : {}) });
        vm = moRef(created);
        if (!vm) throw new VimFaultError('SystemError', 'CreateVM_Task answered no VM', 'CreateVM_Task');
      } catch (error) {
        // A lost answer or a task that never ended may still have made the VM: find it by its files.
        if (error instanceof VimTaskTimeoutError || !(error instanceof VimTaskError || error instanceof VimFaultError)) vm = await this.findVmIn(folderPath);
        throw error;
      }
      await this.finish(vm, spec);
      const record = await this.site.vmRecord(vm.value);
      this.log?.('vsphere-recovery-vm-created', { vmId: vm.value, name: spec.name, sourceVmId: spec.sourceVmId, datastore: datastore.name, folder: folder.path });
      return this.site.toVmInfo(record);
    } catch (error) {
      await this.cleanUp(vm, folderMade ? folderPath : undefined);
      throw error;
    }
  }

  /** Datastore, resource pool and host for a spec (its own choices first, then the configured defaults). */
  private async placementFor(spec: RecoveryVmSpec): Promise<{ datastore: { name: string; ref: MoRef }; pool: MoRef; host?: MoRef }> {
    const datastores = await this.site.datastoreRecords();
    let datastore = spec.datastoreId !== undefined ? datastores.find((d) => d.id === spec.datastoreId) : undefined;
    if (spec.datastoreId !== undefined && !datastore) throw new ValidationError(`datastore '${spec.datastoreId}' is not at the recovery site`, 'datastoreId', `use one of ${datastores.map((d) => d.id).join(', ')}`);
    if (!datastore && this.placement.datastore !== undefined) {
      datastore = datastores.find((d) => d.name === this.placement.datastore);
      if (!datastore) throw new ValidationError(`the configured datastore '${this.placement.datastore}' does not exist`, 'datastore');
    }
    datastore ??= datastores.find((d) => d.accessible);
    if (!datastore) throw new ValidationError('the recovery site has no accessible datastore', 'datastoreId');

    const hosts = await this.site.hosts();
    if (spec.hostId !== undefined) {
      const host = hosts.find((h) => h.id === spec.hostId);
      if (!host || !host.parent) throw new ValidationError(`host '${spec.hostId}' is not at the recovery site`, 'hostId', `use one of ${hosts.map((h) => h.id).join(', ')}`);
      return { datastore, pool: await this.poolOf(host.parent), host: host.ref };
    }
    if (this.placement.resourcePool) return { datastore, pool: this.placement.resourcePool };
    const parent = hosts.find((h) => h.parent?.type === 'ClusterComputeResource')?.parent ?? hosts[0]?.parent;
    if (!parent) throw new ValidationError('the recovery site has no host to run recovered VMs', 'hostId');
    return { datastore, pool: await this.poolOf(parent) };
  }

  private async poolOf(computeResource: MoRef): Promise<MoRef> {
    const pool = moRef((await this.client.properties(computeResource, ['resourcePool'])).resourcePool);
    if (!pool) throw new ValidationError(`${computeResource.value} has no resource pool`, 'hostId');
    return pool;
  }

  /** Uploads disk i (flat extent streamed from the image, then its descriptor); checks the extent by hash. */
  private async uploadDisk(folder: DatastorePath, index: number, disk: RecoveryVmSpec['disks'][number], size: number): Promise<string> {
    const flat: DatastorePath = { datastore: folder.datastore, path: `${folder.path}/disk${index}-flat.vmdk` };
    const descriptor: DatastorePath = { datastore: folder.datastore, path: `${folder.path}/disk${index}.vmdk` };
    const chunk = this.placement.chunkBytes ?? 4 * 1024 * 1024;
    const source = disk.source;
    const sent = await this.site.files.write(flat, (async function* () {
      for (let at = 0; at < size; at += chunk) yield await source.read(disk.volumeId, at, Math.min(chunk, size - at));
    })(), size);
    const stored = await this.site.files.sha256(flat, size);
    if (stored !== sent) throw new DatastoreTransferError(formatDatastorePath(flat), 'verify', `read back SHA-256 ${stored}, uploaded ${sent}`);
    const text = Buffer.from(flatDescriptor({ capacityBytes: size, flatFileName: `disk${index}-flat.vmdk` }));
    await this.site.files.write(descriptor, text, text.length);
    const back = await this.site.files.readSmall(descriptor);
    if (!back?.equals(text)) throw new DatastoreTransferError(formatDatastorePath(descriptor), 'verify', 'the descriptor read back differs from what was uploaded');
    return formatDatastorePath(descriptor);
  }

  private configSpec(spec: RecoveryVmSpec, folder: DatastorePath, datastore: MoRef, diskFiles: string[], sizes: number[], networks: NetworkRecord[]): VimObject {
    const deviceChange: VimValue[] = [];
    const controllers = Math.max(1, Math.ceil(diskFiles.length / UNITS_PER_CONTROLLER.length));
    for (let c = 0; c < controllers; c++) {
      deviceChange.push({
        operation: 'add',
        device: typed('ParaVirtualSCSIController', { key: -100 - c, busNumber: c, sharedBus: 'noSharing' }),
      });
    }
    diskFiles.forEach((fileName, i) => {
      deviceChange.push({
        operation: 'add',
        device: typed('VirtualDisk', {
          key: -200 - i,
          backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName, datastore, diskMode: 'persistent', thinProvisioned: false }),
          controllerKey: -100 - Math.floor(i / UNITS_PER_CONTROLLER.length),
          unitNumber: UNITS_PER_CONTROLLER[i % UNITS_PER_CONTROLLER.length],
          capacityInKB: Math.floor(sizes[i] / 1024),
          capacityInBytes: sizes[i],
        }),
      });
    });
    spec.nics.forEach((nic, i) => {
      const net = networks[i];
      const backing = net.portgroupKey !== undefined && net.switchUuid !== undefined
        ? typed('VirtualEthernetCardDistributedVirtualPortBackingInfo', { port: { switchUuid: net.switchUuid, portgroupKey: net.portgroupKey } })
        : typed('VirtualEthernetCardNetworkBackingInfo', { deviceName: net.name, network: net.ref });
      const keepMac = (this.placement.macPolicy ?? 'keep') === 'keep' && nic.mac !== undefined && MANUAL_MAC.test(nic.mac);
      deviceChange.push({
        operation: 'add',
        device: typed('VirtualVmxnet3', {
          key: -300 - i,
          backing,
          connectable: { startConnected: true, allowGuestControl: true, connected: false },
          addressType: keepMac ? 'manual' : 'generated',
          ...(keepMac ? { macAddress: nic.mac!.toLowerCase() } : {}),
        }),
      });
    });
    return {
      name: spec.name,
      guestId: this.placement.guestId ?? 'otherGuest64',
      annotation: `Recovered by OpenCDP from VM ${spec.sourceVmId}`,
      files: { vmPathName: `[${folder.datastore}] ${folder.path}/${folder.path}.vmx` },
      numCPUs: this.placement.numCPUs ?? 1,
      memoryMB: this.placement.memoryMB ?? 512,
      deviceChange,
    };
  }

  /** Boot order (first disk, then the NICs) and re-IP through guest customization, while the VM is off. */
  private async finish(vm: MoRef, spec: RecoveryVmSpec): Promise<void> {
    const record = await this.site.vmRecord(vm.value);
    const bootOrder: VimValue[] = [
      ...record.disks.slice(0, 1).map((d) => typed('VirtualMachineBootOptionsBootableDiskDevice', { deviceKey: d.key })),
      ...record.nics.map((n) => typed('VirtualMachineBootOptionsBootableEthernetDevice', { deviceKey: n.key })),
    ];
    if (bootOrder.length > 0) await this.client.runTask('ReconfigVM_Task', { _this: vm, spec: { bootOptions: { bootOrder } } });
    if (spec.nics.some((n) => n.ipv4 !== undefined)) {
      await this.client.runTask('CustomizeVM_Task', {
        _this: vm,
        spec: {
          identity: typed('CustomizationLinuxPrep', { hostName: typed('CustomizationVirtualMachineName', {}), domain: 'localdomain' }),
          globalIPSettings: {},
          nicSettingMap: spec.nics.map((n) => ({
            adapter: n.ipv4 !== undefined
              ? { ip: typed('CustomizationFixedIp', { ipAddress: n.ipv4 }), subnetMask: this.placement.subnetMask ?? '255.255.255.0' }
              : { ip: typed('CustomizationDhcpIpGenerator', {}) },
          })),
        },
      });
    }
  }

  /** The VM whose files are in `folderPath`, if CreateVM made one. */
  private async findVmIn(folderPath: string): Promise<MoRef | undefined> {
    try {
      return (await this.site.vmRecords()).find((v) => v.vmPathName.startsWith(`${folderPath}/`))?.ref;
    } catch {
      return undefined;
    }
  }

  /** Removes a half-made recovery VM and its files; every step is tried, the first failure is logged. */
  private async cleanUp(vm: MoRef | undefined, folderPath: string | undefined): Promise<void> {
    const log = (step: string, e: unknown): void => this.log?.('vsphere-recovery-cleanup-failed', { step, message: (e as Error).message });
    if (vm) {
      await this.client.runTask('PowerOffVM_Task', { _this: vm }).catch(() => undefined);
      await this.client.runTask('Destroy_Task', { _this: vm }).catch((e) => log('destroy', e));
    }
    if (folderPath) {
      await this.client.runTask('DeleteDatastoreFile_Task', { _this: this.client.content.fileManager, name: folderPath, datacenter: this.site.datacenter })
        .catch((e) => { if (!(e instanceof VimTaskError && /FileNotFound/.test(e.faultName))) log('delete-files', e); });
    }
    this.log?.('vsphere-recovery-cleaned-up', { vm: vm?.value, folder: folderPath ?? '' });
  }
}


// The QEMU platform an appliance runs on a KVM host: running guests adopted through their QMP sockets
// (protected role: the splitter and the reads go into their own QEMU processes, see qemu-guest.ts), and
// recovered VMs on a recovery storage daemon whose disks read through point-in-time images, booted as
// qemu-system processes when a VM template is configured (recovery role, see vm-process.ts). VMs the
// platform does not own are never deleted: only what OpenCDP added is removed. Change tracking (fleecing
// views) will sit beside the splitter here, as `changeTracking`.
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { ValidationError } from '@opencdp/core';
import type {
  HostInfo, HypervisorAdapter, Inventory, RecoveryDiskPromotion, RecoveryVmSpec, VmId, VmInfo, VolumeId, WriteTap,
} from '@opencdp/core';
import { QemuGuest, type QemuGuestSpec } from './qemu-guest.js';
import { QemuHypervisor } from './qemu-hypervisor.js';
import { VmProcess, type VmProcessTemplate } from './vm-process.js';

export interface QemuPlatformOptions {
  /** Sockets, the recovery daemon's images and the VM processes' folders live here (keep it short: UNIX socket paths). */
  workDir: string;
  /** The site these VMs belong to (hosts report it). */
  siteId: string;
  /** Prefix of the ids of every VM and volume (default `<siteId>-`), so two appliances never hand out the same id. */
  idPrefix?: string;
  /** This KVM host's name in the inventory (default: the machine's host name). */
  hostName?: string;
  /** Running guests to adopt (protected role). */
  guests?: QemuGuestSpec[];
  /** The recovery role's VMs; absent: this appliance creates no recovery VMs. */
  recovery?: {
    /** How recovered VMs boot as qemu-system processes; absent: recovered VMs are disks only and never run. */
    vmProcess?: VmProcessTemplate;
    /** Capacity reported for each recovery datastore (thin disks; default 64 GiB). */
    datastoreBytes?: number;
  };
  log?: (event: string, fields: Record<string, unknown>) => void;
}

const HOST_ID = 'kvm-host';

export class QemuPlatform implements HypervisorAdapter, RecoveryDiskPromotion {
  readonly platform = 'qemu';
  private readonly guests = new Map<VmId, QemuGuest>();
  private readonly processes = new Map<VmId, VmProcess>();

  private constructor(readonly options: QemuPlatformOptions, readonly daemons: QemuHypervisor) {}

  /**
   * Adopts the guests (nothing is added to them yet) and starts the recovery storage daemon when the
   * recovery role is configured. Fails with typed errors naming `guests.N.*` for a socket that is not a
   * QEMU monitor or a drive a guest does not have; nothing is left running then.
   */
  static async create(options: QemuPlatformOptions): Promise<QemuPlatform> {
    await fs.mkdir(options.workDir, { recursive: true, mode: 0o700 });
    const daemons = await QemuHypervisor.create({
      workDir: path.join(options.workDir, 'd'), hosts: [], siteId: options.siteId, idPrefix: idPrefixOf(options),
      ...(options.recovery ? { recoveryHost: `${options.hostName ?? os.hostname()}-recovery` } : {}),
      ...(options.recovery?.datastoreBytes ? { datastoreBytes: options.recovery.datastoreBytes } : {}),
    });
    const platform = new QemuPlatform(options, daemons);
    try {
      const names = new Set<string>();
      for (const [i, spec] of (options.guests ?? []).entries()) {
        if (names.has(spec.name)) throw new ValidationError(`guest name '${spec.name}' is used twice`, `guests.${i}.name`);
        names.add(spec.name);
        const vmId = `${idPrefixOf(options)}${spec.name}`;
        const dir = path.join(options.workDir, `g${i}`);
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        platform.guests.set(vmId, await QemuGuest.adopt(spec, { vmId, hostId: HOST_ID, dir, field: `guests.${i}`, ...(options.log ? { log: options.log } : {}) }));
      }
    } catch (e) {
      await platform.dispose();
      throw e;
    }
    return platform;
  }

  /** The adopted guest of a VM id (tests, the demo's guest controls). */
  guest(vmId: VmId): QemuGuest | undefined {
    return this.guests.get(vmId);
  }

  /** The running process of a recovered VM (tests, the demo's console view). */
  vmProcess(vmId: VmId): VmProcess | undefined {
    return this.processes.get(vmId);
  }

  // ---- inventory --------------------------------------------------------------------------------

  async inventory(): Promise<Inventory> {
    const inv = await this.daemons.inventory();
    const guests = await Promise.all([...this.guests.values()].map((g) => g.info()));
    const host: HostInfo = { id: HOST_ID, name: this.options.hostName ?? os.hostname(), siteId: this.options.siteId };
    return { ...inv, hosts: [host, ...inv.hosts], vms: [...guests, ...inv.vms.map((v) => this.withProcessState(v))] };
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    const guest = this.guests.get(vmId);
    if (guest) return guest.info();
    return this.withProcessState(await this.daemons.getVm(vmId));
  }

  // ---- protection -------------------------------------------------------------------------------

  async openTap(vmId: VmId): Promise<WriteTap> {
    const guest = this.guests.get(vmId);
    if (guest) {
      if (!this.daemons.tapServer.listening) await this.daemons.startTapServer();
      return guest.openTap(this.daemons.tapServer);
    }
    return this.daemons.openTap(vmId);
  }

  readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const guest = this.guests.get(vmId);
    return guest ? guest.read(volumeId, offset, length) : this.daemons.readVolume(vmId, volumeId, offset, length);
  }

  // ---- recovery ----------------------------------------------------------------------------------

  createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    return this.daemons.createRecoveryVm(spec);
  }

  promoteDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void> {
    return this.daemons.promoteDisk(vmId, volumeId, offset, length);
  }

  detachDiskSource(vmId: VmId, volumeId: VolumeId): Promise<void> {
    return this.daemons.detachDiskSource(vmId, volumeId);
  }

  // ---- power ------------------------------------------------------------------------------------

  /** An adopted guest resumes; a recovered VM boots as a qemu-system process when a VM template is configured. */
  async powerOn(vmId: VmId): Promise<void> {
    const guest = this.guests.get(vmId);
    if (guest) return guest.powerOn();
    await this.daemons.powerOn(vmId);
    const template = this.options.recovery?.vmProcess;
    if (!template || this.processes.get(vmId)?.alive) return;
    const vm = await this.daemons.getVm(vmId);
    const inv = await this.daemons.inventory();
    const isolated = new Set(inv.networks.filter((n) => n.isolated).map((n) => n.id));
    const exports = this.daemons.diskExports(vmId);
    let process: VmProcess;
    try {
      process = await VmProcess.start({
        name: vm.name, dir: path.join(this.options.workDir, `v-${vmId.slice(idPrefixOf(this.options).length)}`), template,
        disks: exports.map((d) => ({ nbdPath: d.nbdPath, exportName: d.exportName, sectorSize: d.sectorSize })),
        nics: vm.nics.map((n) => ({ mac: n.mac, isolated: isolated.has(n.networkId) })),
      });
    } catch (e) {
      await this.daemons.powerOff(vmId);
      throw e;
    }
    this.processes.set(vmId, process);
    process.onExit(() => {
      if (this.processes.get(vmId) !== process) return;
      this.processes.delete(vmId);
      void this.daemons.powerOff(vmId).catch(() => undefined);
      this.options.log?.('vm-process-exited', { vmId, pid: process.pid });
    });
    this.options.log?.('vm-process-started', { vmId, name: vm.name, pid: process.pid, accel: process.accel, console: process.consolePath });
  }

  async shutdownGuest(vmId: VmId): Promise<void> {
    const guest = this.guests.get(vmId);
    if (guest) return guest.shutdownGuest();
    await this.processes.get(vmId)?.shutdown();
    await this.daemons.shutdownGuest(vmId);
  }

  async powerOff(vmId: VmId): Promise<void> {
    const guest = this.guests.get(vmId);
    if (guest) return guest.powerOff();
    await this.processes.get(vmId)?.stop();
    await this.daemons.powerOff(vmId);
  }

  /**
   * Recovered VMs are deleted with their overlays. An adopted guest is not OpenCDP's to delete: it must be
   * powered off, then the platform forgets it (everything OpenCDP added is removed; its disks stay as they are).
   */
  async deleteVm(vmId: VmId): Promise<void> {
    const guest = this.guests.get(vmId);
    if (guest) {
      const info = await guest.info();
      if (info.powerState !== 'off') throw new ValidationError(`VM '${vmId}' is running`, 'vmId', 'power it off before deleting it');
      await guest.release();
      this.guests.delete(vmId);
      this.options.log?.('guest-forgotten', { vmId, note: 'its QEMU process and disk images were not touched' });
      return;
    }
    const vm = await this.getVm(vmId);
    if (vm.powerState === 'on') throw new ValidationError(`VM '${vmId}' is powered on`, 'vmId', 'power it off before deleting it');
    await this.daemons.deleteVm(vmId);
  }

  /** Stops the recovered VMs' processes and the daemons, and removes what OpenCDP added to the adopted guests (which keep running). */
  async dispose(): Promise<void> {
    for (const p of [...this.processes.values()]) await p.stop().catch(() => undefined);
    this.processes.clear();
    for (const g of this.guests.values()) await g.release();
    await this.daemons.dispose();
  }

  private withProcessState(vm: VmInfo): VmInfo {
    const p = this.processes.get(vm.id);
    if (!this.options.recovery?.vmProcess) return vm;
    return { ...vm, powerState: p?.alive ? 'on' : 'off' };
  }
}

function idPrefixOf(options: QemuPlatformOptions): string {
  return options.idPrefix ?? `${options.siteId}-`;
}

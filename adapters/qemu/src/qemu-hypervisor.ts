// The QEMU platform: each protected host is a qemu-storage-daemon, each VM a set of raw images attached
// to it as block nodes and exported over NBD (the "guest disks"). Guests write through those exports;
// `openTap` mirrors every write into the appliance's NBD server; `dirtyTracking` uses dirty bitmaps;
// `readVolume` reads the export. Hosts can be killed for real and brought back on the same images.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  AlignmentError, UnknownVmError, UnknownVolumeError, UnsupportedError, ValidationError, VolumeRangeError,
} from '@opencdp/core';
import type {
  DirtyTracking, ChangedRegion, DatastoreInfo, HostInfo, HypervisorAdapter, Inventory, RecoveryVmSpec, VmId, VmInfo, VolumeId, VolumeInfo,
  VolumeSource, WriteTap,
  RecoveryDiskPromotion,
} from '@opencdp/core';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { imageExport } from './qemu-recovery.js';
import { NbdClient } from './nbd-client.js';
import { NbdServer } from './nbd-server.js';
import { HostDownError, ManagerDownError, QemuProcessError, VmPoweredOffError } from './qemu-errors.js';
import { QemuWriteTap, TapLostError } from './qemu-write-tap.js';
import { StorageDaemon } from './storage-daemon.js';

export interface QemuHypervisorOptions {
  /** Folder for images, sockets and daemon state; created if missing. Keep it short (socket paths). */
  workDir: string;
  /** Protected host names (one qemu-storage-daemon each); default two hosts. */
  hosts?: string[];
  /**
   * A recovery-site host (one more storage daemon) where recovery VMs run on point-in-time images
   * served by the recovery appliance's NBD server; none when absent (createRecoveryVm is then unsupported).
   */
  recoveryHost?: string;
  /** Capacity reported for each recovery datastore (default 64 GiB; disks are thin, this bounds `freeBytes`). */
  datastoreBytes?: number;
  /**
   * Open guest disks with O_DIRECT (`cache.direct`, libvirt's `cache='none'`, the usual setting for KVM
   * guests) instead of through the host's page cache (default false: tests want speed, not realism).
   */
  cacheDirect?: boolean;
  /** Dirty-bitmap granularity for change tracking (default 64 KiB, QEMU's clamp is 4–64 KiB per cluster). */
  bitmapGranularity?: number;
  /**
   * Prefix of the VM and volume ids it hands out (e.g. `site-b-`), so two appliances never hand out the
   * same id; block node names inside the daemons stay short and unprefixed.
   */
  idPrefix?: string;
  /** The site id its hosts report (default `protected` / `recovery`). */
  siteId?: string;
}

export interface QemuVmSpec {
  name: string;
  hostId?: string;
  volumes: { name?: string; sizeBytes: number; sectorSize?: number }[];
}

interface Host {
  info: HostInfo;
  dir: string;
  daemon: StorageDaemon | undefined;
  starting: Promise<void> | undefined;
}

interface Volume {
  info: VolumeInfo;
  /** The raw image (protected VMs) or the qcow2 scratch overlay (recovery VMs). */
  file: string;
  /** Recovery disks: the point-in-time image under the overlay, until promotion detaches it. */
  recovered?: { source: VolumeSource; sourceVolumeId: VolumeId; exportName: string; attached: boolean };
  /** Serialises guest writes and promotion on a recovery disk (promotion must never overwrite a guest write). */
  lock?: Promise<unknown>;
  /** Block node (and NBD export) name in the host's daemon. */
  node: string;
  /** Guest-side NBD connection for the current daemon, opened on first use. */
  client: Promise<NbdClient> | undefined;
  /** Recovery disks under promotion: the copy-on-read filter's client, per daemon. */
  cor?: { daemon: StorageDaemon; client: Promise<NbdClient> };
}

interface Vm {
  info: VmInfo;
  volumes: Volume[];
  datastoreId?: string;
  recovery?: boolean;
}

const NETWORKS = [
  { id: 'net-prod', name: 'production', isolated: false },
  { id: 'net-test', name: 'test (isolated)', isolated: true },
];

export class QemuHypervisor implements HypervisorAdapter {
  readonly platform = 'qemu';
  /** Promotion (R7) as the kernel's port: the methods below. */
  readonly promotion: RecoveryDiskPromotion = {
    promoteDisk: (vmId, volumeId, offset, length) => this.promoteDisk(vmId, volumeId, offset, length),
    detachDiskSource: (vmId, volumeId) => this.detachDiskSource(vmId, volumeId),
  };
  /** The protected appliance's NBD server: every tap's mirror writes into it. */
  readonly tapServer: NbdServer;
  readonly dirtyTracking: DirtyTracking;
  private readonly hosts = new Map<string, Host>();
  private readonly vms = new Map<VmId, Vm>();
  private readonly taps = new Set<QemuWriteTap>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private vmCount = 0;
  private recoveryVmCount = 0;
  private macCount = 0;
  private tapCount = 0;
  /** The recovery appliance's NBD server: point-in-time images for recovery VMs' disks. */
  readonly imageServer: NbdServer;
  private readonly recoveryHostId: string | undefined;
  private bitmapCount = 0;
  private disposed = false;
  private managerDown = false;

  private constructor(readonly options: QemuHypervisorOptions) {
    this.tapServer = new NbdServer({ path: path.join(options.workDir, 'tap.sock') });
    this.imageServer = new NbdServer({ path: path.join(options.workDir, 'img.sock') });
    this.recoveryHostId = options.recoveryHost ? 'qr1' : undefined;
    this.dirtyTracking = {
      mark: (vmId) => this.track(this.markBitmaps(vmId)),
      changedSince: (vmId, token) => this.track(this.readBitmaps(vmId, token)),
    };
  }

  /** Starts one storage daemon per host and the appliance's NBD server. */
  static async create(options: QemuHypervisorOptions): Promise<QemuHypervisor> {
    await fs.mkdir(options.workDir, { recursive: true });
    const hv = new QemuHypervisor(options);
    try {
      for (const [i, name] of (options.hosts ?? ['qemu-host-1', 'qemu-host-2']).entries()) {
        const id = `qh${i + 1}`;
        hv.hosts.set(id, { info: { id, name, siteId: options.siteId ?? 'protected' }, dir: path.join(options.workDir, id), daemon: undefined, starting: undefined });
        await hv.startHost(id);
      }
      if (options.recoveryHost) {
        hv.hosts.set('qr1', { info: { id: 'qr1', name: options.recoveryHost, siteId: options.siteId ?? 'recovery' }, dir: path.join(options.workDir, 'qr1'), daemon: undefined, starting: undefined });
        await hv.startHost('qr1');
        await hv.imageServer.listen();
      }
      await hv.tapServer.listen();
    } catch (error) {
      await hv.dispose();
      throw error;
    }
    return hv;
  }

  // ---- inventory ---------------------------------------------------------------------------

  async inventory(): Promise<Inventory> {
    return {
      hosts: [...this.hosts.values()].map((h) => ({ ...h.info })),
      vms: [...this.vms.values()].map((v) => cloneVm(v.info)),
      networks: NETWORKS.map((n) => ({ ...n })),
      datastores: this.datastores(),
    };
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    return cloneVm(this.vm(vmId).info);
  }

  /** The protected hosts (VMs from `createVm` go there; the recovery host is not among them). */
  hostIds(): string[] {
    return [...this.hosts.keys()].filter((id) => id !== this.recoveryHostId);
  }

  /** The daemon of a host (for tests that drive QMP directly). */
  daemonOf(hostId: string): StorageDaemon | undefined {
    return this.host(hostId).daemon;
  }

  isHostUp(hostId: string): boolean {
    return this.host(hostId).daemon?.alive === true;
  }

  /** Creates the VM's raw images (sparse, zero) on its host and exports them as its disks. */
  async createVm(spec: QemuVmSpec): Promise<VmInfo> {
    const hostIds = this.hostIds();
    const hostId = spec.hostId ?? hostIds[this.vmCount % hostIds.length];
    const host = this.hosts.get(hostId);
    if (!host) throw new ValidationError(`host '${hostId}' is not a protected host`, 'hostId', `use one of ${hostIds.join(', ')}`);
    if (spec.volumes.length === 0) throw new ValidationError('a VM needs at least one volume', 'volumes');
    const n = ++this.vmCount;
    const vmId = `${this.options.idPrefix ?? ''}qvm${n}`;
    const volumes: Volume[] = [];
    for (const [k, v] of spec.volumes.entries()) volumes.push(await this.newVolume(host, vmId, k, v));
    const info: VmInfo = { id: vmId, name: spec.name, hostId, powerState: 'on', volumes: volumes.map((v) => v.info), nics: [] };
    const vm: Vm = { info, volumes };
    this.vms.set(vmId, vm);
    if (host.daemon?.alive) for (const v of volumes) await this.attachVolume(host.daemon, v);
    return cloneVm(info);
  }

  /**
   * Hot-adds a disk to a VM: a new image, node and export; every open tap on the VM mirrors it too
   * before this resolves, so each later write to it is split.
   */
  async addVolume(vmId: VmId, spec: { name?: string; sizeBytes: number; sectorSize?: number }): Promise<VolumeInfo> {
    const vm = this.vm(vmId);
    const host = this.host(vm.info.hostId);
    const k = vm.volumes.length;
    const v = await this.newVolume(host, vmId, k, spec);
    if (host.daemon?.alive) await this.attachVolume(host.daemon, v);
    vm.volumes.push(v);
    vm.info.volumes.push(v.info);
    for (const tap of this.taps) if (tap.vmId === vmId) await tap.addVolume({ volume: v.info, node: v.node });
    return { ...v.info };
  }

  // ---- guest I/O ---------------------------------------------------------------------------

  /** Writes as the guest would, through the disk's NBD export; resolves when QEMU completes the write. */
  async guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
    const v = this.checkedRange(vmId, volumeId, offset, data.length, true);
    const vm = this.vm(vmId);
    if (vm.info.powerState !== 'on') throw new VmPoweredOffError(vmId);
    await this.locked(v, async () => {
      const client = await this.clientOf(vmId, v);
      await client.write(offset, data);
    });
  }

  async readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const v = this.checkedRange(vmId, volumeId, offset, length, false);
    if (length === 0) return Buffer.alloc(0);
    return this.track((async () => (await this.clientOf(vmId, v)).read(offset, length))());
  }

  // ---- splitting ---------------------------------------------------------------------------

  async openTap(vmId: VmId): Promise<WriteTap> {
    const vm = this.vm(vmId);
    return this.track((async () => {
      // A QMP connection lost while the daemon lives (a management hiccup) is re-established here.
      const host = this.host(vm.info.hostId);
      if (!this.managerDown && host.daemon?.alive && host.daemon.qmp.closed) {
        await host.daemon.reconnect();
        await this.removeOrphans(host.daemon);
      }
      const daemon = this.liveDaemon(vm.info.hostId);
      if (!this.tapServer.listening) throw new QemuProcessError(`the appliance's NBD server at ${this.tapServer.path} is not listening`, 'start the protected appliance, then re-open the tap');
      const tap = await QemuWriteTap.open({
        vmId, tapId: `tap${++this.tapCount}`, qmp: daemon.qmp, server: this.tapServer, track: (p) => this.track(p),
        volumes: vm.volumes.map((v) => ({ volume: v.info, node: v.node })),
      });
      this.taps.add(tap);
      tap.onClose(() => this.taps.delete(tap));
      return tap;
    })());
  }

  /** Taps currently attached (for tests). */
  openTaps(): QemuWriteTap[] {
    return [...this.taps];
  }

  // ---- faults ------------------------------------------------------------------------------

  /** kill -9 of the host's daemon: its taps close, guest I/O fails with HostDownError until `startHost`. */
  async killHost(hostId: string): Promise<void> {
    const host = this.host(hostId);
    await host.starting?.catch(() => undefined);
    const daemon = host.daemon;
    host.daemon = undefined;
    for (const vm of this.vms.values()) {
      if (vm.info.hostId !== hostId) continue;
      for (const v of vm.volumes) this.dropClient(v);
    }
    await daemon?.kill('SIGKILL');
  }

  /** Starts (or restarts) the host's daemon and attaches every disk of its VMs again. */
  startHost(hostId: string): Promise<void> {
    const host = this.host(hostId);
    if (host.daemon?.alive) return Promise.resolve();
    if (this.managerDown) return Promise.reject(new ManagerDownError());
    host.starting ??= this.track((async () => {
      try {
        const daemon = await StorageDaemon.start({ dir: host.dir, name: host.info.name });
        daemon.onExit(() => {
          if (host.daemon === daemon) host.daemon = undefined;
        });
        for (const vm of this.vms.values()) {
          if (vm.info.hostId !== hostId) continue;
          for (const v of vm.volumes) await this.attachVolume(daemon, v);
        }
        if (this.disposed) await daemon.kill();
        else host.daemon = daemon;
      } finally {
        host.starting = undefined;
      }
    })());
    return host.starting;
  }

  /**
   * The management layer restarts: every tap is cancelled (the mirrors go, the guests keep writing
   * unsplit) and QMP is dropped; until `reconnectManager`, taps cannot be opened.
   */
  async restartManager(): Promise<void> {
    this.managerDown = true;
    for (const tap of [...this.taps]) await tap.fail(new TapLostError(tap.vmId, 'the hypervisor manager restarted'));
    for (const host of this.hosts.values()) host.daemon?.disconnect();
  }

  /** Reconnects QMP where it is down and removes mirrors nobody owns any more. No-op when nothing is down. */
  async reconnectManager(): Promise<void> {
    for (const host of this.hosts.values()) {
      const daemon = host.daemon;
      if (!daemon?.alive || (!this.managerDown && !daemon.qmp.closed)) continue;
      await daemon.reconnect();
      await this.removeOrphans(daemon);
    }
    this.managerDown = false;
  }

  /** Cancels tap mirrors and deletes tap target nodes that no open tap owns (left behind by a lost QMP connection). */
  private async removeOrphans(daemon: StorageDaemon): Promise<void> {
    const owned = new Set([...this.taps].flatMap((t) => t.jobIds));
    const jobs = await daemon.qmp.execute<{ device: string }[]>('query-block-jobs');
    for (const job of jobs) {
      if (owned.has(job.device) || !/^tap\d+-m\d+$/.test(job.device)) continue;
      const gone = daemon.qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === job.device && e.data?.status === 'null', 10_000).catch(() => undefined);
      await daemon.qmp.execute('block-job-cancel', { device: job.device, force: true }).catch(() => undefined);
      await gone;
    }
    const ownedNodes = new Set([...owned].map((j) => j.replace(/-m(\d+)$/, '-t$1')));
    const nodes = await daemon.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes');
    for (const n of nodes) {
      const name = n['node-name'];
      if (/^tap\d+-t\d+$/.test(name) && !ownedNodes.has(name)) await daemon.qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
    }
  }

  /** Stops the appliance's NBD server: every mirror errors and every tap closes. */
  async stopTapServer(): Promise<void> {
    await this.tapServer.close();
  }

  async startTapServer(): Promise<void> {
    await this.tapServer.listen();
  }

  /** Resolves when the adapter's background work (QMP, daemon restarts, reads) started so far has settled. */
  async settled(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now())))]);
    }
  }

  // ---- recovery -------------------------------------------------------------------------------

  /**
   * A recovery VM on the recovery host: each disk is a qcow2 scratch overlay whose backing is an `nbd`
   * node reading the point-in-time image, which the recovery appliance's NBD server exports read-only.
   * Powered off until `powerOn`. Writes land in the overlay; promotion copies the image in.
   */
  createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    return this.track(this.newRecoveryVm(spec));
  }

  private async newRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    if (!this.recoveryHostId) throw new UnsupportedError('recovery VMs on a qemu adapter without a recovery host');
    if (typeof spec?.name !== 'string' || spec.name.trim() === '') throw new ValidationError('a recovery VM needs a name', 'name');
    if (!Array.isArray(spec.disks) || spec.disks.length === 0) throw new ValidationError(`recovery VM '${spec.name}' needs at least one disk`, 'disks');
    const hostId = spec.hostId ?? this.recoveryHostId;
    if (hostId !== this.recoveryHostId) throw new ValidationError(`host '${hostId}' is not at the recovery site`, 'hostId', `use ${this.recoveryHostId}`);
    const datastores = this.datastores();
    const datastoreId = spec.datastoreId ?? datastores[0].id;
    if (!datastores.some((d) => d.id === datastoreId)) throw new ValidationError(`datastore '${datastoreId}' does not exist at the recovery site`, 'datastoreId');
    const nics = (spec.nics ?? []).map((n, i) => {
      if (!NETWORKS.some((x) => x.id === n.networkId)) throw new ValidationError(`network '${n.networkId}' does not exist at the recovery site`, `nics[${i}].networkId`);
      return { id: `nic${++this.macCount}`, networkId: n.networkId, mac: n.mac ?? `52:54:00:00:${((this.macCount >> 8) & 0xff).toString(16).padStart(2, '0')}:${(this.macCount & 0xff).toString(16).padStart(2, '0')}`, ...(n.ipv4 ? { ipv4: n.ipv4 } : {}) };
    });
    const host = this.host(hostId);
    const daemon = this.liveDaemon(hostId);
    const vmNo = ++this.recoveryVmCount;
    const vmId = `${this.options.idPrefix ?? ''}rvm${vmNo}`;
    const volumes: Volume[] = [];
    const vm: Vm = { info: { id: vmId, name: spec.name, hostId, powerState: 'off', volumes: [], nics }, volumes, datastoreId, recovery: true };
    try {
      for (const [k, d] of spec.disks.entries()) {
        const sizeBytes = d.source.sizeBytes(d.volumeId);
        const sectorSize = d.sectorSize ?? this.findVolume(d.volumeId)?.info.sectorSize ?? 512;
        const id = `${vmId}d${k}`;
        const exportName = `${vmId}/${d.volumeId}`;
        this.imageServer.addExport(exportName, imageExport(d.source, d.volumeId));
        const v: Volume = {
          info: { id, vmId, name: this.findVolume(d.volumeId)?.info.name ?? `disk${k}`, sizeBytes, sectorSize },
          file: path.join(host.dir, `rvm${vmNo}d${k}.qcow2`), node: `rvm${vmNo}d${k}`, client: undefined,
          recovered: { source: d.source, sourceVolumeId: d.volumeId, exportName, attached: true },
        };
        volumes.push(v);
        await this.attachVolume(daemon, v);
      }
    } catch (error) {
      await this.removeVolumes(vm).catch(() => undefined);
      throw error;
    }
    vm.info.volumes = volumes.map((v) => v.info);
    this.vms.set(vmId, vm);
    return cloneVm(vm.info);
  }

  /**
   * Promotion (RecoveryDiskPromotion): reads `[offset, offset + length)` through a `copy-on-read` filter
   * node over the disk's overlay, so QEMU itself copies every cluster the VM has not written from the
   * image into the overlay (zero data becomes zero clusters). QEMU serialises those copies with the VM's
   * own writes — whether they come through this adapter or from a qemu-system process on the disk's
   * export — so promotion never overwrites a guest write.
   */
  async promoteDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void> {
    const v = this.checkedRange(vmId, volumeId, offset, length, false);
    const r = v.recovered;
    if (!r) throw new ValidationError(`volume '${volumeId}' is not a recovery disk`, 'volumeId');
    if (!r.attached) return;
    await this.track(this.locked(v, async () => {
      const daemon = this.liveDaemon(this.vm(vmId).info.hostId);
      const client = await this.copyOnRead(daemon, v);
      for (let at = offset; at < offset + length; at += PROMOTE_READ_BYTES) await client.read(at, Math.min(PROMOTE_READ_BYTES, offset + length - at));
    }));
  }

  /** After promotion: the overlay stops reading through the image (`blockdev-reopen` with `backing: null`). */
  async detachDiskSource(vmId: VmId, volumeId: VolumeId): Promise<void> {
    const v = this.checkedRange(vmId, volumeId, 0, 0, false);
    const r = v.recovered;
    if (!r) throw new ValidationError(`volume '${volumeId}' is not a recovery disk`, 'volumeId');
    if (!r.attached) return;
    await this.track(this.locked(v, async () => {
      const daemon = this.liveDaemon(this.vm(vmId).info.hostId);
      await this.dropCopyOnRead(daemon, v);
      await daemon.qmp.execute('blockdev-reopen', { options: [{ driver: 'qcow2', 'node-name': v.node, file: `${v.node}-scratch`, backing: null }] });
      await daemon.qmp.execute('blockdev-del', { 'node-name': `${v.node}-img` });
      this.imageServer.removeExport(r.exportName);
      r.attached = false;
    }));
  }

  /** The disk's copy-on-read filter (node and read-only export `<node>-cor`) and a client on it, made on first use per daemon. */
  private copyOnRead(daemon: StorageDaemon, v: Volume): Promise<NbdClient> {
    if (v.cor && v.cor.daemon === daemon) return v.cor.client;
    const name = `${v.node}-cor`;
    const client = (async () => {
      await daemon.qmp.execute('blockdev-add', { driver: 'copy-on-read', 'node-name': name, file: v.node });
      await daemon.qmp.execute('block-export-add', { type: 'nbd', id: name, 'node-name': name, name, writable: false });
      return NbdClient.connect({ path: daemon.nbdPath, exportName: name });
    })();
    v.cor = { daemon, client };
    client.catch(() => {
      if (v.cor?.client === client) v.cor = undefined;
    });
    return client;
  }

  private async dropCopyOnRead(daemon: StorageDaemon, v: Volume): Promise<void> {
    const cor = v.cor;
    v.cor = undefined;
    if (!cor) return;
    await cor.client.then((c) => c.close(), () => undefined);
    if (cor.daemon !== daemon || !daemon.alive) return;
    const name = `${v.node}-cor`;
    const gone = daemon.qmp.waitForEvent('BLOCK_EXPORT_DELETED', (e) => e.data?.id === name, 5000).catch(() => undefined);
    if (await daemon.qmp.execute('block-export-del', { id: name, mode: 'hard' }).then(() => true, () => false)) await gone;
    await daemon.qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
  }

  /** Where a qemu-system process attaches the VM's disks: the daemon's NBD socket and each disk's export. */
  diskExports(vmId: VmId): { volumeId: VolumeId; nbdPath: string; exportName: string; sectorSize: number }[] {
    const vm = this.vm(vmId);
    const daemon = this.liveDaemon(vm.info.hostId);
    return vm.volumes.map((v) => ({ volumeId: v.info.id, nbdPath: daemon.nbdPath, exportName: v.node, sectorSize: v.info.sectorSize }));
  }

  async powerOn(vmId: VmId): Promise<void> {
    const vm = this.vm(vmId);
    if (!this.isHostUp(vm.info.hostId)) throw new HostDownError(vm.info.hostId);
    vm.info.powerState = 'on';
  }

  /** The storage-daemon "guest" has no OS to ask: a clean shutdown is immediate. */
  async shutdownGuest(vmId: VmId): Promise<void> {
    this.vm(vmId).info.powerState = 'off';
  }

  async powerOff(vmId: VmId): Promise<void> {
    this.vm(vmId).info.powerState = 'off';
  }

  deleteVm(vmId: VmId): Promise<void> {
    return this.track(this.removeVm(vmId));
  }

  private async removeVm(vmId: VmId): Promise<void> {
    const vm = this.vm(vmId);
    if (vm.info.powerState === 'on') throw new ValidationError(`VM '${vmId}' is powered on`, 'vmId', 'power it off before deleting it');
    for (const tap of [...this.taps]) if (tap.vmId === vmId) await tap.close();
    await this.removeVolumes(vm);
    this.vms.delete(vmId);
  }

  private async removeVolumes(vm: Vm): Promise<void> {
    const daemon = this.hosts.get(vm.info.hostId)?.daemon;
    for (const v of vm.volumes) {
      this.dropClient(v);
      if (daemon?.alive) await this.dropCopyOnRead(daemon, v);
      if (daemon?.alive) {
        const gone = daemon.qmp.waitForEvent('BLOCK_EXPORT_DELETED', (e) => e.data?.id === v.node, 5000).catch(() => undefined);
        const deleting = await daemon.qmp.execute('block-export-del', { id: v.node, mode: 'hard' }).then(() => true, () => false);
        if (deleting) await gone;
        for (const node of v.recovered ? [v.node, `${v.node}-scratch`, `${v.node}-img`] : [v.node]) {
          await waitUntil(async () => !(await hasNode(daemon, node)) || (await daemon.qmp.execute('blockdev-del', { 'node-name': node }).then(() => true, () => false)), 5000);
        }
      }
      if (v.recovered) this.imageServer.removeExport(v.recovered.exportName);
      await fs.rm(v.file, { force: true });
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const tap of [...this.taps]) await tap.close().catch(() => undefined);
    for (const vm of this.vms.values()) for (const v of vm.volumes) this.dropClient(v);
    await this.tapServer.close();
    await this.imageServer.close();
    for (const host of this.hosts.values()) {
      await host.starting?.catch(() => undefined);
      await host.daemon?.kill('SIGKILL');
      host.daemon = undefined;
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  private async newVolume(host: Host, vmId: VmId, k: number, v: { name?: string; sizeBytes: number; sectorSize?: number }): Promise<Volume> {
    const sectorSize = v.sectorSize ?? 512;
    if (sectorSize !== 512 && sectorSize !== 4096) throw new ValidationError(`sector size ${sectorSize} is not 512 or 4096`, `volumes.${k}.sectorSize`);
    if (!Number.isSafeInteger(v.sizeBytes) || v.sizeBytes <= 0 || v.sizeBytes % sectorSize !== 0) {
      throw new ValidationError(`volume size ${v.sizeBytes} is not a positive multiple of ${sectorSize}`, `volumes.${k}.sizeBytes`);
    }
    const id = `${vmId}d${k}`;
    const node = id.slice((this.options.idPrefix ?? '').length);
    const file = path.join(host.dir, `${node}.raw`);
    const handle = await fs.open(file, 'w');
    await handle.truncate(v.sizeBytes);
    await handle.close();
    return { info: { id, vmId, name: v.name ?? `disk${k}`, sizeBytes: v.sizeBytes, sectorSize }, file, node, client: undefined };
  }

  private async attachVolume(daemon: StorageDaemon, v: Volume): Promise<void> {
    if (v.recovered) {
      const r = v.recovered;
      if (!(await fs.stat(v.file).then(() => true, () => false))) await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', v.file, String(v.info.sizeBytes)]);
      if (r.attached) {
        await daemon.qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': `${v.node}-img`, server: { type: 'unix', path: this.imageServer.path }, export: r.exportName, 'read-only': true });
      }
      await daemon.qmp.execute('blockdev-add', { driver: 'file', 'node-name': `${v.node}-scratch`, filename: v.file });
      await daemon.qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': v.node, file: `${v.node}-scratch`, backing: r.attached ? `${v.node}-img` : null });
      await daemon.qmp.execute('block-export-add', { type: 'nbd', id: v.node, 'node-name': v.node, name: v.node, writable: true, 'allocation-depth': true });
      return;
    }
    await daemon.qmp.execute('blockdev-add', { driver: 'file', 'node-name': v.node, filename: v.file, cache: { direct: this.options.cacheDirect === true }, ...(this.options.cacheDirect ? { aio: 'threads' } : {}) });
    await daemon.qmp.execute('block-export-add', { type: 'nbd', id: v.node, 'node-name': v.node, name: v.node, writable: true });
  }

  private clientOf(vmId: VmId, v: Volume): Promise<NbdClient> {
    const host = this.host(this.vm(vmId).info.hostId);
    const daemon = host.daemon;
    if (!daemon?.alive) return Promise.reject(new HostDownError(host.info.id));
    if (!v.client) {
      const client = NbdClient.connect({ path: daemon.nbdPath, exportName: v.node });
      v.client = client;
      client.then((c) => c.onClose(() => { if (v.client === client) v.client = undefined; }), () => { if (v.client === client) v.client = undefined; });
    }
    return v.client;
  }

  private dropClient(v: Volume): void {
    const c = v.client;
    v.client = undefined;
    c?.then((client) => client.destroy(), () => undefined);
  }

  private liveDaemon(hostId: string): StorageDaemon {
    const daemon = this.host(hostId).daemon;
    if (this.managerDown) throw new ManagerDownError();
    if (!daemon?.alive || daemon.qmp.closed) throw new HostDownError(hostId);
    return daemon;
  }

  private checkedRange(vmId: VmId, volumeId: VolumeId, offset: number, length: number, write: boolean): Volume {
    const vm = this.vm(vmId);
    const v = vm.volumes.find((x) => x.info.id === volumeId);
    if (!v) throw new UnknownVolumeError(volumeId, `VM '${vmId}'`);
    const { sizeBytes, sectorSize } = v.info;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > sizeBytes) {
      throw new VolumeRangeError(volumeId, offset, length, sizeBytes);
    }
    // The virtual disk's logical block size: a guest cannot issue a partial-sector write.
    if (write && (offset % sectorSize !== 0 || length % sectorSize !== 0 || length === 0)) throw new AlignmentError(volumeId, offset, length, sectorSize);
    return v;
  }

  private vm(vmId: VmId): Vm {
    const vm = this.vms.get(vmId);
    if (!vm) throw new UnknownVmError(vmId);
    return vm;
  }

  private host(hostId: string): Host {
    const host = this.hosts.get(hostId);
    if (!host) throw new ValidationError(`host '${hostId}' is not a protected host`, 'hostId', `use one of ${this.hostIds().join(', ')}`);
    return host;
  }

  /** Runs `fn` after every earlier locked operation on the volume (recovery disks only; others run at once). */
  private locked<T>(v: Volume, fn: () => Promise<T>): Promise<T> {
    if (!v.recovered) return fn();
    const run = (v.lock ?? Promise.resolve()).then(fn, fn);
    v.lock = run.catch(() => undefined);
    return run;
  }

  private findVolume(volumeId: VolumeId): Volume | undefined {
    for (const vm of this.vms.values()) {
      const v = vm.volumes.find((x) => x.info.id === volumeId);
      if (v) return v;
    }
    return undefined;
  }

  /** Recovery datastores with thin-provisioned accounting (a VM's disks count against its datastore). */
  private datastores(): DatastoreInfo[] {
    if (!this.recoveryHostId) return [];
    const capacity = this.options.datastoreBytes ?? 64 * 1024 ** 3;
    return ['ds-recovery-1', 'ds-recovery-2'].map((id, i) => {
      let used = 0;
      for (const vm of this.vms.values()) if (vm.datastoreId === id) used += vm.volumes.reduce((n, v) => n + v.info.sizeBytes, 0);
      return { id, name: `recovery datastore ${i + 1}`, capacityBytes: capacity, freeBytes: capacity - used };
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(() => undefined, () => undefined);
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return p;
  }

  // ---- change tracking (dirty bitmaps) -------------------------------------------------------

  /** Adds a dirty bitmap named by the returned token to every disk of the VM. */
  private async markBitmaps(vmId: VmId): Promise<string> {
    const vm = this.vm(vmId);
    const daemon = this.liveDaemon(vm.info.hostId);
    const token = `ocdp-bm${++this.bitmapCount}`;
    for (const v of vm.volumes) {
      await daemon.qmp.execute('block-dirty-bitmap-add', { node: v.node, name: token, granularity: this.options.bitmapGranularity ?? 65536 });
    }
    return `${daemon.pid}:${token}`;
  }

  /**
   * Regions written since `token`'s mark: the bitmap is frozen into a disabled copy (merge), exported
   * with it, and read back through the `qemu:dirty-bitmap:` metadata context; the copy is then dropped.
   */
  private async readBitmaps(vmId: VmId, token: string): Promise<ChangedRegion[]> {
    const vm = this.vm(vmId);
    const daemon = this.liveDaemon(vm.info.hostId);
    const [pid, name] = token.split(':');
    if (!name || Number(pid) !== daemon.pid) {
      throw new ValidationError(`change-tracking token '${token}' does not belong to the running daemon of host '${vm.info.hostId}' (its bitmaps died with the process)`, 'token', 'mark again and run a full or delta sync');
    }
    const regions: ChangedRegion[] = [];
    for (const v of vm.volumes) {
      const snap = `${name}-s${++this.bitmapCount}`;
      const exportId = `${v.node}-${snap}`;
      await daemon.qmp.execute('block-dirty-bitmap-add', { node: v.node, name: snap, granularity: this.options.bitmapGranularity ?? 65536, disabled: true });
      try {
        await daemon.qmp.execute('block-dirty-bitmap-merge', { node: v.node, target: snap, bitmaps: [name] });
        await daemon.qmp.execute('block-export-add', { type: 'nbd', id: exportId, 'node-name': v.node, name: exportId, bitmaps: [snap] });
        try {
          const context = `qemu:dirty-bitmap:${snap}`;
          const client = await NbdClient.connect({ path: daemon.nbdPath, exportName: exportId, metaContexts: [context] });
          try {
            for (const e of await client.blockStatus(context, 0, v.info.sizeBytes)) {
              if (!(e.flags & 1)) continue;
              const last = regions.at(-1);
              if (last && last.volumeId === v.info.id && last.offset + last.length === e.offset) last.length += e.length;
              else regions.push({ volumeId: v.info.id, offset: e.offset, length: e.length });
            }
          } finally {
            await client.close();
          }
        } finally {
          const deleted = daemon.qmp.waitForEvent('BLOCK_EXPORT_DELETED', (e) => e.data?.id === exportId, 5000).catch(() => undefined);
          await daemon.qmp.execute('block-export-del', { id: exportId });
          await deleted;
        }
      } finally {
        await daemon.qmp.execute('block-dirty-bitmap-remove', { node: v.node, name: snap }).catch(() => undefined);
      }
    }
    return regions;
  }

  /** Clears a mark's bitmaps, so the next `changedSince(token)` reports only later writes. */
  async clearMark(vmId: VmId, token: string): Promise<void> {
    const vm = this.vm(vmId);
    const daemon = this.liveDaemon(vm.info.hostId);
    const name = token.split(':')[1] ?? token;
    for (const v of vm.volumes) await daemon.qmp.execute('block-dirty-bitmap-clear', { node: v.node, name });
  }
}

function cloneVm(vm: VmInfo): VmInfo {
  return { ...vm, volumes: vm.volumes.map((v) => ({ ...v })), nics: vm.nics.map((n) => ({ ...n })) };
}

async function hasNode(daemon: StorageDaemon, node: string): Promise<boolean> {
  const nodes = await daemon.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes').catch(() => []);
  return nodes.some((n) => n['node-name'] === node);
}

async function waitUntil(predicate: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const runTool = promisify(execFile);

/** Bytes read per request through a copy-on-read filter (below the NBD server's 32 MiB request limit). */
const PROMOTE_READ_BYTES = 8 * 1024 * 1024;

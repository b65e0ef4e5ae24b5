// An adopted guest: a running qemu-system (or libvirt-managed) process reached through a QMP socket of its
// own. Adopting adds nothing to the guest. Protecting adds a write-blocking mirror per drive (the
// splitter, see qemu-write-tap.ts); while the kernel reads (syncs) it adds a read-only NBD export per drive
// on an NBD server it starts in the guest's process. Closing the tap, and the end of the reads, remove all
// of it, so an unprotected guest's block graph is the one that was found. The guest's state is watched:
// a migration or the end of its process closes the tap with a typed reason.
import { promises as fs } from 'node:fs';
import { UnknownVolumeError, ValidationError, VolumeRangeError, type PowerState, type VmId, type VmInfo, type VolumeId } from '@opencdp/core';
import { checkDrivesFree, resolveGuestDrives, type GuestDrive } from './guest-drives.js';
import { GuestReadExports } from './guest-read-exports.js';
import type { NbdServer } from './nbd-server.js';
import {
  DriveBusyError, GuestGoneError, GuestMigratedError, GuestStateError, GuestUnreachableError, NotQemuMonitorError, QmpClosedError, QmpError,
} from './qemu-errors.js';
import { QmpClient, type QmpEvent } from './qmp-client.js';
import { QemuWriteTap } from './qemu-write-tap.js';

export interface QemuGuestSpec {
  /** The VM's name in the inventory (unique on this appliance; its id is derived from it). */
  name: string;
  /** A QMP socket of the guest's QEMU process that OpenCDP may use (a second monitor beside libvirt's). */
  qmp: string;
  /**
   * The drives to protect, in order: node names of the guest's disks, their device names or their qdev
   * ids (`-device virtio-blk-pci,id=…`). Default: every writable disk attached to a guest device.
   */
  drives?: string[];
  /**
   * The UNIX socket of an NBD server the guest's QEMU already runs (started by someone else, e.g. for a
   * backup): reads are exported there and it is never stopped. Default: the adapter starts one of its own.
   */
  nbdSocket?: string;
}

export interface QemuGuestOptions {
  vmId: VmId;
  hostId: string;
  /** Folder for the socket of the read server the adapter starts (UNIX socket paths: keep it short). */
  dir: string;
  /** The config field of this guest, for errors (e.g. `guests.0`). */
  field?: string;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** How long to wait for the QMP greeting (default 3 s): a monitor another client holds never greets. */
  connectTimeoutMs?: number;
  /** How long the read exports stay after the last read (default 1 s), so a sync does not re-add them per chunk. */
  readLingerMs?: number;
  /** How long a clean shutdown (ACPI power button) may take (default 60 s). */
  shutdownTimeoutMs?: number;
}

/** Block jobs and nodes of the splitter are named with this prefix (leftovers of a killed appliance are found by it; exports: guest-read-exports.ts). */
export const GUEST_TAP_PREFIX = 'opencdp-tap';
export { GUEST_EXPORT_PREFIX } from './guest-read-exports.js';

/** What the adapter sees of a guest's block layer (tests compare it before adoption and after unprotect). */
export interface GuestBlockState {
  nodes: string[];
  jobs: string[];
  exports: string[];
}

/** Statuses (query-status) in which a splitter must not be attached: the disks are not this process's to write. */
const REFUSED_STATUSES: Record<string, string> = {
  inmigrate: 'waiting for an incoming migration (its disks are not active here yet)',
  postmigrate: 'migrated away (it runs in another QEMU process now)',
  'finish-migrate': 'finishing a migration away from this process',
  'save-vm': 'saving its state',
  'restore-vm': 'restoring its state',
  'guest-panicked': 'stopped after a guest panic',
  'internal-error': 'stopped on an internal QEMU error',
  'io-error': 'paused on a disk I/O error',
};

const MIN_QEMU_MAJOR = 6;

export class QemuGuest {
  private qmp: QmpClient | undefined;
  private connecting: Promise<QmpClient> | undefined;
  private drives: GuestDrive[] = [];
  private status = 'unknown';
  private readonly taps = new Set<QemuWriteTap>();
  private tapCount = 0;
  private readonly reads: GuestReadExports;
  private released = false;

  private constructor(readonly spec: QemuGuestSpec, private readonly options: QemuGuestOptions) {
    this.reads = new GuestReadExports({
      vmId: options.vmId, dir: options.dir, ...(spec.nbdSocket ? { nbdSocket: spec.nbdSocket } : {}), ...(options.readLingerMs !== undefined ? { lingerMs: options.readLingerMs } : {}),
      connection: () => this.connection(), current: () => this.qmp, drives: () => this.drives, busy: () => this.taps.size > 0,
      log: (event, fields) => this.log(event, fields),
    });
  }

  /**
   * Adopts a guest: connects to its monitor and resolves its drives. Adds nothing to it. A guest whose
   * process is not running (no socket, or refused) is adopted as powered off and connected when used;
   * a socket that is not a QEMU monitor, or drives it does not have, are refused with typed errors.
   */
  static async adopt(spec: QemuGuestSpec, options: QemuGuestOptions): Promise<QemuGuest> {
    const guest = new QemuGuest(spec, options);
    try {
      await guest.connection();
    } catch (e) {
      if (!(e instanceof GuestUnreachableError)) {
        guest.qmp?.close();
        throw e;
      }
      guest.log('guest-unreachable', { message: e.message });
    }
    return guest;
  }

  get vmId(): VmId {
    return this.options.vmId;
  }

  get name(): string {
    return this.spec.name;
  }

  /** The guest's VM record; powered off while its process cannot be reached. */
  async info(): Promise<VmInfo> {
    const qmp = await this.connection().catch((e: Error) => {
      if (!(e instanceof GuestUnreachableError)) throw e;
      return undefined;
    });
    if (qmp) this.status = (await qmp.execute<{ status: string }>('query-status').catch(() => ({ status: this.status }))).status;
    return this.snapshotInfo();
  }

  /** Taps attached now (tests). */
  openTaps(): QemuWriteTap[] {
    return [...this.taps];
  }

  // ---- splitting -------------------------------------------------------------------------------

  /** Attaches the splitter: one write-blocking mirror per drive into `server`. Refuses a guest that is migrating, migrated or failed. */
  async openTap(server: NbdServer): Promise<QemuWriteTap> {
    const qmp = await this.connection();
    this.status = (await qmp.execute<{ status: string }>('query-status')).status;
    const refused = REFUSED_STATUSES[this.status];
    if (refused) throw new GuestStateError(this.vmId, this.status, refused);
    if (this.drives.length === 0) throw new ValidationError(`guest '${this.vmId}' has no writable disk to protect`, this.field('drives'));
    await this.removeOrphans(qmp);
    await checkDrivesFree(qmp, this.vmId, this.drives);
    let tap: QemuWriteTap;
    try {
      tap = await QemuWriteTap.open({
        vmId: this.vmId, tapId: `${GUEST_TAP_PREFIX}${++this.tapCount}`, qmp, server, sync: 'none',
        volumes: this.drives.map((d) => ({ volume: d.volume, node: d.node })),
      });
    } catch (e) {
      if (e instanceof QmpError && /busy|in use by block job|block job|Need a root block node/i.test(e.desc)) {
        const drive = this.drives.find((d) => e.desc.includes(`'${d.node}'`)) ?? this.drives[0];
        // "Need a root block node": an implicit filter of another job (a mirror's, a backup's) sits above the drive.
        throw new DriveBusyError(this.vmId, drive.volume.name, /Need a root block node/.test(e.desc) ? `another job's filter node sits above it (QEMU: ${e.desc})` : e.desc);
      }
      throw e;
    }
    this.taps.add(tap);
    tap.onClose(() => {
      this.taps.delete(tap);
      if (this.taps.size === 0 && !this.reads.reading) void this.reads.flush();
    });
    this.log('guest-tap-attached', { tapJobs: tap.jobIds, drives: this.drives.map((d) => d.node) });
    return tap;
  }

  // ---- reads -------------------------------------------------------------------------------------

  /** Reads a drive through a read-only NBD export the adapter adds for the time it reads (and a moment after). */
  async read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const drive = this.drives.find((d) => d.volume.id === volumeId);
    if (!drive) throw new UnknownVolumeError(volumeId, `guest '${this.vmId}'`);
    const size = drive.volume.sizeBytes;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new VolumeRangeError(volumeId, offset, length, size);
    }
    if (length === 0) return Buffer.alloc(0);
    return this.reads.read(drive, offset, length);
  }

  // ---- power -------------------------------------------------------------------------------------

  /** Runs the guest: `cont` when paused, reset + `cont` when it powered off inside a process kept by `-no-shutdown`. */
  async powerOn(): Promise<void> {
    const qmp = await this.connection();
    const { status } = await qmp.execute<{ status: string }>('query-status');
    if (status === 'running') return;
    const refused = REFUSED_STATUSES[status];
    if (refused && status !== 'io-error' && status !== 'guest-panicked') throw new GuestStateError(this.vmId, status, refused);
    if (status === 'shutdown' || status === 'guest-panicked') await qmp.execute('system_reset');
    await qmp.execute('cont');
    this.status = 'running';
  }

  /** ACPI power button; resolves when the guest is off (its process ended, or it reports `shutdown`). */
  async shutdownGuest(): Promise<void> {
    let qmp: QmpClient;
    try {
      qmp = await this.connection();
    } catch (e) {
      if (e instanceof GuestUnreachableError) return; // not running: off already
      throw e;
    }
    const off = this.whenOff(qmp, this.options.shutdownTimeoutMs ?? 60_000);
    await qmp.execute('system_powerdown').catch((e: unknown) => {
      if (!(e instanceof QmpClosedError)) throw e;
    });
    if (!(await off)) {
      throw new GuestStateError(this.vmId, 'still running', `it did not power off within ${(this.options.shutdownTimeoutMs ?? 60_000) / 1000} s of the ACPI power button (does it run acpid?)`);
    }
  }

  /** Hard power-off: ends the guest's QEMU process (`quit`), as `virsh destroy` would. Its disks are untouched. */
  async powerOff(): Promise<void> {
    let qmp: QmpClient;
    try {
      qmp = await this.connection();
    } catch (e) {
      if (e instanceof GuestUnreachableError) return;
      throw e;
    }
    const gone = this.whenOff(qmp, 10_000);
    await qmp.execute('quit').catch((e: unknown) => {
      if (!(e instanceof QmpClosedError)) throw e;
    });
    if (!(await gone)) throw new GuestStateError(this.vmId, 'still running', 'its QEMU process did not end within 10 s of quit');
  }

  /** Pauses the guest's vCPUs (`stop`): in-flight I/O drains first, so its disks hold still (a crash-consistent pause). */
  async pause(): Promise<void> {
    await (await this.connection()).execute('stop');
  }

  async resume(): Promise<void> {
    await (await this.connection()).execute('cont');
  }

  // ---- state --------------------------------------------------------------------------------------

  /** Node names, block jobs and block exports of the guest's process now. */
  async blockState(): Promise<GuestBlockState> {
    const qmp = await this.connection();
    const nodes = await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
    const jobs = await qmp.execute<{ device: string }[]>('query-block-jobs');
    const exports = await qmp.execute<{ id: string }[]>('query-block-exports');
    return { nodes: nodes.map((n) => n['node-name']).sort(), jobs: jobs.map((j) => j.device).sort(), exports: exports.map((e) => e.id).sort() };
  }

  /** Removes everything the adapter added (taps, read exports, its NBD server) and lets the guest go. Never stops the guest. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const tap of [...this.taps]) await tap.close().catch(() => undefined);
    await this.reads.flush().catch((e: Error) => this.log('guest-release-failed', { message: e.message }));
    this.qmp?.close();
    this.qmp = undefined;
  }

  /** Removes the read exports now if nothing reads (tests, and the end of a protection). */
  async settle(): Promise<void> {
    await this.reads.flush();
  }

  // ---- internals ---------------------------------------------------------------------------------

  private field(sub: string): string {
    return [this.options.field, sub].filter(Boolean).join('.');
  }

  private log(event: string, fields: Record<string, unknown>): void {
    this.options.log?.(event, { vmId: this.vmId, ...fields });
  }

  private snapshotInfo(): VmInfo {
    return {
      id: this.vmId, name: this.spec.name, hostId: this.options.hostId, powerState: powerStateOf(this.qmp ? this.status : 'unreachable'),
      volumes: this.drives.map((d) => ({ ...d.volume })), nics: [],
    };
  }

  /** The live QMP connection, (re)connecting and (re)resolving the drives when there is none. */
  private connection(): Promise<QmpClient> {
    if (this.released) return Promise.reject(new GuestGoneError(this.vmId, 'the platform was disposed'));
    if (this.qmp && !this.qmp.closed) return Promise.resolve(this.qmp);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<QmpClient> {
    const socket = this.spec.qmp;
    const stat = await fs.stat(socket).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new GuestUnreachableError(this.vmId, socket, 'the socket does not exist');
      throw new NotQemuMonitorError(socket, e.message, this.field('qmp'));
    });
    if (!stat.isSocket()) throw new NotQemuMonitorError(socket, 'it is not a UNIX socket', this.field('qmp'));
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(socket, this.options.connectTimeoutMs ?? 3000);
    } catch (e) {
      const message = (e as Error).message;
      if (/ECONNREFUSED|ENOENT/.test(message)) throw new GuestUnreachableError(this.vmId, socket, 'nobody listens on it (the process ended)');
      // A QEMU monitor serves one client at a time: a second one is queued (no greeting) or refused (EAGAIN).
      if (/greeting|EAGAIN/.test(message)) {
        throw new NotQemuMonitorError(socket, 'no QMP greeting came: another client (libvirtd, or another appliance) holds this monitor, or nothing QEMU listens on it', this.field('qmp'));
      }
      throw new NotQemuMonitorError(socket, /unparseable QMP message/.test(message) ? 'it answered something that is not QMP' : message, this.field('qmp'));
    }
    try {
      if (!qmp.version) throw new NotQemuMonitorError(socket, 'its greeting names no QEMU version', this.field('qmp'));
      if (qmp.version.major < MIN_QEMU_MAJOR) {
        throw new NotQemuMonitorError(socket, `QEMU ${qmp.version.major}.${qmp.version.minor} is too old (the splitter needs ${MIN_QEMU_MAJOR}.0 or newer)`, this.field('qmp'));
      }
      const drives = await resolveGuestDrives(qmp, { vmId: this.vmId, name: this.spec.name, ...(this.spec.drives ? { drives: this.spec.drives } : {}), field: (sub) => this.field(sub) });
      if (this.drives.length > 0 && drives.some((d, i) => this.drives[i]?.volume.sizeBytes !== d.volume.sizeBytes)) {
        this.log('guest-drives-changed', { before: this.drives.map((d) => d.volume), after: drives.map((d) => d.volume) });
      }
      this.drives = drives;
      this.status = (await qmp.execute<{ status: string }>('query-status')).status;
      await this.removeOrphans(qmp);
    } catch (e) {
      qmp.close();
      throw e;
    }
    qmp.on('event', (e) => this.onEvent(qmp, e));
    qmp.on('close', (reason) => this.onClose(qmp, reason));
    this.qmp = qmp;
    this.log('guest-connected', { qmp: socket, qemu: qmp.version, status: this.status, drives: this.drives.map((d) => ({ node: d.node, volumeId: d.volume.id, sizeBytes: d.volume.sizeBytes })) });
    return qmp;
  }

  /** Mirrors, target nodes and read exports a killed appliance left in the guest, which no tap of ours owns. */
  private async removeOrphans(qmp: QmpClient): Promise<void> {
    const owned = new Set([...this.taps].flatMap((t) => t.jobIds));
    const jobs = await qmp.execute<{ device: string }[]>('query-block-jobs');
    for (const job of jobs) {
      if (owned.has(job.device) || !job.device.startsWith(GUEST_TAP_PREFIX)) continue;
      const gone = qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === job.device && e.data?.status === 'null', 10_000).catch(() => undefined);
      await qmp.execute('block-job-cancel', { device: job.device, force: true }).catch(() => undefined);
      await gone;
      this.log('guest-orphan-removed', { job: job.device });
    }
    const ownedNodes = new Set([...owned].map((j) => j.replace(/-m(\d+)$/, '-t$1')));
    for (const n of await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })) {
      const name = n['node-name'];
      if (name.startsWith(GUEST_TAP_PREFIX) && !ownedNodes.has(name)) await qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
    }
    await this.reads.removeLeftovers(qmp);
  }

  private onEvent(qmp: QmpClient, e: QmpEvent): void {
    if (qmp !== this.qmp) return;
    if (e.event === 'RESUME') this.status = 'running';
    if (e.event === 'STOP') void this.afterStop(qmp);
    if (e.event === 'SHUTDOWN') this.log('guest-shutdown', { ...e.data });
  }

  /** A STOP may be a pause or the last step of a migration away: wait until it is one or the other. */
  private async afterStop(qmp: QmpClient): Promise<void> {
    const deadline = Date.now() + 30_000;
    let status = 'paused';
    while (Date.now() < deadline && !qmp.closed) {
      status = (await qmp.execute<{ status: string }>('query-status').catch(() => ({ status: 'unknown' }))).status;
      if (status !== 'finish-migrate') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (qmp !== this.qmp) return;
    this.status = status;
    this.log('guest-stopped', { status });
    if (status === 'postmigrate') {
      for (const tap of [...this.taps]) await tap.fail(new GuestMigratedError(this.vmId));
    }
  }

  private onClose(qmp: QmpClient, reason: Error): void {
    if (qmp !== this.qmp) return;
    this.qmp = undefined;
    this.status = 'unreachable';
    // Everything added lived in the process that ended: nothing to remove, only to forget.
    this.reads.forget();
    for (const tap of [...this.taps]) void tap.fail(new GuestGoneError(this.vmId, reason.message));
    if (!this.released) this.log('guest-disconnected', { message: reason.message });
  }

  private whenOff(qmp: QmpClient, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const deadline = Date.now() + timeoutMs;
      const poll = async (): Promise<void> => {
        while (Date.now() < deadline) {
          if (qmp.closed) return resolve(true);
          const s = await qmp.execute<{ status: string }>('query-status').catch(() => undefined);
          if (!s || s.status === 'shutdown') return resolve(true);
          await new Promise((r) => setTimeout(r, 200));
        }
        resolve(qmp.closed);
      };
      void poll();
    });
  }
}

/** QEMU's run state → the inventory's power state. */
export function powerStateOf(status: string): PowerState {
  if (status === 'running') return 'on';
  if (status === 'shutdown' || status === 'postmigrate' || status === 'unreachable' || status === 'unknown') return 'off';
  return 'suspended';
}

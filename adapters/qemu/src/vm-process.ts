// A recovered VM as a `qemu-system-x86_64` process: its disks are NBD exports of the recovery host's
// storage daemon (each a qcow2 overlay over a point-in-time image), its console a file, its monitor a QMP
// socket. KVM when /dev/kvm works — checked once per binary by booting a boot sector that exits QEMU
// through `isa-debug-exit` — else TCG, so recovery runs (slowly) on hosts without usable virtualisation.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QemuProcessError } from './qemu-errors.js';
import { QmpClient } from './qmp-client.js';

/** How recovered VMs are started (the platform config's `recovery.vmProcess`). */
export interface VmProcessTemplate {
  /** Default `qemu-system-x86_64` on PATH. */
  binary?: string;
  /** Default 512. */
  memoryMiB?: number;
  /** Default 1. */
  cpus?: number;
  /** Default `q35`. */
  machine?: string;
  /** `auto` (default): KVM when it works here, else TCG. */
  accel?: 'auto' | 'kvm' | 'tcg';
  /** Direct kernel boot (guests that boot from their disk need none of these). */
  kernel?: string;
  initrd?: string;
  append?: string;
  /** More arguments, appended as given (e.g. a firmware, a CPU model). */
  extraArgs?: string[];
}

export interface VmProcessDisk {
  /** The storage daemon's NBD socket and the disk's export there. */
  nbdPath: string;
  exportName: string;
  sectorSize: number;
}

export interface VmProcessNic {
  mac: string;
  /** Isolated (test) networks get a user-mode network that cannot reach the host or beyond. */
  isolated: boolean;
}

export interface VmProcessSpec {
  name: string;
  /** Folder for the monitor socket, the console file and the pid file (short: UNIX socket paths). */
  dir: string;
  disks: VmProcessDisk[];
  nics: VmProcessNic[];
  template: VmProcessTemplate;
}

const probes = new Map<string, Promise<'kvm' | 'tcg'>>();

/**
 * The accelerator a VM gets: `kvm` only if /dev/kvm is there and a KVM guest actually runs (a boot
 * sector that exits through isa-debug-exit within 5 s); nested or broken KVM that hangs counts as unusable.
 */
export function chooseAccel(binary = 'qemu-system-x86_64', wanted: VmProcessTemplate['accel'] = 'auto'): Promise<'kvm' | 'tcg'> {
  if (wanted === 'kvm' || wanted === 'tcg') return Promise.resolve(wanted);
  let probe = probes.get(binary);
  if (!probe) {
    probe = probeKvm(binary);
    probes.set(binary, probe);
  }
  return probe;
}

async function probeKvm(binary: string): Promise<'kvm' | 'tcg'> {
  if (!(await fs.access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false))) return 'tcg';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-kvm-'));
  try {
    // mov al, 0x31; out 0xf4, al; hlt — QEMU exits with (0x31 << 1) | 1 = 99 when the guest ran.
    const sector = Buffer.alloc(512);
    Buffer.from([0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfe]).copy(sector);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    const image = path.join(dir, 'probe.img');
    await fs.writeFile(image, Buffer.concat([sector, Buffer.alloc(1474560 - 512)]));
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(binary, ['-machine', 'pc,accel=kvm', '-m', '16', '-nodefaults', '-display', 'none', '-no-user-config',
        '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-drive', `file=${image},format=raw,if=floppy`, '-boot', 'a'], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.on('error', () => resolve(null));
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    return code === 99 ? 'kvm' : 'tcg';
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export class VmProcess {
  private exited = false;
  private exitListeners: (() => void)[] = [];
  private stderr = '';

  private constructor(readonly spec: VmProcessSpec, readonly accel: 'kvm' | 'tcg', private readonly child: ChildProcess, readonly qmp: QmpClient) {
    child.once('exit', () => {
      this.exited = true;
      for (const l of this.exitListeners.splice(0)) l();
    });
  }

  /** The console file (the guest's serial port). */
  get consolePath(): string {
    return path.join(this.spec.dir, 'console.log');
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  onExit(listener: () => void): void {
    if (this.exited) queueMicrotask(listener);
    else this.exitListeners.push(listener);
  }

  /** Starts the VM (running) and connects to its monitor; a process that fails to start is gone before this rejects. */
  static async start(spec: VmProcessSpec): Promise<VmProcess> {
    const t = spec.template;
    const binary = t.binary ?? 'qemu-system-x86_64';
    const accel = await chooseAccel(binary, t.accel);
    await fs.mkdir(spec.dir, { recursive: true, mode: 0o700 });
    const qmpPath = path.join(spec.dir, 'qmp.sock');
    await fs.rm(qmpPath, { force: true });
    const args = [
      '-name', spec.name, '-machine', `${t.machine ?? 'q35'},accel=${accel}`, '-m', String(t.memoryMiB ?? 512), '-smp', String(t.cpus ?? 1),
      '-nodefaults', '-no-user-config', '-display', 'none',
      '-chardev', `socket,id=ocdp-qmp,path=${qmpPath},server=on,wait=off`, '-mon', 'chardev=ocdp-qmp,mode=control',
      '-chardev', `file,id=ocdp-console,path=${path.join(spec.dir, 'console.log')}`, '-serial', 'chardev:ocdp-console',
      '-pidfile', path.join(spec.dir, 'qemu.pid'),
    ];
    if (t.kernel) args.push('-kernel', t.kernel);
    if (t.initrd) args.push('-initrd', t.initrd);
    if (t.append) args.push('-append', t.append);
    spec.disks.forEach((d, i) => {
      args.push('-blockdev', JSON.stringify({ driver: 'nbd', 'node-name': `disk${i}`, server: { type: 'unix', path: d.nbdPath }, export: d.exportName }));
      const size = d.sectorSize === 4096 ? ',logical_block_size=4096,physical_block_size=4096' : '';
      args.push('-device', `virtio-blk-pci,drive=disk${i},id=vd${i}${i === 0 ? ',bootindex=1' : ''}${size}`);
    });
    spec.nics.forEach((n, i) => {
      args.push('-netdev', `user,id=net${i}${n.isolated ? ',restrict=on' : ''}`, '-device', `virtio-net-pci,netdev=net${i},mac=${n.mac}`);
    });
    args.push(...(t.extraArgs ?? []));
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    let exit: string | undefined;
    child.once('exit', (code, signal) => { exit = `exited with ${code ?? signal}`; });
    child.once('error', (e) => { exit = e.message; });
    let qmp: QmpClient | undefined;
    const deadline = Date.now() + 20_000;
    while (!qmp) {
      if (exit) throw new QemuProcessError(`VM '${spec.name}' (${binary}) ${exit}: ${stderr.trim()}`, 'check the recovery.vmProcess settings (kernel, initrd, machine) and that qemu-system-x86 is installed');
      try {
        await fs.access(qmpPath);
        qmp = await QmpClient.connect(qmpPath);
      } catch (error) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new QemuProcessError(`VM '${spec.name}' did not offer QMP within 20 s: ${(error as Error).message} ${stderr.trim()}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    const vm = new VmProcess(spec, accel, child, qmp);
    child.stderr?.on('data', (c: Buffer) => { vm.stderr = (vm.stderr + c.toString()).slice(-4000); });
    return vm;
  }

  /** Last lines QEMU wrote to stderr (for error messages). */
  get log(): string {
    return this.stderr;
  }

  /** The end of the guest's console (`bytes` at most). */
  async console(bytes = 64 * 1024): Promise<string> {
    const handle = await fs.open(this.consolePath, 'r').catch(() => undefined);
    if (!handle) return '';
    try {
      const { size } = await handle.stat();
      const length = Math.min(bytes, size);
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, size - length);
      return buf.toString('utf8');
    } finally {
      await handle.close();
    }
  }

  /** ACPI power button, then `quit` (and SIGKILL) when the guest has not powered off within `timeoutMs`. */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return;
    await this.qmp.execute('system_powerdown').catch(() => undefined);
    if (await this.waitExit(timeoutMs)) return;
    await this.stop();
  }

  /** Hard power-off: `quit`, SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.qmp.execute('quit').catch(() => undefined);
    if (!(await this.waitExit(5000))) {
      this.child.kill('SIGKILL');
      await this.waitExit(5000);
    }
    this.qmp.close();
  }

  private waitExit(timeoutMs: number): Promise<boolean> {
    if (this.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.onExit(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

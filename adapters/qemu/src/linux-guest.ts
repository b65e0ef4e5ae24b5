// A small real Linux guest for demos and end-to-end specs, built from what Debian installs on this host:
// the kernel from `linux-image-amd64` (/boot, its virtio and ext4 modules), an initramfs made here from
// `busybox-static` with `cpio`, no network. It runs under `qemu-system-x86_64` as an operator would run a
// KVM guest — its own monitor, a second QMP socket for OpenCDP — mounts the ext4 file system of its disk
// and writes files, fsyncing each one and saying so (name, sha256, size) on its console, so a test knows
// which files a checkpoint must hold. A second serial port takes commands (freeze, thaw, stop, ransomware).
// Booted with `opencdp.mode=verify` (a recovered copy) it mounts read-only and lists its files' hashes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { OpenCdpError } from '@opencdp/core';
import { chooseAccel } from './vm-process.js';

const run = promisify(execFile);

/** What the guest needs from this host is missing (a Debian package, usually). */
export class GuestImageError extends OpenCdpError {
  constructor(message: string) {
    super('GUEST_IMAGE', message, 'apt-get install linux-image-amd64 busybox-static cpio e2fsprogs qemu-system-x86');
  }
}

/** Modules the guest loads, with their dependencies (modules.dep) in load order. */
const GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4'];

export interface GuestKernel {
  kernel: string;
  version: string;
}

/** The newest Debian kernel in /boot whose modules are installed, or undefined. */
export async function findGuestKernel(): Promise<GuestKernel | undefined> {
  const names = await fs.readdir('/boot').catch(() => [] as string[]);
  const versions = names.filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length))
    .filter((v) => existsSync(`/lib/modules/${v}/modules.dep`)).sort(compareVersions);
  const version = versions.at(-1);
  return version ? { kernel: `/boot/vmlinuz-${version}`, version } : undefined;
}

/**
 * The kernel to hand to `-kernel`: the uncompressed ELF inside the bzImage when it can boot through PVH
 * (QEMU then starts it directly), else the bzImage. Under TCG, decompressing an xz bzImage inside the guest
 * is most of a boot (about 3× the rest here), so the host does it once.
 */
export async function prepareGuestKernel(dir: string, kernel: GuestKernel): Promise<string> {
  const image = await fs.readFile(kernel.kernel);
  const formats: [Buffer, string][] = [[Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 'xz'], [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 'zstd'], [Buffer.from([0x1f, 0x8b, 0x08]), 'gzip']];
  for (const [magic, tool] of formats) {
    const at = image.indexOf(magic);
    if (at < 0) continue;
    // The payload is followed by the bzImage's trailer: the tool complains about it, the ELF is whole.
    const out = await new Promise<Buffer>((resolve) => {
      const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', () => resolve(Buffer.alloc(0)));
      child.on('close', () => resolve(Buffer.concat(chunks)));
      child.stdin.on('error', () => undefined);
      child.stdin.end(image.subarray(at));
    });
    if (!hasPvhNote(out)) continue;
    const file = path.join(dir, `vmlinux-${kernel.version}`);
    await fs.writeFile(file, out);
    return file;
  }
  return kernel.kernel;
}

/** True for a 64-bit ELF with Xen's PHYS32_ENTRY note (type 18): the PVH entry point QEMU boots directly. */
export function hasPvhNote(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 40 > elf.length || elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    const start = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(elf.length, start + Number(elf.readBigUInt64LE(ph + 32)));
    for (let at = start; at + 12 <= end;) {
      const namesz = elf.readUInt32LE(at);
      const descsz = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const name = elf.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      at += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return false;
}

/** The tools and files the guest needs that this host lacks (empty when it can be built). */
export async function missingGuestParts(): Promise<string[]> {
  const missing: string[] = [];
  if (!(await findGuestKernel())) missing.push('a kernel in /boot with its modules (linux-image-amd64)');
  if (!existsSync('/bin/busybox') && !existsSync('/usr/bin/busybox')) missing.push('busybox (busybox-static)');
  for (const tool of ['cpio', 'mkfs.ext4', 'qemu-system-x86_64']) {
    if (!(await run('sh', ['-c', `command -v ${tool}`]).then(() => true, () => false))) missing.push(tool);
  }
  return missing;
}

// A plain string, not a template: the shell's ${…} must reach the guest as written.
const INIT = [
  '#!/bin/busybox sh',
  '/bin/busybox --install -s /bin',
  'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev',
  'say() { echo "OPENCDP-GUEST $*"; }',
  'for m in $(cat /modules.order); do insmod /lib/modules/$m.ko || say insmod-failed $m; done',
  'mode=writer; pace=0.05',
  'for a in $(cat /proc/cmdline); do case $a in opencdp.mode=*) mode=${a#opencdp.mode=};; opencdp.pace=*) pace=${a#opencdp.pace=};; esac; done',
  'i=0; while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
  'idle() { while true; do sleep 3600; done; }',
  'if [ "$mode" = verify ]; then',
  '  if mount -t ext4 -o ro /dev/vda /mnt; then',
  '    n=0',
  '    for f in /mnt/data/f*; do [ -f "$f" ] || continue; n=$((n+1)); say file $(basename $f) $(sha256sum < $f | cut -d\' \' -f1) $(wc -c < $f); done',
  '    say verified $n',
  '  else say mount-failed; fi',
  '  idle',
  'fi',
  'mount -t ext4 /dev/vda /mnt || { say mount-failed; idle; }',
  'mkdir -p /mnt/data; sync /mnt/data',
  'say booted',
  'writer() {',
  '  n=$(ls /mnt/data | wc -l)',
  '  while true; do',
  '    if [ -e /tmp/hold ]; then sleep 0.05; continue; fi',
  '    n=$((n+1)); name=$(printf f%05d $n); f=/mnt/data/$name',
  '    head -c $(( (n % 9 + 1) * 977 )) /dev/urandom > $f',
  '    sync $f /mnt/data',
  '    say fsynced $name $(sha256sum < $f | cut -d\' \' -f1) $(wc -c < $f)',
  '    sleep $pace',
  '  done',
  '}',
  'writer &',
  'exec 3< /dev/ttyS1',
  'stty -F /dev/ttyS1 raw -echo 2>/dev/null',
  'while read -r cmd arg <&3; do',
  '  case $cmd in',
  '    freeze) touch /tmp/hold; sleep 0.2; sync; fsfreeze --freeze /mnt && say frozen;;',
  '    thaw) fsfreeze --unfreeze /mnt; rm -f /tmp/hold; say thawed;;',
  '    stop) touch /tmp/hold; sleep 0.2; sync; say stopped;;',
  '    start) rm -f /tmp/hold; say started;;',
  '    ransomware) touch /tmp/hold; sleep 0.2; yes OPENCDP-LOCKED-BY-RANSOMWARE | dd of=/dev/vda bs=65536 count=$((arg / 65536)) iflag=fullblock conv=fsync 2>/dev/null; say ransomed $arg;;',
  '    *) say unknown-command $cmd;;',
  '  esac',
  'done',
  'idle',
].join('\n') + '\n';

/**
 * Builds the guest's initramfs (gzip'd newc cpio) in `dir` and returns its path: static busybox, the init
 * script above, and the kernel's virtio and ext4 modules (with their dependencies).
 */
export async function buildGuestInitramfs(dir: string, kernel?: GuestKernel): Promise<string> {
  const k = kernel ?? (await findGuestKernel());
  if (!k) throw new GuestImageError('no kernel with installed modules in /boot');
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new GuestImageError('busybox is not installed');
  const root = path.join(dir, 'initramfs');
  await fs.rm(root, { recursive: true, force: true });
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'mnt', 'tmp', 'lib/modules']) await fs.mkdir(path.join(root, sub), { recursive: true });
  await fs.copyFile(busybox, path.join(root, 'bin/busybox'));
  await fs.chmod(path.join(root, 'bin/busybox'), 0o755);
  await fs.writeFile(path.join(root, 'init'), INIT, { mode: 0o755 });
  const order = await moduleLoadOrder(k.version, GUEST_MODULES);
  for (const m of order) {
    const target = path.join(root, 'lib/modules', `${path.basename(m).replace(/\.ko(\.xz|\.zst)?$/, '')}.ko`);
    const source = path.join('/lib/modules', k.version, m);
    if (m.endsWith('.ko')) await fs.copyFile(source, target);
    else if (m.endsWith('.ko.xz')) await fs.writeFile(target, (await run('xz', ['-dc', source], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout);
    else if (m.endsWith('.ko.zst')) await fs.writeFile(target, (await run('zstd', ['-dc', source], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout);
    else throw new GuestImageError(`module ${m} has a compression this builder does not know`);
  }
  await fs.writeFile(path.join(root, 'modules.order'), order.map((m) => path.basename(m).replace(/\.ko(\.xz|\.zst)?$/, '')).join('\n') + '\n');
  const initrd = path.join(dir, 'initrd.cpio.gz');
  await run('sh', ['-c', 'find . | cpio -o -H newc --quiet | gzip -1 > "$1"', 'sh', initrd], { cwd: root });
  await fs.rm(root, { recursive: true, force: true });
  return initrd;
}

/** Modules (paths relative to /lib/modules/<version>) in dependency order. */
async function moduleLoadOrder(version: string, wanted: string[]): Promise<string[]> {
  const dep = await fs.readFile(`/lib/modules/${version}/modules.dep`, 'utf8');
  const deps = new Map<string, string[]>();
  for (const line of dep.split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod && rest !== undefined) deps.set(mod, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((m) => [path.basename(m).replace(/\.ko(\.xz|\.zst)?$/, '').replace(/-/g, '_'), m]));
  const order: string[] = [];
  const visit = (m: string): void => {
    if (order.includes(m)) return;
    for (const d of [...(deps.get(m) ?? [])].reverse()) visit(d);
    order.push(m);
  };
  for (const name of wanted) {
    const m = byName.get(name);
    if (!m) throw new GuestImageError(`kernel ${version} has no module ${name} (is it built in? then it is not needed)`);
    visit(m);
  }
  return order;
}

export interface LinuxGuestOptions {
  /** Folder for the disk, sockets and console (short: UNIX socket paths). */
  dir: string;
  name: string;
  /** The initramfs from buildGuestInitramfs. */
  initrd: string;
  kernel?: GuestKernel;
  /** What `-kernel` gets (see prepareGuestKernel; default the kernel's bzImage). */
  bootKernel?: string;
  /** Size of the ext4 disk made for it (default 64 MiB). */
  diskBytes?: number;
  /** `writer` (default) or `verify`. */
  mode?: 'writer' | 'verify';
  /** Seconds between two files (default 0.05). */
  pace?: number;
  memoryMiB?: number;
  /** Start with the vCPUs stopped (`-S`, status prelaunch): a process to adopt that costs no CPU. */
  paused?: boolean;
}

export interface FsyncedFile {
  name: string;
  sha256: string;
  size: number;
}

/** One guest process: the disk it made, its two monitors (the operator's and OpenCDP's), its console and command port. */
export class LinuxGuest {
  private constructor(
    readonly options: LinuxGuestOptions,
    private readonly child: ChildProcess,
    readonly accel: 'kvm' | 'tcg',
    private exited: boolean,
  ) {
    child.once('exit', () => {
      this.exited = true;
    });
  }

  /** The ext4 disk image (raw). */
  get disk(): string {
    return path.join(this.options.dir, 'disk.raw');
  }

  /** The monitor OpenCDP is given (the platform config's `qmp`). */
  get qmpSocket(): string {
    return path.join(this.options.dir, 'ocdp.qmp');
  }

  /** The operator's own monitor (libvirt's, on a managed host). */
  get operatorQmpSocket(): string {
    return path.join(this.options.dir, 'ops.qmp');
  }

  get consoleFile(): string {
    return path.join(this.options.dir, 'console.log');
  }

  get alive(): boolean {
    return !this.exited;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Makes the disk (ext4, empty; kept when it exists) and starts the guest. */
  static async start(options: LinuxGuestOptions): Promise<LinuxGuest> {
    const kernel = options.kernel ?? (await findGuestKernel());
    if (!kernel) throw new GuestImageError('no kernel with installed modules in /boot');
    await fs.mkdir(options.dir, { recursive: true });
    const disk = path.join(options.dir, 'disk.raw');
    if (!existsSync(disk)) {
      const handle = await fs.open(disk, 'w');
      await handle.truncate(options.diskBytes ?? 64 * 1024 * 1024);
      await handle.close();
      await run('mkfs.ext4', ['-q', '-F', '-L', options.name.slice(0, 16), disk]);
    }
    for (const s of ['ocdp.qmp', 'ops.qmp', 'ctl.sock']) await fs.rm(path.join(options.dir, s), { force: true });
    const accel = await chooseAccel('qemu-system-x86_64');
    const sock = (id: string, file: string): string[] => ['-chardev', `socket,id=${id},path=${path.join(options.dir, file)},server=on,wait=off`];
    const args = [
      '-name', options.name, '-machine', `q35,accel=${accel}`, '-m', String(options.memoryMiB ?? 192), '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none',
      ...sock('ops', 'ops.qmp'), '-mon', 'chardev=ops,mode=control',
      ...sock('ocdp', 'ocdp.qmp'), '-mon', 'chardev=ocdp,mode=control',
      '-chardev', `file,id=con,path=${path.join(options.dir, 'console.log')}`, '-serial', 'chardev:con',
      ...sock('ctl', 'ctl.sock'), '-serial', 'chardev:ctl',
      '-kernel', options.bootKernel ?? kernel.kernel, '-initrd', options.initrd,
      '-append', `console=ttyS0 quiet panic=-1 opencdp.mode=${options.mode ?? 'writer'} opencdp.pace=${options.pace ?? 0.05}`,
      '-blockdev', `driver=file,node-name=disk0-file,filename=${disk}`,
      '-blockdev', 'driver=raw,node-name=disk0,file=disk0-file',
      '-device', 'virtio-blk-pci,drive=disk0,id=vdisk0',
      '-pidfile', path.join(options.dir, 'qemu.pid'),
      ...(options.paused ? ['-S'] : []),
    ];
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    const guest = new LinuxGuest(options, child, accel, false);
    // Ready once both monitors listen (QEMU creates the sockets before it runs the guest).
    const deadline = Date.now() + 20_000;
    while (!existsSync(guest.qmpSocket) || !existsSync(guest.operatorQmpSocket)) {
      if (!guest.alive) throw new GuestImageError(`the guest '${options.name}' did not start: ${stderr.trim()}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new GuestImageError(`the guest '${options.name}' opened no monitor within 20 s: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return guest;
  }

  /** The guest's `OPENCDP-GUEST …` console lines so far, without the prefix. */
  async lines(): Promise<string[]> {
    const text = await fs.readFile(this.consoleFile, 'utf8').catch(() => '');
    return text.split(/\r?\n/).filter((l) => l.startsWith('OPENCDP-GUEST ')).map((l) => l.slice('OPENCDP-GUEST '.length).trim());
  }

  /** Waits for a console line matching `pattern`; fails with the console's end after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = (await this.lines()).find((l) => pattern.test(l));
      if (line) return line;
      if (!this.alive) throw new GuestImageError(`guest '${this.options.name}' exited while waiting for ${pattern}`);
      if (Date.now() > deadline) {
        const tail = (await fs.readFile(this.consoleFile, 'utf8').catch(() => '')).slice(-1500);
        throw new GuestImageError(`guest '${this.options.name}' printed no ${pattern} within ${timeoutMs} ms; console ends: ${tail}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Files the guest reported fsynced so far, in order. */
  async fsynced(): Promise<FsyncedFile[]> {
    return parseFileLines(await this.lines(), 'fsynced');
  }

  /** Sends one command on the guest's second serial port and waits for its answer line. */
  async command(cmd: 'freeze' | 'thaw' | 'stop' | 'start' | 'ransomware', arg?: number, timeoutMs = 60_000): Promise<void> {
    const answers = { freeze: /^frozen/, thaw: /^thawed/, stop: /^stopped/, start: /^started/, ransomware: /^ransomed/ };
    const before = (await this.lines()).filter((l) => answers[cmd].test(l)).length;
    await new Promise<void>((resolve, reject) => {
      const s = net.createConnection(path.join(this.options.dir, 'ctl.sock'), () => s.end(`${cmd}${arg !== undefined ? ` ${arg}` : ''}\n`, () => resolve()));
      s.on('error', reject);
    });
    const deadline = Date.now() + timeoutMs;
    while ((await this.lines()).filter((l) => answers[cmd].test(l)).length <= before) {
      if (Date.now() > deadline) throw new GuestImageError(`guest '${this.options.name}' did not answer '${cmd}' within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9 of the guest's QEMU process. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGKILL');
    await gone;
  }
}

/** `file NAME SHA SIZE` / `fsynced NAME SHA SIZE` lines → files. */
export function parseFileLines(lines: string[], kind: 'file' | 'fsynced'): FsyncedFile[] {
  const out: FsyncedFile[] = [];
  for (const l of lines) {
    const m = new RegExp(`^${kind}\\s+(\\S+)\\s+([0-9a-f]{64})\\s+(\\d+)$`).exec(l);
    if (m) out.push({ name: m[1], sha256: m[2], size: Number(m[3]) });
  }
  return out;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? -1;
    const y = pb[i] ?? -1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

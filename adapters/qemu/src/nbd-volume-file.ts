// File restore's private view of a volume without copying it (a PrivateVolumeFileOpener for the kernel's
// ExtVolumeReader): the point-in-time image is served read-only by an NBD server of ours, a
// qemu-storage-daemon puts a qcow2 overlay in a private folder over it and exports the overlay as a plain
// file through FUSE. e2fsck's journal replay writes into the overlay; debugfs reads through it; only the
// blocks they touch cross NBD. Where FUSE cannot be used (no /dev/fuse, no permission to mount) it throws
// VolumeFileUnavailableError, and the kernel falls back to a sparse copy.
import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { VolumeFileUnavailableError, type PrivateVolumeFile, type PrivateVolumeFileOpener } from '@opencdp/core';
import { NbdServer } from './nbd-server.js';
import { QemuProcessError } from './qemu-errors.js';
import { imageExport } from './qemu-recovery.js';
import { findTool } from './qemu-tools.js';

const run = promisify(execFile);

/** How long the storage daemon may take to mount the FUSE export. */
const READY_MS = 20_000;

/** Folders already swept for leftovers in this process. */
const swept = new Set<string>();

/**
 * Leftovers of a killed appliance: views whose owner process is gone still have their daemon running and
 * their FUSE mount in place. Each view's folder names its owner (`owner.pid`) and its daemon (`qsd.pid`);
 * those whose owner is dead are stopped, unmounted and removed. Only folders named like ours are looked at.
 */
export async function sweepStaleVolumeFiles(parent: string): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith('ocdp-fr-')) continue;
    const dir = path.join(parent, name);
    const owner = Number(await fs.readFile(path.join(dir, 'owner.pid'), 'utf8').catch(() => 'NaN'));
    if (!Number.isInteger(owner) || owner === process.pid || isAlive(owner)) continue;
    const qsd = Number(await fs.readFile(path.join(dir, 'qsd.pid'), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(qsd) && isAlive(qsd) && (await fs.readFile(`/proc/${qsd}/cmdline`, 'utf8').catch(() => '')).includes('qemu-storage-daemon')) {
      process.kill(qsd, 'SIGTERM');
      for (let i = 0; i < 50 && isAlive(qsd); i++) await new Promise((r) => setTimeout(r, 100));
    }
    const mountpoint = path.join(dir, 'volume.img');
    if (await isMounted(mountpoint)) await run('umount', ['-l', mountpoint]).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const nbdVolumeFile: PrivateVolumeFileOpener = async (source, volumeId, dir): Promise<PrivateVolumeFile> => {
  const parent = path.dirname(dir);
  if (!swept.has(parent)) {
    swept.add(parent);
    await sweepStaleVolumeFiles(parent);
  }
  await fs.writeFile(path.join(dir, 'owner.pid'), String(process.pid), { mode: 0o600 });
  if (!existsSync('/dev/fuse')) throw new VolumeFileUnavailableError('FUSE is not available here (/dev/fuse is missing)', 'file restore copies the volume instead');
  if (!findTool('qemu-storage-daemon') || !findTool('qemu-img')) throw new VolumeFileUnavailableError('qemu-storage-daemon and qemu-img are not installed', 'apt-get install qemu-system-common qemu-utils');
  const size = source.sizeBytes(volumeId);
  const server = new NbdServer({ path: path.join(dir, 'img.sock') });
  server.addExport('image', imageExport(source, volumeId));
  await server.listen();
  const overlay = path.join(dir, 'overlay.qcow2');
  const mountpoint = path.join(dir, 'volume.img');
  const pidfile = path.join(dir, 'qsd.pid');
  let stderr = '';
  let child: ReturnType<typeof spawn> | undefined;
  const stop = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child!.once('exit', () => r()));
      // SIGTERM: the daemon unmounts its FUSE export on the way out.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (await isMounted(mountpoint)) await run('umount', ['-l', mountpoint]).catch(() => undefined);
    await server.close();
    await fs.rm(overlay, { force: true });
  };
  try {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', overlay, String(size)]);
    await fs.writeFile(mountpoint, '', { mode: 0o600 });
    child = spawn('qemu-storage-daemon', [
      '--blockdev', JSON.stringify({ driver: 'nbd', 'node-name': 'img', server: { type: 'unix', path: server.path }, export: 'image', 'read-only': true }),
      '--blockdev', JSON.stringify({ driver: 'file', 'node-name': 'ovf', filename: overlay }),
      '--blockdev', JSON.stringify({ driver: 'qcow2', 'node-name': 'ov', file: 'ovf', backing: 'img' }),
      '--export', `type=fuse,id=vol,node-name=ov,mountpoint=${mountpoint},writable=on`,
      '--pidfile', pidfile,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    const exited = new Promise<string>((resolve) => {
      child!.once('exit', (code, signal) => resolve(`exited with ${code ?? signal}`));
      child!.once('error', (e) => resolve(e.message));
    });
    // The pid file appears once every export exists (the daemon's readiness signal).
    const deadline = Date.now() + READY_MS;
    let exit: string | undefined;
    void exited.then((e) => { exit = e; });
    while (!existsSync(pidfile)) {
      if (exit) {
        if (/fuse|mount/i.test(stderr)) throw new VolumeFileUnavailableError(`the FUSE export cannot be mounted here: ${stderr.trim()}`, 'file restore copies the volume instead');
        throw new QemuProcessError(`qemu-storage-daemon for file restore ${exit}: ${stderr.trim()}`);
      }
      if (Date.now() > deadline) throw new QemuProcessError(`qemu-storage-daemon for file restore did not mount ${mountpoint} within ${READY_MS / 1000} s: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
  return { path: mountpoint, kind: 'nbd', close: stop };
};

async function isMounted(file: string): Promise<boolean> {
  const mounts = await fs.readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return mounts.split('\n').some((l) => l.split(' ')[1] === file);
}

// Recovery-site building blocks on QEMU: a point-in-time image served read-only over NBD by the
// recovery appliance (the kernel's `volumeExport`), a storage-daemon disk that reads through that export with a qcow2 scratch overlay
// for failover tests (writes land in the overlay, the image stays untouched), and promotion of an image
// into a qcow2 or raw file with `qemu-img convert`, checked with `qemu-img compare`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NbdServer } from '@opencdp/core/nbd';
import { QemuProcessError } from './qemu-errors.js';
import type { StorageDaemon } from './storage-daemon.js';

const run = promisify(execFile);

/** The NBD URI qemu tools use for an export of our server. */
export function nbdUri(server: NbdServer, exportName: string): string {
  return `nbd+unix:///${exportName}?socket=${server.path}`;
}

/**
 * Promotion: copies the exported image into `file` (`qcow2` or `raw`) with `qemu-img convert`. Fails
 * with QemuProcessError (the tool's own message) when the target cannot be written.
 */
export async function promoteToFile(server: NbdServer, exportName: string, file: string, format: 'qcow2' | 'raw'): Promise<void> {
  try {
    await run('qemu-img', ['convert', '-f', 'raw', '-O', format, nbdUri(server, exportName), file]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new QemuProcessError(`promoting '${exportName}' into ${file} failed: ${stderr || (error as Error).message}`, 'check that the target folder is writable and has room');
  }
}

/** `qemu-img compare`: true when both images hold the same guest-visible bytes. */
export async function imagesEqual(a: { file: string; format: 'qcow2' | 'raw' }, b: { file: string; format: 'qcow2' | 'raw' }): Promise<boolean> {
  try {
    await run('qemu-img', ['compare', '-q', '-f', a.format, '-F', b.format, a.file, b.file]);
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 1) return false;
    throw new QemuProcessError(`qemu-img compare ${a.file} ${b.file} failed: ${(error as { stderr?: string }).stderr?.trim() ?? (error as Error).message}`);
  }
}

/**
 * A failover-test disk in a storage daemon: an `nbd` node reading the image export (read-only) as the
 * backing of a qcow2 scratch overlay, exported writable as `node`. Writes go to `scratchFile`; dropping
 * the disk (`removeScratchDisk`) discards them, and the image never changes.
 */
export async function addScratchDisk(daemon: StorageDaemon, options: { node: string; server: NbdServer; exportName: string; scratchFile: string; sizeBytes: number }): Promise<void> {
  const { node, server, exportName, scratchFile, sizeBytes } = options;
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', scratchFile, String(sizeBytes)]);
  const qmp = daemon.qmp;
  await qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': `${node}-img`, server: { type: 'unix', path: server.path }, export: exportName, 'read-only': true });
  await qmp.execute('blockdev-add', { driver: 'file', 'node-name': `${node}-scratch`, filename: scratchFile });
  await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': node, file: `${node}-scratch`, backing: `${node}-img` });
  await qmp.execute('block-export-add', { type: 'nbd', id: node, 'node-name': node, name: node, writable: true });
}

export async function removeScratchDisk(daemon: StorageDaemon, node: string): Promise<void> {
  const qmp = daemon.qmp;
  const deleted = qmp.waitForEvent('BLOCK_EXPORT_DELETED', (e) => e.data?.id === node, 5000).catch(() => undefined);
  await qmp.execute('block-export-del', { id: node });
  await deleted;
  for (const n of [node, `${node}-scratch`, `${node}-img`]) await qmp.execute('blockdev-del', { 'node-name': n });
}

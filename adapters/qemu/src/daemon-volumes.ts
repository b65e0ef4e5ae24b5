// A VM's disk in a qemu-storage-daemon (`QemuHypervisor`): its image (raw, or qcow2 where bitmaps must
// persist), its block node and NBD export in the daemon, the guest's NBD connection to it, and — for
// recovery disks — the qcow2 scratch overlay over the point-in-time image and the copy-on-read filter that
// promotion reads through. The hypervisor decides which daemon and when; this module knows the QMP.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import type { VolumeId, VolumeInfo, VolumeSource } from '@opencdp/core';
import { deleteExport } from './block-exports.js';
import { NbdClient } from '@opencdp/core/nbd';
import type { StorageDaemon } from './storage-daemon.js';

/** The image format of protected disks: raw (default), or qcow2, whose dirty bitmaps survive a clean restart. */
export type DiskFormat = 'raw' | 'qcow2';

export interface DaemonVolume {
  info: VolumeInfo;
  /** The image (protected VMs) or the qcow2 scratch overlay (recovery VMs). */
  file: string;
  format: DiskFormat;
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

export interface AttachOptions {
  /** O_DIRECT on the image (libvirt's `cache='none'`). */
  cacheDirect: boolean;
  /** The recovery appliance's NBD server socket, where recovery disks' images are exported. */
  imageServerPath: string;
}

/** Creates a zero image of `sizeBytes` (sparse raw, or an empty qcow2). */
export async function createImage(file: string, sizeBytes: number, format: DiskFormat): Promise<void> {
  if (format === 'qcow2') {
    await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(sizeBytes)]);
    return;
  }
  const handle = await fs.open(file, 'w');
  await handle.truncate(sizeBytes);
  await handle.close();
}

/** Adds the disk's nodes to the daemon and exports the top one over NBD (writable: the guest's disk). */
export async function attachVolume(daemon: StorageDaemon, v: DaemonVolume, o: AttachOptions): Promise<void> {
  if (v.recovered) {
    const r = v.recovered;
    if (!(await fs.stat(v.file).then(() => true, () => false))) await createImage(v.file, v.info.sizeBytes, 'qcow2');
    if (r.attached) {
      await daemon.qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': `${v.node}-img`, server: { type: 'unix', path: o.imageServerPath }, export: r.exportName, 'read-only': true });
    }
    await daemon.qmp.execute('blockdev-add', { driver: 'file', 'node-name': `${v.node}-scratch`, filename: v.file });
    await daemon.qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': v.node, file: `${v.node}-scratch`, backing: r.attached ? `${v.node}-img` : null });
    await daemon.qmp.execute('block-export-add', { type: 'nbd', id: v.node, 'node-name': v.node, name: v.node, writable: true, 'allocation-depth': true });
    return;
  }
  const file = { driver: 'file', filename: v.file, cache: { direct: o.cacheDirect }, ...(o.cacheDirect ? { aio: 'threads' } : {}) };
  // qcow2: the file node is defined inline, so deleting the disk's node deletes it too.
  await daemon.qmp.execute('blockdev-add', v.format === 'qcow2'
    ? { driver: 'qcow2', 'node-name': v.node, file: { ...file, 'node-name': `${v.node}-file` } }
    : { ...file, 'node-name': v.node });
  await daemon.qmp.execute('block-export-add', { type: 'nbd', id: v.node, 'node-name': v.node, name: v.node, writable: true });
}

/** Removes the disk's export and nodes from a live daemon (the image file stays). */
export async function detachVolume(daemon: StorageDaemon, v: DaemonVolume): Promise<void> {
  await dropCopyOnRead(daemon, v);
  await deleteExport(daemon.qmp, v.node);
  for (const node of v.recovered ? [v.node, `${v.node}-scratch`, `${v.node}-img`] : [v.node]) {
    await waitUntil(async () => !(await hasNode(daemon, node)) || (await daemon.qmp.execute('blockdev-del', { 'node-name': node }).then(() => true, () => false)), 5000);
  }
}

/** The guest's NBD connection to the disk's export on `daemon`, opened on first use. */
export function volumeClient(daemon: StorageDaemon, v: DaemonVolume): Promise<NbdClient> {
  if (!v.client) {
    const client = NbdClient.connect({ path: daemon.nbdPath, exportName: v.node });
    v.client = client;
    client.then((c) => c.onClose(() => { if (v.client === client) v.client = undefined; }), () => { if (v.client === client) v.client = undefined; });
  }
  return v.client;
}

export function dropClient(v: DaemonVolume): void {
  const c = v.client;
  v.client = undefined;
  c?.then((client) => client.destroy(), () => undefined);
}

/** Runs `fn` after every earlier locked operation on the volume (recovery disks only; others run at once). */
export function lockedVolume<T>(v: DaemonVolume, fn: () => Promise<T>): Promise<T> {
  if (!v.recovered) return fn();
  const run = (v.lock ?? Promise.resolve()).then(fn, fn);
  v.lock = run.catch(() => undefined);
  return run;
}

/** The disk's copy-on-read filter (node and read-only export `<node>-cor`) and a client on it, made on first use per daemon. */
export function copyOnRead(daemon: StorageDaemon, v: DaemonVolume): Promise<NbdClient> {
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

export async function dropCopyOnRead(daemon: StorageDaemon, v: DaemonVolume): Promise<void> {
  const cor = v.cor;
  v.cor = undefined;
  if (!cor) return;
  await cor.client.then((c) => c.close(), () => undefined);
  if (cor.daemon !== daemon || !daemon.alive) return;
  const name = `${v.node}-cor`;
  await deleteExport(daemon.qmp, name);
  await daemon.qmp.execute('blockdev-del', { 'node-name': name }).catch(() => undefined);
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

export const runTool = promisify(execFile);

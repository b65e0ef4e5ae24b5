// The QEMU objects of one fleecing view in one QEMU process, and their removal. Per drive k: a temporary
// qcow2 (`<id>-t<k>` on `<viewsDir>/<id>-<k>.qcow2`), the backup job `<id>-j<k>` (`blockdev-backup
// sync=none`, whose copy-before-write filter `<id>-c<k>` moves above the drive and copies each old cluster
// into the qcow2 before the guest overwrites it), a `snapshot-access` node `<id>-a<k>` over the filter that
// reads the frozen state, and a read-only NBD export `<id>-e<k>` of it (`<id>-b<k>` while a bitmap is read).
// Every name derives from the view id, so a killed appliance's leftovers are found by name and removed in
// the one order QEMU accepts: exports, access nodes, jobs (cancelled, gone), qcow2 nodes, files.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { VIEW_NAME_PREFIX, type VmId, type VolumeId } from '@opencdp/core';
import { deleteExport } from './block-exports.js';
import { QemuProcessError } from './qemu-errors.js';
import type { QmpClient } from './qmp-client.js';

/** A view id: `opencdp-v` + 8 hex digits; QEMU node names (≤ 31 bytes) are built from it. */
export const VIEW_ID = /^opencdp-v[0-9a-f]{8}$/;
const OBJECT = /^(opencdp-v[0-9a-f]{8})-([taecfjb])(\d+)$/;

/** What a view's descriptor file records (written before anything is added; removed last). */
export interface ViewDescriptor {
  version: 1;
  id: string;
  name: string;
  /** The QEMU process holding it (a host id, a guest's VM id). */
  site: string;
  vmIds: VmId[];
  drives: { vmId: VmId; volumeId: VolumeId; node: string }[];
  createdAt: number;
}

export const objectName = (id: string, kind: 't' | 'a' | 'e' | 'c' | 'f' | 'j' | 'b', k: number): string => `${id}-${kind}${k}`;

export function targetFile(viewsDir: string, id: string, k: number): string {
  return path.join(viewsDir, `${id}-${k}.qcow2`);
}

function descriptorFile(viewsDir: string, id: string): string {
  return path.join(viewsDir, `${id}.json`);
}

export async function writeDescriptor(viewsDir: string, d: ViewDescriptor): Promise<void> {
  await fs.mkdir(viewsDir, { recursive: true, mode: 0o700 });
  await fs.writeFile(descriptorFile(viewsDir, d.id), JSON.stringify(d), { mode: 0o600 });
}

export async function readDescriptor(viewsDir: string, id: string): Promise<ViewDescriptor | undefined> {
  try {
    const d = JSON.parse(await fs.readFile(descriptorFile(viewsDir, id), 'utf8')) as ViewDescriptor;
    // Written by this module only; a damaged one is treated as missing (its objects become orphans, still removed).
    if (d?.version !== 1 || d.id !== id || typeof d.name !== 'string' || !Array.isArray(d.vmIds) || typeof d.site !== 'string') return undefined;
    return d;
  } catch {
    return undefined;
  }
}

/** Ids of the views whose descriptors (or qcow2 files) are in `viewsDir`. */
export async function idsOnDisk(viewsDir: string): Promise<Set<string>> {
  const names = await fs.readdir(viewsDir).catch(() => [] as string[]);
  const ids = new Set<string>();
  for (const n of names) {
    const m = /^(opencdp-v[0-9a-f]{8})(?:\.json|-\d+\.qcow2)$/.exec(n);
    if (m) ids.add(m[1]);
  }
  return ids;
}

/** The ids of the views that have objects (nodes, jobs, exports) in the process behind `qmp`. */
export async function idsInProcess(qmp: QmpClient): Promise<Set<string>> {
  const ids = new Set<string>();
  const add = (name: string): void => {
    const m = OBJECT.exec(name);
    if (m) ids.add(m[1]);
  };
  for (const n of await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })) add(n['node-name']);
  for (const j of await qmp.execute<{ device: string }[]>('query-block-jobs')) add(j.device);
  for (const e of await qmp.execute<{ id: string }[]>('query-block-exports')) add(e.id);
  return ids;
}

/** A name for a view that lost its descriptor (still ours, still listed under the prefix). */
export function orphanName(id: string): string {
  return `${VIEW_NAME_PREFIX}orphan-${id}`;
}

/** Creates the temporary qcow2 files of a view (one per drive), each the size of its drive. */
export async function createTargets(viewsDir: string, id: string, sizes: readonly number[]): Promise<void> {
  await fs.mkdir(viewsDir, { recursive: true, mode: 0o700 });
  await Promise.all(sizes.map(async (size, k) => {
    try {
      await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', targetFile(viewsDir, id, k), String(size)]);
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new QemuProcessError(`qemu-img could not create the fleecing image ${targetFile(viewsDir, id, k)}: ${(err.stderr ?? err.message).trim()}`, 'check the free space and permissions of the views folder');
    }
    await fs.chmod(targetFile(viewsDir, id, k), 0o600);
  }));
}

/**
 * Removes every object of view `id` from the process, in the order QEMU needs (other orders fail, or leave an
 * export that cannot be read): exports, snapshot-access nodes, backup jobs (cancelled, waited for until gone;
 * their copy-before-write filters go with them), the qcow2 nodes (their file nodes with them), stray file
 * nodes. Idempotent: what is not there is skipped. Throws when QEMU refuses a step.
 */
export async function removeObjects(qmp: QmpClient, id: string): Promise<void> {
  const mine = (name: string, kinds: string): boolean => {
    const m = OBJECT.exec(name);
    return m !== null && m[1] === id && kinds.includes(m[2]);
  };
  for (const e of await qmp.execute<{ id: string }[]>('query-block-exports')) if (mine(e.id, 'eb')) await deleteExport(qmp, e.id);
  const nodes = async (): Promise<string[]> => (await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })).map((n) => n['node-name']);
  for (const n of await nodes()) if (mine(n, 'a')) await qmp.execute('blockdev-del', { 'node-name': n });
  for (const j of await qmp.execute<{ device: string; status?: string }[]>('query-block-jobs')) {
    if (!mine(j.device, 'j')) continue;
    const gone = qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === j.device && e.data?.status === 'null', 15_000).catch(() => undefined);
    const cancelling = await qmp.execute('block-job-cancel', { device: j.device, force: true }).then(() => true, () => false);
    if (cancelling) await gone;
    // A job that had concluded (not auto-dismissed) waits for a dismiss.
    await qmp.execute('job-dismiss', { id: j.device }).catch(() => undefined);
  }
  const deadline = Date.now() + 15_000;
  while ((await qmp.execute<{ device: string }[]>('query-block-jobs')).some((j) => mine(j.device, 'j'))) {
    if (Date.now() > deadline) throw new QemuProcessError(`the backup jobs of view '${id}' did not end within 15 s of their cancel`);
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const n of await nodes()) if (mine(n, 't')) await qmp.execute('blockdev-del', { 'node-name': n });
  for (const n of await nodes()) if (mine(n, 'f')) await qmp.execute('blockdev-del', { 'node-name': n });
}

/** Deletes the view's files (qcow2 images, then the descriptor). */
export async function removeFiles(viewsDir: string, id: string): Promise<void> {
  const names = await fs.readdir(viewsDir).catch(() => [] as string[]);
  for (const n of names) if (n.startsWith(`${id}-`) && n.endsWith('.qcow2')) await fs.rm(path.join(viewsDir, n), { force: true });
  await fs.rm(descriptorFile(viewsDir, id), { force: true });
}

const runTool = promisify(execFile);

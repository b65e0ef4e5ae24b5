// The drives of an adopted guest: named ones (node names, device names or qdev ids) or every writable disk
// attached to a guest device, resolved against the guest's block layer on every connect, as volumes whose
// ids follow their order (what keys the recovery site's journals); and the check that each is still the
// top node of its device before a splitter attaches.
import { ValidationError, type VmId, type VolumeInfo } from '@opencdp/core';
import { DriveBusyError } from './qemu-errors.js';
import type { QmpClient } from './qmp-client.js';

export interface GuestDrive {
  volume: VolumeInfo;
  /** How the drive was named (or the qdev id / device / node found by discovery): re-resolved on every connect. */
  selector: string;
  /** The drive's top node in the current process. */
  node: string;
}

export interface BlockInfo {
  device: string;
  qdev?: string;
  removable?: boolean;
  inserted?: { 'node-name': string; ro: boolean; image: { 'virtual-size': number } };
}

/** Who the drives belong to, for ids and errors. */
export interface DriveOwner {
  vmId: VmId;
  name: string;
  /** Named drives, or undefined for every writable disk. */
  drives?: string[];
  /** Names a config field under the guest's section (e.g. `drives.1` → `guests.0.drives.1`). */
  field(sub: string): string;
}

const qdevId = (b: BlockInfo): string | undefined => /^\/machine\/peripheral\/([^/]+)/.exec(b.qdev ?? '')?.[1];

/** Named drives, or every writable disk attached to a guest device, as volumes with stable ids (their order). */
export async function resolveGuestDrives(qmp: QmpClient, owner: DriveOwner): Promise<GuestDrive[]> {
  const blocks = await qmp.execute<BlockInfo[]>('query-block');
  const nodes = (await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })).map((n) => n['node-name']);
  const disks = blocks.filter((b) => b.inserted);
  const find = (selector: string): BlockInfo | undefined => disks.find((b) => b.inserted!['node-name'] === selector || (b.device !== '' && b.device === selector) || qdevId(b) === selector);
  const describe = (b: BlockInfo): string => qdevId(b) ?? (b.device || b.inserted!['node-name']);
  let chosen: { block: BlockInfo; selector: string }[];
  if (owner.drives) {
    chosen = owner.drives.map((selector, i) => {
      const block = find(selector);
      if (!block) {
        const below = nodes.includes(selector) ? ` It is a block node, but not the top node of a guest disk (name the disk's top node, e.g. '${disks[0]?.inserted?.['node-name'] ?? '…'}').` : '';
        throw new ValidationError(`guest '${owner.name}' has no drive '${selector}'.${below} Its disks: ${disks.map((b) => `'${b.inserted!['node-name']}' (${describe(b)})`).join(', ') || 'none'}`, owner.field(`drives.${i}`));
      }
      if (block.inserted!.ro) throw new ValidationError(`drive '${selector}' of guest '${owner.name}' is read-only: nothing to protect`, owner.field(`drives.${i}`));
      return { block, selector };
    });
    const seen = new Set<string>();
    chosen.forEach((c, i) => {
      const node = c.block.inserted!['node-name'];
      if (seen.has(node)) throw new ValidationError(`drive '${c.selector}' names disk '${node}' a second time`, owner.field(`drives.${i}`));
      seen.add(node);
    });
  } else {
    chosen = disks.filter((b) => !b.inserted!.ro).map((b) => ({ block: b, selector: describe(b) }));
  }
  const out: GuestDrive[] = [];
  for (const [k, { block, selector }] of chosen.entries()) {
    const node = block.inserted!['node-name'];
    out.push({
      selector, node,
      volume: { id: `${owner.vmId}-d${k}`, vmId: owner.vmId, name: describe(block), sizeBytes: block.inserted!.image['virtual-size'], sectorSize: await logicalBlockSize(qmp, block) },
    });
  }
  return out;
}

/**
 * Each drive must still be the top node of its device: a block job of someone else (a storage migration,
 * a backup) inserts a filter above it, and a second mirror cannot attach there. Explicit filters show here,
 * before anything is added; implicit ones (query-block skips them) make the mirror fail, and the tap's
 * open removes what it attached for the other drives.
 */
export async function checkDrivesFree(qmp: QmpClient, vmId: VmId, guestDrives: readonly GuestDrive[]): Promise<void> {
  const blocks = await qmp.execute<BlockInfo[]>('query-block');
  const nodes = await qmp.execute<{ 'node-name': string; drv: string }[]>('query-named-block-nodes', { flat: true });
  const tops = new Set(blocks.map((b) => b.inserted?.['node-name']));
  for (const d of guestDrives) {
    if (tops.has(d.node)) continue;
    const block = blocks.find((b) => qdevId(b) === d.volume.name || b.device === d.volume.name);
    const top = block?.inserted?.['node-name'];
    const drv = nodes.find((n) => n['node-name'] === top)?.drv;
    throw new DriveBusyError(vmId, d.volume.name, top ? `a '${drv ?? 'filter'}' node ('${top}') sits above its node '${d.node}'` : `its node '${d.node}' is no longer the top of a guest disk`);
  }
}

/** The guest device's logical block size (virtio-blk, scsi-hd: `logical_block_size`), 512 when QEMU does not say. */
async function logicalBlockSize(qmp: QmpClient, block: BlockInfo): Promise<number> {
  const paths = [block.qdev, block.qdev?.replace(/\/virtio-backend$/, '')].filter((p): p is string => !!p);
  for (const p of paths) {
    const size = await qmp.execute<number>('qom-get', { path: p, property: 'logical_block_size' }).catch(() => undefined);
    if (size === 512 || size === 4096) return size;
  }
  return 512;
}

// VMDK text descriptors: parsing the extent lines of a flat disk (so a reader knows which `-flat.vmdk`
// files hold which sectors) and writing the descriptor of an uploaded recovery disk (createType "vmfs",
// one VMFS extent: what ESXi itself writes for a flat disk; qemu-img reads it too).
import { randomBytes } from 'node:crypto';
import { ValidationError } from '@opencdp/core';

export interface VmdkExtent {
  access: 'RW' | 'RDONLY' | 'NOACCESS';
  sectors: number;
  type: string;
  /** File name relative to the descriptor's folder. */
  file: string;
  /** Sector offset inside the extent file. */
  offset: number;
}

export interface VmdkDescriptor {
  createType: string;
  extents: VmdkExtent[];
  parentFileNameHint?: string;
}

const FLAT_TYPES = new Set(['FLAT', 'VMFS']);

/** Parses a descriptor; throws ValidationError for what a flat reader cannot serve (sparse or delta disks). */
export function parseVmdkDescriptor(text: string, where: string): VmdkDescriptor {
  let createType = '';
  let parentFileNameHint: string | undefined;
  const extents: VmdkExtent[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const kv = /^([A-Za-z.]+)\s*=\s*"?([^"]*)"?$/.exec(line);
    if (kv) {
      if (kv[1] === 'createType') createType = kv[2];
      if (kv[1] === 'parentFileNameHint') parentFileNameHint = kv[2];
      continue;
    }
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Z]+)\s+"([^"]+)"(?:\s+(\d+))?/.exec(line);
    if (ext) extents.push({ access: ext[1] as VmdkExtent['access'], sectors: Number(ext[2]), type: ext[3], file: ext[4], offset: Number(ext[5] ?? 0) });
  }
  if (extents.length === 0) throw new ValidationError(`the VMDK descriptor ${where} lists no extents`, 'descriptor');
  const unsupported = extents.find((e) => !FLAT_TYPES.has(e.type));
  if (unsupported || parentFileNameHint) {
    throw new ValidationError(`the VMDK descriptor ${where} is a ${parentFileNameHint ? 'delta' : unsupported!.type} disk; the datastore transport reads flat extents only`,
      'descriptor', 'read such disks through a VDDK transport (NBD/HotAdd), which understands every disk format');
  }
  return { createType, extents, ...(parentFileNameHint ? { parentFileNameHint } : {}) };
}

/** The descriptor of a flat disk of `capacityBytes` (a multiple of 512) whose data is `flatFileName`. */
export function flatDescriptor(options: { capacityBytes: number; flatFileName: string; adapterType?: string; uuid?: string }): string {
  const { capacityBytes, flatFileName } = options;
  if (capacityBytes <= 0 || capacityBytes % 512 !== 0) throw new ValidationError(`disk capacity ${capacityBytes} is not a positive multiple of 512 bytes`, 'capacityBytes');
  if (/["\n/]/.test(flatFileName)) throw new ValidationError(`extent file name '${flatFileName}' must be a plain file name`, 'flatFileName');
  const sectors = capacityBytes / 512;
  // Geometry as ESXi computes it for SCSI disks: 255 heads, 63 sectors per track.
  const cylinders = Math.max(1, Math.floor(sectors / (255 * 63)));
  const uuid = options.uuid ?? randomBytes(16).toString('hex').match(/../g)!.join(' ');
  return [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    `CID=${randomBytes(4).toString('hex')}`,
    'parentCID=ffffffff',
    'createType="vmfs"',
    '',
    '# Extent description',
    `RW ${sectors} VMFS "${flatFileName}"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    `ddb.adapterType = "${options.adapterType ?? 'lsilogic'}"`,
    `ddb.geometry.cylinders = "${cylinders}"`,
    'ddb.geometry.heads = "255"',
    'ddb.geometry.sectors = "63"',
    `ddb.uuid = "${uuid}"`,
    'ddb.virtualHWVersion = "13"',
    '',
  ].join('\n');
}

// The disk formats a checkpoint image can be exported to: qemu-img's name and options for each, the file
// extension, and what the format can hold (largest disk, logical sector sizes), so a volume a format
// cannot take is refused before anything is written.
import { OpenCdpError, ValidationError } from '../errors.js';
import type { ImageFormat } from './image-api.js';

const TiB = 1024 ** 4;

export interface ImageFormatSpec {
  format: ImageFormat;
  /** `qemu-img -O` and `-o`. */
  qemuFormat: string;
  qemuOptions: string[];
  extension: string;
  /** Largest virtual disk the format (or the platforms that read it) takes. */
  maxBytes: number;
  /** Why `maxBytes`, for the error message. */
  maxReason: string;
  /** Logical sector sizes the format can describe. */
  sectorSizes: readonly number[];
  description: string;
}

export const IMAGE_FORMATS: Readonly<Record<ImageFormat, ImageFormatSpec>> = {
  raw: {
    format: 'raw', qemuFormat: 'raw', qemuOptions: [], extension: '.img', maxBytes: Number.MAX_SAFE_INTEGER, maxReason: '',
    sectorSizes: [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536], description: 'the bytes of the volume, holes left sparse',
  },
  qcow2: {
    format: 'qcow2', qemuFormat: 'qcow2', qemuOptions: [], extension: '.qcow2', maxBytes: Number.MAX_SAFE_INTEGER, maxReason: '',
    sectorSizes: [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536], description: 'QEMU copy-on-write v3',
  },
  'vmdk-flat': {
    format: 'vmdk-flat', qemuFormat: 'vmdk', qemuOptions: ['subformat=monolithicFlat'], extension: '.vmdk', maxBytes: 62 * TiB,
    maxReason: 'the largest virtual disk vSphere takes is 62 TiB', sectorSizes: [512],
    description: 'VMDK monolithicFlat: a descriptor and a flat extent (<name>-flat.vmdk)',
  },
  'vmdk-stream': {
    format: 'vmdk-stream', qemuFormat: 'vmdk', qemuOptions: ['subformat=streamOptimized'], extension: '.vmdk', maxBytes: 2 * TiB - 512,
    maxReason: 'a VMDK sparse extent addresses grains with 32-bit sector numbers (2 TiB − 512 B)', sectorSizes: [512],
    description: 'VMDK streamOptimized (vSphere and OVF import)',
  },
  vhdx: {
    format: 'vhdx', qemuFormat: 'vhdx', qemuOptions: ['subformat=dynamic'], extension: '.vhdx', maxBytes: 64 * TiB,
    maxReason: 'VHDX holds at most 64 TiB', sectorSizes: [512, 4096], description: 'dynamic VHDX (Hyper-V)',
  },
};

export const IMAGE_FORMAT_NAMES = Object.keys(IMAGE_FORMATS) as ImageFormat[];

/** The volume cannot be written in the format asked for; nothing was written. */
export class ImageFormatError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('IMAGE_FORMAT', message, hint ?? 'choose another format (qcow2 and raw take every volume)');
  }
}

export function formatSpec(format: unknown): ImageFormatSpec {
  if (typeof format !== 'string' || !Object.hasOwn(IMAGE_FORMATS, format)) {
    throw new ValidationError(`format '${String(format)}' is not one of ${IMAGE_FORMAT_NAMES.join(', ')}`, 'format');
  }
  return IMAGE_FORMATS[format as ImageFormat];
}

/** Throws ImageFormatError when a volume of this size and sector size cannot be written as `format`. */
export function checkFormatFits(spec: ImageFormatSpec, volume: { id: string; sizeBytes: number; sectorSize: number }): void {
  if (volume.sizeBytes > spec.maxBytes) {
    throw new ImageFormatError(`volume '${volume.id}' (${volume.sizeBytes} bytes) is larger than ${spec.format} takes: ${spec.maxReason}`);
  }
  if (!spec.sectorSizes.includes(volume.sectorSize)) {
    throw new ImageFormatError(`volume '${volume.id}' has ${volume.sectorSize}-byte sectors; ${spec.format} describes ${spec.sectorSizes.join(' or ')}-byte sectors only`,
      spec.format.startsWith('vmdk') ? 'export it as vhdx (4096-byte logical sectors), qcow2 or raw' : undefined);
  }
}

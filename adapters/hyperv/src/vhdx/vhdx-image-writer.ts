// Checkpoint images as dynamic VHDX files written by our own streaming writer: the kernel's ImageWriter
// for `vhdx`, used where qemu-img cannot write the disk — a volume with 4096-byte logical sectors (qemu-img
// writes VHDX with 512-byte sectors only) or a host without qemu-img. Holes of the image are neither read
// nor allocated (the image's allocation map); every byte is checked against qemu-img in its spec.
import type { ImageFormatSpec, ImageWriteJob, ImageWriteResult, ImageWriter } from '@opencdp/core';
import { DEFAULT_BLOCK_SIZE, writeVhdx } from './vhdx-writer.js';

export class VhdxImageWriter implements ImageWriter {
  readonly name = 'native';

  constructor(private readonly options: { blockSize?: number } = {}) {}

  supports(spec: ImageFormatSpec, sectorSize: number): boolean {
    return spec.format === 'vhdx' && (sectorSize === 512 || sectorSize === 4096);
  }

  async write(job: ImageWriteJob): Promise<ImageWriteResult> {
    const file = `${job.baseName}${job.spec.extension}`;
    await writeVhdx(`${job.dir}/${file}`, {
      sizeBytes: job.sizeBytes,
      read: (offset, length) => job.source.read(job.volumeId, offset, length),
      allocated: async () => job.allocation.map((r) => ({ offset: r.offset, length: r.length })),
    }, {
      blockSize: this.options.blockSize ?? DEFAULT_BLOCK_SIZE, logicalSectorSize: job.sectorSize,
      onProgress: (done, total) => job.progress(total === 0 ? 1 : done / total),
    });
    return { file, files: [file] };
  }
}

// Checkpoint images as disks: any retained checkpoint of a VM's volume, exported as a file in a disk format
// or served live, read-only, over NBD for as long as the user keeps the session. The recovery appliance
// implements it beside its journals; the manager drives it over the control link. Plain data in and out,
// so the calls cross a process boundary unchanged.
import type { CheckpointId, GroupId, VmId, VolumeId } from '../model.js';
import type { ProgressSink } from '../recovery/recovery-api.js';

/**
 * `raw`: the bytes, sparse. `qcow2`. `vmdk-flat`: VMDK monolithicFlat (a descriptor `.vmdk` and its
 * `-flat.vmdk` extent). `vmdk-stream`: VMDK streamOptimized (vSphere / OVF import). `vhdx`: dynamic VHDX.
 */
export type ImageFormat = 'raw' | 'qcow2' | 'vmdk-flat' | 'vmdk-stream' | 'vhdx';

/** One volume of one VM at one checkpoint of a group. */
export interface ImageTarget {
  groupId: GroupId;
  checkpointId: CheckpointId;
  vmId: VmId;
  volumeId: VolumeId;
}

export interface ImageExportRequest extends ImageTarget {
  format: ImageFormat;
  /**
   * File name without extension (letters, digits, `.`, `_`, `-`; at most 100 characters); the format adds
   * its extension. Default: `<vm>-<volume>-<checkpoint>`, made safe.
   */
  name?: string;
}

export interface ImageFileInfo {
  /** The file's name inside the export's folder. */
  name: string;
  /** Its length. */
  sizeBytes: number;
  /** Bytes it occupies on disk (holes excluded). */
  allocatedBytes: number;
  sha256: string;
}

/** What an export wrote: kept beside the files, listed later, downloadable through the manager. */
export interface ImageExportReport extends ImageTarget {
  id: string;
  format: ImageFormat;
  /** Which writer made it: `qemu-img` (reading the image over NBD) or `native` (TypeScript). */
  engine: string;
  checkpointTimestamp: number;
  virtualSizeBytes: number;
  sectorSize: number;
  /** Bytes of the image that may hold data (its allocation): what was read; the rest are holes. */
  dataBytes: number;
  /** The file to open (for `vmdk-flat`, the descriptor). */
  file: string;
  files: ImageFileInfo[];
  /** Bytes the files occupy on disk. */
  bytesWritten: number;
  /** SHA-256 of `file`. */
  sha256: string;
  startedAt: number;
  endedAt: number;
}

export interface ImageServeRequest extends ImageTarget {
  /** The session ends after this many seconds without a request (default 900, at most 86,400). */
  idleTimeoutSec?: number;
}

/** A checkpoint's volume served read-only over NBD while the session lasts; its checkpoint stays pinned. */
export interface ImageSessionInfo extends ImageTarget {
  id: string;
  checkpointTimestamp: number;
  sizeBytes: number;
  /** The NBD export name: a random token, so only those told the session can open it. */
  exportName: string;
  /** The UNIX socket the appliance serves it on (mode 0600). */
  socketPath: string;
  /** `nbd+unix:///<export>?socket=<path>`, as qemu-img, qemu-nbd and nbdkit clients take it. */
  uri: string;
  idleTimeoutSec: number;
  startedAt: number;
  lastActivityAt: number;
  /** Clients connected now. */
  connections: number;
}

export interface ImageOperations {
  /** Exports the image as a file in the appliance's export folder; resolves with what was written. */
  exportImage(request: ImageExportRequest, progress?: ProgressSink): Promise<ImageExportReport>;
  /** Exports kept on the appliance, oldest first (optionally of one group). */
  listExports(groupId?: GroupId): Promise<ImageExportReport[]>;
  /** Up to `length` bytes (at most 4 MiB) of one file of an export, from `offset`; fewer only at its end. */
  readExportFile(exportId: string, fileName: string, offset: number, length: number): Promise<Buffer>;
  deleteExport(exportId: string): Promise<void>;
  /** Serves the image over NBD until `stopSession` or the idle timeout. */
  serveImage(request: ImageServeRequest): Promise<ImageSessionInfo>;
  listSessions(groupId?: GroupId): Promise<ImageSessionInfo[]>;
  /** Ends the session: connections drop, the checkpoint is released. */
  stopSession(sessionId: string): Promise<void>;
}

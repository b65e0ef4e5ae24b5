// The recovery appliance's ImageOperations: file exports (ImageExports) and live NBD sessions
// (ImageSessions) over the same journals and group definitions, as one object the control link serves.
import type { GroupId } from '../model.js';
import type { ProgressSink } from '../recovery/recovery-api.js';
import type { ImageExportReport, ImageExportRequest, ImageOperations, ImageServeRequest, ImageSessionInfo } from './image-api.js';
import { ImageExports, type ImageExportsOptions } from './image-exports.js';
import { ImageSessions, type ImageSessionsOptions } from './image-sessions.js';

export type ImageServiceOptions = Omit<ImageExportsOptions, 'dir'> & Omit<ImageSessionsOptions, 'socketDir'> & {
  /** Where exports are written (one folder each). */
  exportDir: string;
  /** Where live sessions' sockets go. */
  socketDir: string;
};

export class ImageService implements ImageOperations {
  private constructor(readonly exports: ImageExports, readonly sessions: ImageSessions) {}

  static async open(options: ImageServiceOptions): Promise<ImageService> {
    const { exportDir, socketDir, ...common } = options;
    return new ImageService(await ImageExports.open({ ...common, dir: exportDir }), new ImageSessions({ ...common, socketDir }));
  }

  exportImage(request: ImageExportRequest, progress?: ProgressSink): Promise<ImageExportReport> {
    return this.exports.exportImage(request, progress);
  }

  async listExports(groupId?: GroupId): Promise<ImageExportReport[]> {
    return this.exports.list(groupId);
  }

  readExportFile(exportId: string, fileName: string, offset: number, length: number): Promise<Buffer> {
    return this.exports.readFile(exportId, fileName, offset, length);
  }

  deleteExport(exportId: string): Promise<void> {
    return this.exports.delete(exportId);
  }

  serveImage(request: ImageServeRequest): Promise<ImageSessionInfo> {
    return this.sessions.serve(request);
  }

  async listSessions(groupId?: GroupId): Promise<ImageSessionInfo[]> {
    return this.sessions.list(groupId);
  }

  stopSession(sessionId: string): Promise<void> {
    return this.sessions.stop(sessionId);
  }

  /** Ends every session (exports finish on their own). */
  close(): Promise<void> {
    return this.sessions.close();
  }
}

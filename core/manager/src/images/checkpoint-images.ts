// Checkpoint images as disks, through the manager: an export runs on the group's recovery appliance (where
// the journals are) as a task with its progress; the file stays in that appliance's export folder and is
// downloaded through here in chunks over the control link. Live NBD sessions are opened and stopped the
// same way. The manager keeps no state of its own: exports and sessions are listed from the appliances.
import { NotFoundError, OpenCdpError } from '@opencdp/core';
import type { ApplianceControl, ImageExportReport, ImageFormat, ImageOperations, ImageSessionInfo } from '@opencdp/core';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { ApplianceUnavailableError } from '../errors.js';
import { requireGroup } from '../groups/group-rules.js';
import { checkCheckpoint, checkVms } from '../recovery/recovery-guard.js';
import type { GroupRow, Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import { imageExportView, imageSessionView } from './image-views.js';
import type { TaskRunner } from '../tasks/task-runner.js';

export interface ImageExportOrder {
  vmId: string;
  volumeId: string;
  format: ImageFormat;
  name?: string;
}

export interface ImageServeOrder {
  vmId: string;
  volumeId: string;
  idleTimeoutSec?: number;
}

/** Chunk size of downloads over the control link (the appliance serves at most 4 MiB per call). */
export const DOWNLOAD_CHUNK_BYTES = 4 * 1024 * 1024;

export class CheckpointImages {
  constructor(private readonly store: Store, private readonly appliances: ApplianceRegistry, private readonly events: EventLog, private readonly tasks: TaskRunner) {}

  /** Starts an export on the group's recovery appliance; the task's result is the export's report. */
  async export(groupId: string, checkpointId: string, order: ImageExportOrder, user?: string): Promise<{ taskId: string }> {
    const g = requireGroup(this.store, groupId);
    const images = this.imagesOf(g);
    await this.check(g, checkpointId, order.vmId);
    const taskId = this.tasks.start('ExportImage', g.id, user, async (progress) => {
      const report = await images.exportImage({ groupId: g.id, checkpointId, vmId: order.vmId, volumeId: order.volumeId, format: order.format, ...(order.name ? { name: order.name } : {}) }, progress);
      this.events.record('ImageExported', `checkpoint ${checkpointId} of VM ${order.vmId} volume ${order.volumeId} exported as ${report.format} (${report.file}, ${report.bytesWritten} bytes written, sha256 ${report.sha256})`, g.id, user);
      return { result: imageExportView(report) };
    });
    return { taskId };
  }

  /** Opens a live NBD session on the group's recovery appliance (recorded as a task that completes at once). */
  async serve(groupId: string, checkpointId: string, order: ImageServeOrder, user?: string): Promise<{ taskId: string; session: ImageSessionInfo }> {
    const g = requireGroup(this.store, groupId);
    const images = this.imagesOf(g);
    await this.check(g, checkpointId, order.vmId);
    const session = await images.serveImage({ groupId: g.id, checkpointId, vmId: order.vmId, volumeId: order.volumeId, ...(order.idleTimeoutSec !== undefined ? { idleTimeoutSec: order.idleTimeoutSec } : {}) });
    const taskId = this.tasks.start('ServeImage', g.id, user, async () => {
      this.events.record('ImageSessionStarted', `checkpoint ${checkpointId} of VM ${order.vmId} volume ${order.volumeId} served over NBD (session ${session.id})`, g.id, user);
      return { result: imageSessionView(session) };
    });
    return { taskId, session };
  }

  /** Exports and sessions of every reachable appliance (of one group when given). */
  async list(groupId?: string): Promise<{ exports: ImageExportReport[]; sessions: ImageSessionInfo[] }> {
    if (groupId !== undefined) requireGroup(this.store, groupId);
    const exports: ImageExportReport[] = [];
    const sessions: ImageSessionInfo[] = [];
    for (const a of this.withImages()) {
      const found = await reachable(async () => ({ e: await a.images.listExports(groupId), s: await a.images.listSessions(groupId) }));
      if (!found) continue;
      exports.push(...found.e);
      sessions.push(...found.s);
    }
    return { exports, sessions };
  }

  async getExport(exportId: string): Promise<ImageExportReport> {
    return (await this.locateExport(exportId)).report;
  }

  /** Up to DOWNLOAD_CHUNK_BYTES of a file of an export. */
  async readExport(exportId: string, fileName: string, offset: number, length: number): Promise<Buffer> {
    const { images } = await this.locateExport(exportId);
    return images.readExportFile(exportId, fileName, offset, Math.min(length, DOWNLOAD_CHUNK_BYTES));
  }

  async deleteExport(exportId: string, user?: string): Promise<void> {
    const { images, report } = await this.locateExport(exportId);
    await images.deleteExport(exportId);
    this.events.record('ImageExportDeleted', `image export ${exportId} (${report.file}) deleted`, report.groupId, user);
  }

  async stopSession(sessionId: string, user?: string): Promise<void> {
    for (const a of this.withImages()) {
      const session = (await reachable(() => a.images.listSessions()))?.find((s) => s.id === sessionId);
      if (!session) continue;
      await a.images.stopSession(sessionId);
      this.events.record('ImageSessionStopped', `NBD session ${sessionId} stopped`, session.groupId, user);
      return;
    }
    throw new NotFoundError('image session', sessionId);
  }

  private async check(g: GroupRow, checkpointId: string, vmId: string): Promise<void> {
    checkVms(g, [vmId]);
    const recovery = this.appliances.recoveryAppliance(g)?.recovery;
    if (recovery) await checkCheckpoint(g, recovery, checkpointId);
  }

  private imagesOf(g: GroupRow): ImageOperations {
    const images = this.appliances.recoveryAppliance(g)?.images;
    if (!images) throw new ApplianceUnavailableError(`this manager reaches no appliance of site '${g.recoverySiteId}' that exports images of group '${g.name}'`);
    return images;
  }

  private withImages(): (ApplianceControl & { images: ImageOperations })[] {
    return this.appliances.list().filter((a): a is ApplianceControl & { images: ImageOperations } => a.images !== undefined);
  }

  private async locateExport(exportId: string): Promise<{ images: ImageOperations; report: ImageExportReport }> {
    for (const a of this.withImages()) {
      const report = (await reachable(() => a.images.listExports()))?.find((r) => r.id === exportId);
      if (report) return { images: a.images, report };
    }
    throw new NotFoundError('image export', exportId);
  }
}

/** The answer of an appliance, or undefined when it has no images (a protected-only appliance) or cannot be reached now. */
async function reachable<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof OpenCdpError && (e.code === 'UNSUPPORTED' || e.code === 'CONTROL_UNREACHABLE')) return undefined;
    throw e;
  }
}

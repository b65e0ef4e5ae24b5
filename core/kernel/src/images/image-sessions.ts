// Live NBD sessions on checkpoint images: while a session lasts its checkpoint stays pinned (the journal
// goes on taking writes and trimming younger history around it) and the image is served read-only on a
// UNIX socket of its own (0600, in a 0700 folder) under a random export name, with its holes reported by
// block status. A session ends on request, after `idleTimeoutSec` without a request (on the injected
// clock), or when the image stops being readable (its group was deleted); the checkpoint is then released.
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../clock.js';
import { ClosedError, NotFoundError, ValidationError } from '../errors.js';
import type { PointInTimeImage } from '../journal/point-in-time-image.js';
import type { GroupId } from '../model.js';
import { NbdServer } from '../nbd/nbd-server.js';
import { volumeExport } from '../nbd/volume-export.js';
import type { RecoveryGroupDirectory, RecoveryJournalSource } from '../recovery/recovery-platform.js';
import type { ImageServeRequest, ImageSessionInfo } from './image-api.js';
import { resolveImageTarget } from './image-targets.js';

export interface ImageSessionsOptions {
  clock: Clock;
  journals: RecoveryJournalSource;
  groups: RecoveryGroupDirectory;
  /** Folder of the sessions' sockets (created 0700); its path must stay short (UNIX sockets take 107 bytes). */
  socketDir: string;
  defaultIdleTimeoutSec?: number;
  newId?: () => string;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export const DEFAULT_IDLE_TIMEOUT_SEC = 900;
export const MAX_IDLE_TIMEOUT_SEC = 86_400;
/** Longest socket path we create (sun_path holds 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH = 100;

interface Session {
  info: ImageSessionInfo;
  image: PointInTimeImage;
  server: NbdServer;
  timer?: TimerHandle;
  stopping?: Promise<void>;
}

export class ImageSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly options: ImageSessionsOptions) {}

  async serve(request: ImageServeRequest): Promise<ImageSessionInfo> {
    const { target, journal, volume, checkpoint } = resolveImageTarget(this.options.groups, this.options.journals, request);
    const idle = request.idleTimeoutSec ?? this.options.defaultIdleTimeoutSec ?? DEFAULT_IDLE_TIMEOUT_SEC;
    if (!Number.isInteger(idle) || idle < 1 || idle > MAX_IDLE_TIMEOUT_SEC) throw new ValidationError(`idleTimeoutSec must be a whole number from 1 to ${MAX_IDLE_TIMEOUT_SEC}`, 'idleTimeoutSec');
    const id = this.options.newId?.() ?? randomUUID();
    const socketPath = path.join(this.options.socketDir, `${id.slice(0, 12)}.sock`);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new ValidationError(`the session socket ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes`, 'socketDir', 'give the appliance a shorter images socket folder');
    }
    await fs.mkdir(this.options.socketDir, { recursive: true, mode: 0o700 });
    await fs.chmod(this.options.socketDir, 0o700);
    const exportName = randomBytes(16).toString('hex');
    const now = this.options.clock.now();
    const info: ImageSessionInfo = {
      ...target, id, checkpointTimestamp: checkpoint.timestamp, sizeBytes: volume.sizeBytes, exportName, socketPath,
      uri: `nbd+unix:///${exportName}?socket=${socketPath}`, idleTimeoutSec: idle, startedAt: now, lastActivityAt: now, connections: 0,
    };
    const image = await journal.openImage(checkpoint.id);
    const server = new NbdServer({ path: socketPath });
    const session: Session = { info, image, server };
    const exp = volumeExport(image, volume.id, { onActivity: () => { info.lastActivityAt = this.options.clock.now(); } });
    server.addExport(exportName, exp);
    server.on('request-error', (e) => {
      // The journal closed under the session (group deleted, appliance stopping): nothing more can be read.
      if (e instanceof ClosedError) void this.end(session, 'image closed');
    });
    try {
      await server.listen();
      await fs.chmod(socketPath, 0o600);
    } catch (e) {
      await server.close();
      image.close();
      await fs.rm(socketPath, { force: true });
      throw e;
    }
    this.sessions.set(id, session);
    this.arm(session);
    this.options.log?.('image-session-started', { id, groupId: target.groupId, checkpointId: target.checkpointId, vmId: target.vmId, volumeId: target.volumeId, socketPath, idleTimeoutSec: idle });
    return this.view(session);
  }

  list(groupId?: GroupId): ImageSessionInfo[] {
    return [...this.sessions.values()].filter((s) => groupId === undefined || s.info.groupId === groupId).map((s) => this.view(s));
  }

  async stop(sessionId: string): Promise<void> {
    const s = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (!s) throw new NotFoundError('image session', String(sessionId));
    await this.end(s, 'stopped');
  }

  /** Ends every session (the appliance is stopping). */
  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.end(s, 'appliance stopping')));
  }

  private view(s: Session): ImageSessionInfo {
    return { ...s.info, connections: s.server.connections };
  }

  /** Fires when the session would have been idle for its timeout; later activity moves the deadline. */
  private arm(s: Session): void {
    const due = s.info.lastActivityAt + s.info.idleTimeoutSec * 1000 - this.options.clock.now();
    s.timer = this.options.clock.setTimer(Math.max(0, due), () => {
      s.timer = undefined;
      if (!this.sessions.has(s.info.id)) return;
      if (this.options.clock.now() - s.info.lastActivityAt >= s.info.idleTimeoutSec * 1000) void this.end(s, 'idle');
      else this.arm(s);
    });
  }

  private end(s: Session, reason: string): Promise<void> {
    s.stopping ??= (async () => {
      this.sessions.delete(s.info.id);
      s.timer?.cancel();
      await s.server.close();
      s.image.close();
      await fs.rm(s.info.socketPath, { force: true });
      this.options.log?.('image-session-ended', { id: s.info.id, reason });
    })();
    return s.stopping;
  }
}

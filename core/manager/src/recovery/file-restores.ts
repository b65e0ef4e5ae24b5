// File restore (R5): a VM volume opened read-only at a checkpoint by the recovery appliance; the user
// lists directories and downloads files through this manager. Paths are checked here, so an escaping
// path never reaches the appliance.
import { NotFoundError, ValidationError } from '@opencdp/core';
import type { FileRestoreSession, RecoveryOperations, RestoredFileEntry } from '@opencdp/core';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { requireGroup } from '../groups/group-rules.js';
import type { Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { checkCheckpoint, checkVms } from './recovery-guard.js';

/** Validates a path for file restore: absolute inside the volume, no `..`, no NUL or backslash. */
export function checkRestorePath(path: string): string {
  if (!path.startsWith('/')) throw new ValidationError(`path '${path}' must be absolute inside the volume (start with '/')`, 'path');
  if (/[\0\\]/.test(path)) throw new ValidationError('path holds a NUL or a backslash', 'path');
  if (path.split('/').some((seg) => seg === '..')) throw new ValidationError(`path '${path}' escapes with '..'`, 'path');
  return path;
}

interface OpenSession { groupId: string; recovery: RecoveryOperations; session: FileRestoreSession }

export class FileRestores {
  private readonly sessions = new Map<string, OpenSession>();

  constructor(private readonly store: Store, private readonly appliances: ApplianceRegistry, private readonly events: EventLog, private readonly tasks: TaskRunner) {}

  async open(id: string, req: { checkpointId: string; vmId: string; volumeId: string }, user?: string): Promise<{ taskId: string; sessionId: string }> {
    const g = requireGroup(this.store, id);
    const recovery = this.appliances.recoveryOf(g);
    checkVms(g, [req.vmId]);
    await checkCheckpoint(g, recovery, req.checkpointId);
    const session = await recovery.openFileRestore(g.id, req.checkpointId, req.vmId, req.volumeId);
    this.sessions.set(session.id, { groupId: g.id, recovery, session });
    const taskId = this.tasks.start('FileRestore', g.id, user, async () => {
      this.events.record('FileRestore', `file restore opened on group '${g.name}' VM ${req.vmId} at checkpoint ${req.checkpointId}`, g.id, user);
      return { result: { sessionIdentifier: session.id } };
    });
    return { taskId, sessionId: session.id };
  }

  private session(sessionId: string): OpenSession {
    const s = this.sessions.get(sessionId);
    if (!s) throw new NotFoundError('file restore session', sessionId);
    return s;
  }

  listFiles(sessionId: string, path: string): Promise<RestoredFileEntry[]> {
    const s = this.session(sessionId);
    return s.recovery.listFiles(s.session.id, checkRestorePath(path));
  }

  extractFile(sessionId: string, path: string): Promise<Buffer> {
    const s = this.session(sessionId);
    return s.recovery.extractFile(s.session.id, checkRestorePath(path));
  }

  async close(sessionId: string): Promise<void> {
    const s = this.session(sessionId);
    await s.recovery.closeFileRestore(s.session.id);
    this.sessions.delete(sessionId);
  }
}

// Tasks: every action a user starts (protect, pause, fail over, …) runs as a task stored at once, whose
// progress and outcome anyone can poll. The runner is the one place a task's life is decided, so
// cancelling a task (later) belongs here: the work function is where an AbortSignal would be handed in.
import { randomUUID } from 'node:crypto';
import { NotFoundError } from '@opencdp/core';
import type { Clock, ProgressSink } from '@opencdp/core';
import type { Logger } from 'pino';
import { defined } from '../defined.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import { TaskState, type Store, type TaskRow, type TaskStateCode } from '../store.js';
import type { EventLog } from './event-log.js';

/** What a task's work may say at its end: a state other than Completed (e.g. waiting for the user) and a result. */
export interface TaskOutcome {
  state?: TaskStateCode;
  result?: unknown;
}

export type TaskWork = (progress: ProgressSink) => Promise<TaskOutcome | void>;

export class TaskRunner {
  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger,
    private readonly events: EventLog, private readonly lifecycle: ManagerLifecycle,
  ) {}

  /**
   * Runs `work` as a task: stored at once (InProgress), progress written as it goes, Completed (or the
   * outcome's state) or Failed at the end; `finally_` runs whatever the outcome. Returns the task id.
   */
  start(type: string, groupId: string | undefined, user: string | undefined, work: TaskWork, finally_?: () => void): string {
    const task: TaskRow = { id: `task-${this.store.nextCounter('task')}-${randomUUID().slice(0, 8)}`, type, state: TaskState.InProgress, progress: 0, step: 'started', startedAt: this.clock.now(), ...defined({ groupId, user }) };
    this.store.putTask(task);
    let lastWrite = -1;
    const progress: ProgressSink = (percent, step) => {
      if (this.lifecycle.stopped) return;
      const p = Math.max(0, Math.min(99, Math.round(percent)));
      if (p === lastWrite && step === task.step) return;
      lastWrite = p;
      Object.assign(task, { progress: p, step });
      this.store.putTask(task);
    };
    const p = (async () => {
      try {
        const outcome = (await work(progress)) ?? {};
        const state: TaskStateCode = outcome.state ?? TaskState.Completed;
        Object.assign(task, { state, progress: 100, step: state === TaskState.WaitingForUserInput ? 'waiting for the user' : 'done', result: outcome.result });
        if (state !== TaskState.WaitingForUserInput) task.completedAt = this.clock.now();
      } catch (e) {
        const error = e as Error;
        Object.assign(task, { state: TaskState.Failed, step: 'failed', error: error.message, completedAt: this.clock.now() });
        this.log.warn({ task: task.id, type, err: error }, 'task failed');
        if (!this.lifecycle.stopped) this.events.record('TaskFailed', `${type} failed: ${error.message}`, groupId, user);
      } finally {
        finally_?.();
      }
      if (!this.lifecycle.stopped) this.store.putTask(task);
    })();
    this.lifecycle.track(p);
    return task.id;
  }

  get(id: string): TaskRow {
    const t = this.store.getTask(id);
    if (!t) throw new NotFoundError('task', id);
    return t;
  }

  /** Newest first. */
  list(filter: { groupId?: string; state?: number } = {}): TaskRow[] {
    return this.store.listTasks(filter);
  }

  /** Completes a task that waited for the user because what it waited for ended elsewhere. */
  end(task: TaskRow, step: string, at: number): void {
    this.store.putTask({ ...task, state: TaskState.Completed, step, completedAt: at });
  }

  /** Closes the tasks of `type` on the group that wait for the user (a failover's start task, once it is committed or rolled back). */
  completeWaiting(groupId: string, type: string): void {
    for (const t of this.store.listTasks({ groupId, state: TaskState.WaitingForUserInput })) {
      if (t.type === type) this.store.putTask({ ...t, state: TaskState.Completed, progress: 100, completedAt: this.clock.now() });
    }
  }
}

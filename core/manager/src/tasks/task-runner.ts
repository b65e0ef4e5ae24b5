// Tasks: every action a user starts (protect, pause, fail over, …) runs as a task stored at once, whose
// progress and outcome anyone can poll. The runner is the one place a task's life is decided: a task
// started as cancellable can be cancelled while it runs (Cancelling); its work sees the AbortSignal at its
// next safe point, undoes what it did and ends Stopped.
import { randomUUID } from 'node:crypto';
import { InvalidStateError, NotFoundError } from '@opencdp/core';
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

/** `signal` aborts when the task is cancelled (only tasks started as cancellable). */
export type TaskWork = (progress: ProgressSink, signal: AbortSignal) => Promise<TaskOutcome | void>;

interface RunningTask { task: TaskRow; controller: AbortController; cancellable: boolean }

export class TaskRunner {
  /** Tasks of this manager process still running (cancelling reaches them only here). */
  private readonly running = new Map<string, RunningTask>();

  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger,
    private readonly events: EventLog, private readonly lifecycle: ManagerLifecycle,
  ) {}

  /**
   * Runs `work` as a task: stored at once (InProgress), progress written as it goes, Completed (or the
   * outcome's state) or Failed at the end; `finally_` runs whatever the outcome. Returns the task id.
   */
  start(type: string, groupId: string | undefined, user: string | undefined, work: TaskWork, finally_?: () => void, options: { cancellable?: boolean } = {}): string {
    const task: TaskRow = { id: `task-${this.store.nextCounter('task')}-${randomUUID().slice(0, 8)}`, type, state: TaskState.InProgress, progress: 0, step: 'started', startedAt: this.clock.now(), ...defined({ groupId, user }) };
    this.store.putTask(task);
    const controller = new AbortController();
    this.running.set(task.id, { task, controller, cancellable: options.cancellable === true });
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
        const outcome = (await work(progress, controller.signal)) ?? {};
        const state: TaskStateCode = outcome.state ?? TaskState.Completed;
        Object.assign(task, { state, progress: 100, step: state === TaskState.WaitingForUserInput ? 'waiting for the user' : 'done', result: outcome.result });
        if (state !== TaskState.WaitingForUserInput) task.completedAt = this.clock.now();
      } catch (e) {
        const error = e as Error;
        Object.assign(task, { state: TaskState.Failed, step: 'failed', error: error.message, completedAt: this.clock.now() });
        this.log.warn({ task: task.id, type, err: error }, 'task failed');
        if (!this.lifecycle.stopped) this.events.record('TaskFailed', `${type} failed: ${error.message}`, groupId, user);
      } finally {
        this.running.delete(task.id);
        finally_?.();
      }
      if (!this.lifecycle.stopped) this.store.putTask(task);
    })();
    this.lifecycle.track(p);
    return task.id;
  }

  /** Whether the task runs here and may still be cancelled. */
  isCancellable(id: string): boolean {
    const r = this.running.get(id);
    return r !== undefined && r.cancellable && !r.controller.signal.aborted;
  }

  /** Cancels a running cancellable task: it is Cancelling until its work reaches a safe point and ends it (Stopped). */
  cancel(id: string, user?: string): TaskRow {
    const t = this.get(id);
    const r = this.running.get(id);
    if (!r || !r.cancellable) throw new InvalidStateError(`task ${id} (${t.type}) cannot be cancelled${t.state !== TaskState.InProgress ? ': it is not running' : ''}`, 'only a failover test, failover or move that is still starting can be; end the others with their own actions');
    if (!r.controller.signal.aborted) {
      Object.assign(r.task, { state: TaskState.Cancelling, step: 'cancelling' });
      this.store.putTask(r.task);
      r.controller.abort();
      this.events.record('TaskCancelled', `${t.type} task ${id} is being cancelled`, t.groupId, user);
    }
    return { ...r.task };
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

import { strict as assert } from 'node:assert';
import { NotFoundError } from '@opencdp/core';
import { TaskState } from '../store.js';
import { siteEach } from '../testing/spec-helpers.js';

describe('manager task runner and event log', () => {
  const s = siteEach();

  it('stores a task at once, writes progress clamped below 100 as it goes, and completes it at 100', async () => {
    const { tasks, lifecycle } = s.parts;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: Array<[number, string]> = [];
    const id = tasks.start('Work', 'g-1', 'ann', async (progress) => {
      await Promise.resolve(); // the work starts inside start(), before `id` is assigned
      progress(-5, 'starting');
      seen.push([tasks.get(id).progress, tasks.get(id).step]);
      progress(250, 'almost');
      seen.push([tasks.get(id).progress, tasks.get(id).step]);
      await gate;
      return { result: { answer: 42 } };
    });
    const started = tasks.get(id);
    assert.deepEqual([started.type, started.groupId, started.user, started.state], ['Work', 'g-1', 'ann', TaskState.InProgress]);
    release();
    await lifecycle.whenIdle();
    assert.deepEqual(seen, [[0, 'starting'], [99, 'almost']]);
    const done = tasks.get(id);
    assert.deepEqual([done.state, done.progress, done.step, done.result], [TaskState.Completed, 100, 'done', { answer: 42 }]);
    assert.equal(typeof done.completedAt, 'number');
  });

  it('fails a task with its error, records a TaskFailed event, and runs the finally hook either way', async () => {
    const { tasks, events, lifecycle } = s.parts;
    const finished: string[] = [];
    const failed = tasks.start('Boom', 'g-2', 'bob', async () => {
      throw new Error('the appliance said no');
    }, () => finished.push('boom'));
    const waiting = tasks.start('Wait', 'g-2', undefined, async () => ({ state: TaskState.WaitingForUserInput }), () => finished.push('wait'));
    await lifecycle.whenIdle();
    assert.deepEqual(finished.sort(), ['boom', 'wait']);
    const f = tasks.get(failed);
    assert.deepEqual([f.state, f.step, f.error], [TaskState.Failed, 'failed', 'the appliance said no']);
    assert.deepEqual(events.list({ type: 'TaskFailed' }).map((e) => [e.groupId, e.user, e.description]), [['g-2', 'bob', 'Boom failed: the appliance said no']]);
    const w = tasks.get(waiting);
    assert.deepEqual([w.state, w.step, w.completedAt], [TaskState.WaitingForUserInput, 'waiting for the user', undefined]);
    tasks.completeWaiting('g-2', 'Other');
    assert.equal(tasks.get(waiting).state, TaskState.WaitingForUserInput, 'only tasks of the named type close');
    tasks.completeWaiting('g-2', 'Wait');
    assert.equal(tasks.get(waiting).state, TaskState.Completed);
    assert.deepEqual(tasks.list({ groupId: 'g-2', state: TaskState.Failed }).map((t) => t.id), [failed]);
  });

  it('answers NotFound for an unknown task, and lists events by group and type', () => {
    const { tasks, events } = s.parts;
    assert.throws(() => tasks.get('task-404'), NotFoundError);
    events.record('A', 'first', 'g-1', 'ann');
    events.record('B', 'second', 'g-2');
    assert.deepEqual(events.list({ groupId: 'g-1' }).map((e) => [e.type, e.description, e.user]), [['A', 'first', 'ann']]);
    assert.deepEqual(events.list({ type: 'B' }).map((e) => e.groupId), ['g-2']);
  });

  it('writes nothing once stopped: progress and outcome of a task that outlives the manager are dropped, events too', async () => {
    const { tasks, events, store, lifecycle } = s.parts;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const id = tasks.start('Late', undefined, undefined, async (progress) => {
      await gate;
      progress(50, 'after stop');
    });
    const stopping = s.site.manager.stop();
    assert.equal(lifecycle.stopped, true);
    release();
    await stopping;
    assert.equal(store.db.open, false);
    events.record('AfterStop', 'nowhere to write'); // must not throw on the closed store
    const reopened = (await import('../store.js')).Store.open(s.site.dir);
    try {
      const t = reopened.getTask(id)!;
      assert.deepEqual([t.state, t.progress, t.step], [TaskState.InProgress, 0, 'started']);
      assert.equal(reopened.listEvents({ type: 'AfterStop' }).length, 0);
    } finally {
      reopened.close();
    }
  });
});

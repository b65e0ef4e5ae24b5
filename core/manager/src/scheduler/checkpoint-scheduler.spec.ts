import { strict as assert } from 'node:assert';
import { NotFoundError, ValidationError, VirtualClock, type CheckpointCutRequest } from '@opencdp/core';
import { TaskState } from '../store.js';
import { addGroup, siteEach } from '../testing/spec-helpers.js';

describe('manager checkpoint scheduler', () => {
  const s = siteEach();
  const cuts = (appliance: 'siteA' | 'siteB'): CheckpointCutRequest[] => (s.site[appliance].callsOf('cutCheckpoints') as [CheckpointCutRequest][]).map(([r]) => r);

  it('cuts every group due at once in one round with one timestamp and ids of its own, each group on its own cadence', async () => {
    const t0 = s.site.clock.now();
    const a = await addGroup(s.site, 'a');
    const b = await addGroup(s.site, 'b', ['site-a-vm-2']);
    const c = await addGroup(s.site, 'c', ['site-a-vm-3'], { checkpointIntervalMs: 3000 });
    for (let i = 0; i < 3; i++) await s.site.clock.advance(1000);
    const byGroups = cuts('siteA').map((r) => `${r.groupIds.join('+')} ${r.kind} ${r.timestamp - t0}`).sort();
    assert.deepEqual(byGroups, [`${a}+${b} auto 1000`, `${a}+${b} auto 2000`, `${a}+${b}+${c} auto 3000`].sort());
    const ids = cuts('siteA').flatMap((r) => Object.values(r.ids));
    assert.equal(new Set(ids).size, ids.length, 'ids never repeat');
    assert.ok(ids.every((id) => /^site-a-cp-\d+$/.test(id)), ids.join(' '));
    assert.equal(s.parts.store.listCheckpoints(a).length, 3, 'what was cut is recorded for when no recovery appliance is reachable');
  });

  it('leaves the groups of a site with a paired manager to that manager, and stops cutting when stopped', async () => {
    const local = await addGroup(s.site, 'local');
    const remote = (await s.parts.groups.create({ settings: { name: 'remote', checkpointIntervalMs: 1000 }, vmIds: ['site-b-vm-1'], protectedSiteId: 'site-b', recoverySiteId: 'site-a' })).groupId;
    await s.site.manager.whenIdle();
    await s.site.clock.advance(1000);
    assert.deepEqual(cuts('siteB').map((r) => r.groupIds), [[remote]], 'no manager of its own at site-b yet: this one cuts');
    s.parts.store.putSite({ id: 'site-b', name: 'DR', role: 'peer', address: 'http://dr:9080', pairedAt: 0 });
    await s.site.clock.advance(1000);
    assert.deepEqual(cuts('siteB').map((r) => r.groupIds), [[remote]]);
    assert.deepEqual(cuts('siteA').map((r) => r.groupIds), [[local], [local]]);
    s.parts.scheduler.stop();
    await s.site.clock.advance(5000);
    assert.equal(cuts('siteA').length, 2);
  });

  it('tags checkpoints across groups as one task, and fails the task naming the groups that could not be cut', async () => {
    const { scheduler, tasks, events } = s.parts;
    const a = await addGroup(s.site, 'a');
    const b = await addGroup(s.site, 'b', ['site-a-vm-2']);
    await assert.rejects(scheduler.tagCheckpoint([], 'x'), ValidationError);
    await assert.rejects(scheduler.tagCheckpoint([a, 'vpg-404'], 'x'), NotFoundError);
    const ok = await scheduler.tagCheckpoint([a, b], 'release-7', 'ann');
    await s.site.manager.whenIdle();
    assert.equal(tasks.get(ok.taskId).state, TaskState.Completed);
    const [tagged] = cuts('siteA');
    assert.deepEqual([tagged.kind, tagged.tag, tagged.ids], ['tagged', 'release-7', ok.checkpointIds]);
    assert.deepEqual(events.list({ type: 'CheckpointAdded' }).map((e) => [e.groupId, e.user]), [[a, 'ann'], [b, 'ann']]);
    s.site.siteA.refuseCheckpoints = true;
    const refused = await scheduler.tagCheckpoint([a], 'later');
    await s.site.manager.whenIdle();
    assert.equal(tasks.get(refused.taskId).state, TaskState.Failed);
    assert.match(tasks.get(refused.taskId).error!, /no checkpoint could be cut now for 'a'/);
  });
});

describe('manager checkpoint scheduler with a wall clock that jumps back', () => {
  // The timers run on the virtual clock; `now` (the timestamps) jumps back an hour mid-run.
  const virtual = new VirtualClock();
  let offset = 0;
  const jumpy = { now: () => virtual.now() + offset, setTimer: (ms: number, fn: () => void) => virtual.setTimer(ms, fn), sleep: (ms: number) => virtual.sleep(ms), advance: (ms: number) => virtual.advance(ms) };
  const s = siteEach({ clock: jumpy as unknown as VirtualClock });

  it('keeps each group\'s checkpoint timestamps increasing and its cadence', async () => {
    const a = await addGroup(s.site, 'a');
    await virtual.advance(1000);
    await virtual.advance(1000);
    offset = -3_600_000;
    await virtual.advance(1000);
    await virtual.advance(1000);
    offset = 0;
    const stamps = (s.site.siteA.callsOf('cutCheckpoints') as [CheckpointCutRequest][]).filter(([r]) => r.groupIds.includes(a)).map(([r]) => r.timestamp);
    assert.equal(stamps.length, 4, 'one round per interval, jump or not');
    for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i] > stamps[i - 1], `timestamps ${stamps.join(', ')} never go back`);
  });
});

describe('manager checkpoint scheduler with a round that takes longer than the interval', () => {
  const s = siteEach();

  it('does not hold a group twice: it waits for the round under way, then goes on', async () => {
    const a = await addGroup(s.site, 'a');
    const appliance = s.site.siteA;
    const original = appliance.cutCheckpoints.bind(appliance);
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let calls = 0;
    appliance.cutCheckpoints = async (r) => {
      calls++;
      if (calls === 1) await slow;
      return original(r);
    };
    for (let i = 0; i < 5; i++) await s.site.clock.advance(1000);
    assert.equal(calls, 1, 'no second round for the group while its first one runs');
    release();
    await s.site.manager.whenIdle();
    for (let i = 0; i < 2; i++) await s.site.clock.advance(1000);
    assert.ok(calls >= 3, `rounds go on afterwards (${calls})`);
    assert.ok(s.parts.store.listCheckpoints(a).length >= 2);
  });
});

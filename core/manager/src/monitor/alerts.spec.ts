import { strict as assert } from 'node:assert';
import { NotFoundError, type ReplicationFacts } from '@opencdp/core';
import { addGroup, siteEach } from '../testing/spec-helpers.js';
import type { GroupRuntime } from './group-runtime.js';

describe('manager alerts', () => {
  const s = siteEach();
  const facts = (over: Partial<ReplicationFacts> = {}): ReplicationFacts => ({
    phase: 'streaming', connected: true, vmCount: 1, hasCheckpoints: true, rpoTargetMs: 30_000, historyStatus: 'ok', actualRpoMs: 1000, ...over,
  });
  const runtime = (journals: GroupRuntime['journals'] = []): GroupRuntime => ({
    at: 0, iops: 0, throughputBytesPerSec: 0, wanBytesPerSec: 0, wanBytes: 0, writtenBytes: 0, bitmapBytes: 0, journalUsedBytes: 0, journalHardLimitBytes: 0,
    journalWarningBytes: 0, historyMs: 0, historyStatus: 'ok', journals,
  });
  const journal = (usedBytes: number): GroupRuntime['journals'][number] => ({ vmId: 'site-a-vm-1', usedBytes, hardLimitBytes: 100, warningBytes: 80, historyMs: 0, historyStatus: 'ok' });

  it('raises an alert once, changes its level, clears it, and records each as an event; nothing during the initial sync', async () => {
    const { alerts, groups, events } = s.parts;
    const g = groups.get(await addGroup(s.site));
    const before = events.list().length;
    alerts.evaluate(g, facts({ actualRpoMs: 60_000, historyStatus: 'error' }), runtime(), true);
    assert.deepEqual(alerts.list(), [], 'syncing: RPO and history are not judged yet');
    alerts.evaluate(g, facts({ actualRpoMs: 60_000, historyStatus: 'warning' }), runtime([journal(90)]), false);
    alerts.evaluate(g, facts({ actualRpoMs: 61_000, historyStatus: 'warning' }), runtime([journal(95)]), false);
    assert.deepEqual(alerts.list().map((a) => [a.type, a.level]), [['RpoAboveTarget', 'warning'], ['HistoryNotMeetingSLA', 'warning'], ['JournalWarningThreshold', 'warning']]);
    assert.equal(alerts.status(g.id), 1);
    alerts.evaluate(g, facts({ actualRpoMs: 1000, historyStatus: 'error' }), runtime([journal(10)]), false);
    assert.deepEqual(alerts.list().map((a) => [a.type, a.level]), [['HistoryNotMeetingSLA', 'error']]);
    assert.equal(alerts.status(g.id), 2);
    assert.equal(alerts.list({ includeCleared: true }).length, 3);
    assert.deepEqual(events.list().slice(before).map((e) => e.type), ['AlertRaised', 'AlertRaised', 'AlertRaised', 'AlertCleared', 'AlertChanged', 'AlertCleared']);
  });

  it('dismisses and undismisses a standing alert, once each, on behalf of a user', async () => {
    const { alerts, groups, events } = s.parts;
    const g = groups.get(await addGroup(s.site));
    alerts.evaluate(g, facts({ actualRpoMs: 60_000 }), runtime(), false);
    const [a] = alerts.list();
    alerts.setDismissed(a.id, true, 'ann');
    alerts.setDismissed(a.id, true, 'ann');
    assert.equal(alerts.get(a.id).dismissed, true);
    assert.deepEqual(alerts.list({ dismissed: false }), []);
    alerts.setDismissed(a.id, false, 'bob');
    assert.deepEqual(events.list().filter((e) => e.type.endsWith('ismissed')).map((e) => [e.type, e.user]), [['AlertDismissed', 'ann'], ['AlertUndismissed', 'bob']]);
    assert.throws(() => alerts.setDismissed('alert-404', true), NotFoundError);
    assert.equal(alerts.status('vpg-without-alerts'), 0);
  });
});

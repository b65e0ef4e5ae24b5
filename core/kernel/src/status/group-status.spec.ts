import assert from 'node:assert/strict';
import { evaluateGroupState, GroupStatusTracker, type ReplicationFacts } from './group-status.js';

const base: ReplicationFacts = { phase: 'streaming', connected: true, vmCount: 3, hasCheckpoints: true, actualRpoMs: 4000, rpoTargetMs: 300_000, historyStatus: 'ok' };
const at = (over: Partial<ReplicationFacts>): ReturnType<typeof evaluateGroupState> => evaluateGroupState({ ...base, ...over });

describe('group status', () => {
  it('uses the anchor codes for status and sub-status', () => {
    const s = at({});
    assert.deepEqual([s.status, s.statusCode, s.subStatus, s.subStatusCode, s.health], ['MeetingSLA', 1, 'None', 0, 'green']);
    assert.deepEqual([at({ phase: 'initial-sync', hasCheckpoints: false }).statusCode, at({ phase: 'initial-sync' }).subStatusCode], [0, 1]);
    assert.equal(at({ phase: 'bitmap-sync', trigger: 'RecoveryApplianceCommunicationProblem' }).subStatusCode, 23);
    assert.equal(at({ phase: 'delta-sync', trigger: 'ForceSync' }).subStatusCode, 6);
    assert.equal(at({ phase: 'paused-user' }).subStatusCode, 25);
    assert.equal(at({ phase: 'paused-system' }).subStatusCode, 26);
    assert.equal(at({ storageError: 'journal' }).subStatusCode, 31);
    assert.equal(at({ storageError: 'recovery' }).subStatusCode, 30);
    assert.equal(at({ vmCount: 0 }).subStatusCode, 9);
    assert.equal(at({ phase: 'volume-initial-sync' }).subStatusCode, 3);
  });

  it('splits SLA misses into RPO, history or both', () => {
    assert.equal(at({ actualRpoMs: 400_000 }).status, 'RpoNotMeetingSLA');
    assert.equal(at({ historyStatus: 'warning' }).status, 'HistoryNotMeetingSLA');
    assert.equal(at({ actualRpoMs: 400_000, historyStatus: 'error' }).status, 'NotMeetingSLA');
    assert.equal(at({ actualRpoMs: undefined }).status, 'RpoNotMeetingSLA');
    assert.equal(at({ actualRpoMs: 400_000 }).health, 'orange');
  });

  it('a link down says whether recovery is still possible', () => {
    const down = at({ connected: false, phase: 'recording', trigger: 'RecoveryApplianceCommunicationProblem' });
    assert.deepEqual([down.subStatus, down.health, down.recoveryPossible], ['DisconnectedFromPeer', 'red', true]);
    assert.equal(at({ connected: false, hasCheckpoints: false }).subStatus, 'DisconnectedFromPeerNoRecoveryPoints');
    // A paused group is paused, whatever the link does.
    assert.equal(at({ connected: false, phase: 'paused-user' }).subStatus, 'ReplicationPausedUserInitiated');
  });

  it('carries the trigger only while a sync or fallback is under way', () => {
    assert.equal(at({ phase: 'bitmap-sync', trigger: 'NetworkCongestion' }).trigger, 'NetworkCongestion');
    assert.equal(at({ trigger: 'NetworkCongestion' }).trigger, undefined);
  });

  it('the tracker emits one transition per change, with a reason', () => {
    const tracker = new GroupStatusTracker();
    const seen: string[] = [];
    tracker.on('transition', (t) => seen.push(`${t.from?.subStatus ?? '-'}>${t.to.subStatus}: ${t.to.reason}`));
    tracker.update({ ...base, phase: 'initial-sync', hasCheckpoints: false }, 0);
    tracker.update({ ...base, phase: 'initial-sync', hasCheckpoints: false }, 1);
    tracker.update(base, 2);
    tracker.update({ ...base, connected: false, phase: 'recording' }, 3);
    tracker.update({ ...base, phase: 'bitmap-sync', trigger: 'RecoveryApplianceCommunicationProblem' }, 4);
    tracker.update(base, 5);
    assert.deepEqual(tracker.subStatuses(), ['InitialSync', 'None', 'DisconnectedFromPeer', 'BitmapSync', 'None']);
    assert.equal(seen.length, 5);
    assert.ok(seen.every((s) => s.split(': ')[1].length > 10), 'every transition has a reason');
  });
});

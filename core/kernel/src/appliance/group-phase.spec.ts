import assert from 'node:assert/strict';
import { GroupPhase } from './group-phase.js';

describe('GroupPhase (a protected group\'s state machine)', () => {
  function machine(): { phase: GroupPhase; log: string[] } {
    const log: string[] = [];
    const phase = new GroupPhase({ onPause: () => log.push('spill'), onChange: () => log.push(`${phase.phase}/${phase.trigger ?? '-'}`) });
    return { phase, log };
  }

  it('announces a change of phase or trigger once, and nothing when neither changes', () => {
    const { phase, log } = machine();
    phase.set('initial-sync', undefined);
    phase.set('initial-sync', undefined);
    phase.streaming();
    phase.fallBack('RecoveryApplianceCommunicationProblem');
    phase.fallBack('NetworkCongestion');
    assert.deepEqual(log, ['initial-sync/-', 'streaming/-', 'recording/RecoveryApplianceCommunicationProblem', 'recording/NetworkCongestion']);
  });

  it('entering a pause spills the stream before the change is announced, also when already paused', () => {
    const { phase, log } = machine();
    phase.set('paused-user', undefined);
    phase.set('paused-system', undefined);
    assert.deepEqual(log, ['spill', 'paused-user/-', 'spill', 'paused-system/-']);
    assert.equal(phase.paused, true);
    assert.equal(phase.sending, false);
    assert.equal(phase.interruptsSync, true);
  });

  it('says which phases send new writes and which interrupt a sync', () => {
    const { phase } = machine();
    const sending = (['creating', 'initial-sync', 'volume-initial-sync', 'delta-sync', 'bitmap-sync', 'streaming', 'recording', 'paused-user'] as const).filter((p) => {
      phase.set(p, undefined);
      return phase.sending;
    });
    assert.deepEqual(sending, ['initial-sync', 'volume-initial-sync', 'delta-sync', 'bitmap-sync', 'streaming']);
    phase.set('recording', 'ConfigurationChanged');
    assert.equal(phase.interruptsSync, true);
  });

  it('a force sync sets the trigger without announcing it; reaching streaming clears the history-loss permission', () => {
    const { phase, log } = machine();
    phase.trigger = 'ForceSync';
    assert.deepEqual(log, []);
    phase.historyLossAllowed = true;
    phase.set('delta-sync', phase.trigger);
    phase.streaming();
    assert.equal(phase.historyLossAllowed, false);
    assert.deepEqual(log, ['delta-sync/ForceSync', 'streaming/-']);
  });
});

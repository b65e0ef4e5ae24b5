import assert from 'node:assert/strict';
import type { ChangeTracking } from '../ports/change-tracking.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import { ValidationError } from '../errors.js';
import { captureModeOf, CaptureModeError, checkCycleInterval, checkOneMode } from './capture-mode.js';

describe('capture modes', () => {
  const tracking = { minIntervalMs: 60_000 } as ChangeTracking;
  const platform = (parts: Partial<HypervisorAdapter>): HypervisorAdapter => ({ platform: 'p', ...parts }) as HypervisorAdapter;
  const tap = async (): Promise<never> => { throw new Error('not used'); };

  it('follows the platform: the splitter where there is one, change tracking where there is only that, either where asked', () => {
    assert.equal(captureModeOf(platform({ openTap: tap })), 'splitter');
    assert.equal(captureModeOf(platform({ changeTracking: tracking })), 'change-tracking');
    assert.equal(captureModeOf(platform({ openTap: tap, changeTracking: tracking })), 'splitter');
    assert.equal(captureModeOf(platform({ openTap: tap, changeTracking: tracking }), 'change-tracking'), 'change-tracking');
    assert.throws(() => captureModeOf(platform({ openTap: tap }), 'change-tracking'), CaptureModeError);
    assert.throws(() => captureModeOf(platform({ changeTracking: tracking }), 'splitter'), /offers no write splitter/);
    assert.throws(() => captureModeOf(platform({})), CaptureModeError);
    assert.throws(() => captureModeOf(platform({ openTap: tap }), 'psychic' as 'splitter'), ValidationError);
  });

  it('refuses an interval below the platform\'s minimum, naming it', () => {
    assert.throws(() => checkCycleInterval(tracking, 5000, 'vsphere'), (e: unknown) => e instanceof ValidationError && e.field === 'checkpointIntervalMs' && /60000 ms minimum/.test(e.message));
    checkCycleInterval(tracking, 60_000, 'vsphere');
  });

  it('refuses a group mixing modes, naming where each runs', () => {
    assert.equal(checkOneMode('g', [{ mode: 'splitter', where: 'a' }, { mode: 'splitter', where: 'b' }]), 'splitter');
    assert.throws(() => checkOneMode('g', [{ mode: 'splitter', where: 'host-1' }, { mode: 'change-tracking', where: 'host-2' }]), /mixes capture modes: host-1 runs splitter, host-2 runs change-tracking/);
  });
});

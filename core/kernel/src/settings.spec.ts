import assert from 'node:assert/strict';
import { ValidationError } from './errors.js';
import { journalSizeBytes, parseProtectionGroupSettings } from './settings.js';

describe('protection group settings', () => {
  it('fills the defaults the anchor uses', () => {
    const s = parseProtectionGroupSettings({ name: 'app' });
    assert.deepEqual(s, {
      name: 'app', checkpointIntervalMs: 5000, journalHistoryHours: 24, rpoTargetSeconds: 300, priority: 'Medium',
      useWanCompression: true, replicationPauseTimeMinutes: 10,
      journal: { hardLimit: { mb: 153_600 }, warningThreshold: { mb: 115_200 } },
    });
  });

  it('leaves the input untouched', () => {
    const input = { name: 'app', journal: {} };
    parseProtectionGroupSettings(input);
    assert.deepEqual(input, { name: 'app', journal: {} });
  });

  const bad: [unknown, RegExp, string | undefined][] = [
    [{ name: 'a', colour: 'red' }, /unknown field 'colour'/, 'colour'],
    [{}, /missing field 'name'/, 'name'],
    [{ name: 'a', checkpointIntervalMs: 50 }, /checkpointIntervalMs/, 'checkpointIntervalMs'],
    [{ name: 'a', checkpointIntervalMs: '5000' }, /checkpointIntervalMs/, 'checkpointIntervalMs'],
    [{ name: 'a', priority: 'Urgent' }, /priority/, 'priority'],
    [{ name: 'a', journal: { hardLimit: { mb: 10, percent: 5 } } }, /journal.hardLimit/, 'journal.hardLimit'],
    [{ name: 'a', journal: { hardLimit: { percent: 150 } } }, /journal.hardLimit/, 'journal.hardLimit'],
    [{ name: 'a', journal: { hardLimit: { mb: 100 }, warningThreshold: { mb: 200 } } }, /above journal.hardLimit/, 'journal.warningThreshold'],
    ['not an object', /invalid protection group settings/, undefined],
  ];
  for (const [input, message, field] of bad) {
    it(`refuses ${JSON.stringify(input)} naming the field`, () => {
      assert.throws(() => parseProtectionGroupSettings(input), (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        assert.match(e.message, message);
        if (field) assert.equal(e.field, field);
        return true;
      });
    });
  }

  it('turns journal sizes into bytes, absolute or as a share of provisioned storage', () => {
    assert.equal(journalSizeBytes({ mb: 8 }, 0), 8 * 1024 * 1024);
    assert.equal(journalSizeBytes({ percent: 25 }, 4000), 1000);
  });
});

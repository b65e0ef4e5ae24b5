// Journals in real files (issue 16, items 1 and 2): a harness whose virtual clock does not wait for the
// file I/O its timers start fails timing cases; the I/O-aware clock makes the same harness pass. S6.3,
// flaky on files because two senders probed one file at once, passes repeatedly on a clock that lets
// timers race on the disk.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { runConformance } from './run-conformance.js';
import { createHarness as fileJournalHarness } from './testing/file-journal-adapter.js';

describe('conformance on file-backed journals', function () {
  this.timeout(600_000);

  it('fails timing cases with a plain virtual clock (time runs ahead of the disk) and passes them with IoAwareVirtualClock', async () => {
    const grep = '^J3\\.1 |^S1\\.1 ';
    const plain = await runConformance({ name: 'files-plain-clock', createHarness: () => createFakeHarness({ recoveryStorage: 'files', clock: 'plain' }), grep, quiet: true });
    assert.equal(plain.passed + plain.failed, 2);
    assert.ok(plain.failed >= 1, `the plain clock fails a timing case: ${JSON.stringify(plain.cases.map((c) => [c.id, c.state]))}`);
    const failed = plain.cases.find((c) => c.state === 'failed')!;
    assert.match(failed.reason ?? '', /observed|waited \d+ ms of clock time/, 'the failure says what was seen');
    const aware = await runConformance({ name: 'files-io-aware-clock', createHarness: () => createFakeHarness({ recoveryStorage: 'files' }), grep, quiet: true });
    assert.deepEqual(aware.cases.map((c) => [c.id, c.state, c.reason]), [['J3.1', 'passed', undefined], ['S1.1', 'passed', undefined]]);
  });

  it('runs J6.1 (power cuts) on files through PowerCutStorage, and dispose removes the harness folder', async () => {
    let workDir: string | undefined;
    const report = await runConformance({
      name: 'files-power-cut', quiet: true, grep: '^J6\\.1 ',
      createHarness: async () => {
        const h = await createFakeHarness({ recoveryStorage: 'files' });
        workDir = h.workDir;
        return h;
      },
    });
    assert.deepEqual(report.cases.map((c) => [c.id, c.state, c.reason]), [['J6.1', 'passed', undefined]]);
    assert.ok(workDir && !existsSync(workDir), `the last harness folder is gone after dispose (${workDir})`);
  });

  it('cases on file journals with a clock that runs ahead of the disk (some time out mid-creation) leave nothing behind: appliances finish their journal work before the harness folder goes', async () => {
    const dirs: string[] = [];
    const report = await runConformance({
      name: 'files-plain-clock', quiet: true, grep: '^S8\\.1 |^S7\\.[13] |^S5\\.3 ',
      createHarness: async () => {
        const h = await createFakeHarness({ recoveryStorage: 'files', clock: 'plain' });
        dirs.push(h.workDir!);
        return h;
      },
    });
    assert.equal(report.cases.length, 4, 'the four cases ran (whether they passed depends on how far the disk lagged)');
    await new Promise((resolve) => setTimeout(resolve, 500)); // real time for any straggling file I/O to land
    assert.deepEqual(dirs.filter((d) => existsSync(d)), [], 'no harness folder exists after dispose (a journal opened after stop used to recreate it)');
  });

  it('S6.3 passes three times in a row with timers racing on file journals (two senders probe one file at the end of the pause)', async () => {
    const report = await runConformance({ name: 'fake-file-journals', createHarness: fileJournalHarness, grep: '^S6\\.3 ', repeat: 3, quiet: true });
    assert.deepEqual(report.cases.map((c) => [c.id, c.state, c.reason]), [1, 2, 3].map(() => ['S6.3', 'passed', undefined]));
  });
});

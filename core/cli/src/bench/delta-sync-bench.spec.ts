import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempDirPerTest } from './spec-helpers.js';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { deltaSyncPlanFor, parseRsyncStats } from './delta-sync-bench.js';

const rsyncInstalled = (): Promise<boolean> =>
  new Promise((resolve) => execFile(process.env.OPENCDP_RSYNC || 'rsync', ['--version'], (error) => resolve(!error)));

describe('delta-sync benchmark', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest();

  it('is registered and scales the file, keeping 1 % of its blocks changed', () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'delta-sync'));
    assert.deepEqual(deltaSyncPlanFor(1), { fileBytes: 1024 ** 3, changedBlocks: 2621 });
    assert.deepEqual(deltaSyncPlanFor(0.01), { fileBytes: 2621 * 4096, changedBlocks: 26 });
  });

  it('parses rsync --stats, with or without thousands separators', () => {
    const out = [
      'Number of files: 1 (reg: 1)', 'Literal data: 82,739,200 bytes', 'Matched data: 991,002,624 bytes',
      'Total bytes sent: 82,880,452', 'Total bytes received: 229,423', '',
    ].join('\n');
    assert.deepEqual(parseRsyncStats(out), { sent: 82_880_452, received: 229_423, literal: 82_739_200 });
    assert.deepEqual(parseRsyncStats('Literal data: 5 bytes\nTotal bytes sent: 1234\nTotal bytes received: 99\n'), { sent: 1234, received: 99, literal: 5 });
    assert.throws(() => parseRsyncStats('nothing here'), /Total bytes sent/);
  });

  it('writes a result of the documented shape, the copy verified after every run (tiny scale)', async function () {
    if (!(await rsyncInstalled())) this.skip();
    const json = path.join(dir(), 'out', 'delta-sync.json');
    const lines: string[] = [];
    const result = await runBenchmark('delta-sync', { json, scale: 0.01, dir: dir(), log: (l) => lines.push(l) });
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    assert.equal(written.name, 'delta-sync');
    for (const [key, v] of Object.entries(written.metrics)) assert.ok(Number.isFinite(v) && v > 0, `metric ${key} = ${v}`);
    assert.equal(written.metrics.blocksSent, written.metrics.changedBlocks);
    assert.equal(written.baseline.tool, 'rsync');
    assert.ok((written.baseline.bytes as number) > 0 && (written.baseline.seconds as number) > 0);
    assert.equal(written.ratio, written.metrics.bytesRatio);
    assert.ok(Math.abs(written.metrics.bytesRatio - written.metrics.bytes / (written.baseline.bytes as number)) < 0.001);
    assert.deepEqual(written.targets, { bytesRatio: '<= 0.5', timeRatio: '<= 1.0' });
    assert.ok(lines.some((l) => l.includes('bytesRatio')));
    assert.deepEqual(await fs.readdir(dir()), ['out']);
  });
});

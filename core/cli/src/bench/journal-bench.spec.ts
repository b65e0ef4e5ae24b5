import assert from 'node:assert/strict';
import { tempDirPerTest } from './spec-helpers.js';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { formatSummary, listBenchmarks, meetsTarget, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { fioArgs, fioVersion, parseFioJson, throughputOf } from './fio-baseline.js';
import { planFor } from './journal-bench.js';

const fioInstalled = (): Promise<boolean> =>
  new Promise((resolve) => execFile(process.env.OPENCDP_FIO || 'fio', ['--version'], (error) => resolve(!error)));

describe('bench registry', () => {
  it('lists the journal benchmark and rejects unknown names, naming the known ones', async () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'journal'));
    await assert.rejects(runBenchmark('no-such-bench', { log: () => undefined }), /unknown benchmark 'no-such-bench'.*journal/);
  });

  it('rejects a scale that is not a positive number', async () => {
    for (const scale of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(runBenchmark('journal', { scale, log: () => undefined }), /scale/);
    }
  });

  it('checks targets', () => {
    assert.equal(meetsTarget(0.9, '>= 0.8'), true);
    assert.equal(meetsTarget(0.7, '>= 0.8'), false);
    assert.equal(meetsTarget(150, '<= 200'), true);
    assert.equal(meetsTarget(250, '<=200'), false);
    assert.equal(meetsTarget(1, 'about 1'), undefined);
  });

  it('shrinks every size with the scale', () => {
    const full = planFor(1);
    assert.equal(full.appendTotalBytes, 2 * 1024 ** 3);
    assert.equal(full.imageWrites, 1_000_000);
    assert.equal(full.imageVolumeBytes, 8 * 1024 ** 3);
    assert.equal(full.checkpointEveryWrites, 10_000);
    assert.equal(full.reads, 20_000);
    const tenth = planFor(0.1);
    assert.equal(tenth.imageWrites, 100_000);
    assert.ok(tenth.appendTotalBytes < full.appendTotalBytes / 9 && tenth.appendTotalBytes % 65536 === 0);
  });
});

describe('fio baseline', () => {
  it('builds the job arguments and parses a JSON report (after any warnings)', () => {
    const args = fioArgs({ name: 'seq', rw: 'write', blockBytes: 65536, sizeBytes: 65536 * 10 + 5, endFsync: true, filename: '/x/f' });
    assert.deepEqual(args, ['--name=seq', '--rw=write', '--bs=65536', '--size=655360', '--ioengine=psync', '--end_fsync=1', '--filename=/x/f', '--output-format=json']);
    const stats = (bytes: number, ms: number) => ({ io_bytes: bytes, bw_bytes: Math.round(bytes / (ms / 1000)), runtime: ms });
    const report = parseFioJson(`fio: some warning\n${JSON.stringify({ jobs: [{ jobname: 'seq', error: 0, read: stats(0, 0), write: stats(200e6, 500) }] })}`);
    const t = throughputOf(report, 'write', 'seq');
    assert.equal(t.MBps, 400);
    assert.throws(() => throughputOf(report, 'read', 'seq'), /no read throughput/);
    assert.throws(() => parseFioJson('fio: command not found'), /no JSON/);
  });

  it('says how to install fio when it is missing', async () => {
    const saved = process.env.OPENCDP_FIO;
    process.env.OPENCDP_FIO = '/nonexistent/fio';
    try {
      await assert.rejects(fioVersion(), /apt-get install fio/);
    } finally {
      if (saved === undefined) delete process.env.OPENCDP_FIO;
      else process.env.OPENCDP_FIO = saved;
    }
  });
});

describe('journal benchmark (tiny scale)', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest();

  it('writes a result of the documented shape with positive, finite numbers, and cleans up', async function () {
    if (!(await fioInstalled())) this.skip();
    const json = path.join(dir(), 'out', 'journal.json');
    const lines: string[] = [];
    const result = await runBenchmark('journal', { json, scale: 0.005, dir: dir(), log: (l) => lines.push(l) });

    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    assert.equal(written.name, 'journal');
    for (const key of ['appendMBps', 'openImageMs', 'imageReadRatio', 'imageReadMBps', 'directReadMBps', 'recoverMs', 'recoverAfterCrashMs']) {
      const v = written.metrics[key];
      assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `metric ${key} = ${v}`);
    }
    for (const [key, v] of Object.entries(written.metrics)) assert.ok(Number.isFinite(v) && v > 0, `metric ${key} = ${v}`);
    assert.equal(written.baseline.tool, 'fio');
    assert.ok(typeof written.baseline.MBps === 'number' && written.baseline.MBps > 0 && Number.isFinite(written.baseline.MBps));
    assert.ok(Number.isFinite(written.ratio) && written.ratio > 0);
    assert.ok(Math.abs(written.ratio - written.metrics.appendMBps / (written.baseline.MBps as number)) < 0.01 * written.ratio);
    assert.deepEqual(Object.keys(written.targets ?? {}).sort(), ['imageReadRatio', 'openImageMs', 'ratio', 'recoverAfterCrashMs']);

    // The summary was printed, and nothing but the JSON file is left behind.
    assert.ok(lines.some((l) => l.includes('appendMBps')));
    assert.ok(formatSummary(result).includes('target >= 0.85'));
    assert.deepEqual(await fs.readdir(dir()), ['out']);
    assert.deepEqual(await fs.readdir(path.join(dir(), 'out')), ['journal.json']);
  });
});

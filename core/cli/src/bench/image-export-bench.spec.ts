// The image-export benchmark at a tiny scale: registered, scaled, its JSON of the documented shape (the
// benchmark itself checks every output against the raw copy with qemu-img compare).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { requireHostToolsOrSkip } from '@opencdp/core';
import { tempDirPerTest } from './spec-helpers.js';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { imageExportPlanFor } from './image-export-bench.js';

describe('image-export benchmark', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest();

  it('is registered and scales the disk and the journal', () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'image-export'));
    assert.deepEqual(imageExportPlanFor(1), { volumeBytes: 4096 * 1024 * 1024, allocatedShare: 0.3, journalWrites: 100_000 });
    assert.deepEqual(imageExportPlanFor(0.001), { volumeBytes: 16 * 1024 * 1024, allocatedShare: 0.3, journalWrites: 100 });
  });

  it('writes a result of the documented shape at a tiny scale, its work folder removed', async function () {
    requireHostToolsOrSkip(this, ['qemu-img']);
    const json = path.join(dir(), 'out', 'image-export.json');
    const result = await runBenchmark('image-export', { json, scale: 0.005, dir: dir(), log: () => undefined });
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    for (const [key, v] of Object.entries(written.metrics)) assert.ok(Number.isFinite(v) && v > 0, `metric ${key} = ${v}`);
    assert.equal(written.metrics.journalWrites, 500);
    assert.ok(written.metrics.replicaDataBytes > 0 && written.metrics.replicaDataBytes < written.metrics.volumeBytes);
    assert.deepEqual(written.targets, { ratio: '>= 0.7', qcow2Ratio: '>= 0.7', vhdxRatio: '>= 0.7', qcow2SizeRatio: '<= 1.05', vhdxSizeRatio: '<= 1.05' });
    assert.equal(written.ratio, Math.min(written.metrics.qcow2Ratio, written.metrics.vhdxRatio));
    assert.deepEqual(await fs.readdir(dir()), ['out'], 'the working folder was removed');
  });
});

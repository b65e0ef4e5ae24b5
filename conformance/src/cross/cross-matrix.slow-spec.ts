// The cross matrix in CI, bounded: four pairs that recover onto every platform but the fake (which the
// fast composition spec covers) and protect with the fake, QEMU (real qemu-storage-daemon) and Hyper-V
// (SIMULATED host, change-tracking capture), each running R2.1 (live failover, commit, promotion; hash
// against the oracle), R2.4 (reverse protection back onto the original platform by delta sync, where the
// recovery side declares it: vSphere and QEMU do; the Hyper-V and AWS harnesses skip it with their reason)
// and X1.1 (failover test at a chosen checkpoint; hash, and qemu-img compare of the VHDX files Hyper-V
// keeps; the report's translation). The whole 5 × 5 matrix with three cases per pair
// is `opencdp-conformance cross --matrix` (≈ 15 min here): too long for every CI run.
import assert from 'node:assert/strict';
import { BUILTIN_ADAPTERS } from '../cli.js';
import { crossTable, runCrossMatrix } from './cross-matrix.js';

const CI_PAIRS: [string, string][] = [['fake', 'aws'], ['qemu', 'vsphere'], ['fake', 'hyperv'], ['hyperv', 'qemu']];

describe('cross matrix (CI subset: fake→aws [EBS/EC2 SIMULATED, S3 on s3rver], qemu→vsphere [vcsim], fake→hyperv [SIMULATED host], hyperv→qemu)', () => {
  it('every pair recovers live and at a chosen checkpoint equal to the oracle (hash; qemu-img compare on disk files)', async function () {
    this.timeout(900_000);
    const sides = ['fake', 'qemu', 'vsphere', 'hyperv', 'aws'].map((name) => ({ name, createHarness: BUILTIN_ADAPTERS[name] }));
    const report = await runCrossMatrix(sides, { pairs: CI_PAIRS, grep: '^(R2\\.1|R2\\.4|X1\\.1) ' });
    const detail = `${crossTable(report)}\n${report.pairs.flatMap((p) => p.cases.filter((c) => c.state !== 'passed').map((c) => `${p.protected}→${p.recovery} ${c.id}: ${c.reason ?? ''}`)).join('\n')}${report.pairs.map((p) => p.error ?? '').join('')}`;
    assert.equal(report.pairs.length, CI_PAIRS.length);
    assert.equal(report.failed, 0, detail);
    // Reverse protection runs where the recovery platform can protect recovered VMs back (vsphere, qemu).
    const skipped = report.pairs.flatMap((p) => p.cases.filter((c) => c.state === 'skipped').map((c) => `${p.protected}→${p.recovery} ${c.id}`));
    assert.deepEqual(skipped, ['fake→aws R2.4', 'fake→hyperv R2.4'], detail);
    for (const p of report.pairs) for (const c of p.cases) if (c.state === 'skipped') assert.match(c.reason ?? '', /^reverseProtection: the recovery platform '(aws|hyperv)' cannot protect recovered VMs back/);
    assert.equal(report.passed, 3 * CI_PAIRS.length - 2, detail);
    assert.deepEqual(report.pairs.map((p) => p.capture), ['splitter', 'splitter', 'splitter', 'change-tracking']);
  });
});

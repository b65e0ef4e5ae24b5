// The cross composition on two fake data centres (a splitter protects in one, the other recovers): the
// pair runs the recovery cases with recovered VMs on the recovery side only, storage faults go to the
// recovery side, and the `cross` command refuses bad usage with exit 2 and reports pairs as a table.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeHarness, type FakeHarness } from '@opencdp/adapter-fake';
import { main } from '../cli.js';
import { composeCrossHarness } from './cross-harness.js';
import { runCrossMatrix } from './cross-matrix.js';

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => { out += t; }, err: (t) => { err += t; } }, out: () => out, err: () => err };
}

describe('cross-platform composition', () => {
  it('creates recovered VMs on the recovery side only, routes guest writes and storage faults to the side that owns them', async () => {
    const a = await createFakeHarness({ seed: 1 });
    const b = await createFakeHarness({ seed: 2, idPrefix: 'rs' });
    const x = composeCrossHarness(a, b);
    try {
      assert.equal(x.name, `${a.name}→${b.name}`);
      assert.equal(x.hypervisor, a.hypervisor);
      assert.equal(x.recoveryHypervisor, b.recoveryHypervisor);
      assert.equal(x.recoveryStorage, b.recoveryStorage);
      const vm = await x.createVm({ name: 'p', volumes: [{ sizeBytes: 64 * 1024 }] });
      assert.ok((await a.hypervisor.inventory()).vms.some((v) => v.id === vm.id), 'protected VMs are the protected side\'s');
      const source = { sizeBytes: () => 64 * 1024, read: async (_v: string, _o: number, l: number) => Buffer.alloc(l, 7) };
      const nets = (await x.recoveryHypervisor.inventory()).networks;
      const rvm = await x.recoveryHypervisor.createRecoveryVm({ name: 'r', sourceVmId: vm.id, disks: [{ volumeId: vm.volumes[0].id, source }], nics: [{ networkId: nets[0].id }] });
      assert.ok(x.recoveredVms.has(rvm.id));
      await x.recoveryHypervisor.powerOn(rvm.id);
      await x.guestWrite(rvm.id, rvm.volumes[0].id, 0, Buffer.alloc(512, 9));
      assert.deepEqual(await (b as FakeHarness).recoveryHypervisor.readVolume(rvm.id, rvm.volumes[0].id, 0, 512), Buffer.alloc(512, 9), 'the write reached the recovery side\'s VM');
      await x.injectFault({ kind: 'storage-full' });
      await assert.rejects(b.recoveryStorage.open('probe', { create: true, size: 4096 }).then((f) => f.write(0, Buffer.alloc(4096))), /full/i, 'the recovery side\'s storage is full');
      await x.clearFaults();
    } finally {
      await x.dispose();
    }
  });

  it('runs a pair (fake→fake) through the recovery and cross cases, and writes the table as JSON and JUnit', async function () {
    this.timeout(120_000);
    const dir = await mkdtemp(join(tmpdir(), 'ocdp-cross-'));
    try {
      const fake = { name: 'fake', createHarness: () => createFakeHarness({ seed: 1 }) };
      const recovering = { name: 'fake', createHarness: () => createFakeHarness({ seed: 2, idPrefix: 'rs' }) };
      const report = await runCrossMatrix([fake], { grep: '^(R1\\.1|X1\\.1) ', recoverySides: [recovering] });
      assert.equal(report.pairs.length, 1);
      assert.deepEqual([report.passed, report.failed, report.skipped], [2, 0, 0], JSON.stringify(report.pairs[0].cases.map((c) => [c.id, c.state, c.reason])));
      const c = capture();
      const code = await main(['cross', '--adapter', 'fake', '--recovery-adapter', 'fake', '--grep', '^X1\\.1 ', '--json', join(dir, 'x.json'), '--junit', join(dir, 'x.xml')], c.io);
      assert.equal(code, 0, c.err());
      assert.match(c.out(), /fake {2,}\| 1\/1/);
      const json = JSON.parse(await readFile(join(dir, 'x.json'), 'utf8')) as { pairs: { protected: string; recovery: string; passed: number }[] };
      assert.deepEqual(json.pairs.map((p) => [p.protected, p.recovery, p.passed]), [['fake', 'fake', 1]]);
      assert.match(await readFile(join(dir, 'x.xml'), 'utf8'), /<testsuite name="cross matrix\.fake→fake"[^>]*tests="1"[^>]*failures="0"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad usage with exit 2 and changes nothing', async () => {
    for (const argv of [
      ['cross'],
      ['cross', '--adapter', 'fake'],
      ['cross', '--matrix', '--adapter', 'fake'],
      ['cross', '--matrix', '--adapters', 'fake,nope'],
      ['cross', '--matrix', '--adapters', 'fake', '--pairs', 'fake-aws'],
      ['cross', '--adapter', 'fake', '--recovery-adapter', '/no/such/module.js'],
    ]) {
      const c = capture();
      assert.equal(await main(argv, c.io), 2, `${argv.join(' ')}: ${c.err()}`);
      assert.match(c.err(), /opencdp-conformance cross: /);
    }
  });
});

// Two managed appliances in this process, each with both roles (its own VMs and a site-link listener),
// replicating both ways at once over real TLS, driven only through the control link. Then a live failover
// of the A→B group at B with reverse protection: A seeds the reverse replicas from the original disks
// locally, B protects the recovered VMs back to A, the first reverse sync is a delta sync that sends a
// small fraction of the volumes, and a quiesced checkpoint of the reverse group recovers at A exactly as
// B's recovered VMs are.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseProtectionGroupSettings, RemoteApplianceControl, type Checkpoint, type GroupFacts, type Inventory, type VmId } from '@opencdp/core';
import { pairedIdentities, siteApplianceFixture } from './testing/paired-sites.js';
import { until } from './two-site-lab.js';
import { startSiteAppliance } from './site-appliance.js';
import { reverseGroupId } from './site-recovery.js';

const MiB = 1024 * 1024;
const TOKEN = 'control-token-for-tests-0123456789';
const settings = (name: string): ReturnType<typeof parseProtectionGroupSettings> =>
  parseProtectionGroupSettings({ name, checkpointIntervalMs: 1000, journal: { hardLimit: { mb: 256 }, warningThreshold: { mb: 200 } } });

/** One site as the test drives it: its control link, its VMs, checkpoint cutting and quiesced hashing. */
class Site {
  private n = 0;
  constructor(readonly name: string, readonly control: RemoteApplianceControl) {}

  /** Every block of every volume of the VMs written with random data, so a full copy would send all of it. */
  async fill(vms: VmId[]): Promise<number> {
    const inventory = await this.control.inventory();
    let bytes = 0;
    for (const id of vms) {
      for (const v of inventory.vms.find((x) => x.id === id)!.volumes) {
        for (let at = 0; at < v.sizeBytes; at += 256 * 1024) {
          await this.control.extra('write', id, v.id, at, randomBytes(Math.min(256 * 1024, v.sizeBytes - at)).toString('base64'));
        }
        bytes += v.sizeBytes;
      }
    }
    return bytes;
  }

  async cut(groupId: string, tag?: string): Promise<Checkpoint | undefined> {
    const [cp] = await this.control.cutCheckpoints({ groupIds: [groupId], kind: tag ? 'tagged' : 'auto', ...(tag ? { tag } : {}), timestamp: Date.now(), ids: { [groupId]: `${this.name}-cp-${++this.n}` } });
    return cp;
  }

  /** Quiesces the VMs (new writes wait), cuts a tagged checkpoint, hashes the volumes, thaws. */
  async quiescedCheckpoint(groupId: string, vms: VmId[], tag: string): Promise<{ cp: Checkpoint; hashes: Record<string, string> }> {
    await this.control.extra('quiesce', vms);
    try {
      const cp = await this.cut(groupId, tag);
      assert.ok(cp, `group '${groupId}' at ${this.name} can be checkpointed`);
      return { cp, hashes: await this.control.extra<Record<string, string>>('hashVolumes', vms) };
    } finally {
      await this.control.extra('thaw');
    }
  }

  facts(groupId: string): Promise<GroupFacts> {
    return this.control.groupFacts(groupId);
  }

  streaming(groupId: string): Promise<GroupFacts> {
    return until(`group '${groupId}' to stream from ${this.name}`, async () => {
      const f = await this.facts(groupId);
      return f.phase === 'streaming' && f.connected && f.lastSync !== undefined ? f : undefined;
    });
  }

  /** Waits until this site (the recovery side) lists the checkpoint. */
  listed(groupId: string, cp: Checkpoint): Promise<Checkpoint[]> {
    return until(`${this.name} to list checkpoint ${cp.id} of '${groupId}'`, async () => {
      const list = await this.control.recovery.listCheckpoints(groupId);
      return list.some((c) => c.id === cp.id) ? list : undefined;
    });
  }

  /** A failover test at `cp` here; every test VM's volumes hash as `expected[source volume]`, volume by volume. */
  async testRecovers(groupId: string, cp: Checkpoint, sources: Inventory['vms'], expected: Record<string, string>): Promise<void> {
    const test = await this.control.recovery.startFailoverTest({ groupId, checkpointId: cp.id });
    try {
      assert.equal(test.vms.length, sources.length);
      const here = await this.control.inventory();
      for (const r of test.vms) {
        const source = sources.find((v) => v.id === r.sourceVmId);
        assert.ok(source, `'${r.sourceVmId}' is a VM of group '${groupId}'`);
        const recovered = here.vms.find((v) => v.id === r.recoveredVmId)!;
        const got = await this.control.extra<Record<string, string>>('hashVolumes', [r.recoveredVmId]);
        source.volumes.forEach((v, i) => assert.equal(got[recovered.volumes[i].id], expected[v.id], `${this.name}: volume ${i} of '${source.name}' at checkpoint ${cp.id} of '${groupId}'`));
      }
    } finally {
      const report = await this.control.recovery.stopFailoverTest({ groupId, success: true });
      assert.equal(report.result, 'Success');
    }
  }
}

describe('reverse protection between two managed appliances', function () {
  this.timeout(60_000);
  const fixture = siteApplianceFixture('ocdp-reverse-');
  const running = fixture.running;

  it('replicates both ways at once, and after a failover with reverse protection delta-syncs the recovered VMs back', async () => {
    const f = (name: string): string => path.join(fixture.dir(), name);
    const ids = await pairedIdentities(fixture.dir());
    const logB: { event: string; fields: Record<string, unknown> }[] = [];
    const workload = (seed: number): { seed: number; ratePerSecond: number; writeSizes: number[] } => ({ seed, ratePerSecond: 40, writeSizes: [4096] });
    // A has no protectedPeer: nothing in this test fails over live at A (its failover tests need none).
    const siteA = await startSiteAppliance({
      siteId: 'site-a', ...ids.a, dataDir: f('a-data'),
      control: { listen: '127.0.0.1:0', token: TOKEN }, linkListen: '127.0.0.1:0',
      vms: [{ name: 'web', volumes: [{ sizeBytes: 2 * MiB }] }, { name: 'db', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 1 * MiB, sectorSize: 4096 }] }],
      workload: workload(7),
    }, () => undefined);
    running.push(siteA);
    const siteB = await startSiteAppliance({
      siteId: 'site-b', ...ids.b, dataDir: f('b-data'),
      control: { listen: '127.0.0.1:0', token: TOKEN }, linkListen: '127.0.0.1:0',
      protectedPeer: { siteId: 'site-a', controlUrl: siteA.controlUrl, token: TOKEN, linkAddress: siteA.linkAddress! },
      vms: [{ name: 'mail', volumes: [{ sizeBytes: 2 * MiB }] }],
      workload: workload(11),
    }, (event, fields = {}) => logB.push({ event, fields }));
    running.push(siteB);
    const A = new Site('site-a', new RemoteApplianceControl('site-a', siteA.controlUrl, TOKEN, { tls: ids.controlTls }));
    const B = new Site('site-b', new RemoteApplianceControl('site-b', siteB.controlUrl, TOKEN, { tls: ids.controlTls }));
    const inventoryA = await A.control.inventory();
    const inventoryB = await B.control.inventory();
    const vmsA = inventoryA.vms.map((v) => v.id);
    const vmsB = inventoryB.vms.map((v) => v.id);
    const bytesA = await A.fill(vmsA);
    await B.fill(vmsB);

    // Both ways at once: g-ab protects A's VMs to B, g-ba protects B's VM to A.
    await Promise.all([
      A.control.protectGroup({ groupId: 'g-ab', settings: settings('ab'), vmIds: vmsA, recoveryAddress: siteB.linkAddress! }),
      B.control.protectGroup({ groupId: 'g-ba', settings: settings('ba'), vmIds: vmsB, recoveryAddress: siteA.linkAddress! }),
    ]);
    await Promise.all([A.control.extra('startWorkload'), B.control.extra('startWorkload')]);
    const [initialAB] = await Promise.all([A.streaming('g-ab'), B.streaming('g-ba')]);
    assert.equal(initialAB.lastSync, 'initial-sync');
    assert.ok((initialAB.wireBytes ?? 0) >= bytesA, `a full initial sync sends every filled byte (${initialAB.wireBytes} of ${bytesA})`);
    for (let i = 0; i < 2; i++) {
      assert.ok(await A.cut('g-ab'));
      assert.ok(await B.cut('g-ba'));
      await new Promise((r) => setTimeout(r, 100));
    }
    const [ab, ba] = await Promise.all([A.quiescedCheckpoint('g-ab', vmsA, 'ab-tagged'), B.quiescedCheckpoint('g-ba', vmsB, 'ba-tagged')]);
    // A goes on writing after its tagged checkpoint: the failover to that checkpoint discards these writes at B,
    // so A's original disks differ from the recovered VMs and the reverse delta sync must overwrite them.
    await A.control.extra('stopWorkload');
    await A.control.extra('write', vmsA[0], inventoryA.vms[0].volumes[0].id, 0, randomBytes(64 * 1024).toString('base64'));
    const [listedAtB, listedAtA] = await Promise.all([B.listed('g-ab', ab.cp), A.listed('g-ba', ba.cp)]);
    assert.ok(listedAtB.length >= 3 && listedAtA.length >= 3, 'every cut checkpoint is listed at the other site');
    await A.testRecovers('g-ba', ba.cp, inventoryB.vms, ba.hashes);

    // Live failover of g-ab at B to its tagged checkpoint, forcing A's VMs off; commit with reverse protection.
    await B.control.defineRecoveryGroup!({ groupId: 'g-ab', name: 'ab', vms: inventoryA.vms.map((v) => ({ id: v.id, name: v.name })), plan: {} });
    const failover = await B.control.recovery.failover({
      groupId: 'g-ab', checkpointId: ab.cp.id, shutdownPolicy: 'force', timeToWaitBeforeShutdownSec: 0, commitPolicy: 'none', commitPolicyTimeoutSec: 0, reverseProtection: true,
    });
    assert.equal(failover.phase, 'before-commit');
    assert.ok((await A.control.inventory()).vms.filter((v) => vmsA.includes(v.id)).every((v) => v.powerState === 'off'), 'A\'s VMs were forced off');
    const report = await B.control.recovery.commit({ groupId: 'g-ab' });
    assert.equal(report.result, 'Success', JSON.stringify(report.steps));
    assert.deepEqual(report.steps.filter((s) => s.name === 'reverse-protection').map((s) => s.result), ['Success']);
    const recovered = report.vms.map((v) => v.recoveredVmId);
    const afterFailover = await B.control.extra<Record<string, string>>('hashVolumes', recovered);
    const recoveredVolumes = (await B.control.inventory()).vms.filter((v) => recovered.includes(v.id));
    for (const r of report.vms) {
      const source = inventoryA.vms.find((v) => v.id === r.sourceVmId)!;
      const vm = recoveredVolumes.find((v) => v.id === r.recoveredVmId)!;
      source.volumes.forEach((v, i) => assert.equal(afterFailover[vm.volumes[i].id], ab.hashes[v.id], `recovered '${source.name}' volume ${i} is A's tagged checkpoint`));
    }
    const started = logB.find((l) => l.event === 'reverse-protection-started');
    assert.equal(started?.fields.seededBytes, bytesA, 'A seeded the reverse replicas from every (filled) original block, locally');

    // The recovered VMs write at B; the reverse group streams them to A.
    const reverse = reverseGroupId('g-ab');
    for (const vm of recoveredVolumes) await B.control.extra('write', vm.id, vm.volumes[0].id, 128 * 1024, randomBytes(64 * 1024).toString('base64'));
    const first = await B.streaming(reverse);
    assert.equal(first.lastSync, 'delta-sync', 'the first reverse sync compared both sides instead of copying');
    assert.ok((first.wireBytes ?? Infinity) < bytesA / 8, `the reverse group sent ${first.wireBytes} bytes for ${bytesA} bytes of volumes`);
    assert.ok((first.wireBytes ?? 0) >= 64 * 1024, 'A\'s diverged blocks and B\'s new writes did cross');

    // A quiesced checkpoint of the reverse group recovers at A exactly as B's recovered VMs are.
    const back = await B.quiescedCheckpoint(reverse, recovered, 'reverse-tagged');
    await A.listed(reverse, back.cp);
    const reverseAtA = await A.facts(reverse);
    assert.deepEqual(reverseAtA.journals?.map((j) => j.hardLimitBytes), recovered.map(() => 256 * MiB), 'the reverse group kept the original group\'s journal settings');
    await A.testRecovers(reverse, back.cp, recoveredVolumes, back.hashes);

    // g-ba went on replicating B→A throughout.
    const baFacts = await B.facts('g-ba');
    assert.equal(baFacts.phase, 'streaming');
    const later = await B.cut('g-ba');
    assert.ok(later);
    await A.listed('g-ba', later);
  });
});

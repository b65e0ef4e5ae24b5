// Two managed appliances in this process, each with its own TLS identity, driven only through the control
// link as a manager would: protect a group from site A to site B, cut checkpoints (one quiesced and
// hashed), and check after a stop that B's journals on disk recover exactly what A's guests held.
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseProtectionGroupSettings, RemoteApplianceControl, type Checkpoint, type GroupFacts, type VmId } from '@opencdp/core';
import { pairedIdentities, siteApplianceFixture } from './testing/paired-sites.js';
import { until } from './two-site-lab.js';
import { checkJournals } from '../appliance/testing/appliance-processes.js';
import type { VerifiedCheckpoint } from '../appliance/status-file.js';
import { startSiteAppliance } from './site-appliance.js';

const MiB = 1024 * 1024;
const TOKEN = 'control-token-for-tests-0123456789';

describe('managed appliances over the control link and the TLS site link', function () {
  this.timeout(60_000);
  const fixture = siteApplianceFixture('ocdp-site-');
  const running = fixture.running;

  it('protects a group when told, cuts the checkpoints it is asked for, and its journals hold the quiesced hashes', async () => {
    const f = (name: string): string => path.join(fixture.dir(), name);
    const ids = await pairedIdentities(fixture.dir());
    const log = (): void => undefined;
    const siteB = await startSiteAppliance({
      siteId: 'site-b', ...ids.b, dataDir: f('b-data'),
      control: { listen: '127.0.0.1:0', token: TOKEN }, linkListen: '127.0.0.1:0',
    }, log);
    running.push(siteB);
    const siteA = await startSiteAppliance({
      siteId: 'site-a', ...ids.a, dataDir: f('a-data'),
      control: { listen: '127.0.0.1:0', token: TOKEN },
      vms: [{ name: 'web', volumes: [{ sizeBytes: 2 * MiB }] }, { name: 'db', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 1 * MiB, sectorSize: 4096 }] }],
      workload: { seed: 7, ratePerSecond: 400, writeSizes: [4096, 16384] },
    }, log);
    running.push(siteA);

    const controlA = new RemoteApplianceControl('site-a', siteA.controlUrl, TOKEN, { tls: ids.controlTls });
    const controlB = new RemoteApplianceControl('site-b', siteB.controlUrl, TOKEN, { tls: ids.controlTls });
    const vms = await controlA.extra<{ id: VmId; name: string }[]>('vms');
    const inventory = await controlA.inventory();
    assert.deepEqual(inventory.vms.map((v) => v.name).sort(), ['db', 'web']);
    const settings = parseProtectionGroupSettings({ name: 'app', checkpointIntervalMs: 1000, journal: { hardLimit: { mb: 256 }, warningThreshold: { mb: 200 } } });
    await controlA.protectGroup({ groupId: 'g-app', settings, vmIds: vms.map((v) => v.id), recoveryAddress: siteB.linkAddress! });
    await assert.rejects(controlA.protectGroup({ groupId: 'g-app', settings, vmIds: [], recoveryAddress: siteB.linkAddress! }), /already protected/);
    await controlA.extra('startWorkload');
    await until('the initial sync to end', async () => ((await controlA.groupFacts('g-app')).phase === 'streaming' ? true : undefined));

    let n = 0;
    const cut = async (tag?: string): Promise<Checkpoint | undefined> => (await controlA.cutCheckpoints({ groupIds: ['g-app'], kind: tag ? 'tagged' : 'auto', ...(tag ? { tag } : {}), timestamp: Date.now(), ids: { 'g-app': `cp-${++n}` } }))[0];
    for (let i = 0; i < 3; i++) {
      assert.ok(await cut(), 'a streaming group can be checkpointed');
      await new Promise((r) => setTimeout(r, 150));
    }
    // Quiesce as a VSS agent would: completed writes stay, new ones wait; the tagged checkpoint holds exactly what is hashed.
    await controlA.extra('quiesce', vms.map((v) => v.id));
    const tagged = await cut('before-upgrade');
    const hashes = await controlA.extra<Record<string, string>>('hashVolumes', vms.map((v) => v.id));
    await controlA.extra('thaw');
    assert.ok(tagged);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(await cut());

    const facts: GroupFacts = await until('the recovery site to hold the tagged checkpoint', async () => {
      const fb = await controlB.groupFacts('g-app');
      return (fb.latestCheckpointAt ?? 0) >= tagged.timestamp ? fb : undefined;
    });
    assert.equal(facts.journals?.length, 2);
    const factsA = await controlA.groupFacts('g-app');
    assert.equal(factsA.connected, true);
    assert.ok((factsA.writes ?? 0) > 0 && (factsA.wireBytes ?? 0) > 0);
    assert.equal(factsA.lastCheckpoint?.id, `cp-${n}`);

    // Recovery through the recovery appliance alone (no manager anywhere): a failover test at the tagged checkpoint.
    await controlB.defineRecoveryGroup({ groupId: 'g-app', name: 'app', vms: vms.map((v) => ({ id: v.id, name: v.name })), plan: {} });
    const listed = await controlB.recovery.listCheckpoints('g-app');
    assert.ok(listed.some((c) => c.id === tagged.id && c.tag === 'before-upgrade'));
    const progress: number[] = [];
    const test = await controlB.recovery.startFailoverTest({ groupId: 'g-app', checkpointId: tagged.id }, (p) => progress.push(p));
    assert.equal(test.kind, 'FailoverTest');
    assert.ok(progress.length > 0, 'progress crossed the control link');
    assert.equal(test.vms.length, 2);
    const recoveredInventory = await controlB.inventory();
    const testNetworks = new Set(recoveredInventory.networks.filter((n) => n.isolated).map((n) => n.id));
    for (const r of test.vms) {
      const source = inventory.vms.find((v) => v.id === r.sourceVmId)!;
      const recovered = recoveredInventory.vms.find((v) => v.id === r.recoveredVmId)!;
      assert.ok(recovered.nics.every((n) => testNetworks.has(n.networkId)), `${recovered.name} is on the test network only`);
      const got = await controlB.extra<Record<string, string>>('hashVolumes', [r.recoveredVmId]);
      source.volumes.forEach((v, i) => assert.equal(got[recovered.volumes[i].id], hashes[v.id], `volume ${i} of ${source.name} at the tagged checkpoint`));
    }
    const report = await controlB.recovery.stopFailoverTest({ groupId: 'g-app', success: true, summary: 'hashes match' });
    assert.equal(report.result, 'Success');
    assert.equal(report.summary, 'hashes match');
    assert.equal(report.checkpoint.id, tagged.id);

    await controlA.extra('stopWorkload');
    await controlA.unprotectGroup('g-app', { deleteSourceVms: false });
    await assert.rejects(controlA.pause('g-app'), /does not exist/);
    await siteB.stop();
    const status = { groupId: 'g-app', vms: inventory.vms.map((vm) => ({ name: vm.name, vmId: vm.id, volumes: vm.volumes.map((v) => ({ volumeId: v.id, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize })) })) };
    const verified: VerifiedCheckpoint[] = [{ id: tagged.id, seq: tagged.seq, timestamp: tagged.timestamp, tag: 'before-upgrade', volumeSha256: hashes }];
    const check = await checkJournals(f('b-data'), status, settings, verified, [tagged.id]);
    assert.deepEqual(check.compared, [tagged.id]);
  });
});

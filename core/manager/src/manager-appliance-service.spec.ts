import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApplianceService, MemoryStorage, ProtectedAppliance, RecoveryAppliance, RecoveryOrchestrator, StaticGroupDirectory, VirtualClock, protectedSiteOf,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor, FakeNetwork } from '@opencdp/adapter-fake';
import { pino } from 'pino';
import type { Manager } from './manager.js';
import { startManager } from './manager-module.js';
import { TaskState } from './store.js';
import { ADMIN, HttpClient } from './testing/spec-helpers.js';

// The manager against the real in-process appliances on the fake data centre: a protected appliance at
// site A, a recovery appliance with the recovery orchestrator at site B, the in-process site link, all on
// one virtual clock. The manager drives them only through ApplianceControl.
describe('manager with the real ApplianceService on the fake adapter', () => {
  let clock: VirtualClock;
  let dir: string;
  let manager: Manager;
  let http: HttpClient;
  let dc: FakeDataCenter;
  let vmId: string;
  let volumeId: string;
  let siteA: string;
  let svcA: ApplianceService;
  let svcB: ApplianceService;

  beforeEach(async () => {
    clock = new VirtualClock();
    dir = mkdtempSync(join(tmpdir(), 'opencdp-manager-e2e-'));
    dc = new FakeDataCenter({ clock, seed: 1 });
    siteA = dc.addSite('protected').id;
    const siteB = dc.addSite('recovery').id;
    const hostA = dc.addHost(siteA, 'protected-host');
    dc.addHost(siteB, 'recovery-host');
    const vm = dc.createVm({ name: 'db', hostId: hostA.id, volumes: [{ name: 'disk0', sizeBytes: 1024 * 1024, sectorSize: 512 }] });
    vmId = vm.id;
    volumeId = vm.volumes[0].id;
    const network = new FakeNetwork(clock, 7);
    const hvA = new FakeHypervisor(dc, siteA);
    const hvB = new FakeHypervisor(dc, siteB);
    const storage = new MemoryStorage();
    const recoveryAppliance = new RecoveryAppliance({ siteId: siteB, storage, clock, network: network.endpoint(siteB) });
    const linkAddress = await recoveryAppliance.listen(`${siteB}:0`);
    const protectedAppliance = new ProtectedAppliance({ siteId: siteA, hypervisor: hvA, network: network.endpoint(siteA), clock });
    svcA = new ApplianceService({ siteId: siteA, clock, hypervisor: hvA, protectedAppliance });
    const directory = new StaticGroupDirectory();
    svcB = new ApplianceService({ siteId: siteB, clock, hypervisor: hvB, recoveryAppliance, recoveryGroups: directory });
    let finals = 0;
    svcB.setRecovery(new RecoveryOrchestrator({
      clock, hypervisor: hvB, journals: recoveryAppliance, groups: directory, protectedSite: protectedSiteOf(svcA, clock, () => `final-${++finals}`),
      storage, journalRoot: 'journals',
    }), directory, recoveryAppliance);
    manager = await startManager({
      dataDir: dir, listen: '127.0.0.1:0', siteId: siteA, clock, appliances: [svcA, svcB], recoveryAddresses: { [siteB]: linkAddress },
      admin: ADMIN, logger: pino({ level: 'silent' }), pollIntervalMs: 1000,
    });
    http = new HttpClient(manager.url);
    await http.login();
    const r = await http.post('/v1/vpgs', { settings: { name: 'db', checkpointIntervalMs: 1000, rpoTargetSeconds: 10 }, vmIdentifiers: [vmId], recoverySiteIdentifier: siteB });
    assert.equal(r.status, 201, r.text);
    await advance(10_000);
    const created = (await http.get(`/v1/tasks/${r.body.taskIdentifier}`)).body;
    assert.equal(created.status.state, TaskState.Completed, JSON.stringify(created));
  });

  afterEach(async () => {
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Moves virtual time in small steps so link messages and HTTP answers interleave. */
  async function advance(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 250) await clock.advance(250);
    await manager.whenIdle();
  }

  function groupId(): string {
    return manager.groups()[0].id;
  }

  it('protects the group, cuts checkpoints with its own ids, and reaches MeetingSLA with an event per transition', async () => {
    const id = groupId();
    await dc.guestWrite(vmId, volumeId, 0, Buffer.alloc(4096, 7));
    await advance(3000);
    const g = (await http.get(`/v1/vpgs/${id}`)).body;
    assert.equal(g.statusName, 'MeetingSLA', JSON.stringify(g));
    assert.ok(g.actualRPO >= 0 && g.actualRPO <= 2, `RPO ${g.actualRPO}`);
    const cps = (await http.get(`/v1/vpgs/${id}/checkpoints`)).body as Array<{ checkpointIdentifier: string; type: string }>;
    assert.ok(cps.length >= 3, `${cps.length} checkpoints`);
    assert.ok(cps.every((c) => c.checkpointIdentifier.startsWith(`${siteA}-cp-`)), 'the manager chose the ids');
    const events = (await http.get(`/v1/events?vpgIdentifier=${id}&eventType=GroupStatusChanged`)).body as Array<{ description: string }>;
    assert.ok(events.length >= 2 && events.every((e) => /: \S.+/.test(e.description)), `each transition has a reason: ${JSON.stringify(events)}`);
    assert.match(events[events.length - 1].description, /MeetingSLA/);
    const tagged = await http.post(`/v1/vpgs/${id}/checkpoints`, { checkpointName: 'before-patch' });
    await advance(1000);
    assert.equal((await http.get(`/v1/tasks/${tagged.body.taskIdentifier}`)).body.status.state, TaskState.Completed);
    const after = (await http.get(`/v1/vpgs/${id}/checkpoints`)).body as Array<{ checkpointIdentifier: string; tag: string | null }>;
    assert.equal(after.find((c) => c.tag === 'before-patch')?.checkpointIdentifier, tagged.body.checkpointIdentifier);
  });

  it('keeps replicating with the manager stopped, with no new checkpoints (J8); checkpoints resume when it returns', async () => {
    const id = groupId();
    await advance(2000);
    const before = (await svcB.recovery!.listCheckpoints(id)).length;
    await manager.stop();
    await dc.guestWrite(vmId, volumeId, 8192, Buffer.alloc(4096, 9));
    for (let t = 0; t < 5000; t += 250) await clock.advance(250);
    assert.equal((await svcB.recovery!.listCheckpoints(id)).length, before, 'no checkpoint without a manager');
    const facts = await svcA.groupFacts(id);
    assert.equal(facts.phase, 'streaming');
    assert.ok((facts.writtenBytes ?? 0) >= 4096, 'the write was replicated while the manager was down');
    manager = await startManager({ dataDir: dir, siteId: siteA, clock, appliances: [svcA, svcB], logger: pino({ level: 'silent' }) });
    await advance(3000);
    assert.ok((await svcB.recovery!.listCheckpoints(id)).length > before, 'checkpoints resume');
    assert.equal(manager.store.listEvents({ type: 'SiteSynchronization' }).length, 1);
  });

  it('fails over live through the orchestrator, waits for the user, commits, and shows the group Recovered', async () => {
    const id = groupId();
    await dc.guestWrite(vmId, volumeId, 0, Buffer.alloc(4096, 3));
    await advance(2000);
    const r = await http.post(`/v1/vpgs/${id}/Failover`, { commitPolicy: 2, shutdownPolicy: 2 });
    assert.equal(r.status, 200, r.text);
    await advance(5000);
    const t = (await http.get(`/v1/tasks/${r.body.taskIdentifier}`)).body;
    assert.equal(t.status.state, TaskState.WaitingForUserInput, JSON.stringify(t));
    assert.equal((await http.get(`/v1/vpgs/${id}`)).body.subStatusName, 'FailingOverBeforeCommit');
    const c = await http.post(`/v1/vpgs/${id}/FailoverCommit`, { isReverseProtection: false });
    await advance(10_000);
    const ct = (await http.get(`/v1/tasks/${c.body.taskIdentifier}`)).body;
    assert.equal(ct.status.state, TaskState.Completed, JSON.stringify(ct));
    assert.equal((await http.get(`/v1/vpgs/${id}`)).body.statusName, 'Recovered');
    const reports = (await http.get('/v1/reports/recovery?recoveryType=Failover')).body as Array<{ state: string; vms: unknown[] }>;
    assert.equal(reports.length, 1);
    assert.equal(reports[0].vms.length, 1);
  });

  it('lists the report of a failover whose commit policy committed on its own, and closes its task', async () => {
    const id = groupId();
    await advance(2000);
    const r = await http.post(`/v1/vpgs/${id}/Failover`, { commitPolicy: 1, commitPolicyTimeout: 3, shutdownPolicy: 2 });
    assert.equal(r.status, 200, r.text);
    await advance(2000);
    assert.equal((await http.get(`/v1/tasks/${r.body.taskIdentifier}`)).body.status.state, TaskState.WaitingForUserInput);
    await advance(8000);
    assert.equal((await http.get(`/v1/tasks/${r.body.taskIdentifier}`)).body.status.state, TaskState.Completed);
    const reports = (await http.get('/v1/reports/recovery?recoveryType=Failover')).body as Array<{ state: string; steps: { name: string }[] }>;
    assert.equal(reports.length, 1, 'the report made at the recovery site is listed by the manager');
    assert.equal(reports[0].state, 'Success');
    const events = (await http.get('/v1/events')).body as Array<{ eventType: string }>;
    assert.equal(events.filter((e) => e.eventType === 'RecoveryReport').length, 1, 'one event per report, however often the monitor looks');
  });

  it('runs a failover test through the orchestrator as a task and stores its recovery report', async () => {
    const id = groupId();
    await advance(2000);
    const r = await http.post(`/v1/vpgs/${id}/FailoverTest`, {});
    assert.equal(r.status, 200, r.text);
    await advance(5000);
    const t = (await http.get(`/v1/tasks/${r.body.taskIdentifier}`)).body;
    assert.equal(t.status.state, TaskState.WaitingForUserInput, JSON.stringify(t));
    assert.equal((await http.post(`/v1/vpgs/${id}/Failover`, {})).status, 409, 'one recovery operation per group');
    const stop = await http.post(`/v1/vpgs/${id}/FailoverTestStop`, { failoverTestSuccess: true, failoverTestSummary: 'ok' });
    await advance(5000);
    assert.equal((await http.get(`/v1/tasks/${stop.body.taskIdentifier}`)).body.status.state, TaskState.Completed);
    const reports = (await http.get('/v1/reports/recovery')).body as Array<{ recoveryType: string; state: string; vpgName: string }>;
    assert.deepEqual(reports.map((x) => [x.recoveryType, x.state, x.vpgName]), [['FailoverTest', 'Success', 'db']]);
  });
});

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApplianceService, ControlUnreachableError, MemoryStorage, ProtectedAppliance, RecoveryAppliance, RecoveryOrchestrator, StaticGroupDirectory, VirtualClock,
  protectedSiteOf, type ApplianceControl,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor, FakeNetwork } from '@opencdp/adapter-fake';
import { pino } from 'pino';
import type { Manager } from './manager.js';
import { startManager } from './manager-module.js';
import { TaskState } from './store.js';

/** A member appliance the test can "kill" (every call fails as if the process were gone) and replace by a fresh one (a restart: memory lost). */
function switchable(initial: ApplianceService): { control: ApplianceControl; down: boolean; killOnHold: boolean; target: ApplianceService } {
  const state = { down: false, killOnHold: false, target: initial, control: undefined as unknown as ApplianceControl };
  state.control = new Proxy({} as ApplianceControl, {
    get(_t, prop) {
      if (prop === 'siteId' || prop === 'applianceId') return (state.target as unknown as Record<string | symbol, unknown>)[prop];
      if (prop === 'recovery' || prop === 'then') return undefined;
      const v = (state.target as unknown as Record<string | symbol, unknown>)[prop];
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        // Killed mid-round: the hold reaches a process that dies before it answers.
        if (prop === 'holdBarrier' && state.killOnHold) state.down = true;
        return state.down ? Promise.reject(new ControlUnreachableError('http://host-2', 'connect ECONNREFUSED')) : (v as (...a: unknown[]) => unknown).apply(state.target, args);
      };
    },
  });
  return state;
}

// A protected site with one appliance per host (two hosts), a recovery site with one recovery appliance,
// all real (ApplianceService on the fake data centre, in-process link, one virtual clock); the manager
// places the group's VMs on both hosts' appliances and cuts every checkpoint with the barrier across them.
describe('manager with one protected appliance per host (J2 across appliances)', function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let dir: string;
  let manager: Manager;
  let dc: FakeDataCenter;
  let siteA: string;
  let siteB: string;
  let network: FakeNetwork;
  let hvA: FakeHypervisor;
  let recoveryAppliance: RecoveryAppliance;
  let host1: ApplianceService;
  let host2: ReturnType<typeof switchable>;
  let svcB: ApplianceService;
  let hostIds: string[];
  let vmA: { id: string; volume: string };
  let vmB: { id: string; volume: string };

  const newMember = (applianceId: string, hostId: string): ApplianceService => {
    const protectedAppliance = new ProtectedAppliance({ siteId: siteA, hypervisor: hvA, network: network.endpoint(siteA), clock, retryIntervalMs: 500 });
    return new ApplianceService({ siteId: siteA, clock, hypervisor: hvA, protectedAppliance, applianceId, hostIds: [hostId] });
  };

  beforeEach(async () => {
    clock = new VirtualClock();
    dir = mkdtempSync(join(tmpdir(), 'opencdp-many-appliances-'));
    dc = new FakeDataCenter({ clock, seed: 1 });
    siteA = dc.addSite('protected').id;
    siteB = dc.addSite('recovery').id;
    hostIds = [dc.addHost(siteA, 'host-1').id, dc.addHost(siteA, 'host-2').id];
    dc.addHost(siteB, 'recovery-host');
    const a = dc.createVm({ name: 'web', hostId: hostIds[0], volumes: [{ name: 'disk0', sizeBytes: 1024 * 1024, sectorSize: 512 }] });
    const b = dc.createVm({ name: 'db', hostId: hostIds[1], volumes: [{ name: 'disk0', sizeBytes: 1024 * 1024, sectorSize: 512 }] });
    vmA = { id: a.id, volume: a.volumes[0].id };
    vmB = { id: b.id, volume: b.volumes[0].id };
    network = new FakeNetwork(clock, 7);
    hvA = new FakeHypervisor(dc, siteA);
    const hvB = new FakeHypervisor(dc, siteB);
    const storage = new MemoryStorage();
    recoveryAppliance = new RecoveryAppliance({ siteId: siteB, storage, clock, network: network.endpoint(siteB) });
    const linkAddress = await recoveryAppliance.listen(`${siteB}:0`);
    host1 = newMember('host-1', hostIds[0]);
    host2 = switchable(newMember('host-2', hostIds[1]));
    const directory = new StaticGroupDirectory();
    svcB = new ApplianceService({ siteId: siteB, clock, hypervisor: hvB, recoveryAppliance, recoveryGroups: directory, applianceId: 'recovery-1', linkAddress });
    svcB.setRecovery(new RecoveryOrchestrator({
      clock, hypervisor: hvB, journals: recoveryAppliance, groups: directory, protectedSite: protectedSiteOf(host1, clock, () => 'final'), storage, journalRoot: 'journals',
    }), directory, recoveryAppliance);
    manager = await startManager({
      dataDir: dir, siteId: siteA, clock, appliances: [host1, host2.control, svcB], admin: { user: 'admin', password: 'granite-orchard-5' }, passwordCost: 1024,
      logger: pino({ level: 'silent' }), pollIntervalMs: 1000, barrierHoldMs: 300,
    });
    await advance(100);
    const r = await manager.parts.groups.create({ settings: { name: 'app', checkpointIntervalMs: 500, rpoTargetSeconds: 10 }, vmIds: [a.id, b.id], recoverySiteId: siteB });
    await advance(5000);
    assert.equal(manager.parts.tasks.get(r.taskId).state, TaskState.Completed, manager.parts.tasks.get(r.taskId).error);
  });

  afterEach(async () => {
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function advance(ms: number, step = 50): Promise<void> {
    for (let t = 0; t < ms; t += step) await clock.advance(step);
    await manager.whenIdle();
  }

  const group = (): ReturnType<Manager['groups']>[number] => manager.groups()[0];
  const listed = async (): Promise<string[]> => (await manager.parts.scheduler.checkpoints(group().id)).map((c) => c.id);
  const token = (k: number): Buffer => {
    const b = Buffer.alloc(512);
    b.writeUInt32LE(k, 0);
    return b;
  };

  it('places each VM on its host\'s appliance and one recovery appliance, and every checkpoint holds the tokens in order (VM a writes k, then VM b writes k)', async () => {
    const g = group();
    assert.deepEqual(g.placement?.members.map((m) => [m.applianceId, m.vmIds]), [['host-1', [vmA.id]], ['host-2', [vmB.id]]]);
    assert.equal(g.placement?.recovery?.applianceId, 'recovery-1');
    for (let k = 1; k <= 60; k++) {
      await dc.guestWrite(vmA.id, vmA.volume, 0, token(k));
      if (k % 3 === 0) await clock.advance(170);
      await dc.guestWrite(vmB.id, vmB.volume, 0, token(k));
      if (k % 4 === 0) await clock.advance(130);
    }
    await advance(3000);
    const cps = await manager.parts.scheduler.checkpoints(g.id);
    assert.ok(cps.length >= 10, `${cps.length} checkpoints`);
    let between = 0;
    for (const cp of cps) {
      const ia = await recoveryAppliance.journal(g.id, vmA.id)!.openImage(cp.id);
      const ib = await recoveryAppliance.journal(g.id, vmB.id)!.openImage(cp.id);
      const ta = (await ia.read(vmA.volume, 0, 512)).readUInt32LE(0);
      const tb = (await ib.read(vmB.volume, 0, 512)).readUInt32LE(0);
      ia.close();
      ib.close();
      assert.ok(tb <= ta && ta <= tb + 1, `checkpoint ${cp.id}: token(a) ${ta}, token(b) ${tb}`);
      if (ta === tb + 1) between++;
    }
    assert.ok(between > 0, 'some checkpoint fell between a pair\'s two writes, so the order was really tested');
  });

  it('a member that goes away aborts its round (event names it), holds no guest past the bound, stops only its group\'s checkpoints; restarted, it gets the group back with a delta sync', async () => {
    const g = group();
    await advance(2000);
    const before = await listed();
    host2.killOnHold = true;
    await advance(600, 10);
    host2.killOnHold = false;
    const aborted = manager.parts.events.list({ groupId: g.id, type: 'CheckpointRoundAborted' });
    assert.ok(aborted.length >= 1, 'the round that met the dead member is an event');
    assert.match(aborted[0].description, /appliance host-2 of site .*failed the hold: .*ECONNREFUSED/);
    // A guest of the member still alive is never held past the bound while rounds meet the dead one.
    for (let i = 0; i < 5; i++) {
      const at = clock.now();
      let done = -1;
      void dc.guestWrite(vmA.id, vmA.volume, 4096, token(1000 + i)).then(() => (done = clock.now()));
      for (let t = 0; t < 400 && done < 0; t += 10) await clock.advance(10);
      assert.ok(done >= 0 && done - at <= 300, `write completed ${done - at} ms after it was issued (bound 300 ms)`);
    }
    await advance(3000);
    const during = await listed();
    assert.deepEqual(during.filter((id) => !before.includes(id)), [], 'no checkpoint listed while a member is down');
    const state = manager.group(g.id).state!;
    assert.deepEqual([state.status, state.subStatus], ['NotMeetingSLA', 'Error']);
    assert.match(state.reason, /appliance host-2 .*cannot be reached/);
    const alert = manager.parts.alerts.list({ groupId: g.id }).find((a) => a.type === 'ApplianceUnreachable');
    assert.match(alert?.description ?? '', /appliance host-2 .*cannot be reached/);

    // The member comes back as a fresh process (its memory gone): the manager protects the group there again, preseeded.
    const writtenWhileDown = Buffer.alloc(8192, 0x5a);
    await dc.guestWrite(vmB.id, vmB.volume, 65536, writtenWhileDown);
    host2.target = newMember('host-2', hostIds[1]);
    host2.down = false;
    await advance(8000);
    const restored = manager.parts.events.list({ groupId: g.id, type: 'GroupMemberRestored' });
    assert.equal(restored.length, 1, 'restored once');
    assert.equal((await host2.target.groupFacts(g.id)).lastSync, 'delta-sync', 'the right sync after a protected-side restart: delta');
    const after = (await listed()).filter((id) => !during.includes(id));
    assert.ok(after.length >= 2, 'checkpoints resumed');
    const image = await recoveryAppliance.journal(g.id, vmB.id)!.openImage(after[after.length - 1]);
    assert.ok((await image.read(vmB.volume, 65536, 8192)).equals(writtenWhileDown), 'what the guest wrote while its appliance was away is in the next checkpoint');
    image.close();
    assert.equal(manager.parts.alerts.list({ groupId: g.id }).filter((a) => a.type === 'ApplianceUnreachable').length, 0, 'the alert cleared');
  });

  it('a group whose creation task waits is not "repaired" behind its back; a member that lost the group gets it back on the same appliance, once', async () => {
    const c = dc.createVm({ name: 'cache', hostId: hostIds[0], volumes: [{ name: 'disk0', sizeBytes: 512 * 1024, sectorSize: 512 }] });
    const d = dc.createVm({ name: 'queue', hostId: hostIds[1], volumes: [{ name: 'disk0', sizeBytes: 512 * 1024, sectorSize: 512 }] });
    await advance(2500); // past the manager's reuse of inventories
    // The creation task stalls at its first step (a busy recovery appliance) while the monitor polls.
    const define = svcB.defineRecoveryGroup.bind(svcB);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    svcB.defineRecoveryGroup = async (definition) => {
      await gate;
      return define(definition);
    };
    const r = await manager.parts.groups.create({ settings: { name: 'second', checkpointIntervalMs: 500, rpoTargetSeconds: 10 }, vmIds: [c.id, d.id], recoverySiteId: siteB });
    // (the clock alone: waiting for the manager to be idle would wait for the stalled task)
    for (let t = 0; t < 4000; t += 50) await clock.advance(50);
    assert.equal(manager.parts.tasks.get(r.taskId).state, TaskState.InProgress);
    assert.deepEqual(manager.parts.events.list({ groupId: r.groupId, type: 'GroupMemberRestored' }), [], 'nothing protected behind the creation task');
    open();
    await advance(5000);
    assert.equal(manager.parts.tasks.get(r.taskId).state, TaskState.Completed, manager.parts.tasks.get(r.taskId).error);
    assert.equal((await host1.groupFacts(r.groupId)).phase, 'streaming');

    // host-1 loses the group (as after a restart) but keeps running: protected there again, preseeded, exactly once.
    await host1.unprotectGroup(r.groupId, { deleteSourceVms: false });
    await advance(6000);
    assert.equal(manager.parts.events.list({ groupId: r.groupId, type: 'GroupMemberRestored' }).length, 1, 'restored once (a second protect on the same appliance used to fail as "already protected" and loop)');
    assert.deepEqual(manager.parts.events.list({ groupId: r.groupId, type: 'GroupMemberRestoreFailed' }), []);
    const facts = await host1.groupFacts(r.groupId);
    assert.deepEqual([facts.phase, facts.lastSync], ['streaming', 'delta-sync']);
  });
});

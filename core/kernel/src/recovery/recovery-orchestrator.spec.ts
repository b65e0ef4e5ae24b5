// Unit tests of the orchestrator's own rules on a minimal platform (no promotion, no splitter): one
// operation per group, claimed synchronously; commit-policy timers on the clock; a platform that cannot
// promote keeps disks on the image; reverse protection without a starter; status mapping. The end-to-end
// behaviour (data by hash, networks, promotion, reverse delta sync) is the conformance recovery suite's.
import assert from 'node:assert/strict';
import { VirtualClock } from '../clock.js';
import { ClosedError, ConflictError, InvalidStateError, NotFoundError, UnsupportedError, ValidationError } from '../errors.js';
import { Journal } from '../journal/journal.js';
import type { Inventory, VmId, VmInfo } from '../model.js';
import type { HypervisorAdapter, RecoveryVmSpec } from '../ports/hypervisor-adapter.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import type { ProtectedSiteControl, RecoveryPlan } from './recovery-api.js';
import type { RecoveryScriptRunner } from './recovery-scripts.js';
import { RecoveryOrchestrator, recoveryStatusOf } from './recovery-orchestrator.js';
import { StaticGroupDirectory } from './recovery-platform.js';

const MiB = 1024 * 1024;

/** Recovery VMs whose disks read straight through their sources; no promotion. */
class StubPlatform implements HypervisorAdapter {
  readonly platform = 'stub';
  readonly vms = new Map<VmId, { info: VmInfo; spec: RecoveryVmSpec }>();
  private n = 0;

  async inventory(): Promise<Inventory> {
    return {
      hosts: [{ id: 'h1', name: 'h1', siteId: 's' }],
      vms: [...this.vms.values()].map((v) => v.info),
      networks: [{ id: 'prod', name: 'prod', isolated: false }, { id: 'test', name: 'test', isolated: true }],
      datastores: [{ id: 'ds1', name: 'ds1', capacityBytes: 1e12, freeBytes: 1e12 }],
    };
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    const v = this.vms.get(vmId);
    if (!v) throw new Error(`no VM ${vmId}`);
    return v.info;
  }

  async readVolume(vmId: VmId, volumeId: string, offset: number, length: number): Promise<Buffer> {
    const v = this.vms.get(vmId)!;
    const i = v.info.volumes.findIndex((x) => x.id === volumeId);
    const d = v.spec.disks[i];
    return d.source.read(d.volumeId, offset, length);
  }

  async createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    const id = `rvm-${++this.n}`;
    const info: VmInfo = {
      id, name: spec.name, hostId: 'h1', powerState: 'off',
      volumes: spec.disks.map((d, i) => ({ id: `${id}-d${i}`, vmId: id, name: d.volumeId, sizeBytes: d.source.sizeBytes(d.volumeId), sectorSize: 512 })),
      nics: spec.nics.map((n, i) => ({ id: `${id}-n${i}`, networkId: n.networkId, mac: `02:00:00:00:00:0${i}`, ...(n.ipv4 ? { ipv4: n.ipv4 } : {}) })),
    };
    this.vms.set(id, { info, spec });
    return info;
  }

  async powerOn(vmId: VmId): Promise<void> { this.vms.get(vmId)!.info.powerState = 'on'; }
  async shutdownGuest(vmId: VmId): Promise<void> { this.vms.get(vmId)!.info.powerState = 'off'; }
  async powerOff(vmId: VmId): Promise<void> { this.vms.get(vmId)!.info.powerState = 'off'; }
  async deleteVm(vmId: VmId): Promise<void> { this.vms.delete(vmId); }
}

interface Rig {
  clock: VirtualClock;
  platform: StubPlatform;
  journal: Journal;
  orchestrator: RecoveryOrchestrator;
  calls: string[];
  storage: MemoryStorage;
}

async function rig(options: { withStarter?: boolean; plan?: RecoveryPlan; scripts?: RecoveryScriptRunner; stopProtectionError?: Error } = {}): Promise<Rig> {
  const clock = new VirtualClock();
  const storage = new MemoryStorage();
  const journal = await Journal.open({
    storage, clock, path: 'journals/g1/vm-a', vmId: 'vm-a', volumes: [{ id: 'vol-a', sizeBytes: MiB, sectorSize: 512 }],
    historyMs: 3_600_000, hardLimitBytes: 64 * MiB, warningBytes: 48 * MiB,
  });
  await journal.append({ seq: 1, volumeId: 'vol-a', offset: 0, data: Buffer.alloc(4096, 1) });
  await journal.addCheckpoint({ id: 'cp-1', groupId: 'g1', seq: 1, timestamp: clock.now(), kind: 'auto' });
  await journal.append({ seq: 2, volumeId: 'vol-a', offset: 0, data: Buffer.alloc(4096, 2) });
  await journal.addCheckpoint({ id: 'cp-2', groupId: 'g1', seq: 2, timestamp: clock.now(), kind: 'auto' });
  const calls: string[] = [];
  const protectedSite: ProtectedSiteControl = {
    shutdownVms: async (_g, ids, policy) => { calls.push(`shutdown:${policy}:${ids.join(',')}`); },
    finalCheckpoint: async () => { throw new Error('not in this test'); },
    stopProtection: async (_g, o) => {
      calls.push(`stop:${o.deleteSourceVms}`);
      if (options.stopProtectionError) throw options.stopProtectionError;
    },
    resumeProtection: async () => { calls.push('resume'); },
    powerOnVms: async (_g, ids) => { calls.push(`power-on:${ids.join(',')}`); },
  };
  const platform = new StubPlatform();
  let ids = 0;
  const orchestrator = new RecoveryOrchestrator({
    clock, hypervisor: platform, journals: { journal: (g, v) => (g === 'g1' && v === 'vm-a' ? journal : undefined) },
    groups: new StaticGroupDirectory([{ groupId: 'g1', name: 'group one', vms: [{ id: 'vm-a', name: 'a' }], plan: options.plan ?? {} }]),
    protectedSite, storage, newId: () => `op-${++ids}`, ...(options.scripts ? { scripts: options.scripts } : {}),
    ...(options.withStarter ? { reverseProtection: async (req) => { calls.push(`reverse:${req.vms.map((v) => v.recoveredVmId).join(',')}`); } } : {}),
  });
  return { clock, platform, journal, orchestrator, calls, storage };
}

const failover = { groupId: 'g1', shutdownPolicy: 'shutdown', timeToWaitBeforeShutdownSec: 10, commitPolicy: 'none', commitPolicyTimeoutSec: 0, reverseProtection: false } as const;

describe('RecoveryOrchestrator', () => {
  it('deletes a group the protected site protects no more (NOT_FOUND: the manager unprotected it there first); any other refusal changes nothing', async () => {
    const gone = await rig({ stopProtectionError: new NotFoundError('protected group', 'g1') });
    assert.ok((await gone.storage.list('journals/g1/')).length > 0);
    await gone.orchestrator.deleteGroup({ groupId: 'g1', keepRecoveryVolumes: false, force: false });
    assert.deepEqual(await gone.storage.list('journals/g1/'), [], 'the journals are deleted');
    const down = await rig({ stopProtectionError: new ClosedError('the protected site') });
    await assert.rejects(down.orchestrator.deleteGroup({ groupId: 'g1', keepRecoveryVolumes: false, force: false }), ClosedError);
    assert.ok((await down.storage.list('journals/g1/')).length > 0, 'an unreachable protected site leaves the journals');
  });

  it('claims the group synchronously: of two operations started in the same turn, the second gets ConflictError', async () => {
    const r = await rig();
    const first = r.orchestrator.startFailoverTest({ groupId: 'g1' });
    const second = r.orchestrator.failover(failover);
    await assert.rejects(second, ConflictError);
    const test = await first;
    assert.equal(test.phase, 'running');
    assert.deepEqual(r.calls, [], 'the refused failover shut nothing down');
    assert.equal(r.platform.vms.size, 1);
    assert.deepEqual(recoveryStatusOf(test), undefined, 'a test does not change the group status');
  });

  it('recovers at a chosen checkpoint, reads through the journal, and maps phases to the anchor\'s statuses', async () => {
    const r = await rig();
    const fo = await r.orchestrator.failover({ ...failover, checkpointId: 'cp-1' });
    assert.deepEqual(recoveryStatusOf(fo), { status: 'FailingOver', subStatus: 'FailingOverBeforeCommit' });
    const data = await r.platform.readVolume(fo.vms[0].recoveredVmId, r.platform.vms.get(fo.vms[0].recoveredVmId)!.info.volumes[0].id, 0, 4096);
    assert.ok(data.equals(Buffer.alloc(4096, 1)), 'the image at cp-1, not the later write');
    assert.deepEqual(r.calls, ['shutdown:shutdown:vm-a']);
    assert.deepEqual(recoveryStatusOf({ kind: 'Move', phase: 'promoting' }), { status: 'Moving', subStatus: 'Promoting' });
  });

  it('a platform that cannot promote keeps the image open after commit and says so in the report; reverse protection without a starter fails its step', async () => {
    const r = await rig();
    await r.orchestrator.failover({ ...failover, checkpointId: 'cp-1', reverseProtection: true });
    const report = await r.orchestrator.commit({ groupId: 'g1' });
    const promote = report.steps.find((s) => s.name === 'promote')!;
    assert.equal(promote.result, 'Success');
    assert.match(promote.detail ?? '', /cannot promote/);
    const reverse = report.steps.find((s) => s.name === 'reverse-protection')!;
    assert.equal(reverse.result, 'Fail');
    assert.match(reverse.detail ?? '', /reverse protection/);
    assert.equal(report.result, 'Fail');
    // The image still backs the VM: trimming past the history window cannot pass its checkpoint.
    await r.clock.advance(2 * 3_600_000);
    await r.journal.trim();
    assert.deepEqual(r.journal.checkpoints().map((c) => c.id), ['cp-1', 'cp-2']);
    await assert.rejects(r.orchestrator.clone({ groupId: 'g1' }), UnsupportedError);
  });

  it('commit policy "commit after N s" commits on the clock, with reverse protection handed the recovered VM', async () => {
    const r = await rig({ withStarter: true });
    const fo = await r.orchestrator.failover({ ...failover, commitPolicy: 'commit', commitPolicyTimeoutSec: 20, reverseProtection: true });
    await r.clock.advance(19_999);
    assert.equal((await r.orchestrator.active('g1'))?.phase, 'before-commit');
    await r.clock.advance(1);
    assert.equal(await r.orchestrator.active('g1'), undefined);
    const [report] = await r.orchestrator.reports('g1');
    assert.equal(report.result, 'Success');
    assert.deepEqual(r.calls, ['shutdown:shutdown:vm-a', 'stop:false', `reverse:${fo.vms[0].recoveredVmId}`]);
  });

  it('refuses bad input with typed errors and changes nothing', async () => {
    const r = await rig();
    await assert.rejects(r.orchestrator.failover({ ...failover, groupId: 'nope' }), NotFoundError);
    await assert.rejects(r.orchestrator.failover({ ...failover, commitPolicy: 'later' as never }), ValidationError);
    await assert.rejects(r.orchestrator.failover({ ...failover, checkpointId: 'cp-of-g2' }), /does not exist/);
    await assert.rejects(r.orchestrator.commit({ groupId: 'g1' }), InvalidStateError);
    await assert.rejects(r.orchestrator.stopFailoverTest({ groupId: 'g1', success: 'yes' as never }), ValidationError);
    assert.equal(r.platform.vms.size, 0);
    assert.deepEqual(r.calls, []);
    assert.deepEqual(await r.orchestrator.reports(), []);
  });

  it('rollback of a failover powers the protected VMs back on and removes the recovered ones', async () => {
    const r = await rig();
    await r.orchestrator.failover({ ...failover, shutdownPolicy: 'force' });
    const report = await r.orchestrator.rollback('g1');
    assert.equal(report.result, 'Success');
    assert.equal(r.platform.vms.size, 0);
    assert.deepEqual(r.calls, ['shutdown:force:vm-a', 'power-on:vm-a']);
  });

  it('places each VM where its own placement says, else where the group says; a clone where the user says', async () => {
    const r = await rig({ plan: { hostId: 'h1', datastoreId: 'ds1', vms: [{ vmId: 'vm-a', datastoreId: 'ds-fast', hostId: 'h9' }] } });
    const fo = await r.orchestrator.failover({ ...failover, shutdownPolicy: 'none' });
    const spec = r.platform.vms.get(fo.vms[0].recoveredVmId)!.spec;
    assert.deepEqual([spec.hostId, spec.datastoreId], ['h9', 'ds-fast']);
    await r.orchestrator.rollback('g1');
  });

  describe('pre- and post-recovery scripts', () => {
    const plan: RecoveryPlan = { scripts: { preRecovery: { command: 'pre.sh', parameters: ['--dns'], timeoutSeconds: 30 }, postRecovery: { command: 'post.sh', timeoutSeconds: 5 } } };
    /** Answers from a table and records what ran, with the VMs that existed at that moment. */
    function runner(r: () => Rig, exits: Record<string, number>): RecoveryScriptRunner & { ran: string[] } {
      const ran: string[] = [];
      return {
        ran,
        run: async (script, ctx) => {
          ran.push(`${ctx.phase}:${script.command}:${ctx.operation}:${ctx.checkpointId}:vms=${r().platform.vms.size}:calls=${r().calls.length}`);
          return { exitCode: exits[script.command] ?? 0, timedOut: false, output: `${script.command} said hello ${(script.parameters ?? []).join(' ')}`, durationMs: 3 };
        },
      };
    }

    it('runs the pre-recovery script before anything changes and the post-recovery one after power-on; both outputs are report steps', async () => {
      let current: Rig | undefined;
      const scripts = runner(() => current!, {});
      current = await rig({ plan, scripts });
      await current.orchestrator.failover({ ...failover, checkpointId: 'cp-1' });
      assert.deepEqual(scripts.ran, ['pre:pre.sh:Failover:cp-1:vms=0:calls=0', 'post:post.sh:Failover:cp-1:vms=1:calls=1']);
      const report = await current.orchestrator.commit({ groupId: 'g1' });
      const steps = report.steps.map((s) => s.name);
      assert.deepEqual(steps.slice(0, 3), ['check-platform-fit', 'pre-recovery-script', 'shutdown-protected-vms'], 'the platform check changes nothing and comes first, then the script, then the shutdown');
      assert.equal(steps[steps.indexOf('power-on') + 1], 'post-recovery-script');
      assert.match(report.steps.find((x) => x.name === 'pre-recovery-script')?.detail ?? '', /^pre\.sh: exit code 0 after 3 ms\npre\.sh said hello --dns$/);
    });

    it('a failing pre-recovery script fails a failover before any VM is shut down or created; a failing post-recovery script is recorded and the VMs stay up', async () => {
      let current: Rig | undefined;
      const failing = runner(() => current!, { 'pre.sh': 3 });
      current = await rig({ plan, scripts: failing });
      await assert.rejects(current.orchestrator.failover(failover), /pre\.sh: exit code 3/);
      assert.deepEqual(current.calls, []);
      assert.equal(current.platform.vms.size, 0);
      const [report] = await current.orchestrator.reports('g1');
      assert.deepEqual([report.result, report.steps[1].name, report.steps[1].result], ['Fail', 'pre-recovery-script', 'Fail']);
      // A test with a failing post-recovery script keeps its VMs up and says so.
      const post = runner(() => current!, { 'post.sh': 1 });
      current = await rig({ plan, scripts: post });
      const test = await current.orchestrator.startFailoverTest({ groupId: 'g1' });
      assert.equal(test.phase, 'running');
      const stopped = await current.orchestrator.stopFailoverTest({ groupId: 'g1', success: true });
      assert.equal(stopped.steps.find((s) => s.name === 'post-recovery-script')?.result, 'Fail');
    });

    it('without a script runner a plan naming scripts fails its pre-recovery step with the reason', async () => {
      const r = await rig({ plan });
      await assert.rejects(r.orchestrator.startFailoverTest({ groupId: 'g1' }), /runs no scripts/);
      assert.equal(r.platform.vms.size, 0);
    });
  });
});

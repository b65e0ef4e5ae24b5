// The vSphere platform in the product's processes: two `opencdp appliance serve` processes loading the
// `vsphere` platform by package, each on its own vcsim (the fixture's CBT and snapshot disk data are a
// SIMULATION), two managers, driven only through the managers' REST API and the `opencdp` CLI. Site A captures by CBT (vSphere
// has no splitter); site B recovers as vSphere VMs. The oracle is what the spec itself wrote.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { SystemClock, VIEW_NAME_PREFIX, type VmId, type VmInfo } from '@opencdp/core';
import { VsphereHypervisor } from '@opencdp/adapter-vsphere';
import { createTestVm, deviceKeyOf, requireVcsimOrSkip, startVcsim, VSPHERE_LIVE_PORTGROUP as LIVE, VSPHERE_TEST_PORTGROUP as TEST, type VcsimFixture } from '@opencdp/adapter-vsphere/testing';
import { TASK_STATES, type ManagerClient } from '../client/manager-client.js';
import { restDelete, restGet, restPost } from '../client/rest-json.js';
import { MAIN } from './cli-process.js';
import { startTwoSiteLab, until, vcsimLabEndpoint, type TwoSiteLab, type VsphereLabEndpoint } from './two-site-lab.js';

const MiB = 1024 * 1024;
const VMS = [{ name: 'web', disks: [4 * MiB] }, { name: 'db', disks: [4 * MiB, 2 * MiB] }];

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function connect(v: VcsimFixture): Promise<VsphereHypervisor> {
  return VsphereHypervisor.connect({
    url: v.url, user: v.user, password: v.password, trust: { kind: 'thumbprint', thumbprint: v.thumbprint }, datacenter: 'DC0', siteId: 'spec', clock: new SystemClock(),
    livePortgroup: LIVE, testPortgroups: [TEST],
  });
}

function endpoint(v: VcsimFixture): VsphereLabEndpoint {
  return { ...vcsimLabEndpoint(v), minIntervalSeconds: 1 };
}

/** `opencdp …args --json` as an operator runs it (password from the environment, not the command line); its JSON output. */
function opencdp<T>(lab: TwoSiteLab, site: 'site-a' | 'site-b', args: string[]): Promise<T> {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPENCDP_'))), OPENCDP_MANAGER: lab.managerUrl(site), OPENCDP_FINGERPRINT: lab.fingerprints[site], OPENCDP_USER: lab.admin.user, OPENCDP_PASSWORD: lab.admin.password };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args, '--json'], { env, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`opencdp ${args.join(' ')} failed (${String(error.code)}): ${stderr} ${stdout}`));
      else resolve(JSON.parse(stdout) as T);
    });
  });
}

/** Every file on a vcsim's datastores (their folders are the fixture's). */
async function datastoreFiles(v: VcsimFixture): Promise<string[]> {
  const out: string[] = [];
  for (const d of v.datastores) {
    // A file may go between listing and stat (site A's snapshot cycles run on): it is then not left behind.
    for (const f of await fs.readdir(d.path, { recursive: true })) if ((await fs.stat(path.join(d.path, f)).catch(() => undefined))?.isFile()) out.push(`[${d.name}] ${f}`);
  }
  return out;
}

type TaskJson = { taskIdentifier: string; type: string; status: { state: number }; result?: unknown };

async function task(api: ManagerClient, id: string, what: string, states: number[] = [6]): Promise<{ result?: unknown }> {
  const t = await api.waitForTask(id, undefined, 200);
  assert.ok(states.includes(t.status.state), `${what}: task ended in state ${t.status.state}${t.error ? ` (${t.error})` : ''}`);
  return t;
}

describe('vSphere in the product: appliance processes with the vsphere platform on vcsim with SIMULATED CBT and snapshot data, protected and recovered through the managers\' REST API and the opencdp CLI (slow)', function () {
  this.timeout(600_000);
  let vcA: VcsimFixture | undefined;
  let vcB: VcsimFixture | undefined;
  let hvA: VsphereHypervisor | undefined;
  let hvB: VsphereHypervisor | undefined;
  let lab: TwoSiteLab | undefined;

  before(function () {
    requireVcsimOrSkip(this);
  });

  after(async () => {
    await lab?.stop();
    await hvA?.dispose().catch(() => undefined);
    await hvB?.dispose().catch(() => undefined);
    await vcA?.stop();
    await vcB?.stop();
  });

  it('creates the group, syncs, tags a checkpoint after known guest writes, runs a failover test at it on site B\'s vcsim: volumes equal by SHA-256; stopping the test and deleting the group leave no VM or snapshot of ours', async () => {
    const logLines: string[] = [];
    [vcA, vcB] = await Promise.all([startVcsim(), startVcsim()]);
    [hvA, hvB] = await Promise.all([connect(vcA), connect(vcB)]);
    // The vSphere administrator's side: running VMs with empty disks on site A's vCenter, none on site B's.
    const made: VmInfo[] = [];
    for (const vm of VMS) made.push(await createTestVm(hvA, { name: vm.name, disks: vm.disks, portgroup: LIVE }));
    const vmsBeforeB = (await hvB.inventory()).vms.map((v) => v.id);

    lab = await startTwoSiteLab({ platform: 'vsphere', vsphere: { 'site-a': endpoint(vcA), 'site-b': endpoint(vcB) }, vms: [], startTimeoutMs: 60_000, log: (l) => logLines.push(l) });
    const { apiA, apiB } = lab;
    assert.deepEqual(lab.vms.map((v) => v.name).sort(), VMS.map((v) => v.name).sort(), 'site A\'s appliance lists the vCenter\'s VMs');
    const created = await restPost<{ taskIdentifier: string; vpgIdentifier: string }>(apiA, '/v1/vpgs', {
      settings: { name: 'vsphere-app', checkpointIntervalMs: 1000, rpoTargetSeconds: 30, journalHistoryHours: 1 },
      vmIdentifiers: made.map((v) => v.id), recoverySiteIdentifier: 'site-b',
    });
    const groupId = created.vpgIdentifier;
    await task(apiA, created.taskIdentifier, 'create the group');
    type Cp = { checkpointIdentifier: string; timeStamp: string; tag: string | null };
    const checkpoints = (api: ManagerClient): Promise<Cp[]> => restGet<Cp[]>(api, `/v1/vpgs/${groupId}/checkpoints`);
    await until('the initial sync and a first checkpoint', async () => ((await checkpoints(apiA)).length > 0 ? true : undefined), 180_000);

    // Known data written by the simulated guest; the oracle is each whole volume as the spec wrote it.
    const expected = new Map<string, string>();
    for (const [i, vm] of made.entries()) {
      for (const [j, vol] of vm.volumes.entries()) {
        const image = Buffer.alloc(vol.sizeBytes);
        for (let k = 0; k < 3; k++) {
          const offset = ((k * 1021 + i * 97 + j * 13) % (vol.sizeBytes / 65536 - 1)) * 65536 + 512 * k;
          const data = Buffer.alloc(4096 * (k + 1));
          for (let b = 0; b < data.length; b += 32) createHash('sha256').update(`${vm.name}/${j}/${k}/${b}`).digest().copy(data, b);
          data.copy(image, offset);
          await vcA.guestWrite(vm.id, deviceKeyOf(vol.id), offset, data);
        }
        expected.set(`${vm.name}/${j}`, sha256(image));
      }
    }
    // The operator's CLI from here: tag the checkpoint at site A, run the failover test at site B.
    const tagged = await opencdp<TaskJson & { checkpointIdentifier: string }>(lab, 'site-a', ['checkpoint', 'add', groupId, '--tag', 'after-writes']);
    assert.equal(TASK_STATES[tagged.status.state], 'Completed', JSON.stringify(tagged));
    await until('site B\'s manager to list the tagged checkpoint', async () => ((await checkpoints(apiB)).find((c) => c.checkpointIdentifier === tagged.checkpointIdentifier) ? true : undefined), 120_000);

    // Failover test at the tagged checkpoint, run by the recovery site's manager.
    const testTask = await opencdp<TaskJson>(lab, 'site-b', ['failover-test', 'start', groupId, '--checkpoint', tagged.checkpointIdentifier]);
    assert.equal(TASK_STATES[testTask.status.state], 'WaitingForUserInput', JSON.stringify(testTask));
    const recovered = (testTask.result as { vms: { sourceVmId: VmId; recoveredVmId: VmId }[] }).vms;
    assert.equal(recovered.length, made.length, 'one test VM per protected VM');
    const compared: string[] = [];
    for (const r of recovered) {
      const source = made.find((v) => v.id === r.sourceVmId);
      assert.ok(source, `test VM ${r.recoveredVmId} comes from a protected VM (${r.sourceVmId})`);
      const info: VmInfo = await hvB.getVm(r.recoveredVmId);
      assert.equal(info.volumes.length, source.volumes.length, `${source.name}: as many disks as protected`);
      const nets = (await hvB.inventory()).networks.filter((n) => n.isolated).map((n) => n.id);
      assert.ok(info.nics.length > 0 && info.nics.every((n) => nets.includes(n.networkId)), `${source.name}: test VM on the test portgroup only`);
      for (const [j, vol] of info.volumes.entries()) {
        const data: Buffer = await hvB.readVolume(r.recoveredVmId, vol.id, 0, vol.sizeBytes);
        assert.equal(sha256(data), expected.get(`${source.name}/${j}`), `${source.name} disk ${j}: recovered bytes equal what the guest wrote`);
        compared.push(`${source.name}/${j}`);
      }
    }
    assert.equal(compared.length, expected.size, 'every volume compared');
    const stopped = await opencdp<TaskJson>(lab, 'site-b', ['failover-test', 'stop', groupId, '--summary', 'volumes equal by SHA-256']);
    assert.equal(TASK_STATES[stopped.status.state], 'Completed', JSON.stringify(stopped));
    const reports = await restGet<{ recoveryType: string; state: string; checkpointIdentifier: string }[]>(apiB, '/v1/reports/recovery');
    assert.ok(reports.some((r) => r.recoveryType === 'FailoverTest' && r.state === 'Success' && r.checkpointIdentifier === tagged.checkpointIdentifier), JSON.stringify(reports));
    const vmsAfterB = (await hvB.inventory()).vms.map((v) => v.id);
    assert.deepEqual(vmsAfterB.sort(), vmsBeforeB.sort(), 'no test VM is left on site B\'s vCenter');

    // The same listing of site A's datastores finds its protected VMs' disks: the check can see files.
    assert.ok((await datastoreFiles(vcA)).some((f) => f.endsWith('.vmdk')), 'site A\'s datastores list the protected disks');
    assert.deepEqual(await datastoreFiles(vcB), [], 'no file of the test is left on site B\'s datastores');
    const stats = await vcA.stats();
    assert.ok(stats.snapshotsFrozen > 0 && stats.qcdaCalls > 0, `site A captured by snapshots and QueryChangedDiskAreas (SIMULATED CBT): ${JSON.stringify(stats)}`);

    const removed = await restDelete<{ taskIdentifier: string }>(apiA, `/v1/vpgs/${groupId}`, {});
    await task(apiA, removed.taskIdentifier, 'delete the group');
    const views = await until('site A\'s views (snapshots) of ours to be gone', async () => ((await hvA!.changeTracking.listViews(VIEW_NAME_PREFIX)).length === 0 ? true : undefined), 60_000)
      .catch(async (e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(await hvA!.changeTracking.listViews(VIEW_NAME_PREFIX))}`); });
    assert.equal(views, true);
    assert.deepEqual((await hvA.inventory()).vms.map((v) => v.name).sort(), VMS.map((v) => v.name).sort(), 'site A keeps exactly its own VMs');
    const secret = [vcA.password, vcB.password];
    const leaked = [lab.processes.applianceA, lab.processes.applianceB, lab.processes.managerA, lab.processes.managerB]
      .some((p) => p !== undefined && secret.some((s) => p.stderr.includes(s) || p.lines.some((l) => JSON.stringify(l).includes(s))));
    assert.equal(leaked, false, 'no vCenter password in any process\'s output');
  });
});

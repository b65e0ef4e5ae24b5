// `opencdp demo`: two sites on loopback, four processes — at each site an appliance (`opencdp appliance
// serve`, the embedded default: a fake data centre and local files) and a manager (`opencdp manager
// start`). Site A's appliance runs a three-VM application (web, app, db) and replicates it over the
// mutual-TLS site link to site B. The demo then plays an operator through the REST API: protect, watch the
// status, tag a checkpoint, power the protected manager off (replication goes on, no checkpoints), bring it
// back, suffer a ransomware-like overwrite of the db VM, run a failover test, fail over live to the
// checkpoint before the attack, verify every recovered volume by hash, and print the recovery report.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RemoteApplianceControl, type Inventory, type VmId } from '@opencdp/core';
import { createIdentityFile, trustPeer } from '../appliance/identity-files.js';
import { ManagerClient, TASK_STATES, type TaskView } from '../client/manager-client.js';
import { table } from '../client/verbs.js';
import { CliProcess } from '../site/cli-process.js';

export interface TwoSiteDemoOptions {
  dataDir?: string;
  keep?: boolean;
  /** How long the protected manager stays off (default 6 s). */
  outageMs?: number;
  /** Progress lines; none with `--json`. */
  log?: (line: string) => void;
}

export interface TwoSiteDemoSummary {
  wallMs: number;
  groupId: string;
  vms: { name: string; id: VmId; volumes: number }[];
  statusSamples: Record<string, unknown>[];
  beforeUpgrade: { checkpointId: string; timestamp: string };
  managerOutage: {
    durationMs: number;
    checkpointsBefore: number;
    checkpointsCutWhileOff: number;
    writesReplicatedWhileOff: number;
    wireBytesWhileOff: number;
    checkpointsAfterReturn: number;
    gapMs: number;
  };
  ransomware: { vm: string; bytesOverwritten: number };
  failoverTest: { taskState: string; testVms: string[]; onTestNetworkOnly: boolean };
  failover: { taskState: string; checkpointId: string; volumesCompared: number; hashesMatch: boolean; latestWouldHaveBeenCorrupted: boolean };
  report: Record<string, unknown>;
  ok: boolean;
}

const MiB = 1024 * 1024;
const GROUP_SETTINGS = { name: 'three-tier-app', checkpointIntervalMs: 1000, rpoTargetSeconds: 10, journalHistoryHours: 1, journal: { hardLimit: { mb: 1024 }, warningThreshold: { mb: 768 } } };
const VMS = [
  { name: 'web', volumes: [{ sizeBytes: 16 * MiB }] },
  { name: 'app', volumes: [{ sizeBytes: 16 * MiB }] },
  { name: 'db', volumes: [{ sizeBytes: 24 * MiB }, { sizeBytes: 8 * MiB, sectorSize: 4096 }] },
];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`demo: timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export async function runTwoSiteDemo(options: TwoSiteDemoOptions = {}): Promise<TwoSiteDemoSummary> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-demo-')));
  await fs.mkdir(dir, { recursive: true });
  const f = (name: string): string => path.join(dir, name);
  const processes: CliProcess[] = [];
  const spawn = (name: string, args: string[]): CliProcess => {
    const p = new CliProcess(name, args);
    processes.push(p);
    return p;
  };
  try {
    // ---- two sites: identities, trust, configurations ---------------------------------------------
    log('== setting up two sites on loopback (site-a protects, site-b recovers) ==');
    const [idA, idB] = await Promise.all([createIdentityFile('site-a', f('site-a.identity.json')), createIdentityFile('site-b', f('site-b.identity.json'))]);
    await trustPeer(idA, { siteId: idB.siteId, caCertPem: idB.caCertPem }, f('site-a.peers.json'));
    await trustPeer(idB, { siteId: idA.siteId, caCertPem: idA.caCertPem }, f('site-b.peers.json'));
    const token = randomBytes(24).toString('hex');
    const admin = { user: 'admin', password: randomBytes(12).toString('hex') };
    const [ctlA, ctlB, linkB, mgrA, mgrB] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const url = (port: number): string => `http://127.0.0.1:${port}`;
    const writeJson = async (name: string, value: unknown): Promise<string> => {
      await fs.writeFile(f(name), JSON.stringify(value, null, 2));
      return f(name);
    };
    const applianceA = await writeJson('site-a.appliance.json', {
      siteId: 'site-a', identityFile: 'site-a.identity.json', trustedPeersFile: 'site-a.peers.json', dataDir: 'site-a-data',
      control: { listen: `127.0.0.1:${ctlA}`, token }, vms: VMS, workload: { seed: 42, ratePerSecond: 300, writeSizes: [4096, 16384, 65536] },
    });
    const applianceB = await writeJson('site-b.appliance.json', {
      siteId: 'site-b', identityFile: 'site-b.identity.json', trustedPeersFile: 'site-b.peers.json', dataDir: 'site-b-data',
      control: { listen: `127.0.0.1:${ctlB}`, token }, linkListen: `127.0.0.1:${linkB}`,
      protectedPeer: { siteId: 'site-a', controlUrl: url(ctlA), token },
    });
    const appliances = [{ siteId: 'site-a', url: url(ctlA), token }, { siteId: 'site-b', url: url(ctlB), token }];
    const managerConfig = (site: string, peer: string, peerPort: number): Promise<string> => writeJson(`${site}.manager.json`, {
      siteId: site, admin, appliances, recoveryAddresses: { 'site-b': `127.0.0.1:${linkB}` }, peer: { siteId: peer, url: url(peerPort) }, pollIntervalMs: 500,
    });
    const [managerA, managerB] = [await managerConfig('site-a', 'site-b', mgrB), await managerConfig('site-b', 'site-a', mgrA)];

    const startManager = async (site: string, port: number, config: string): Promise<CliProcess> => {
      const p = spawn(`manager ${site}`, ['manager', 'start', '--data-dir', f(`${site}-manager`), '--listen', `127.0.0.1:${port}`, '--config', config]);
      await until(`the ${site} manager to answer`, async () => ((await fetch(`${url(port)}/v1/openapi.json`)).ok ? true : undefined), 20_000);
      return p;
    };
    const appA = spawn('appliance site-a', ['appliance', 'serve', '--config', applianceA]);
    const appB = spawn('appliance site-b', ['appliance', 'serve', '--config', applianceB]);
    const readyA = await appA.waitFor('appliance site-a ready', (l) => l.event === 'ready', 20_000);
    await appB.waitFor('appliance site-b ready', (l) => l.event === 'ready', 20_000);
    let procManagerA = await startManager('site-a', mgrA, managerA);
    await startManager('site-b', mgrB, managerB);
    const controlA = new RemoteApplianceControl('site-a', url(ctlA), token);
    const controlB = new RemoteApplianceControl('site-b', url(ctlB), token);
    const apiA = new ManagerClient({ url: url(mgrA), ...admin });
    const apiB = new ManagerClient({ url: url(mgrB), ...admin });
    log(`   4 processes: appliance site-a (pid ${appA.pid}), appliance site-b (pid ${appB.pid}), managers at ${url(mgrA)} and ${url(mgrB)}`);

    // ---- protect the application ---------------------------------------------------------------------------
    const vms = (readyA.vms as { id: VmId; name: string; volumes: string[] }[]);
    log(`== protecting ${vms.map((v) => v.name).join(', ')} in one group, site-a → site-b ==`);
    const created = await apiA.post<{ taskIdentifier: string; vpgIdentifier: string }>('/v1/vpgs', {
      settings: GROUP_SETTINGS, vmIdentifiers: vms.map((v) => v.id), recoverySiteIdentifier: 'site-b',
    });
    const groupId = created.vpgIdentifier;
    await expectTask(apiA, created.taskIdentifier, 'create the group');
    await controlA.extra('startWorkload');
    const statusSamples: Record<string, unknown>[] = [];
    const sample = async (api: ManagerClient): Promise<Record<string, unknown>> => {
      const g = await api.get<Record<string, unknown>>(`/v1/vpgs/${groupId}`);
      const row = {
        time: new Date().toISOString().slice(11, 19), status: g.statusName, subStatus: g.subStatusName, rpoSec: g.actualRPO, iops: g.ioPs,
        MBps: g.throughputInMB, historyMin: (g.historyStatusApi as { actualHistoryInMinutes: number }).actualHistoryInMinutes, journalMB: g.usedStorageInMB,
      };
      statusSamples.push(row);
      return row;
    };
    const columns = ['time', 'status', 'subStatus', 'rpoSec', 'iops', 'MBps', 'historyMin', 'journalMB'];
    await until('the initial sync to finish', async () => ((await controlA.groupFacts(groupId)).phase === 'streaming' ? true : undefined), 60_000);
    log('== streaming; live status from the manager (GET /v1/vpgs/{id}) ==');
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(1000);
      rows.push(await sample(apiA));
    }
    log(indent(table(rows, columns)));

    // ---- a tagged checkpoint with the application quiesced -------------------------------------------------------
    log('== tagging checkpoint "before-upgrade" (guests quiesced, hashes recorded) ==');
    const vmIds = vms.map((v) => v.id);
    await controlA.extra('quiesce', vmIds);
    let tagged: { taskIdentifier: string; checkpointIdentifier: string };
    let expected: Record<string, string>;
    try {
      tagged = await apiA.post('/v1/vpgs/' + groupId + '/checkpoints', { checkpointName: 'before-upgrade' });
      await expectTask(apiA, tagged.taskIdentifier, 'tag the checkpoint');
      expected = await controlA.extra<Record<string, string>>('hashVolumes', vmIds);
    } finally {
      await controlA.extra('thaw');
    }
    const beforeUpgrade = await until('the tagged checkpoint at the recovery site', async () => (await controlB.recovery.listCheckpoints(groupId)).find((c) => c.id === tagged.checkpointIdentifier));
    log(`   ${beforeUpgrade.id} at ${new Date(beforeUpgrade.timestamp).toISOString()}`);

    // ---- the protected manager goes away -------------------------------------------------------------------
    const outageMs = options.outageMs ?? 6000;
    log(`== powering the protected manager off for ${outageMs / 1000} s (appliances keep replicating) ==`);
    await sleep(1500);
    const checkpointsBefore = (await controlB.recovery.listCheckpoints(groupId)).length;
    const factsBefore = await controlA.groupFacts(groupId);
    const offAt = Date.now();
    await procManagerA.terminate();
    await sleep(outageMs);
    const factsDuring = await controlA.groupFacts(groupId);
    const duringList = await controlB.recovery.listCheckpoints(groupId);
    const cutWhileOff = duringList.filter((c) => c.timestamp > offAt).length;
    const writesWhileOff = (factsDuring.writes ?? 0) - (factsBefore.writes ?? 0);
    const wireWhileOff = (factsDuring.wireBytes ?? 0) - (factsBefore.wireBytes ?? 0);
    log(`   while off: ${writesWhileOff} writes (${(wireWhileOff / MiB).toFixed(1)} MiB on the wire) replicated, ${cutWhileOff} checkpoints cut`);
    log('== powering the protected manager back on ==');
    procManagerA = await startManager('site-a', mgrA, managerA);
    const resumed = await until('checkpoints to resume', async () => {
      const list = await controlB.recovery.listCheckpoints(groupId);
      return list.some((c) => c.timestamp > offAt) ? list : undefined;
    });
    const firstAfter = resumed.find((c) => c.timestamp > offAt)!;
    const lastBefore = [...resumed].reverse().find((c) => c.timestamp <= offAt)!;
    log(`   checkpoints resumed; gap in the list: ${((firstAfter.timestamp - lastBefore.timestamp) / 1000).toFixed(1)} s`);

    // ---- the attack ---------------------------------------------------------------------------------------
    const db = vms.find((v) => v.name === 'db')!;
    log('== ransomware overwrites the db VM ==');
    const overwritten = await controlA.extra<number>('ransomware', db.id, 4 * MiB);
    const attackAt = Date.now();
    const afterAttack = await until('a checkpoint after the attack', async () => (await controlB.recovery.listCheckpoints(groupId)).find((c) => c.timestamp > attackAt + 200));
    log(`   ${(overwritten / MiB).toFixed(0)} MiB overwritten; the latest checkpoint (${afterAttack.id}) holds the damage`);
    await sample(apiA);

    // ---- failover test at the recovery site (site-b's manager) --------------------------------------------------
    log('== failover test at site-b, at the latest checkpoint (test network, replication continues) ==');
    const recoveryApi = await managerKnowsGroup(apiB, groupId) ? apiB : apiA;
    const test = await recoveryApi.post<{ taskIdentifier: string }>(`/v1/vpgs/${groupId}/FailoverTest`, {});
    const testTask = await expectTask(recoveryApi, test.taskIdentifier, 'start the failover test', [2, 6]);
    const inventoryB = await controlB.inventory();
    const testNet = new Set(inventoryB.networks.filter((n) => n.isolated).map((n) => n.id));
    const testVms = inventoryB.vms.filter((v) => v.powerState === 'on');
    const onTestNetworkOnly = testVms.length === vms.length && testVms.every((v) => v.nics.every((n) => testNet.has(n.networkId)));
    // The attack's pattern starts every overwritten volume: the test copy of db at the latest checkpoint shows it.
    const dbTest = testVms.find((v) => v.name.startsWith('db'));
    const head = dbTest ? Buffer.from(await controlB.extra<string>('read', dbTest.id, dbTest.volumes[0].id, 0, 32), 'base64') : Buffer.alloc(0);
    const latestCorrupted = head.equals(createHash('sha256').update(`locked:${db.volumes[0]}:0`).digest());
    log(`   ${testVms.length} test VMs on the isolated network: ${testVms.map((v) => v.name).join(', ')}; db at the latest checkpoint is ${latestCorrupted ? 'corrupted (as expected)' : 'intact'}`);
    const stop = await recoveryApi.post<{ taskIdentifier: string }>(`/v1/vpgs/${groupId}/FailoverTestStop`, { failoverTestSuccess: true, failoverTestSummary: 'test VMs booted on the isolated network; db shows the attack' });
    await expectTask(recoveryApi, stop.taskIdentifier, 'stop the failover test');

    // ---- failover live to the checkpoint before the attack ---------------------------------------------------------
    log(`== failover live to "before-upgrade" (${beforeUpgrade.id}), force shutdown at site-a, then commit ==`);
    await controlA.extra('stopWorkload');
    const failover = await recoveryApi.post<{ taskIdentifier: string }>(`/v1/vpgs/${groupId}/Failover`, {
      checkpointIdentifier: beforeUpgrade.id, commitPolicy: 2, commitPolicyTimeout: 0, shutdownPolicy: 2, timeToWaitBeforeShutdownInSec: 0, isReverseProtection: false,
    });
    const failoverTask = await expectTask(recoveryApi, failover.taskIdentifier, 'fail over', [2]);
    const recoveredIds = ((failoverTask.result as { vms: { recoveredVmId: string }[] }).vms).map((v) => v.recoveredVmId);
    log(`   before-commit: ${recoveredIds.length} VMs run at site-b; checking them, then committing`);
    const commit = await recoveryApi.post<{ taskIdentifier: string }>(`/v1/vpgs/${groupId}/FailoverCommit`, { isReverseProtection: false });
    const commitTask = await expectTask(recoveryApi, commit.taskIdentifier, 'commit the failover');
    const reportId = (commitTask.result as { reportIdentifier: string }).reportIdentifier;
    const report = (await recoveryApi.get<Record<string, unknown>[]>('/v1/reports/recovery')).find((r) => r.reportIdentifier === reportId);
    if (!report) throw new Error(`demo: the recovery report ${reportId} is not listed`);
    const inventoryAfter = await controlB.inventory();
    const recoveredHashes = await controlB.extra<Record<string, string>>('hashVolumes', recoveredIds);
    const compared = recoveredMatches(vms, inventoryAfter, recoveredHashes, expected, new Set(recoveredIds));
    const volumesCompared = Object.keys(expected).length;
    log(`   recovered ${recoveredIds.length} VMs; ${volumesCompared} volumes compared by sha256 with the quiesced checkpoint: ${compared ? 'all equal' : 'MISMATCH'}`);
    log('== recovery report ==');
    log(indent(table((report.steps as Record<string, unknown>[]), ['name', 'result', 'startTime', 'endTime'])));
    log(`   ${report.recoveryType} of ${report.vpgName}: ${report.state}, checkpoint ${report.checkpointIdentifier}`);

    const outage = {
      durationMs: outageMs, checkpointsBefore, checkpointsCutWhileOff: cutWhileOff, writesReplicatedWhileOff: writesWhileOff, wireBytesWhileOff: wireWhileOff,
      checkpointsAfterReturn: resumed.filter((c) => c.timestamp > offAt).length, gapMs: firstAfter.timestamp - lastBefore.timestamp,
    };
    const ok = compared && cutWhileOff === 0 && writesWhileOff > 0 && onTestNetworkOnly && latestCorrupted && report.state === 'Success';
    return {
      wallMs: Date.now() - started, groupId, vms: vms.map((v) => ({ name: v.name, id: v.id, volumes: v.volumes.length })), statusSamples,
      beforeUpgrade: { checkpointId: beforeUpgrade.id, timestamp: new Date(beforeUpgrade.timestamp).toISOString() },
      managerOutage: outage, ransomware: { vm: 'db', bytesOverwritten: overwritten },
      failoverTest: { taskState: TASK_STATES[testTask.status.state], testVms: testVms.map((v) => v.name), onTestNetworkOnly },
      failover: { taskState: TASK_STATES[failoverTask.status.state], checkpointId: beforeUpgrade.id, volumesCompared, hashesMatch: compared, latestWouldHaveBeenCorrupted: latestCorrupted },
      report, ok,
    };
  } finally {
    await Promise.all(processes.map((p) => p.terminate(10_000)));
    if (!options.keep && !options.dataDir) await fs.rm(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

/** Waits for a task; anything but Completed (or, for a running test, WaitingForUserInput) is a demo failure naming the step. */
async function expectTask(api: ManagerClient, taskId: string, what: string, states: number[] = [6]): Promise<TaskView> {
  const task = await api.waitForTask(taskId, undefined, 100);
  if (!states.includes(task.status.state)) throw new Error(`demo: could not ${what}: task ${taskId} ended ${TASK_STATES[task.status.state]}${task.error ? ` (${task.error})` : ''}`);
  return task;
}

async function managerKnowsGroup(api: ManagerClient, groupId: string): Promise<boolean> {
  try {
    await api.get(`/v1/vpgs/${groupId}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when every volume of the recovered VMs (matched to the protected VMs by name, volumes in order)
 * hashes to what the protected volume held at the checkpoint.
 */
function recoveredMatches(
  vms: { id: VmId; name: string; volumes: string[] }[], inventory: Inventory, hashes: Record<string, string>, expected: Record<string, string>,
  only?: Set<string>,
): boolean {
  for (const vm of vms) {
    const recovered = inventory.vms.find((v) => (only ? only.has(v.id) : v.powerState === 'on') && v.name.startsWith(vm.name));
    if (!recovered) return false;
    for (const [i, volumeId] of vm.volumes.entries()) {
      if (hashes[recovered.volumes[i]?.id] !== expected[volumeId]) return false;
    }
  }
  return true;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `   ${l}`).join('\n');
}

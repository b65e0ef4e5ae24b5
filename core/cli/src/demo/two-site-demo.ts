// `opencdp demo`: two sites on loopback, four processes — at each site an appliance (`opencdp appliance
// serve`) and a manager (`opencdp manager start`). Site A's appliance protects a three-VM application (web,
// app, db) over the mutual-TLS site link to site B: on the embedded default a fake data centre's VMs, with
// `--platform qemu` real Linux guests under qemu-system-x86_64 that write fsynced files, adopted through
// their QMP sockets, and recovered as qemu-system processes at site B. The demo plays an operator through
// the REST API: protect, watch the status, tag a checkpoint with the guests quiesced, power the protected
// manager off (replication goes on, no checkpoints), bring it back, suffer a ransomware attack on the db VM,
// (on QEMU: restore fsynced files from a crash-consistent checkpoint), run a failover test, fail over live
// to the checkpoint before the attack, verify every recovered volume by hash (on QEMU: and the recovered
// guests' own view of their files), and print the recovery report. With `--recover-on vsphere` site B's
// appliance runs the vSphere platform on a vCenter simulator the demo starts (govmomi's vcsim): the fake data
// centre's VMs are recovered as vSphere VMs, their disks written into the simulator's datastore files.
import { type FsyncedFile } from '@opencdp/adapter-qemu';
import { missingVcsimTools, startVcsim, type VcsimFixture } from '@opencdp/adapter-vsphere/testing';
import { UnsupportedError, type Inventory, type VmId } from '@opencdp/core';
import { ManagerClient, TASK_STATES, type TaskView } from '../client/manager-client.js';
import { table } from '../client/verbs.js';
import { checkRecoverOn, sleep, startTwoSiteLab, until, vcsimLabEndpoint } from '../site/two-site-lab.js';
import {
  fakeGuestDriver, filesFound, qemuGuestDriver, restoreFsyncedFiles, watchRecoveredGuests, type FileRestoreCheck, type RecoveredGuestCheck,
} from './demo-platforms.js';
import { restGet } from '../client/rest-json.js';

export interface TwoSiteDemoOptions {
  dataDir?: string;
  keep?: boolean;
  /** How long the protected manager stays off (default 6 s). */
  outageMs?: number;
  /** Progress lines; none with `--json`. */
  log?: (line: string) => void;
  /** `fake` (default): the embedded fake data centre; `qemu`: real guests under qemu-system-x86_64. */
  platform?: 'fake' | 'qemu';
  /** How long a guest (protected or recovered) may take to boot (default 300 s; TCG on a busy host is slow). */
  bootTimeoutMs?: number;
  /** `change-tracking`: site A's platform has no splitter; the group replicates in cycles of frozen views. */
  capture?: 'splitter' | 'change-tracking';
  /** Cross-platform recovery: site B recovers on this platform (`vsphere`: a vcsim the demo starts) instead of site A's. */
  recoverOn?: 'vsphere';
}

export interface TwoSiteDemoSummary {
  platform: 'fake' | 'qemu';
  /** The platform site B recovered on (differs from `platform` with `--recover-on`). */
  recoveredOn: 'fake' | 'qemu' | 'vsphere';
  wallMs: number;
  /** How site A captured the group's writes. */
  captureMode: string;
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
    /** The recovery site's manager's alert while the protected site's was off (seed 000), and its event on return. */
    recoverySiteAlert: string | null;
    recoverySiteSynchronizing: string | null;
  };
  ransomware: { vm: string; bytesOverwritten: number };
  failoverTest: { taskState: string; testVms: string[]; onTestNetworkOnly: boolean; testVmsLeftAfterStop: number };
  failover: { taskState: string; checkpointId: string; volumesCompared: number; hashesMatch: boolean; latestWouldHaveBeenCorrupted: boolean };
  report: Record<string, unknown>;
  /** QEMU: files restored through the REST API from a crash-consistent checkpoint. */
  fileRestore?: FileRestoreCheck;
  /** QEMU: what the failover test's VMs and the failed-over VMs saw when they booted. */
  recoveredGuests?: {
    test: { vm: string; outcome: string; files: number }[];
    failover: { vm: string; outcome: string; filesAtCheckpoint: number; filesFound: number }[];
  };
  ok: boolean;
}

const MiB = 1024 * 1024;
const GROUP_SETTINGS = { name: 'three-tier-app', checkpointIntervalMs: 1000, rpoTargetSeconds: 10, journalHistoryHours: 1, journal: { hardLimit: { mb: 1024 }, warningThreshold: { mb: 768 } } };
const VMS = [
  { name: 'web', volumes: [{ sizeBytes: 16 * MiB }] },
  { name: 'app', volumes: [{ sizeBytes: 16 * MiB }] },
  { name: 'db', volumes: [{ sizeBytes: 24 * MiB }, { sizeBytes: 8 * MiB, sectorSize: 4096 }] },
];
/** Recovering on vSphere: its virtual disks have 512-byte sectors (a 4096-byte one is refused with a typed error). */
const VSPHERE_VMS = VMS.map((vm) => ({ ...vm, volumes: vm.volumes.map((v) => ({ sizeBytes: v.sizeBytes })) }));
/** The QEMU demo's guests: one ext4 disk each. */
const QEMU_VMS = [
  { name: 'web', volumes: [{ sizeBytes: 48 * MiB }] },
  { name: 'app', volumes: [{ sizeBytes: 48 * MiB }] },
  { name: 'db', volumes: [{ sizeBytes: 64 * MiB }] },
];

export async function runTwoSiteDemo(options: TwoSiteDemoOptions = {}): Promise<TwoSiteDemoSummary> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const platform = options.platform ?? 'fake';
  const bootMs = options.bootTimeoutMs ?? 300_000;
  const recoveredOn = options.recoverOn ?? platform;
  checkRecoverOn(platform, options.recoverOn);
  let vcenter: VcsimFixture | undefined;
  if (options.recoverOn === 'vsphere') {
    const missing = missingVcsimTools();
    if (missing.length > 0) throw new UnsupportedError(`--recover-on vsphere runs a vCenter simulator built from Debian packages: apt-get install ${missing.join(' ')}`);
    log('== starting site-b\'s vCenter: govmomi\'s vSphere API simulator (vcsim), HTTPS on loopback, certificate pinned by thumbprint ==');
    vcenter = await startVcsim();
  }
  const where = platform === 'qemu' ? 'QEMU platform: real guests under qemu-system-x86_64' : 'embedded fake data centre';
  log(`== setting up two sites on loopback (site-a protects, site-b recovers) on the ${where}${vcenter ? `; site-b recovers on vSphere (${vcenter.url})` : ''} ==`);
  const lab = await startTwoSiteLab({
    ...(options.dataDir ? { dir: options.dataDir } : {}), ...(options.keep ? { keep: true } : {}), platform,
    ...(platform === 'qemu' ? { vms: QEMU_VMS, startTimeoutMs: 60_000 } : { vms: vcenter ? VSPHERE_VMS : VMS, workload: { seed: 42, ratePerSecond: 300, writeSizes: [4096, 16384, 65536] } }), log,
    ...(options.capture ? { capture: options.capture } : {}),
    ...(vcenter ? {
      recoverOn: 'vsphere' as const,
      vsphere: { 'site-b': vcsimLabEndpoint(vcenter) },
    } : {}),
  }).catch(async (e: unknown) => {
    await vcenter?.stop();
    throw e;
  });
  const { controlA, controlB, apiA, apiB } = lab;
  const guests = platform === 'qemu' ? qemuGuestDriver(lab, bootMs) : fakeGuestDriver(lab);
  try {
    // ---- protect the application ---------------------------------------------------------------------------
    const vms = lab.vms;
    log(`== protecting ${vms.map((v) => v.name).join(', ')} in one group, site-a → site-b ==`);
    const created = await apiA.call(apiA.api.POST('/v1/vpgs', { body: { settings: GROUP_SETTINGS, vmIdentifiers: vms.map((v) => v.id), recoverySiteIdentifier: 'site-b' } }));
    const groupId = created.vpgIdentifier;
    const inGroup = { params: { path: { vpgIdentifier: groupId } } };
    await expectTask(apiA, created.taskIdentifier, 'create the group');
    if (platform === 'qemu') log('   waiting for the guests to boot and write their files');
    await guests.start();
    const statusSamples: Record<string, unknown>[] = [];
    const sample = async (api: ManagerClient): Promise<Record<string, unknown>> => {
      const g = await api.call(api.api.GET('/v1/vpgs/{vpgIdentifier}', inGroup));
      const row = {
        time: new Date().toISOString().slice(11, 19), status: g.statusName, subStatus: g.subStatusName, rpoSec: g.actualRPO, iops: g.ioPs,
        MBps: g.throughputInMB, historyMin: g.historyStatusApi.actualHistoryInMinutes, journalMB: g.usedStorageInMB,
      };
      statusSamples.push(row);
      return row;
    };
    const columns = ['time', 'status', 'subStatus', 'rpoSec', 'iops', 'MBps', 'historyMin', 'journalMB'];
    const synced = await until('the initial sync to finish', async () => {
      const facts = await controlA.groupFacts(groupId);
      return facts.phase === 'streaming' ? facts : undefined;
    }, 120_000);
    const captureMode = synced.captureMode ?? 'splitter';
    log(`== streaming (${captureMode === 'splitter' ? 'every write split' : 'change tracking: a cycle of frozen views per checkpoint'}); live status from the manager (GET /v1/vpgs/{id}) ==`);
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(1000);
      rows.push(await sample(apiA));
    }
    log(indent(table(rows, columns)));

    // ---- a tagged checkpoint with the application quiesced -------------------------------------------------------
    log(`== tagging checkpoint "before-upgrade" (guests quiesced${platform === 'qemu' ? ' with fsfreeze' : ''}, hashes recorded) ==`);
    const vmIds = vms.map((v) => v.id);
    let tagged: { taskIdentifier: string; checkpointIdentifier: string } | undefined;
    let expected: Record<string, string> = {};
    // QEMU: the files each guest had fsynced when it froze, which the recovered guests must find.
    const filesAtCheckpoint = new Map<string, FsyncedFile[]>();
    // A busy machine can push the group into a short bitmap sync (the journal falls behind), during which no
    // checkpoint can be cut: wait until it streams, and try again if it fell behind just then.
    for (let attempt = 1; !tagged; attempt++) {
      await until('the group to stream', async () => ((await controlA.groupFacts(groupId)).phase === 'streaming' ? true : undefined), 60_000);
      await guests.quiesce(vms);
      try {
        const started = await apiA.call(apiA.api.POST('/v1/vpgs/{vpgIdentifier}/checkpoints', { ...inGroup, body: { checkpointName: 'before-upgrade' } }));
        const task = await apiA.waitForTask(started.taskIdentifier, undefined, 100);
        if (task.status.state === 6) {
          tagged = started;
          expected = await controlA.extra<Record<string, string>>('hashVolumes', vmIds);
          for (const [name, g] of lab.guests) filesAtCheckpoint.set(name, await g.fsynced());
        } else if (attempt >= 3) {
          throw new Error(`demo: could not tag the checkpoint: task ${started.taskIdentifier} ended ${TASK_STATES[task.status.state]}${task.error ? ` (${task.error})` : ''}`);
        }
      } finally {
        await guests.thaw();
      }
    }
    const taggedId = tagged.checkpointIdentifier;
    const beforeUpgrade = await until('the tagged checkpoint at the recovery site', async () => (await controlB.recovery.listCheckpoints(groupId)).find((c) => c.id === taggedId));
    log(`   ${beforeUpgrade.id} at ${new Date(beforeUpgrade.timestamp).toISOString()}`);

    // ---- the protected manager goes away -------------------------------------------------------------------
    const outageMs = options.outageMs ?? 6000;
    log(`== powering the protected manager off for ${outageMs / 1000} s (appliances keep replicating) ==`);
    await sleep(1500);
    const checkpointsBefore = (await controlB.recovery.listCheckpoints(groupId)).length;
    let factsBefore = await controlA.groupFacts(groupId);
    await lab.stopManager('site-a');
    // From the moment the manager process is gone: a checkpoint it cut while handling SIGTERM is not "while off".
    let offAt = Date.now();
    if (captureMode === 'change-tracking') {
      // A cut lists its checkpoint when its cycle ends, with the time its view was frozen: let the cuts the
      // manager made before it stopped be listed, then count from there.
      let listed = -1;
      await until('the cuts made before the manager stopped to be listed', async () => {
        const n = (await controlB.recovery.listCheckpoints(groupId)).length;
        if (n === listed) return true;
        listed = n;
        await sleep(1500);
        return undefined;
      }, 30_000);
      factsBefore = await controlA.groupFacts(groupId);
      offAt = Date.now();
    }
    await sleep(outageMs);
    // Seed 000: the recovery site's manager notices within seconds that the protected site's is gone.
    const notConnected = await until('site-b\'s "not connected" alert', async () => {
      const alerts = await restGet<{ type: string; description: string }[]>(apiB, '/v1/alerts');
      return alerts.find((a) => a.type === 'PeerSiteNotConnected');
    }, 15_000).catch(() => undefined);
    log(`   site-b's manager: ${notConnected?.description ?? 'no alert'}`);
    const factsDuring = await controlA.groupFacts(groupId);
    const duringList = await controlB.recovery.listCheckpoints(groupId);
    const cutWhileOff = duringList.filter((c) => c.timestamp > offAt).length;
    const writesWhileOff = (factsDuring.writes ?? 0) - (factsBefore.writes ?? 0);
    const wireWhileOff = (factsDuring.wireBytes ?? 0) - (factsBefore.wireBytes ?? 0);
    log(`   while off: ${writesWhileOff} writes (${(wireWhileOff / MiB).toFixed(1)} MiB on the wire) replicated, ${cutWhileOff} checkpoints cut`);
    log('== powering the protected manager back on ==');
    await lab.startManager('site-a');
    const resumed = await until('checkpoints to resume', async () => {
      const list = await controlB.recovery.listCheckpoints(groupId);
      return list.some((c) => c.timestamp > offAt) ? list : undefined;
    });
    const firstAfter = resumed.find((c) => c.timestamp > offAt)!;
    const lastBefore = [...resumed].reverse().find((c) => c.timestamp <= offAt)!;
    log(`   checkpoints resumed; gap in the list: ${((firstAfter.timestamp - lastBefore.timestamp) / 1000).toFixed(1)} s`);
    const synchronizing = await until('site-b\'s "synchronizing with site" event', async () => {
      const events = await restGet<{ eventType: string; description: string; occurredOn: string }[]>(apiB, '/v1/events?eventType=SiteSynchronization');
      return events.find((e) => Date.parse(e.occurredOn) > offAt && /synchronizing with site site-a/.test(e.description));
    }, 15_000).catch(() => undefined);
    log(`   site-b's manager: ${synchronizing?.description ?? 'no synchronizing event'}`);

    // ---- the attack ---------------------------------------------------------------------------------------
    const db = vms.find((v) => v.name === 'db')!;
    log('== ransomware overwrites the db VM ==');
    const overwritten = await guests.ransomware(db);
    const attackAt = Date.now();
    const afterAttack = await until('a checkpoint after the attack', async () => (await controlB.recovery.listCheckpoints(groupId)).find((c) => c.timestamp > attackAt + 200));
    log(`   ${(overwritten / MiB).toFixed(0)} MiB overwritten; the latest checkpoint (${afterAttack.id}) holds the damage`);
    await sample(apiA);

    // The recovery site's own manager runs recovery: it learnt the group from its paired peer.
    await until('site-b\'s manager to know the group', async () => ((await managerKnowsGroup(apiB, groupId)) ? true : undefined), 10_000);
    const recoveryApi = apiB;

    // ---- file restore from a crash-consistent checkpoint (QEMU: the guests' own fsynced files) -----------------------
    let fileRestore: FileRestoreCheck | undefined;
    if (platform === 'qemu') {
      const app = vms.find((v) => v.name === 'app')!;
      log('== file restore at site-b: the app VM\'s files from a crash-consistent checkpoint, through the REST API ==');
      fileRestore = await restoreFsyncedFiles(recoveryApi, controlB, groupId, app, lab.guests.get('app')!, (id, what) => expectTask(recoveryApi, id, what));
      log(`   checkpoint ${fileRestore.checkpointId}: ${fileRestore.matching} of the ${fileRestore.fsynced} files the guest had fsynced came back with their bytes (journal replayed on a private overlay)`);
    }

    // ---- failover test at the recovery site (site-b's manager) --------------------------------------------------
    log('== failover test at site-b, at the latest checkpoint (test network, replication continues) ==');
    const test = await recoveryApi.call(recoveryApi.api.POST('/v1/vpgs/{vpgIdentifier}/FailoverTest', { ...inGroup, body: {} }));
    const testTask = await expectTask(recoveryApi, test.taskIdentifier, 'start the failover test', [2, 6]);
    const inventoryB = await controlB.inventory();
    const testNet = new Set(inventoryB.networks.filter((n) => n.isolated).map((n) => n.id));
    // The task names its test VMs (a vCenter also runs VMs of its own).
    const testIds = new Set(((testTask.result as { vms?: { recoveredVmId: string }[] } | undefined)?.vms ?? []).map((v) => v.recoveredVmId));
    const testVms = inventoryB.vms.filter((v) => testIds.has(v.id) && v.powerState === 'on');
    const onTestNetworkOnly = testVms.length === vms.length && testVms.every((v) => v.nics.every((n) => testNet.has(n.networkId)));
    // The attack's pattern starts every overwritten volume: the test copy of db at the latest checkpoint shows it.
    const dbTest = testVms.find((v) => v.name.startsWith('db'));
    const head = dbTest ? Buffer.from(await controlB.extra<string>('read', dbTest.id, dbTest.volumes[0].id, 0, 32), 'base64') : Buffer.alloc(0);
    const latestCorrupted = guests.corrupted(db, head);
    log(`   ${testVms.length} test VMs on the isolated network: ${testVms.map((v) => v.name).join(', ')}; db at the latest checkpoint is ${latestCorrupted ? 'corrupted (as expected)' : 'intact'}`);
    let testGuests: RecoveredGuestCheck[] = [];
    if (platform === 'qemu') {
      testGuests = await watchRecoveredGuests(controlB, testVms.map((v) => ({ name: v.name, recoveredVmId: v.id })), bootMs);
      log(`   the test VMs booted: ${testGuests.map((g) => `${g.vm} ${g.outcome === 'verified' ? `mounted its file system (${g.files.length} files)` : 'could not mount its file system'}`).join('; ')}`);
    }
    const stop = await recoveryApi.call(recoveryApi.api.POST('/v1/vpgs/{vpgIdentifier}/FailoverTestStop', {
      ...inGroup, body: { failoverTestSuccess: true, failoverTestSummary: 'test VMs booted on the isolated network; db shows the attack' },
    }));
    await expectTask(recoveryApi, stop.taskIdentifier, 'stop the failover test');
    const testVmsLeft = (await controlB.inventory()).vms.filter((v) => testIds.has(v.id)).length;

    // ---- failover live to the checkpoint before the attack ---------------------------------------------------------
    log(`== failover live to "before-upgrade" (${beforeUpgrade.id}), force shutdown at site-a, then commit ==`);
    await guests.stop();
    const failover = await recoveryApi.call(recoveryApi.api.POST('/v1/vpgs/{vpgIdentifier}/Failover', {
      ...inGroup, body: { checkpointIdentifier: beforeUpgrade.id, commitPolicy: 2, commitPolicyTimeout: 0, shutdownPolicy: 2, timeToWaitBeforeShutdownInSec: 0, isReverseProtection: false },
    }));
    const failoverTask = await expectTask(recoveryApi, failover.taskIdentifier, 'fail over', [2]);
    const recoveredIds = ((failoverTask.result as { vms: { recoveredVmId: string }[] }).vms).map((v) => v.recoveredVmId);
    log(`   before-commit: ${recoveredIds.length} VMs run at site-b; checking them, then committing`);
    const commit = await recoveryApi.call(recoveryApi.api.POST('/v1/vpgs/{vpgIdentifier}/FailoverCommit', { ...inGroup, body: { isReverseProtection: false } }));
    const commitTask = await expectTask(recoveryApi, commit.taskIdentifier, 'commit the failover');
    const reportId = (commitTask.result as { reportIdentifier: string }).reportIdentifier;
    const report = (await recoveryApi.call(recoveryApi.api.GET('/v1/reports/recovery', {}))).find((r) => r.reportIdentifier === reportId);
    if (!report) throw new Error(`demo: the recovery report ${reportId} is not listed`);
    let failoverGuests: RecoveredGuestCheck[] = [];
    if (platform === 'qemu') {
      const inv = await controlB.inventory();
      failoverGuests = await watchRecoveredGuests(controlB, recoveredIds.map((id) => ({ name: inv.vms.find((v) => v.id === id)?.name ?? id, recoveredVmId: id })), bootMs);
      log(`   the recovered VMs booted: ${failoverGuests.map((g) => `${g.vm} ${g.outcome} (${g.files.length} files)`).join('; ')}`);
    }
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
      recoverySiteAlert: notConnected?.description ?? null, recoverySiteSynchronizing: synchronizing?.description ?? null,
    };
    const sourceOf = (name: string): string | undefined => vms.find((v) => name.startsWith(v.name))?.name;
    const recoveredGuests = platform === 'qemu' ? {
      test: testGuests.map((g) => ({ vm: g.vm, outcome: g.outcome, files: g.files.length })),
      failover: failoverGuests.map((g) => {
        const atCheckpoint = filesAtCheckpoint.get(sourceOf(g.vm) ?? '') ?? [];
        return { vm: g.vm, outcome: g.outcome, filesAtCheckpoint: atCheckpoint.length, filesFound: filesFound(atCheckpoint, g.files) };
      }),
    } : undefined;
    const qemuOk = platform !== 'qemu' || (
      !!fileRestore && fileRestore.fsynced > 0 && fileRestore.matching === fileRestore.fsynced
      && testGuests.length === vms.length && testGuests.every((g) => (sourceOf(g.vm) === 'db' ? g.outcome === 'mount-failed' : g.outcome === 'verified'))
      && !!recoveredGuests && recoveredGuests.failover.length === vms.length
      && recoveredGuests.failover.every((g) => g.outcome === 'verified' && g.filesAtCheckpoint > 0 && g.filesFound === g.filesAtCheckpoint));
    if (recoveredGuests) log(`   files the guests had fsynced at "before-upgrade", found by the recovered guests: ${recoveredGuests.failover.map((g) => `${g.vm} ${g.filesFound}/${g.filesAtCheckpoint}`).join(', ')}`);
    const ok = compared && testVmsLeft === 0 && captureMode === (options.capture ?? 'splitter') && cutWhileOff === 0 && writesWhileOff > 0 && onTestNetworkOnly && latestCorrupted && report.state === 'Success' && qemuOk
      && notConnected !== undefined && synchronizing !== undefined;
    return {
      platform, recoveredOn,
      wallMs: Date.now() - started, captureMode, groupId, vms: vms.map((v) => ({ name: v.name, id: v.id, volumes: v.volumes.length })), statusSamples,
      beforeUpgrade: { checkpointId: beforeUpgrade.id, timestamp: new Date(beforeUpgrade.timestamp).toISOString() },
      managerOutage: outage, ransomware: { vm: 'db', bytesOverwritten: overwritten },
      failoverTest: { taskState: TASK_STATES[testTask.status.state], testVms: testVms.map((v) => v.name), onTestNetworkOnly, testVmsLeftAfterStop: testVmsLeft },
      failover: { taskState: TASK_STATES[failoverTask.status.state], checkpointId: beforeUpgrade.id, volumesCompared, hashesMatch: compared, latestWouldHaveBeenCorrupted: latestCorrupted },
      report, ...(fileRestore ? { fileRestore } : {}), ...(recoveredGuests ? { recoveredGuests } : {}), ok,
    };
  } finally {
    await lab.stop();
    await vcenter?.stop();
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
    await api.call(api.api.GET('/v1/vpgs/{vpgIdentifier}', { params: { path: { vpgIdentifier: groupId } } }));
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
  recoveredIds: Set<string>,
): boolean {
  for (const vm of vms) {
    const recovered = inventory.vms.find((v) => recoveredIds.has(v.id) && v.name.startsWith(vm.name));
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

// The operator verbs end to end: one two-site lab (four processes, small volumes, a slow workload) and
// the real `opencdp` command run as a child process for each verb, its --json output parsed and its exit
// code checked against EXIT — including the failures scripts rely on (auth 3, bad input 2, unreachable 4).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EXIT, TASK_STATES } from './manager-client.js';
import { MAIN } from '../site/cli-process.js';
import { startTwoSiteLab, until, type TwoSiteLab } from '../site/two-site-lab.js';

const MiB = 1024 * 1024;
const VIEWER = { name: 'auditor', password: 'viewer-password-1', role: 'viewer' as const };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `opencdp …args` with only the environment given (no OPENCDP_* leaking in from the caller). */
function opencdp(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPENCDP_'))) as Record<string, string>;
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...base, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function json<T>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new assert.AssertionError({ message: `not JSON (exit ${run.code}): ${run.stdout}\nstderr: ${run.stderr}` });
  }
}

interface TaskJson {
  taskIdentifier: string;
  type: string;
  status: { state: number; stateName: string; progress: number };
  error: string | null;
  [more: string]: unknown;
}

describe('opencdp operator verbs against two sites (slow)', function () {
  this.timeout(120_000);
  let lab: TwoSiteLab | undefined;
  let as: string[] = [];
  let groupId = '';
  let checkpointId = '';

  const ok = (run: Run, what: string): Run => {
    assert.equal(run.code, EXIT.ok, `${what} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    return run;
  };

  before(async () => {
    lab = await startTwoSiteLab({
      vms: [{ name: 'web', volumes: [{ sizeBytes: 2 * MiB }] }, { name: 'db', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: 4096 }] }],
      workload: { seed: 7, ratePerSecond: 40, writeSizes: [4096, 16384] },
      pollIntervalMs: 300,
    });
    as = ['--manager', lab.managerUrlA, '--fingerprint', lab.fingerprints['site-a'], '--user', lab.admin.user, '--password', lab.admin.password];
    await lab.apiA.call(lab.apiA.api.POST('/v1/users', { body: VIEWER }));
  });

  after(async () => {
    await lab?.stop();
  });

  it('login prints a session token that --token and OPENCDP_TOKEN accept', async () => {
    const login = ok(await opencdp(['login', ...as]), 'login');
    const token = login.stdout.trim();
    assert.match(token, /^\S{16,}$/);
    const [viaFlag, viaEnv, viaEnvLogin] = await Promise.all([
      opencdp(['status', '--json', '--manager', lab!.managerUrlA, '--fingerprint', lab!.fingerprints['site-a'], '--token', token]),
      opencdp(['tasks', '--json'], { OPENCDP_MANAGER: lab!.managerUrlA, OPENCDP_FINGERPRINT: lab!.fingerprints['site-a'], OPENCDP_TOKEN: token }),
      opencdp(['login', '--json'], { OPENCDP_MANAGER: lab!.managerUrlA, OPENCDP_FINGERPRINT: lab!.fingerprints['site-a'], OPENCDP_USER: lab!.admin.user, OPENCDP_PASSWORD: lab!.admin.password }),
    ]);
    assert.ok(Array.isArray(json(ok(viaFlag, 'status --token'))));
    assert.ok(Array.isArray(json(ok(viaEnv, 'tasks with OPENCDP_TOKEN'))));
    const other = json<{ token: string }>(ok(viaEnvLogin, 'login --json with OPENCDP_USER/OPENCDP_PASSWORD')).token;
    assert.match(other, /^\S{16,}$/);
    assert.notEqual(other, token);
  });

  it('group create --settings protects the VMs; status --json lists the group with a status', async () => {
    const file = path.join(lab!.dir, 'group.json');
    await fs.writeFile(file, JSON.stringify({
      settings: { name: 'cli-app', checkpointIntervalMs: 1000, rpoTargetSeconds: 30, journalHistoryHours: 1, journal: { hardLimit: { mb: 256 }, warningThreshold: { mb: 192 } } },
      vmIdentifiers: lab!.vms.map((v) => v.id), recoverySiteIdentifier: 'site-b',
    }));
    const created = json<TaskJson & { vpgIdentifier: string }>(ok(await opencdp(['group', 'create', '--settings', file, '--json', ...as]), 'group create'));
    assert.equal(TASK_STATES[created.status.state], 'Completed', JSON.stringify(created));
    assert.equal(created.type, 'CreateProtectionGroup');
    assert.match(created.vpgIdentifier, /\S/);
    groupId = created.vpgIdentifier;
    await lab!.controlA.extra('startWorkload');
    await until('the initial sync to finish', async () => ((await lab!.controlA.groupFacts(groupId)).phase === 'streaming' ? true : undefined), 30_000);

    const groups = json<{ vpgIdentifier: string; vpgName: string; statusName: string; vmsCount: number }[]>(ok(await opencdp(['status', '--json', ...as]), 'status'));
    const g = groups.find((x) => x.vpgIdentifier === groupId);
    assert.ok(g, `group ${groupId} not in ${JSON.stringify(groups)}`);
    assert.equal(g.vpgName, 'cli-app');
    assert.equal(g.vmsCount, 2);
    assert.match(g.statusName, /^[A-Za-z]+$/);
    const [human, csv] = await Promise.all([opencdp(['status', ...as]), opencdp(['group', 'export', ...as])]);
    assert.match(ok(human, 'status (table)').stdout, /^group\s+id\s+status[^\n]*\n.*cli-app/);
    const [header, ...rows] = ok(csv, 'group export').stdout.trim().split('\r\n');
    assert.match(header, /^vpgName,vpgIdentifier,/);
    assert.ok(rows.some((r) => r.startsWith(`cli-app,${groupId},`)), csv.stdout);
  });

  it('checkpoint add --tag cuts a tagged checkpoint that checkpoint list --json shows', async () => {
    const added = json<TaskJson & { checkpointIdentifier: string }>(ok(await opencdp(['checkpoint', 'add', groupId, '--tag', 'before-upgrade', '--json', ...as]), 'checkpoint add'));
    assert.equal(TASK_STATES[added.status.state], 'Completed', JSON.stringify(added));
    checkpointId = added.checkpointIdentifier;
    assert.match(checkpointId, /\S/);
    // The list comes from the recovery site, which has the checkpoint once its marker arrived.
    const listed = await until('the tagged checkpoint in checkpoint list', async () => {
      const list = json<{ checkpointIdentifier: string; tag: string | null; timeStamp: string }[]>(ok(await opencdp(['checkpoint', 'list', groupId, '--json', '--tagged', ...as]), 'checkpoint list'));
      return list.find((c) => c.checkpointIdentifier === checkpointId);
    }, 15_000);
    assert.equal(listed.tag, 'before-upgrade');
    assert.ok(!Number.isNaN(Date.parse(listed.timeStamp)));
  });

  it('failover-test start waits for the user; a failover meanwhile is refused (2), a viewer\'s failover too (3); failover-test stop completes', async () => {
    const started = json<TaskJson>(ok(await opencdp(['failover-test', 'start', groupId, '--checkpoint', checkpointId, '--json', ...as]), 'failover-test start'));
    assert.equal(TASK_STATES[started.status.state], 'WaitingForUserInput', JSON.stringify(started));
    assert.equal(started.type, 'FailoverTest');

    const [conflict, viewer] = await Promise.all([
      opencdp(['failover', groupId, '--json', ...as]),
      opencdp(['failover', groupId, '--json', '--manager', lab!.managerUrlA, '--fingerprint', lab!.fingerprints['site-a'], '--user', VIEWER.name, '--password', VIEWER.password]),
    ]);
    assert.equal(conflict.code, EXIT.badInput, `failover during a test: ${conflict.stderr}`);
    assert.match(conflict.stderr, /in progress/);
    assert.equal(conflict.stdout, '');
    assert.equal(viewer.code, EXIT.auth, `viewer failover: ${viewer.stderr}`);
    assert.match(viewer.stderr, /viewer/);

    const stopped = json<TaskJson & { result: { reportIdentifier: string } }>(ok(await opencdp(['failover-test', 'stop', groupId, '--summary', 'cli smoke test', '--json', ...as]), 'failover-test stop'));
    assert.equal(TASK_STATES[stopped.status.state], 'Completed', JSON.stringify(stopped));
    assert.match(stopped.result.reportIdentifier, /\S/);

    const reports = json<{ reportIdentifier: string; recoveryType: string; vpgName: string; state: string; summary: string | null; checkpointIdentifier: string }[]>(
      ok(await opencdp(['report', '--json', '--group', 'cli-app', ...as]), 'report'));
    const report = reports.find((r) => r.reportIdentifier === stopped.result.reportIdentifier);
    assert.ok(report, JSON.stringify(reports));
    assert.equal(report.recoveryType, 'FailoverTest');
    assert.equal(report.state, 'Success');
    assert.equal(report.summary, 'cli smoke test');
    assert.equal(report.checkpointIdentifier, checkpointId);
  });

  it('tasks --json lists the tasks; tasks <id> shows one', async () => {
    const list = json<TaskJson[]>(ok(await opencdp(['tasks', '--json', ...as]), 'tasks'));
    const types = new Set(list.map((t) => t.type));
    for (const type of ['CreateProtectionGroup', 'AddCheckpoint', 'FailoverTest', 'FailoverTestStop']) assert.ok(types.has(type), `${type} not in ${[...types].join(', ')}`);
    const test = list.find((t) => t.type === 'FailoverTest')!;
    assert.equal(TASK_STATES[test.status.state], 'Completed', 'the test task completes when the test is stopped');
    const [oneRun, missing] = await Promise.all([opencdp(['tasks', test.taskIdentifier, '--json', ...as]), opencdp(['tasks', 'task-0-nope', ...as])]);
    const one = json<TaskJson>(ok(oneRun, 'tasks <id>'));
    assert.equal(one.taskIdentifier, test.taskIdentifier);
    assert.equal(missing.code, EXIT.badInput, missing.stderr);
  });

  it('pause and resume: the group shows the user pause in between, and a checkpoint add fails meanwhile (1)', async () => {
    const paused = json<TaskJson>(ok(await opencdp(['pause', groupId, '--json', ...as]), 'pause'));
    assert.equal(TASK_STATES[paused.status.state], 'Completed', JSON.stringify(paused));
    await until('the group to show the pause', async () => ((await lab!.apiA.call(lab!.apiA.api.GET('/v1/vpgs/{vpgIdentifier}', { params: { path: { vpgIdentifier: groupId } } }))).subStatusName === 'ReplicationPausedUserInitiated' ? true : undefined), 10_000);
    const [statusRun, tagRun] = await Promise.all([opencdp(['status', '--json', ...as]), opencdp(['checkpoint', 'add', groupId, '--tag', 'while-paused', '--json', ...as])]);
    const groups = json<{ vpgIdentifier: string; subStatusName: string }[]>(ok(statusRun, 'status while paused'));
    assert.equal(groups.find((g) => g.vpgIdentifier === groupId)?.subStatusName, 'ReplicationPausedUserInitiated');
    // A paused group cuts no checkpoint: the task runs and fails (exit 1), its error in the JSON.
    assert.equal(tagRun.code, EXIT.taskFailed, `checkpoint add while paused: ${tagRun.stdout} ${tagRun.stderr}`);
    const failed = json<TaskJson>(tagRun);
    assert.equal(TASK_STATES[failed.status.state], 'Failed');
    assert.match(failed.error ?? '', /no checkpoint could be cut/);

    const noWait = json<{ taskIdentifier: string }>(ok(await opencdp(['resume', groupId, '--json', '--no-wait', ...as]), 'resume --no-wait'));
    assert.match(noWait.taskIdentifier, /\S/);
    await until('the group to resume', async () => ((await lab!.apiA.call(lab!.apiA.api.GET('/v1/vpgs/{vpgIdentifier}', { params: { path: { vpgIdentifier: groupId } } }))).subStatusName !== 'ReplicationPausedUserInitiated' ? true : undefined), 10_000);
    const resumed = json<TaskJson>(ok(await opencdp(['tasks', noWait.taskIdentifier, '--json', ...as]), 'tasks <resume>'));
    assert.equal(resumed.type, 'Resume');
  });

  // Last: it stops site B's manager.
  it('exit codes: wrong password 3, unknown group 2, bad usage 2, unknown verb 2, unreadable settings 2, a certificate that is not the pinned one 4, manager not running 4', async () => {
    // Not running: SIGTERM, and SIGKILL if it takes longer than 3 s (no need to wait for a graceful stop here).
    await lab!.stopManager('site-b', 3000);
    const [wrong, unknown, usage, settings, down, verb, pin] = await Promise.all([
      opencdp(['status', '--json', '--manager', lab!.managerUrlA, '--fingerprint', lab!.fingerprints['site-a'], '--user', lab!.admin.user, '--password', 'not-the-password']),
      opencdp(['checkpoint', 'list', 'no-such-group', '--json', ...as]),
      opencdp(['checkpoint', 'add', groupId, ...as]),
      opencdp(['group', 'create', '--settings', path.join(lab!.dir, 'missing.json'), ...as]),
      opencdp(['status', '--json', '--manager', lab!.managerUrlB, '--fingerprint', lab!.fingerprints['site-b'], '--user', lab!.admin.user, '--password', lab!.admin.password]),
      opencdp(['no-such-verb']),
      // Site B's certificate pinned for site A's manager: someone in between, as far as the client can tell.
      opencdp(['status', '--json', '--manager', lab!.managerUrlA, '--fingerprint', lab!.fingerprints['site-b'], '--user', lab!.admin.user, '--password', lab!.admin.password]),
    ]);
    assert.equal(wrong.code, EXIT.auth, wrong.stderr);
    assert.match(wrong.stderr, /^opencdp: /);
    assert.equal(unknown.code, EXIT.badInput, unknown.stderr);
    assert.match(unknown.stderr, /no-such-group/);
    assert.equal(usage.code, EXIT.badInput, usage.stderr);
    assert.match(usage.stderr, /--tag/);
    assert.equal(settings.code, EXIT.badInput, settings.stderr);
    assert.equal(down.code, EXIT.unreachable, down.stderr);
    assert.match(down.stderr, /cannot be reached/);
    assert.equal(verb.code, EXIT.badInput, verb.stderr);
    assert.equal(pin.code, EXIT.unreachable, pin.stderr);
    assert.match(pin.stderr, /not the pinned/);
    for (const r of [wrong, unknown, usage, settings, down, verb, pin]) assert.equal(r.stdout, '');
  });

  // restore-file --list needs an ext4 volume; the lab's workload writes random blocks, so it is not run here.
});

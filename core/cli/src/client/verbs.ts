// The operator's verbs: each calls the manager's REST API through the typed client (paths, bodies and
// answers typed from the OpenAPI document), waits for the task it starts (with a progress bar on a
// terminal), prints a table or `--json`, and exits with a code from EXIT.
import { readFile, writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { ApiError, BadInputError, EXIT, exitCodeFor, ManagerClient, TASK_STATES, type TaskView } from './manager-client.js';
import type { paths } from './opencdp-api.js';

export interface CommonOptions {
  manager: string;
  user?: string;
  password?: string;
  token?: string;
  fingerprint?: string;
  ca?: string;
  json?: boolean;
  wait: boolean;
}

export function connect(opts: Pick<CommonOptions, 'manager' | 'user' | 'password' | 'token' | 'fingerprint' | 'ca'>): ManagerClient {
  return new ManagerClient({
    url: opts.manager, ...(opts.user ? { user: opts.user } : {}), ...(opts.password !== undefined ? { password: opts.password } : {}), ...(opts.token ? { token: opts.token } : {}),
    ...(opts.fingerprint ? { fingerprint: opts.fingerprint } : {}), ...(opts.ca ? { ca: opts.ca } : {}),
  });
}

/** Adds the connection options every verb takes (environment variables fill them in). */
export function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--manager <url>', 'manager URL').env('OPENCDP_MANAGER').default('https://127.0.0.1:9080'))
    .addOption(new Option('--fingerprint <sha256>', 'SHA-256 fingerprint of the manager\'s certificate, as `opencdp manager start` printed it').env('OPENCDP_FINGERPRINT'))
    .addOption(new Option('--ca <file>', 'PEM file to trust as the manager\'s CA (its certificate itself when self-signed)').env('OPENCDP_CA'))
    .addOption(new Option('--user <name>', 'user name').env('OPENCDP_USER'))
    .addOption(new Option('--password <secret>', 'password').env('OPENCDP_PASSWORD'))
    .addOption(new Option('--token <token>', 'session token from `opencdp login`').env('OPENCDP_TOKEN'))
    .option('--json', 'machine-readable output')
    .option('--no-wait', 'return the task id at once instead of waiting for the task');
}

/** Runs a verb: errors become a message on stderr and an exit code scripts can trust. */
export function run<A extends unknown[]>(body: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = (await body(...args)) ?? EXIT.ok;
    } catch (error) {
      const field = error instanceof ApiError && error.field ? ` (field: ${error.field})` : '';
      console.error(`opencdp: ${(error as Error).message}${field}`);
      process.exitCode = exitCodeFor(error);
    }
  };
}

export function print(opts: { json?: boolean }, value: unknown, human: () => string): void {
  console.log(opts.json ? JSON.stringify(value, null, 2) : human());
}

/** Prints rows as an aligned table. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? '' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

/**
 * Waits for an action's task with a progress bar (terminal) or progress lines (stderr); exit 0 only when it
 * completed. `describe` replaces the human summary line of a task that completed (e.g. what an export wrote).
 */
export async function follow(client: ManagerClient, opts: CommonOptions, started: { taskIdentifier: string; [more: string]: unknown }, describe?: (task: TaskView) => string): Promise<number> {
  // What the start answered besides the task (vpgIdentifier of a new group, checkpointIdentifier of a tag) is kept in the output.
  const { taskIdentifier: _task, ...extra } = started;
  if (!opts.wait) {
    print(opts, started, () => started.taskIdentifier);
    return EXIT.ok;
  }
  const bar = !opts.json && process.stderr.isTTY ? new cliProgress.SingleBar({ format: '{bar} {percentage}% {step}', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(100, 0, { step: '' });
  let lastStep = '';
  const task = await client.waitForTask(started.taskIdentifier, (t: TaskView) => {
    const step = t.status.step ?? '';
    bar?.update(t.status.progress, { step });
    if (!bar && !opts.json && step !== lastStep) console.error(`  ${t.status.progress}% ${step}`);
    lastStep = step;
  });
  bar?.stop();
  const named = Object.entries(extra).filter(([, v]) => typeof v === 'string').map(([k, v]) => ` ${k} ${String(v)}`).join('');
  print(opts, { ...task, ...extra }, () => (describe && task.status.state === 6 ? describe(task)
    : `task ${task.taskIdentifier}: ${TASK_STATES[task.status.state] ?? task.status.state}${named}${task.error ? ` — ${task.error}` : ''}`));
  return task.status.state === 6 || task.status.state === 2 ? EXIT.ok : EXIT.taskFailed;
}

/** The group actions the verbs start: every one answers `{taskIdentifier}`. */
type ActionPath = Extract<keyof paths, `/v1/vpgs/{vpgIdentifier}/${'FailoverTest' | 'FailoverTestStop' | 'Failover' | 'FailoverCommit' | 'FailoverRollback' | 'Move' | 'MoveCommit' | 'MoveRollback' | 'CloneStart' | 'pause' | 'resume' | 'forcesync'}`>;
type ActionBody<P extends ActionPath> = NonNullable<paths[P]['post']['requestBody']>['content']['application/json'];
const inGroup = (vpgIdentifier: string): { params: { path: { vpgIdentifier: string } } } => ({ params: { path: { vpgIdentifier } } });

/** Starts an action on a group and follows its task. */
function action<P extends ActionPath>(name: string, description: string, path: P, body: (opts: Record<string, unknown>) => ActionBody<P>, extra?: (c: Command) => Command): Command {
  let c = withConnection(new Command(name).description(description).argument('<group>', 'protection group id'));
  if (extra) c = extra(c);
  return c.action(run(async (groupId: string, opts: CommonOptions & Record<string, unknown>) => {
    const client = connect(opts);
    // One generic call for every action path; each path's body type is checked where the verb builds it.
    const post = client.api.POST as unknown as (p: P, init: { params: { path: { vpgIdentifier: string } }; body: ActionBody<P> }) => Promise<{ data?: { taskIdentifier: string }; error?: unknown; response: Response }>;
    return follow(client, opts, await client.call(post(path, { ...inGroup(groupId), body: body(opts) })));
  }));
}

const int = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${v}' is not a whole number of seconds`);
  return n;
};
const COMMIT_POLICIES = { rollback: 0, commit: 1, none: 2 } as const;
const SHUTDOWN_POLICIES = { none: 0, shutdown: 1, force: 2 } as const;

export function operatorCommands(): Command[] {
  const login = withConnection(new Command('login').description('log in and print a session token (export it as OPENCDP_TOKEN)'))
    .action(run(async (opts: CommonOptions) => {
      const token = await connect(opts).login();
      print(opts, { token }, () => token);
    }));

  const status = withConnection(new Command('status').description('status, RPO, IOPS, throughput and journal history of every protection group'))
    .action(run(async (opts: CommonOptions) => {
      const client = connect(opts);
      const groups = await client.call(client.api.GET('/v1/vpgs', {}));
      print(opts, groups, () => table(groups.map((g) => ({
        group: g.vpgName, id: g.vpgIdentifier, status: g.statusName ?? g.status, subStatus: g.subStatusName ?? g.subStatus, rpoSec: g.actualRPO,
        iops: g.ioPs, MBps: g.throughputInMB, historyMin: g.historyStatusApi.actualHistoryInMinutes, vms: g.vmsCount,
      })), ['group', 'id', 'status', 'subStatus', 'rpoSec', 'iops', 'MBps', 'historyMin', 'vms']));
    }));

  const groupCmd = new Command('group').description('protection groups');
  groupCmd.addCommand(withConnection(new Command('create').description('create a protection group from a settings file (JSON: the vpgSettings body)'))
    .requiredOption('--settings <file>', 'JSON file with the group definition')
    .action(run(async (opts: CommonOptions & { settings: string }) => {
      const client = connect(opts);
      // The file's shape is the manager's to check (it answers 400 naming the field).
      const body = (await readJsonFile(opts.settings)) as paths['/v1/vpgs']['post']['requestBody']['content']['application/json'];
      return follow(client, opts, await client.call(client.api.POST('/v1/vpgs', { body })));
    })));
  groupCmd.addCommand(withConnection(new Command('list').description('list protection groups'))
    .action(run(async (opts: CommonOptions) => {
      const client = connect(opts);
      const groups = await client.call(client.api.GET('/v1/vpgs', {}));
      print(opts, groups, () => table(groups, ['vpgIdentifier', 'vpgName', 'statusName', 'subStatusName', 'vmsCount']));
    })));
  groupCmd.addCommand(withConnection(new Command('delete').description('delete a protection group').argument('<group>'))
    .option('--keep-recovery-volumes', 'keep the replica volumes for preseeding later')
    .option('--force', 'delete even if the peer site cannot be reached')
    .action(run(async (groupId: string, opts: CommonOptions & { keepRecoveryVolumes?: boolean; force?: boolean }) => {
      const client = connect(opts);
      return follow(client, opts, await client.call(client.api.DELETE('/v1/vpgs/{vpgIdentifier}', { ...inGroup(groupId), body: { keepRecoveryVolumes: !!opts.keepRecoveryVolumes, force: !!opts.force } })));
    })));
  groupCmd.addCommand(withConnection(new Command('export').description('export every group as CSV'))
    .action(run(async (opts: CommonOptions) => {
      const client = connect(opts);
      process.stdout.write(await client.text(client.api.GET('/v1/vpgs/export.csv', { parseAs: 'text' })));
    })));

  const checkpoint = new Command('checkpoint').description('checkpoints of a group');
  checkpoint.addCommand(withConnection(new Command('add').description('cut a tagged checkpoint now').argument('<group>'))
    .requiredOption('--tag <name>', 'checkpoint name')
    .action(run(async (groupId: string, opts: CommonOptions & { tag: string }) => {
      const client = connect(opts);
      return follow(client, opts, await client.call(client.api.POST('/v1/vpgs/{vpgIdentifier}/checkpoints', { ...inGroup(groupId), body: { checkpointName: opts.tag } })));
    })));
  checkpoint.addCommand(withConnection(new Command('list').description('list checkpoints, oldest first').argument('<group>'))
    .option('--tagged', 'only tagged ones')
    .action(run(async (groupId: string, opts: CommonOptions & { tagged?: boolean }) => {
      const client = connect(opts);
      let cps = await client.call(client.api.GET('/v1/vpgs/{vpgIdentifier}/checkpoints', inGroup(groupId)));
      if (opts.tagged) cps = cps.filter((c) => c.tag);
      print(opts, cps, () => table(cps, ['checkpointIdentifier', 'timeStamp', 'tag', 'type']));
    })));

  const failoverTest = new Command('failover-test').description('failover tests (R1)');
  failoverTest.addCommand(action('start', 'recover the group on the test network; replication continues', '/v1/vpgs/{vpgIdentifier}/FailoverTest',
    (o) => ({ ...(o.checkpoint ? { checkpointIdentifier: String(o.checkpoint) } : {}) }), (c) => c.option('--checkpoint <id>', 'checkpoint (default: latest)')));
  failoverTest.addCommand(action('stop', 'end the test, discarding the test VMs and their writes', '/v1/vpgs/{vpgIdentifier}/FailoverTestStop',
    (o) => ({ failoverTestSuccess: !o.failed, failoverTestSummary: (o.summary as string | undefined) ?? '' }),
    (c) => c.option('--failed', 'record the test as failed').option('--summary <text>', 'what was tested')));

  const failover = action('failover', 'fail the group over to the recovery site (R2)', '/v1/vpgs/{vpgIdentifier}/Failover', (o) => ({
    ...(o.checkpoint ? { checkpointIdentifier: String(o.checkpoint) } : {}),
    commitPolicy: COMMIT_POLICIES[o.commitPolicy as keyof typeof COMMIT_POLICIES],
    commitPolicyTimeout: (o.commitAfter as number | undefined) ?? 0,
    shutdownPolicy: SHUTDOWN_POLICIES[o.shutdownPolicy as keyof typeof SHUTDOWN_POLICIES],
    timeToWaitBeforeShutdownInSec: (o.shutdownAfter as number | undefined) ?? 0,
    isReverseProtection: !!o.reverseProtection,
  }), (c) => c.option('--checkpoint <id>', 'checkpoint (default: latest)')
    .addOption(new Option('--commit-policy <policy>', 'what happens after the before-commit phase').choices(Object.keys(COMMIT_POLICIES)).default('none'))
    .option('--commit-after <seconds>', 'seconds before the commit policy applies', int)
    .addOption(new Option('--shutdown-policy <policy>', 'what happens to the protected VMs').choices(Object.keys(SHUTDOWN_POLICIES)).default('none'))
    .option('--shutdown-after <seconds>', 'seconds to wait before shutting them down', int)
    .option('--reverse-protection', 'protect the recovered VMs back to the original site on commit'));
  // Commit sends reverse protection only when asked: absent, the choice made when the failover started applies.
  const commit = action('commit', 'commit a failover in its before-commit phase', '/v1/vpgs/{vpgIdentifier}/FailoverCommit', (o) => ({ ...flag('isReverseProtection', o.reverseProtection) }),
    (c) => c.option('--reverse-protection', 'protect the recovered VMs back').option('--no-reverse-protection', 'do not protect them back'));
  const rollback = action('rollback', 'roll a failover back: remove the recovered VMs and keep protecting', '/v1/vpgs/{vpgIdentifier}/FailoverRollback', () => ({}));
  const move = action('move', 'planned migration of the group (R3)', '/v1/vpgs/{vpgIdentifier}/Move', (o) => ({
    commitPolicy: COMMIT_POLICIES[o.commitPolicy as keyof typeof COMMIT_POLICIES], commitPolicyTimeout: (o.commitAfter as number | undefined) ?? 0,
    forceShutdown: !!o.forceShutdown, reverseProtection: !!o.reverseProtection, keepSourceVms: !!o.keepSourceVms,
  }), (c) => c.addOption(new Option('--commit-policy <policy>').choices(Object.keys(COMMIT_POLICIES)).default('commit'))
    .option('--commit-after <seconds>', 'seconds before the commit policy applies', int)
    .option('--force-shutdown', 'power the source VMs off instead of shutting them down')
    .option('--reverse-protection', 'protect the moved VMs back')
    .option('--keep-source-vms', 'keep the source VMs after the commit'));
  const moveCommit = action('move-commit', 'commit a move', '/v1/vpgs/{vpgIdentifier}/MoveCommit', (o) => ({ ...flag('reverseProtection', o.reverseProtection), ...flag('keepSourceVms', o.keepSourceVms) }),
    (c) => c.option('--reverse-protection', 'protect the moved VMs back').option('--no-reverse-protection', 'do not protect them back')
      .option('--keep-source-vms', 'keep the source VMs').option('--no-keep-source-vms', 'remove the source VMs'));
  const moveRollback = action('move-rollback', 'roll a move back', '/v1/vpgs/{vpgIdentifier}/MoveRollback', () => ({}));
  const clone = action('clone', 'copy the group at a checkpoint onto a datastore (R4)', '/v1/vpgs/{vpgIdentifier}/CloneStart', (o) => ({
    ...(o.checkpoint ? { checkpointIdentifier: String(o.checkpoint) } : {}), ...(o.datastore ? { datastoreIdentifier: String(o.datastore) } : {}),
  }), (c) => c.option('--checkpoint <id>', 'checkpoint (default: latest)').option('--datastore <id>', 'target datastore'));
  const pause = action('pause', 'pause replication of a group', '/v1/vpgs/{vpgIdentifier}/pause', () => ({}));
  const resume = action('resume', 'resume replication of a group (a bitmap sync follows)', '/v1/vpgs/{vpgIdentifier}/resume', () => ({}));
  const forceSync = action('force-sync', 'compare both sides block by block and resend what differs', '/v1/vpgs/{vpgIdentifier}/forcesync', () => ({}));

  const restoreFile = withConnection(new Command('restore-file').description('extract a file from a checkpoint of a VM volume (ext4) (R5)').argument('<group>'))
    .requiredOption('--checkpoint <id>').requiredOption('--vm <id>').requiredOption('--volume <id>').requiredOption('--path <path>', 'path inside the volume')
    .option('--out <file>', 'where to write it (default: stdout)')
    .option('--list', 'list the directory instead of extracting a file')
    .action(run(async (groupId: string, opts: CommonOptions & { checkpoint: string; vm: string; volume: string; path: string; out?: string; list?: boolean }) => {
      const client = connect(opts);
      const session = await client.call(client.api.POST('/v1/vpgs/{vpgIdentifier}/filerestore', { ...inGroup(groupId), body: { checkpointIdentifier: opts.checkpoint, vmIdentifier: opts.vm, volumeIdentifier: opts.volume } }));
      const inSession = { path: { sessionIdentifier: session.sessionIdentifier } };
      try {
        if (opts.list) {
          const entries = await client.call(client.api.GET('/v1/filerestore/{sessionIdentifier}/files', { params: { ...inSession, query: { path: opts.path } } }));
          print(opts, entries, () => table(entries, ['path', 'type', 'sizeBytes']));
        } else {
          const data = await client.call(client.api.GET('/v1/filerestore/{sessionIdentifier}/file', { params: { ...inSession, query: { path: opts.path } }, parseAs: 'arrayBuffer' }));
          const bytes = Buffer.from(data as unknown as ArrayBuffer);
          if (opts.out) await writeFile(opts.out, bytes, { mode: 0o600 });
          else process.stdout.write(bytes);
        }
      } finally {
        await client.call(client.api.DELETE('/v1/filerestore/{sessionIdentifier}', { params: inSession })).catch(() => undefined);
      }
    }));

  const tasks = withConnection(new Command('tasks').description('list tasks, or show one').argument('[task]'))
    .action(run(async (taskId: string | undefined, opts: CommonOptions) => {
      const client = connect(opts);
      if (taskId) {
        const t = await client.call(client.api.GET('/v1/tasks/{taskIdentifier}', { params: { path: { taskIdentifier: taskId } } }));
        print(opts, t, () => `${t.taskIdentifier} ${t.type ?? ''} ${TASK_STATES[t.status.state]} ${t.status.progress}%${t.error ? ` — ${t.error}` : ''}`);
        return t.status.state === 4 ? EXIT.taskFailed : EXIT.ok;
      }
      const list = await client.call(client.api.GET('/v1/tasks', {}));
      print(opts, list, () => table(list.map((t) => ({ task: t.taskIdentifier, type: t.type, state: TASK_STATES[t.status.state], progress: t.status.progress })), ['task', 'type', 'state', 'progress']));
    }));

  const report = withConnection(new Command('report').description('recovery reports (failover tests, failovers, moves, clones)'))
    .option('--group <name>', 'only this group (by name)')
    .action(run(async (opts: CommonOptions & { group?: string }) => {
      const client = connect(opts);
      const reports = await client.call(client.api.GET('/v1/reports/recovery', { params: { query: opts.group ? { vpgName: opts.group } : {} } }));
      print(opts, reports, () => table(reports, ['recoveryType', 'vpgName', 'state', 'startTime', 'endTime', 'checkpointIdentifier']));
    }));

  return [login, status, groupCmd, checkpoint, failoverTest, failover, commit, rollback, move, moveCommit, moveRollback, clone, pause, resume, forceSync, restoreFile, tasks, report]
    .map(badInputOnUsageErrors);
}

/** A boolean field only when the user set it (`--x` or `--no-x`). */
function flag(name: string, value: unknown): Record<string, boolean> {
  return value === undefined ? {} : { [name]: value === true };
}

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new BadInputError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BadInputError(`${file} is not JSON: ${(e as Error).message}`);
  }
}

/** Usage errors (unknown option, missing argument, a bad choice) exit with EXIT.badInput, not commander's 1. */
export function badInputOnUsageErrors(command: Command): Command {
  command.exitOverride((error) => {
    process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.badInput);
  });
  for (const sub of command.commands) badInputOnUsageErrors(sub);
  return command;
}

// `opencdp image …` end to end: two sites in four processes (fake data centre, seeded workload), the real
// command run as a child process. A quiesced tagged checkpoint's volume hashes are the oracle: exports made
// on the recovery appliance, downloaded through the manager, and a live NBD session read while the workload
// keeps replicating, must all give those bytes back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { VhdxFile } from '@opencdp/adapter-hyperv/vhdx';
import { requireHostToolsOrSkip } from '@opencdp/core';
import { MAIN } from '../site/cli-process.js';
import { startTwoSiteLab, until, type TwoSiteLab } from '../site/two-site-lab.js';
import { EXIT } from './manager-client.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function opencdp(args: string[]): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPENCDP_'))) as Record<string, string>;
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env, timeout: 120_000, maxBuffer: 16 * MiB }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function ok(run: Run, what: string): Run {
  assert.equal(run.code, EXIT.ok, `${what} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

function json<T>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new assert.AssertionError({ message: `not JSON (exit ${run.code}): ${run.stdout}\nstderr: ${run.stderr}` });
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface ExportJson {
  status: { state: number };
  result: { exportIdentifier: string; file: string; engine: string; sha256: string; bytesWritten: number; files: { name: string; sha256: string }[] };
  downloaded: { file: string; sha256: string }[];
}

describe('opencdp image export|serve|list|stop|delete against two sites (slow)', function () {
  this.timeout(300_000);
  let lab: TwoSiteLab | undefined;
  let as: string[] = [];
  let groupId = '';
  let cp = '';
  let oracle: Record<string, string> = {};
  let web: { id: string; volumes: string[] };
  let db: { id: string; volumes: string[] };

  before(async function () {
    requireHostToolsOrSkip(this, ['qemu-img']);
    lab = await startTwoSiteLab({
      vms: [{ name: 'web', volumes: [{ sizeBytes: 16 * MiB }] }, { name: 'db', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: 4096 }] }],
      workload: { seed: 13, ratePerSecond: 60, writeSizes: [4096, 65536] },
      pollIntervalMs: 300,
    });
    as = ['--manager', lab.managerUrlA, '--fingerprint', lab.fingerprints['site-a'], '--user', lab.admin.user, '--password', lab.admin.password];
    web = lab.vms.find((v) => v.name === 'web')!;
    db = lab.vms.find((v) => v.name === 'db')!;
    const api = lab.apiA;
    const created = await api.call(api.api.POST('/v1/vpgs', {
      body: {
        settings: { name: 'images', checkpointIntervalMs: 1000, rpoTargetSeconds: 30, journalHistoryHours: 1, journal: { hardLimit: { mb: 256 }, warningThreshold: { mb: 192 } } },
        vmIdentifiers: lab.vms.map((v) => v.id), recoverySiteIdentifier: 'site-b',
      },
    }));
    groupId = created.vpgIdentifier;
    await lab.apiA.waitForTask(created.taskIdentifier);
    await lab.controlA.extra('startWorkload');
    await until('the initial sync to finish', async () => ((await lab!.controlA.groupFacts(groupId)).phase === 'streaming' ? true : undefined), 60_000);
    // The oracle: a tagged checkpoint cut while the guests are quiesced, and their volumes hashed meanwhile.
    await lab.controlA.extra('quiesce', lab.vms.map((v) => v.id));
    try {
      const tagged = await api.call(api.api.POST('/v1/vpgs/{vpgIdentifier}/checkpoints', { params: { path: { vpgIdentifier: groupId } }, body: { checkpointName: 'images-oracle' } }));
      await lab.apiA.waitForTask(tagged.taskIdentifier);
      cp = tagged.checkpointIdentifier;
      oracle = await lab.controlA.extra<Record<string, string>>('hashVolumes', lab.vms.map((v) => v.id));
    } finally {
      await lab.controlA.extra('thaw');
    }
    await until('the recovery site to list the tagged checkpoint', async () => {
      const list = await api.call(api.api.GET('/v1/vpgs/{vpgIdentifier}/checkpoints', { params: { path: { vpgIdentifier: groupId } } }));
      return list.some((c) => c.checkpointIdentifier === cp) ? true : undefined;
    }, 30_000);
  });

  after(async () => {
    await lab?.stop();
  });

  it('image export --download: qcow2 through qemu-img equals the quiesced volume, the download checked against the appliance\'s SHA-256', async () => {
    const dir = path.join(lab!.dir, 'dl-qcow2');
    const out = json<ExportJson>(ok(await opencdp(['image', 'export', groupId, '--checkpoint', cp, '--vm', web.id, '--volume', web.volumes[0], '--format', 'qcow2', '--name', 'web', '--download', dir, '--json', ...as]), 'image export qcow2'));
    assert.equal(out.status.state, 6);
    assert.equal(out.result.engine, 'qemu-img');
    assert.equal(out.result.file, 'web.qcow2');
    assert.ok(out.result.bytesWritten > 0);
    const file = path.join(dir, 'web.qcow2');
    assert.deepEqual(out.downloaded.map((d) => [d.file, d.sha256]), [[file, out.result.sha256]]);
    assert.equal(sha256(await fs.readFile(file)), out.result.sha256);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    await exec('qemu-img', ['check', '-q', '-f', 'qcow2', file]);
    const raw = path.join(dir, 'web.raw');
    await exec('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', file, raw]);
    assert.equal(sha256(await fs.readFile(raw)), oracle[web.volumes[0]], 'the image at the tagged checkpoint');
  });

  it('image export of a 4096-byte-sector volume as VHDX is written by our own writer and holds the volume\'s bytes; as VMDK it is refused (exit 1, the reason)', async () => {
    const vol = db.volumes[1];
    const dir = path.join(lab!.dir, 'dl-vhdx');
    const out = json<ExportJson>(ok(await opencdp(['image', 'export', groupId, '--checkpoint', cp, '--vm', db.id, '--volume', vol, '--format', 'vhdx', '--download', dir, '--json', ...as]), 'image export vhdx'));
    assert.equal(out.result.engine, 'native');
    const vhdx = await VhdxFile.open(path.join(dir, out.result.file));
    try {
      assert.equal(vhdx.logicalSectorSize, 4096);
      assert.equal(sha256(await vhdx.read(0, 2 * MiB)), oracle[vol]);
    } finally {
      await vhdx.close();
    }
    const vmdk = await opencdp(['image', 'export', groupId, '--checkpoint', cp, '--vm', db.id, '--volume', vol, '--format', 'vmdk-stream', ...as]);
    assert.equal(vmdk.code, EXIT.taskFailed, vmdk.stderr);
    assert.match(vmdk.stdout, /4096-byte sectors/);
  });

  it('image serve: qemu-img reads the quiesced volume through the session while the workload keeps replicating; list shows it; stop ends it', async () => {
    const s = json<{ sessionIdentifier: string; nbdUri: string }>(ok(await opencdp(['image', 'serve', groupId, '--checkpoint', cp, '--vm', db.id, '--volume', db.volumes[0], '--idle-timeout', '300', '--json', ...as]), 'image serve'));
    const before = (await lab!.controlA.groupFacts(groupId)).writes ?? 0;
    const raw = path.join(lab!.dir, 'served.raw');
    await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', s.nbdUri, raw]);
    assert.equal(sha256(await fs.readFile(raw)), oracle[db.volumes[0]]);
    await until('more guest writes to replicate', async () => (((await lab!.controlA.groupFacts(groupId)).writes ?? 0) > before + 20 ? true : undefined), 30_000);
    await fs.rm(raw);
    await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', s.nbdUri, raw]);
    assert.equal(sha256(await fs.readFile(raw)), oracle[db.volumes[0]], 'still the checkpoint\'s bytes after more replication');
    const listed = json<{ sessions: { sessionIdentifier: string }[]; exports: { exportIdentifier: string }[] }>(ok(await opencdp(['image', 'list', '--group', groupId, '--json', ...as]), 'image list'));
    assert.deepEqual(listed.sessions.map((x) => x.sessionIdentifier), [s.sessionIdentifier]);
    assert.equal(listed.exports.length, 2);
    ok(await opencdp(['image', 'stop', s.sessionIdentifier, ...as]), 'image stop');
    await assert.rejects(exec('qemu-img', ['info', s.nbdUri]));
    const again = await opencdp(['image', 'stop', s.sessionIdentifier, ...as]);
    assert.equal(again.code, EXIT.badInput, again.stderr);
  });

  it('image download and delete; bad input exits 2 with the reason, a viewer 3', async () => {
    const listed = json<{ exports: { exportIdentifier: string; file: string; sha256: string }[] }>(ok(await opencdp(['image', 'list', '--json', ...as]), 'image list'));
    const first = listed.exports[0];
    const dir = path.join(lab!.dir, 'dl-again');
    const got = json<{ downloaded: { file: string; sha256: string }[] }>(ok(await opencdp(['image', 'download', first.exportIdentifier, '--dir', dir, '--json', ...as]), 'image download'));
    assert.equal(got.downloaded.find((d) => d.file.endsWith(first.file))?.sha256, first.sha256);
    const twice = await opencdp(['image', 'download', first.exportIdentifier, '--dir', dir, ...as]);
    assert.equal(twice.code, EXIT.badInput, 'an existing file is never overwritten');
    ok(await opencdp(['image', 'delete', first.exportIdentifier, ...as]), 'image delete');
    const gone = await opencdp(['image', 'download', first.exportIdentifier, '--dir', path.join(lab!.dir, 'x'), ...as]);
    assert.equal(gone.code, EXIT.badInput);
    assert.match(gone.stderr, /does not exist/);
    const [unknownCp, badFormat, outside] = await Promise.all([
      opencdp(['image', 'export', groupId, '--checkpoint', 'no-such-cp', '--vm', web.id, '--volume', web.volumes[0], '--format', 'raw', ...as]),
      opencdp(['image', 'export', groupId, '--checkpoint', cp, '--vm', web.id, '--volume', web.volumes[0], '--format', 'vdi', ...as]),
      opencdp(['image', 'serve', groupId, '--checkpoint', cp, '--vm', 'no-such-vm', '--volume', 'x', ...as]),
    ]);
    for (const r of [unknownCp, badFormat, outside]) assert.equal(r.code, EXIT.badInput, r.stderr);
    assert.match(unknownCp.stderr, /no-such-cp/);
    await lab!.apiA.call(lab!.apiA.api.POST('/v1/users', { body: { name: 'auditor', password: 'viewer-password-1', role: 'viewer' } }));
    const viewer = await opencdp(['image', 'export', groupId, '--checkpoint', cp, '--vm', web.id, '--volume', web.volumes[0], '--format', 'raw',
      '--manager', lab!.managerUrlA, '--fingerprint', lab!.fingerprints['site-a'], '--user', 'auditor', '--password', 'viewer-password-1']);
    assert.equal(viewer.code, EXIT.auth, viewer.stderr);
  });
});

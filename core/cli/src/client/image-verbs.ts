// `opencdp image …`: checkpoint images as disks through the manager's REST API. `export` runs on the
// recovery appliance as a task (progress bar, then the file, bytes written and SHA-256) and can download
// the files, checking each against its SHA-256; `serve` opens a live read-only NBD session and prints its
// URI; `list`, `download`, `delete` and `stop` manage what exists.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { IMAGE_FORMAT_NAMES } from '@opencdp/core';
import { BadInputError, EXIT, type ApiSchemas, type ManagerClient } from './manager-client.js';
import { badInputOnUsageErrors, connect, follow, print, run, table, withConnection, type CommonOptions } from './verbs.js';

/** An export as the manager reports it (also the result of an export task). */
type ExportView = ApiSchemas['ImageExport'];

interface TargetOptions {
  checkpoint: string;
  vm: string;
  volume: string;
}

const seconds = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1 || n > 86_400) throw new InvalidArgumentError(`'${v}' is not a whole number of seconds from 1 to 86400`);
  return n;
};

const atCheckpoint = (vpgIdentifier: string, checkpointIdentifier: string): { params: { path: { vpgIdentifier: string; checkpointIdentifier: string } } } => ({ params: { path: { vpgIdentifier, checkpointIdentifier } } });

/** Downloads every file of an export into `dir`, each checked against the SHA-256 the appliance computed. */
async function downloadExport(client: ManagerClient, report: ExportView, dir: string): Promise<{ file: string; bytes: number; sha256: string }[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out: { file: string; bytes: number; sha256: string }[] = [];
  for (const f of report.files) {
    const local = path.join(dir, f.name);
    const got = await client.download(local, () => client.api.GET('/v1/images/exports/{exportIdentifier}/files/{fileName}', {
      params: { path: { exportIdentifier: report.exportIdentifier, fileName: f.name } }, parseAs: 'stream',
    }))
      .catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') throw new BadInputError(`${local} exists already`, 'choose another folder or remove the file');
        throw e;
      });
    if (got.sha256 !== f.sha256 || got.bytes !== f.sizeInBytes) throw new Error(`${local}: downloaded ${got.bytes} bytes with SHA-256 ${got.sha256}, the appliance wrote ${f.sizeInBytes} bytes with ${f.sha256}`);
    out.push({ file: local, bytes: got.bytes, sha256: got.sha256 });
  }
  return out;
}

function withTarget(command: Command): Command {
  return command.argument('<group>', 'protection group id')
    .requiredOption('--checkpoint <id>', 'checkpoint').requiredOption('--vm <id>', 'VM of the group').requiredOption('--volume <id>', 'volume of the VM');
}

export function imageCommand(): Command {
  const image = new Command('image').description('checkpoint images as disks: export a VM volume at a checkpoint as a disk file, or serve it live over NBD');

  image.addCommand(withTarget(withConnection(new Command('export').description('export a VM volume at a checkpoint as a disk file on the recovery appliance')))
    .addOption(new Option('--format <format>', 'disk format').choices(IMAGE_FORMAT_NAMES).makeOptionMandatory())
    .option('--name <name>', 'file name without extension (default: <vm>-<volume>-<checkpoint>)')
    .option('--download <dir>', 'then download the files into this folder, checking their SHA-256')
    .action(run(async (groupId: string, opts: CommonOptions & TargetOptions & { format: string; name?: string; download?: string }) => {
      if (opts.download && !opts.wait) throw new BadInputError('--download waits for the export; leave out --no-wait');
      const client = connect(opts);
      const started = await client.call(client.api.POST('/v1/vpgs/{vpgIdentifier}/checkpoints/{checkpointIdentifier}/images', {
        ...atCheckpoint(groupId, opts.checkpoint),
        body: { vmIdentifier: opts.vm, volumeIdentifier: opts.volume, format: opts.format as ExportView['format'], ...(opts.name ? { fileName: opts.name } : {}) },
      }));
      if (!opts.download) {
        return follow(client, opts, started, (t) => {
          const r = t.result as ExportView;
          return `exported ${r.file} (${r.format}, export ${r.exportIdentifier}): ${r.bytesWritten} bytes written, sha256 ${r.sha256}`;
        });
      }
      const task = await client.waitForTask(started.taskIdentifier);
      if (task.status.state !== 6) {
        print(opts, task, () => `task ${task.taskIdentifier} failed${task.error ? `: ${task.error}` : ''}`);
        return EXIT.taskFailed;
      }
      const report = task.result as ExportView;
      const downloaded = await downloadExport(client, report, opts.download);
      print(opts, { ...task, downloaded }, () => [
        `exported ${report.file} (${report.format}, export ${report.exportIdentifier}): ${report.bytesWritten} bytes written, sha256 ${report.sha256}`,
        ...downloaded.map((d) => `downloaded ${d.file} (${d.bytes} bytes, sha256 ${d.sha256}, checked)`),
      ].join('\n'));
    })));

  image.addCommand(withTarget(withConnection(new Command('serve').description('serve a VM volume at a checkpoint read-only over NBD until stopped or idle (the checkpoint stays pinned)')))
    .option('--idle-timeout <seconds>', 'end the session after this long without a request (default: the appliance\'s, 900)', seconds)
    .action(run(async (groupId: string, opts: CommonOptions & TargetOptions & { idleTimeout?: number }) => {
      const client = connect(opts);
      const s = await client.call(client.api.POST('/v1/vpgs/{vpgIdentifier}/checkpoints/{checkpointIdentifier}/images/sessions', {
        ...atCheckpoint(groupId, opts.checkpoint),
        body: { vmIdentifier: opts.vm, volumeIdentifier: opts.volume, ...(opts.idleTimeout !== undefined ? { idleTimeoutInSec: opts.idleTimeout } : {}) },
      }));
      print(opts, s, () => `session ${s.sessionIdentifier}: ${s.nbdUri} (read-only; ends after ${s.idleTimeoutInSec} s idle or \`opencdp image stop ${s.sessionIdentifier}\`)`);
    })));

  image.addCommand(withConnection(new Command('list').description('image exports and live sessions'))
    .option('--group <id>', 'only this group')
    .action(run(async (opts: CommonOptions & { group?: string }) => {
      const client = connect(opts);
      const list = await client.call(client.api.GET('/v1/images', { params: { query: opts.group ? { vpgIdentifier: opts.group } : {} } }));
      print(opts, list, () => [
        table(list.exports, ['exportIdentifier', 'vpgIdentifier', 'checkpointIdentifier', 'vmIdentifier', 'volumeIdentifier', 'format', 'file', 'bytesWritten', 'sha256']),
        '',
        table(list.sessions, ['sessionIdentifier', 'vpgIdentifier', 'checkpointIdentifier', 'vmIdentifier', 'volumeIdentifier', 'nbdUri', 'connections', 'lastActivity']),
      ].join('\n'));
    })));

  image.addCommand(withConnection(new Command('download').description('download the files of an export, checking their SHA-256').argument('<export>', 'export id'))
    .requiredOption('--dir <dir>', 'folder to write the files into')
    .action(run(async (exportId: string, opts: CommonOptions & { dir: string }) => {
      const client = connect(opts);
      const report = await client.call(client.api.GET('/v1/images/exports/{exportIdentifier}', { params: { path: { exportIdentifier: exportId } } }));
      const downloaded = await downloadExport(client, report, opts.dir);
      print(opts, { export: report, downloaded }, () => downloaded.map((d) => `downloaded ${d.file} (${d.bytes} bytes, sha256 ${d.sha256}, checked)`).join('\n'));
    })));

  image.addCommand(withConnection(new Command('delete').description('delete an export\'s files on the appliance').argument('<export>', 'export id'))
    .action(run(async (exportId: string, opts: CommonOptions) => {
      const client = connect(opts);
      await client.call(client.api.DELETE('/v1/images/exports/{exportIdentifier}', { params: { path: { exportIdentifier: exportId } } }));
      print(opts, { deleted: exportId }, () => `deleted export ${exportId}`);
    })));

  image.addCommand(withConnection(new Command('stop').description('stop a live NBD session (its checkpoint is released)').argument('<session>', 'session id'))
    .action(run(async (sessionId: string, opts: CommonOptions) => {
      const client = connect(opts);
      await client.call(client.api.DELETE('/v1/images/sessions/{sessionIdentifier}', { params: { path: { sessionIdentifier: sessionId } } }));
      print(opts, { stopped: sessionId }, () => `stopped session ${sessionId}`);
    })));

  return badInputOnUsageErrors(image);
}

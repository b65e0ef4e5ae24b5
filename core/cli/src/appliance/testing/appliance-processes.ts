// Test support for the appliance process specs: real `opencdp appliance start` processes with their JSON
// log lines, waits with deadlines that say what was awaited, cleanup of every process a spec started (even
// on failure), and the check of recovered journals against the hashes the protected side recorded.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Journal, LocalFileStorage, SystemClock, journalSizeBytes, type Checkpoint, type ProtectionGroupSettings } from '@opencdp/core';
import type { ProtectedStatus, VerifiedCheckpoint } from '../status-file.js';
import { CliProcess as ApplianceProcess, type LogLine } from '../../site/cli-process.js';

export { CliProcess as ApplianceProcess, MAIN, type LogLine } from '../../site/cli-process.js';

/** Every process a spec spawned; `killAll` in `after` so a failing spec leaves none behind. */
export class ProcessPool {
  private readonly all: ApplianceProcess[] = [];

  start(name: string, role: 'recovery' | 'protected', configFile: string): ApplianceProcess {
    const p = new ApplianceProcess(name, ['appliance', 'start', '--role', role, '--config', configFile]);
    this.all.push(p);
    return p;
  }

  /** Writes each process's log lines and stderr to `<dir>/<name>-<pid>.log` (kept with OPENCDP_KEEP_TMP=1). */
  async saveLogs(dir: string): Promise<void> {
    for (const p of this.all) {
      const text = p.lines.map((l) => JSON.stringify(l)).join('\n') + (p.stderr ? `\n--- stderr ---\n${p.stderr}` : '');
      await fs.writeFile(path.join(dir, `${p.name.replace(/[^A-Za-z0-9.-]/g, '_')}-${p.pid}.log`), `${text}\n`);
    }
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.filter((p) => p.running).map(async (p) => {
      p.kill('SIGKILL');
      await p.exited;
    }));
  }

  /** After a test: kills what still runs, then removes `dir` (or keeps it and the logs with OPENCDP_KEEP_TMP=1). */
  async release(dir: string): Promise<void> {
    await this.killAll();
    if (!dir) return;
    if (process.env.OPENCDP_KEEP_TMP) {
      await this.saveLogs(dir);
      console.log(`kept ${dir}`);
    } else await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Runs a short CLI command (`opencdp ...`) to completion; fails with its output if it exits non-zero. */
export async function runCli(args: string[]): Promise<LogLine[]> {
  const p = new ApplianceProcess(`opencdp ${args.slice(0, 2).join(' ')}`, args);
  const { code } = await p.exited;
  assert.equal(code, 0, `opencdp ${args.join(' ')} failed: ${p.stderr}`);
  return p.lines;
}

export async function writeJson(file: string, value: unknown): Promise<string> {
  await fs.writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

export async function readStatus(file: string): Promise<ProtectedStatus> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as ProtectedStatus;
}

export interface JournalCheck {
  /** Checkpoints listed in every VM's journal. */
  listed: Checkpoint[];
  /** The verified checkpoints that are listed, each compared volume by volume. */
  compared: string[];
}

/**
 * Opens the recovery site's journals of `status.groupId` from `dataDir` (processes stopped), asserts that
 * every id in `mustBeListed` is listed, and that every verified checkpoint that is listed has an image
 * whose volumes hash to what the protected process recorded.
 */
export async function checkJournals(dataDir: string, status: Pick<ProtectedStatus, 'groupId' | 'vms'>, settings: ProtectionGroupSettings, verified: VerifiedCheckpoint[], mustBeListed: string[]): Promise<JournalCheck> {
  const storage = new LocalFileStorage(dataDir);
  const clock = new SystemClock();
  const journals: Journal[] = [];
  try {
    for (const vm of status.vms) {
      const provisioned = vm.volumes.reduce((n, v) => n + v.sizeBytes, 0);
      journals.push(await Journal.open({
        storage, clock, path: `journals/${status.groupId}/${vm.vmId}`, vmId: vm.vmId,
        volumes: vm.volumes.map((v) => ({ id: v.volumeId, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize })),
        historyMs: settings.journalHistoryHours * 3_600_000,
        hardLimitBytes: journalSizeBytes(settings.journal.hardLimit, provisioned),
        warningBytes: journalSizeBytes(settings.journal.warningThreshold, provisioned),
        autoTrim: false,
      }));
    }
    for (const j of journals) assert.equal(j.damage, undefined, `journal of ${j.vmId} reports damage: ${j.damage?.message}`);
    const lists = journals.map((j) => j.checkpoints());
    const listed = lists[0].filter((cp) => lists.every((l) => l.some((c) => c.id === cp.id)));
    const ids = new Set(listed.map((c) => c.id));
    for (const id of mustBeListed) assert.ok(ids.has(id), `verified checkpoint ${id} is not listed in every journal (listed: ${listed.length}, last ${listed.at(-1)?.id})`);
    const compared: string[] = [];
    for (const v of verified) {
      if (!ids.has(v.id)) continue;
      for (const [i, j] of journals.entries()) {
        const image = await j.openImage(v.id);
        try {
          assert.equal(image.checkpoint.seq, v.seq, `checkpoint ${v.id}: seq in the journal differs from the one cut`);
          for (const vol of status.vms[i].volumes) {
            const hash = createHash('sha256');
            for (let off = 0; off < vol.sizeBytes; off += 1024 * 1024) hash.update(await image.read(vol.volumeId, off, Math.min(1024 * 1024, vol.sizeBytes - off)));
            assert.equal(hash.digest('hex'), v.volumeSha256[vol.volumeId], `checkpoint ${v.id} (${v.tag}): image of volume ${vol.volumeId} of VM ${j.vmId} differs from the protected volume`);
          }
        } finally {
          image.close();
        }
      }
      compared.push(v.id);
    }
    return { listed, compared };
  } finally {
    await Promise.allSettled(journals.map((j) => j.close()));
  }
}

/** Verified checkpoints announced on a protected process's stdout (they survive its status file being rewritten). */
export function verifiedFrom(p: ApplianceProcess): VerifiedCheckpoint[] {
  return p.events('checkpoint-verified').map((l) => ({
    id: l.id as string, seq: l.seq as number, timestamp: l.timestamp as number, volumeSha256: l.volumeSha256 as Record<string, string>,
    ...(typeof l.tag === 'string' ? { tag: l.tag } : {}),
  }));
}

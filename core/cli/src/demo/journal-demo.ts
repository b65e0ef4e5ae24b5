// The demo on the embedded default: a fake data centre on a virtual clock, journals in local files.
// It protects a three-VM application, streams a workload, tags a checkpoint, "encrypts" the database
// like ransomware would, then reads the database back from the tagged checkpoint and proves it by hash.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  LocalFileStorage, LocalReplication, parseProtectionGroupSettings, seededRandom, type Checkpoint, type VmInfo,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor, Workload } from '@opencdp/adapter-fake';
import { VirtualClock } from '@opencdp/core';

export interface DemoOptions {
  dataDir?: string;
  keep?: boolean;
  seed?: number;
  log?: (line: string) => void;
}

export interface DemoSummary {
  dataDir: string;
  vms: { name: string; volumes: number; sizeMB: number }[];
  checkpoints: number;
  taggedCheckpoint: { id: string; tag: string; timestamp: string };
  writes: number;
  bytesReplicated: number;
  journalUsedMB: number;
  recovered: { vm: string; expectedSha256: string; recoveredSha256: string; match: boolean };
  latestMatchesCorrupted: boolean;
  virtualSeconds: number;
  wallMs: number;
}

const MiB = 1024 * 1024;
const VOLUME_BYTES = 32 * MiB;

export async function runJournalDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-demo-')));
  const clock = new VirtualClock();
  const t0 = clock.now();
  const at = (): string => `[t+${String(Math.round((clock.now() - t0) / 1000)).padStart(3)}s]`;
  const dc = new FakeDataCenter({ clock, seed: options.seed ?? 1 });
  const site = dc.addSite('protected');
  const hosts = [dc.addHost(site.id, 'esx-1'), dc.addHost(site.id, 'esx-2')];
  const vms: VmInfo[] = ['web', 'app', 'db'].map((name, i) => dc.createVm({ name, hostId: hosts[i % 2].id, volumes: [{ name: `${name}-disk`, sizeBytes: VOLUME_BYTES }] }));
  const db = vms[2];
  const storage = new LocalFileStorage(dataDir);
  const settings = parseProtectionGroupSettings({ name: 'app-stack', checkpointIntervalMs: 5000, journalHistoryHours: 1, journal: { hardLimit: { mb: 512 }, warningThreshold: { mb: 384 } } });
  log(`OpenCDP demo — fake data centre, journals in ${dataDir}`);
  log(`Protecting group '${settings.name}': ${vms.map((v) => v.name).join(', ')} (checkpoint every ${settings.checkpointIntervalMs / 1000} s)`);

  const rep = await LocalReplication.start({
    groupId: 'app-stack', settings, vmIds: vms.map((v) => v.id), hypervisor: new FakeHypervisor(dc, site.id), storage, clock,
    newId: (() => { let n = 0; return () => `cp-${++n}`; })(),
  });
  const workload = new Workload(dc, { seed: options.seed ?? 7, vms: vms.map((v) => v.id), writeSizes: [4096, 16384, 65536], hotFraction: 0.2 });
  let writes = 0;
  let bytes = 0;
  // Journals write real files while the clock is virtual: move time in small steps and let the
  // journals catch up after each, so virtual time never runs ahead of the data.
  const advance = async (ms: number): Promise<void> => {
    for (let done = 0; done < ms; done += 100) {
      await clock.advance(100);
      await Promise.all(vms.map((v) => rep.journal(v.id).idle()));
      if ((clock.now() - t0) % 10_000 === 0) statusLine();
    }
  };
  const stream = async (seconds: number): Promise<void> => {
    const run = workload.run({ durationMs: seconds * 1000, ratePerSecond: 200, concurrency: 4 });
    await advance(seconds * 1000);
    const result = await run;
    writes += result.writes;
    bytes += result.bytes;
  };
  const statusLine = (): void => {
    const stats = vms.map((v) => rep.journal(v.id).stats());
    const used = stats.reduce((n, s) => n + s.usedBytes, 0);
    log(`${at()} checkpoints ${String(rep.checkpoints().length).padStart(3)} | journal ${(used / MiB).toFixed(1).padStart(6)} MB | seq ${rep.lastSeq}`);
  };

  log(`${at()} streaming a workload (200 writes/s over three VMs)…`);
  await stream(30);
  const tagged = await rep.checkpoint('tagged', 'before-upgrade');
  const expected = sha(await dc.guestRead(db.id, db.volumes[0].id, 0, VOLUME_BYTES));
  log(`${at()} tagged checkpoint '${tagged.tag}' (${tagged.id}); db volume sha256 ${expected.slice(0, 16)}…`);
  await stream(20);

  log(`${at()} ransomware: overwriting the whole db volume with random bytes`);
  const rnd = seededRandom(666);
  for (let off = 0; off < VOLUME_BYTES; off += MiB) {
    await dc.guestWrite(db.id, db.volumes[0].id, off, rnd.bytes(MiB));
    bytes += MiB;
  }
  await stream(10);
  await advance(5000);
  // The workload has stopped: the newest checkpoint must now equal the protected (encrypted) volume.
  const corrupted = sha(await dc.guestRead(db.id, db.volumes[0].id, 0, VOLUME_BYTES));

  const latest: Checkpoint = rep.checkpoints().at(-1)!;
  const latestImage = await rep.journal(db.id).openImage(latest.id);
  const latestSha = sha(await latestImage.read(db.volumes[0].id, 0, VOLUME_BYTES));
  latestImage.close();
  const image = await rep.journal(db.id).openImage(tagged.id);
  const recoveredSha = sha(await image.read(db.volumes[0].id, 0, VOLUME_BYTES));
  image.close();
  const match = recoveredSha === expected;
  log(`${at()} ${rep.checkpoints().length} checkpoints retained; the latest (${latest.id}) equals the encrypted protected volume: ${latestSha === corrupted ? 'yes' : 'NO'}`);
  log(`${at()} db volume read from '${tagged.tag}': sha256 ${recoveredSha.slice(0, 16)}… ${match ? 'matches the pre-attack volume ✔' : 'DOES NOT MATCH ✘'}`);

  const used = vms.reduce((n, v) => n + rep.journal(v.id).stats().usedBytes, 0);
  const summary: DemoSummary = {
    dataDir,
    vms: vms.map((v) => ({ name: v.name, volumes: v.volumes.length, sizeMB: v.volumes.reduce((n, x) => n + x.sizeBytes, 0) / MiB })),
    checkpoints: rep.checkpoints().length,
    taggedCheckpoint: { id: tagged.id, tag: tagged.tag!, timestamp: new Date(tagged.timestamp).toISOString() },
    writes,
    bytesReplicated: bytes,
    journalUsedMB: Math.round((used / MiB) * 10) / 10,
    recovered: { vm: db.name, expectedSha256: expected, recoveredSha256: recoveredSha, match },
    latestMatchesCorrupted: latestSha === corrupted,
    virtualSeconds: Math.round((clock.now() - t0) / 1000),
    wallMs: Date.now() - started,
  };
  await rep.stop();
  if (!options.keep && !options.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  return summary;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

// `opencdp bench vsphere-cycle`: one change-tracking cycle of the vSphere adapter against vcsim, for a VM
// with a 4 GiB disk (10 % holding data) of which 1 % changed since the previous cycle. vcsim's CBT and
// snapshot disk data are the test fixture's SIMULATION: its snapshot copies the allocated data of the
// disk (ESXi makes a delta disk instead), so the snapshot time is reported with and without that copy.
//   snapshotMs / snapshotNetMs    CreateSnapshot_Task + reading the snapshot's config (net: less the fixture's copy)
//   cbtQueryMs                    QueryChangedDiskAreas looped over the disk
//   transferMs / transferMBps     reading the changed regions through the disk transport (datastore HTTP)
//   removeMs                      RemoveSnapshot_Task
//   baseline                      plain HTTPS Range GETs of the same bytes of the same frozen flat extent
//   ratio                         transferMBps ÷ baseline MBps (target ≥ 0.7)
// Every transferred region is checked against the content the simulated guest wrote.
import { createHash } from 'node:crypto';
import https from 'node:https';
import { SystemClock, type ChangedRegion } from '@opencdp/core';
import { MoRef, VsphereHypervisor, disksOf, parseDatastorePath } from '@opencdp/adapter-vsphere';
import { createTestVm, deviceKeyOf, missingVcsimTools, startVcsim } from '@opencdp/adapter-vsphere/testing';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;

export const VSPHERE_CYCLE_SIZES = {
  diskBytes: 4 * 1024 * MiB,
  /** Share of the disk holding data before the cycle. */
  allocatedShare: 0.1,
  /** Share of the disk changed since the previous cycle. */
  changedShare: 0.01,
  /** Bytes per read of the transfer (and of the baseline). */
  readBytes: 1 * MiB,
  /** Transfer and baseline runs, interleaved; the median counts. */
  rounds: 3,
} as const;

export interface VsphereCyclePlan {
  diskBytes: number;
  allocatedBlocks: number;
  changedBlocks: number;
  rounds: number;
}

export function vsphereCyclePlanFor(scale: number): VsphereCyclePlan {
  const s = VSPHERE_CYCLE_SIZES;
  const diskBytes = Math.max(64 * MiB, Math.round((s.diskBytes * scale) / MiB) * MiB);
  const blocks = diskBytes / BLOCK;
  return { diskBytes, allocatedBlocks: Math.round(blocks * s.allocatedShare), changedBlocks: Math.max(1, Math.round(blocks * s.changedShare)), rounds: scale < 0.1 ? 1 : s.rounds };
}

/** The content of a 64 KiB block at a version (0: never written, zeros) — the oracle, generated on demand. */
function blockContent(index: number, version: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  if (version === 0) return b;
  let x = (index * 2654435761 + version * 40503) >>> 0;
  for (let i = 0; i < BLOCK; i += 4) b.writeUInt32LE((x = (Math.imul(x, 1664525) + 1013904223) >>> 0), i);
  return b;
}

/** `count` distinct block indexes of `blocks`, spread by a fixed permutation. */
function pick(blocks: number, count: number, salt: number): number[] {
  const out = new Set<number>();
  for (let i = 0; out.size < count; i++) out.add((Math.imul(i + salt, 2246822519) >>> 0) % blocks);
  return [...out].sort((a, b) => a - b);
}

/** Splits regions into reads of at most `max` bytes. */
function reads(regions: ChangedRegion[], max: number): { offset: number; length: number }[] {
  const out: { offset: number; length: number }[] = [];
  for (const r of regions) for (let at = r.offset; at < r.offset + r.length; at += max) out.push({ offset: at, length: Math.min(max, r.offset + r.length - at) });
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function rangeGet(agent: https.Agent, url: URL, cookie: string, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent, headers: { Range: `bytes=${offset}-${offset + length - 1}`, Cookie: cookie } }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => { n += c.length; });
      res.on('end', () => (res.statusCode === 206 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function runVsphereCycle(context: BenchmarkContext): Promise<BenchmarkResult> {
  const missing = missingVcsimTools();
  if (missing.length > 0) throw new Error(`vsphere-cycle needs the vcsim fixture: apt-get install ${missing.join(' ')}`);
  const plan = vsphereCyclePlanFor(context.scale);
  const { log } = context;
  log(`building/starting vcsim; disk ${plan.diskBytes / MiB} MiB, ${plan.allocatedBlocks} blocks of data, ${plan.changedBlocks} changed (64 KiB blocks)`);
  const fixture = await startVcsim({}, context.workDir);
  let hv: VsphereHypervisor | undefined;
  try {
    hv = await VsphereHypervisor.connect({
      url: fixture.url, user: fixture.user, password: fixture.password, trust: { kind: 'thumbprint', thumbprint: fixture.thumbprint },
      datacenter: 'DC0', siteId: 'bench', clock: new SystemClock(), taskTimeoutMs: 600_000,
    });
    const vm = await createTestVm(hv, { name: 'bench-vm', disks: [plan.diskBytes] });
    const volumeId = vm.volumes[0].id;
    const key = deviceKeyOf(volumeId);
    const version = new Map<number, number>();
    const write = async (blocks: number[], v: number): Promise<void> => {
      // Runs of adjacent blocks go in one write of up to 4 MiB.
      for (let i = 0; i < blocks.length;) {
        let j = i + 1;
        while (j < blocks.length && blocks[j] === blocks[j - 1] + 1 && j - i < 64) j++;
        await fixture.guestWrite(vm.id, key, blocks[i] * BLOCK, Buffer.concat(blocks.slice(i, j).map((b) => blockContent(b, v))));
        for (const b of blocks.slice(i, j)) version.set(b, v);
        i = j;
      }
    };
    const total = plan.diskBytes / BLOCK;
    await write(pick(total, plan.allocatedBlocks, 1), 1);
    await hv.changeTracking.enable(vm.id);
    const first = await hv.changeTracking.openView([vm.id], 'opencdp-bench-1');
    const token = first.token(volumeId);
    const allocated = await first.allocated(volumeId);
    await hv.changeTracking.releaseView(first.id);
    log(`first cycle: ${allocated.reduce((s, r) => s + r.length, 0) / MiB} MiB allocated`);
    await write(pick(total, plan.changedBlocks, 7), 2);

    // The measured cycle.
    const statsBefore = await fixture.stats();
    let t = performance.now();
    const view = await hv.changeTracking.openView([vm.id], 'opencdp-bench-2');
    const snapshotMs = performance.now() - t;
    const freezeMs = (await fixture.stats()).freezeMs - statsBefore.freezeMs;
    t = performance.now();
    const regions = await view.changedSince(volumeId, token);
    const cbtQueryMs = performance.now() - t;
    const changedBytes = regions.reduce((s, r) => s + r.length, 0);
    const plannedReads = reads(regions, VSPHERE_CYCLE_SIZES.readBytes);
    // Check once, by content, that the transfer reads what the guest wrote.
    for (const r of plannedReads) {
      const got = await view.read(volumeId, r.offset, r.length);
      const want = Buffer.concat(Array.from({ length: r.length / BLOCK }, (_, i) => blockContent(r.offset / BLOCK + i, version.get(r.offset / BLOCK + i) ?? 0)));
      if (createHash('sha256').update(got).digest('hex') !== createHash('sha256').update(want).digest('hex')) throw new Error(`the view's bytes at ${r.offset} differ from what the guest wrote`);
    }
    for (const b of pick(total, plan.changedBlocks, 7)) {
      if (!regions.some((r) => r.offset <= b * BLOCK && b * BLOCK < r.offset + r.length)) throw new Error(`CBT missed the changed block ${b}`);
    }
    // The baseline reads the very file the view reads: the snapshot's frozen flat extent.
    const props = await hv.client.properties(new MoRef('VirtualMachineSnapshot', view.id), ['config.hardware.device']);
    const frozen = disksOf(props['config.hardware.device']).find((d) => d.key === key)!;
    const descriptor = parseDatastorePath(frozen.fileName)!;
    const flatUrl = hv.site.files.url({ datastore: descriptor.datastore, path: descriptor.path.replace(/\.vmdk$/, '-flat.vmdk') });
    const cookie = hv.client.http.cookie ?? '';

    const transfer: number[] = [];
    const baseline: number[] = [];
    const runTransfer = async (): Promise<void> => {
      const start = performance.now();
      let n = 0;
      for (const r of plannedReads) n += (await view.read(volumeId, r.offset, r.length)).length;
      transfer.push(performance.now() - start);
      if (n !== changedBytes) throw new Error(`transfer read ${n} of ${changedBytes} bytes`);
    };
    const runBaseline = async (): Promise<void> => {
      const start = performance.now();
      let n = 0;
      for (const r of plannedReads) n += await rangeGet(hv!.client.http.agent, flatUrl, cookie, r.offset, r.length);
      baseline.push(performance.now() - start);
      if (n !== changedBytes) throw new Error(`baseline read ${n} of ${changedBytes} bytes`);
    };
    // Interleaved, the order alternating each round, so neither side always meets a warmer cache.
    for (let round = 0; round < plan.rounds; round++) {
      if (round % 2 === 0) { await runTransfer(); await runBaseline(); } else { await runBaseline(); await runTransfer(); }
    }
    t = performance.now();
    await hv.changeTracking.releaseView(view.id);
    const removeMs = performance.now() - t;
    const transferMs = median(transfer);
    const baselineMs = median(baseline);
    const transferMBps = changedBytes / 1e6 / (transferMs / 1000);
    const baselineMBps = changedBytes / 1e6 / (baselineMs / 1000);
    await hv.deleteVm(vm.id);
    return {
      name: 'vsphere-cycle',
      metrics: {
        diskBytes: plan.diskBytes, changedBytes, regions: regions.length, reads: plannedReads.length,
        snapshotMs, snapshotNetMs: Math.max(0, snapshotMs - freezeMs), fixtureFreezeMs: freezeMs, cbtQueryMs,
        transferMs, transferMBps, removeMs, cycleMs: snapshotMs + cbtQueryMs + transferMs + removeMs,
      },
      baseline: { tool: 'HTTPS Range GET of the frozen flat extent (node:https, same pinned connections)', MBps: baselineMBps, ms: baselineMs },
      ratio: transferMBps / baselineMBps,
      targets: { ratio: '>= 0.7' },
      notes: [
        'vcsim (Debian\'s govmomi 0.24) with the fixture\'s SIMULATED CBT: its snapshot copies the disk\'s allocated data (fixtureFreezeMs); ESXi makes a delta disk instead, so snapshotNetMs is the figure to compare',
        `${plan.rounds} interleaved rounds of transfer and baseline (order alternating); medians`,
        'every transferred region was checked against the content the simulated guest wrote',
      ],
    };
  } finally {
    await hv?.dispose().catch(() => undefined);
    await fixture.stop();
  }
}

export const vsphereCycleBenchmark: BenchmarkDefinition = {
  description: 'one vSphere CBT cycle on vcsim (4 GiB disk, 1 % changed): snapshot, CBT query, transfer, removal; transfer vs plain HTTPS Range GETs',
  run: runVsphereCycle,
};

registerBenchmark('vsphere-cycle', vsphereCycleBenchmark);

// `opencdp bench qemu-splitter`: what QEMU's write-blocking mirror into the appliance's NBD server costs
// a guest. A qemu-storage-daemon exports a raw disk over NBD; fio (its `nbd` engine, as a guest's block
// layer would) writes 64 KiB sequentially and 4 KiB at random, with and without the tap's mirror, runs
// interleaved in the same process so the ratio holds on a noisy machine.
//   seq64kMBps / seq64kUnmirroredMBps   sequential 64 KiB writes, queue depth 8 (MB/s, 10^6 B/s)
//   rand4kIops / rand4kUnmirroredIops   random 4 KiB writes, queue depth 8
//   ratio                               seq64kMBps ÷ seq64kUnmirroredMBps (no target: write-blocking caps it, see the control)
//   seq64kQemuNbdTargetMBps / rand4kQemuNbdTargetIops   the same mirror into qemu-nbd serving a null
//                                       device: what write-blocking mirroring costs with a C target that
//                                       does nothing, i.e. the ceiling for any appliance
//   seq64kVsControl                     seq64kMBps ÷ seq64kQemuNbdTargetMBps: how close our server gets to that ceiling
//                                       (target ≥ 0.95: within a few percent of the C server in the same run)
//   serverCpuMsPerGB                    CPU time of this process per GB split (the NBD server, tap and sink: a
//                                       mirrored run's CPU less an unmirrored run's), the figure load disturbs least
//   loadAverage1mStart / End            the machine's load while the benchmark ran
// Every mirrored run checks that the tap received exactly the bytes fio wrote.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { QemuHypervisor, missingTools, type QemuWriteTap } from '@opencdp/adapter-qemu';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export const QEMU_SPLITTER_SIZES = {
  /** The guest disk. */
  volumeBytes: 256 * MiB,
  /** Bytes each random-write run writes. */
  randomBytes: 64 * MiB,
  iodepth: 8,
  /** Runs per configuration, interleaved (control, mirrored, unmirrored, the order rotating each round); the median counts. */
  repeats: 5,
} as const;

export interface QemuSplitterPlan {
  volumeBytes: number;
  randomBytes: number;
  repeats: number;
}

export function qemuSplitterPlanFor(scale: number): QemuSplitterPlan {
  const s = QEMU_SPLITTER_SIZES;
  const mib = (bytes: number): number => Math.max(4, Math.round((bytes * scale) / MiB)) * MiB;
  return { volumeBytes: mib(s.volumeBytes), randomBytes: Math.min(mib(s.randomBytes), mib(s.volumeBytes)), repeats: scale < 0.1 ? 1 : s.repeats };
}

export const qemuSplitterBenchmark: BenchmarkDefinition = {
  description: 'guest write throughput through NBD with QEMU\'s write-blocking mirror to the appliance, vs no mirror',
  run: runQemuSplitterBenchmark,
};

interface FioFigures {
  bytesPerSecond: number;
  iops: number;
  bytes: number;
}

async function fioNbd(uri: string, rw: 'write' | 'randwrite', blockBytes: number, bytes: number, sizeBytes: number): Promise<FioFigures> {
  const { stdout } = await run('fio', [
    '--name=guest', '--ioengine=nbd', `--uri=${uri}`, `--rw=${rw}`, `--bs=${blockBytes}`, `--iodepth=${QEMU_SPLITTER_SIZES.iodepth}`,
    `--size=${sizeBytes}`, `--io_size=${bytes}`, '--randrepeat=1', '--random_generator=tausworthe64', '--output-format=json',
  ], { maxBuffer: 16 * MiB });
  const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: { write: { bw_bytes: number; iops: number; io_bytes: number } }[] };
  const w = report.jobs[0].write;
  return { bytesPerSecond: w.bw_bytes, iops: w.iops, bytes: w.io_bytes };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function runQemuSplitterBenchmark(ctx: BenchmarkContext): Promise<BenchmarkResult> {
  const missing = missingTools(['qemu-storage-daemon', 'qemu-nbd', 'fio']);
  if (missing.length > 0) throw new Error(`qemu-splitter needs ${missing.join(', ')}: apt-get install qemu-system-common qemu-utils fio`);
  const plan = qemuSplitterPlanFor(ctx.scale);
  const { log } = ctx;
  const loadStart = os.loadavg()[0];
  const { stdout: fioVersion } = await run('fio', ['--version']);
  // cache.direct: guest disks as KVM hosts run them (cache='none'), so the unmirrored figure is the disk's, not the page cache's.
  const hv = await QemuHypervisor.create({ workDir: ctx.workDir, hosts: ['bench-host'], cacheDirect: true });
  let nullServer: ChildProcess | undefined;
  try {
    const vm = await hv.createVm({ name: 'bench', volumes: [{ sizeBytes: plan.volumeBytes }] });
    const volume = vm.volumes[0];
    const uri = `nbd+unix:///${volume.id}?socket=${hv.daemonOf(vm.hostId)!.nbdPath}`;
    const version = hv.daemonOf(vm.hostId)!.qmp.version;
    log(`qemu-splitter: ${plan.volumeBytes / MiB} MiB disk, ${plan.randomBytes / MiB} MiB of random writes, ${plan.repeats} run(s) each, QEMU ${version?.major}.${version?.minor}.${version?.micro}`);
    const results = { seqOn: [] as number[], seqOff: [] as number[], randOn: [] as number[], randOff: [] as number[], seqNull: [] as number[], randNull: [] as number[], cpuOn: [] as number[], cpuOff: [] as number[], cpuGB: [] as number[] };
    const rounds: string[] = [];
    const qmp = hv.daemonOf(vm.hostId)!.qmp;
    // The control: qemu-nbd serving a null device (discards writes) as the mirror's target.
    const nullSock = path.join(ctx.workDir, 'null.sock');
    nullServer = spawn('qemu-nbd', ['-k', nullSock, '-t', '--image-opts', `driver=null-co,size=${plan.volumeBytes}`], { stdio: 'ignore' });
    for (let waited = 0; !existsSync(nullSock); waited += 20) {
      if (waited > 5000) throw new Error('qemu-nbd did not create its socket within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    let splitBytes = 0;
    let wroteBytes = 0;
    // Prefill so the sequential run overwrites allocated blocks in both configurations alike.
    await fioNbd(uri, 'write', 1024 * 1024, plan.volumeBytes, plan.volumeBytes);
    const control = async (i: number): Promise<void> => {
      // A mirror straight into qemu-nbd's null device.
      await qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': 'nulltgt', server: { type: 'unix', path: nullSock }, export: '' });
      const ready = qmp.waitForEvent('BLOCK_JOB_READY', (e) => e.data?.device === 'nullmirror');
      await qmp.execute('blockdev-mirror', { 'job-id': 'nullmirror', device: volume.id, target: 'nulltgt', sync: 'full', 'copy-mode': 'write-blocking' });
      await ready;
      const seqNull = await fioNbd(uri, 'write', 64 * 1024, plan.volumeBytes, plan.volumeBytes);
      const randNull = await fioNbd(uri, 'randwrite', 4096, plan.randomBytes, plan.volumeBytes);
      const gone = qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === 'nullmirror' && e.data?.status === 'null');
      await qmp.execute('block-job-cancel', { device: 'nullmirror', force: true });
      await gone;
      await qmp.execute('blockdev-del', { 'node-name': 'nulltgt' });
      results.seqNull.push(seqNull.bytesPerSecond / 1e6);
      results.randNull.push(randNull.iops);
      log(`  run ${i + 1} qemu-nbd  : 64 KiB seq ${(seqNull.bytesPerSecond / 1e6).toFixed(1)} MB/s, 4 KiB random ${randNull.iops.toFixed(0)} IOPS`);
    };
    const ours = async (i: number, mirrored: boolean): Promise<void> => {
      let tap: QemuWriteTap | undefined;
      let received = 0;
      if (mirrored) {
        tap = (await hv.openTap(vm.id)) as QemuWriteTap;
        // The protected appliance's side of the tap, reduced to taking the write: the mirror's cost, not the kernel's.
        tap.start(async (w) => { received += w.data.length; });
      }
      const cpu = process.cpuUsage();
      const seq = await fioNbd(uri, 'write', 64 * 1024, plan.volumeBytes, plan.volumeBytes);
      const rand = await fioNbd(uri, 'randwrite', 4096, plan.randomBytes, plan.volumeBytes);
      const used = process.cpuUsage(cpu);
      if (tap) {
        await tap.close();
        if (received !== seq.bytes + rand.bytes) throw new Error(`the tap received ${received} bytes but fio wrote ${seq.bytes + rand.bytes}: the mirror lost writes`);
        splitBytes += received;
        wroteBytes += seq.bytes + rand.bytes;
        results.cpuOn.push((used.user + used.system) / 1000);
        results.cpuGB.push(received / 1e9);
      } else {
        results.cpuOff.push((used.user + used.system) / 1000);
      }
      (mirrored ? results.seqOn : results.seqOff).push(seq.bytesPerSecond / 1e6);
      (mirrored ? results.randOn : results.randOff).push(rand.iops);
      log(`  run ${i + 1} ${mirrored ? 'mirrored  ' : 'unmirrored'}: 64 KiB seq ${(seq.bytesPerSecond / 1e6).toFixed(1)} MB/s, 4 KiB random ${rand.iops.toFixed(0)} IOPS${mirrored ? `, this process ${results.cpuOn.at(-1)!.toFixed(0)} ms CPU` : `, this process ${results.cpuOff.at(-1)!.toFixed(0)} ms CPU (fio's start and reports)`}`);
    };
    for (let i = 0; i < plan.repeats; i++) {
      // The order rotates so that no configuration always runs first (or right after the prefill or a mirror's initial copy).
      const order = [0, 1, 2].map((k) => (k + i) % 3);
      for (const which of order) {
        if (which === 0) await control(i);
        else await ours(i, which === 1);
      }
      const r = (a: number[]): string => a.at(-1)!.toFixed(0);
      rounds.push(`round ${i + 1}: seq MB/s mirrored ${r(results.seqOn)} / unmirrored ${r(results.seqOff)} / control ${r(results.seqNull)}, 4k IOPS ${r(results.randOn)} / ${r(results.randOff)} / ${r(results.randNull)}`);
    }
    const seq64kMBps = median(results.seqOn);
    const seq64kUnmirroredMBps = median(results.seqOff);
    const rand4kIops = median(results.randOn);
    const rand4kUnmirroredIops = median(results.randOff);
    const round = (n: number): number => Math.round(n * 1000) / 1000;
    return {
      name: 'qemu-splitter',
      metrics: {
        seq64kMBps: round(seq64kMBps),
        seq64kUnmirroredMBps: round(seq64kUnmirroredMBps),
        seq64kRatio: round(seq64kMBps / seq64kUnmirroredMBps),
        rand4kIops: round(rand4kIops),
        rand4kUnmirroredIops: round(rand4kUnmirroredIops),
        rand4kRatio: round(rand4kIops / rand4kUnmirroredIops),
        seq64kQemuNbdTargetMBps: round(median(results.seqNull)),
        rand4kQemuNbdTargetIops: round(median(results.randNull)),
        seq64kQemuNbdTargetRatio: round(median(results.seqNull) / seq64kUnmirroredMBps),
        seq64kVsControl: round(seq64kMBps / median(results.seqNull)),
        // CPU of the mirrored runs less that of the unmirrored ones (starting fio, reading its report), per GB split.
        serverCpuMsPerGB: Math.round(median(results.cpuOn.map((ms, k) => (ms - median(results.cpuOff)) / results.cpuGB[k]))),
        loadAverage1mStart: round(loadStart),
        loadAverage1mEnd: round(os.loadavg()[0]),
        splitBytes,
        volumeBytes: plan.volumeBytes,
      },
      baseline: { tool: `${fioVersion.trim()} nbd engine, no mirror`, seq64kMBps: round(seq64kUnmirroredMBps), rand4kIops: round(rand4kUnmirroredIops) },
      ratio: round(seq64kMBps / seq64kUnmirroredMBps),
      targets: { seq64kVsControl: '>= 0.95' },
      notes: [
        `qemu-storage-daemon ${version?.major}.${version?.minor}.${version?.micro}, raw file on the bench folder's disk opened with O_DIRECT (cache.direct, libvirt cache='none'), exported over a UNIX-socket NBD server; fio iodepth ${QEMU_SPLITTER_SIZES.iodepth}`,
        'mirrored: blockdev-mirror sync=full copy-mode=write-blocking into the adapter\'s NBD server in this Node process; the tap\'s sink acknowledges at once (the kernel\'s buffering is not measured here)',
        `every mirrored run checked: the tap received exactly the ${wroteBytes} bytes fio wrote`,
        `median of ${plan.repeats} interleaved run(s) per configuration, the order rotating each round`,
        ...rounds,
        'control: the same write-blocking mirror into qemu-nbd serving null-co (a C server that discards writes); its ratio is the ceiling of this design on this machine, whatever the appliance does',
      ],
    };
  } finally {
    nullServer?.kill();
    await hv.dispose();
  }
}

registerBenchmark('qemu-splitter', qemuSplitterBenchmark);

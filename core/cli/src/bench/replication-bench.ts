// `opencdp bench replication`, as deployed: the protected appliance (with the simulated hypervisor whose
// guests write) and the recovery appliance (journaling to local files) run as two processes linked by
// mutual TLS 1.3 on loopback. Reported per configuration (1, 4, 16 VMs in one group; 4 groups): MB/s until
// every byte is acknowledged durable, CPU ms per MiB of each process with the simulated guest's own cost
// measured apart and taken out, GC time share, and the RPO p50/p99 at half the maximum rate. Baselines in
// the same run: plain TCP and a bare TLS 1.3 pipe (same certificates, same cipher) between two processes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SiteIdentity } from '@opencdp/core';
import { registerBenchmark, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';
import { BenchProcess, type ProcessCost } from './bench-process.js';

const MiB = 1024 * 1024;
export const BENCH_WRITE_BYTES = 64 * 1024;

/** A protected group as the child processes report it. */
export interface GroupLayout {
  groupId: string;
  vmIds: string[];
}

const CHECKPOINT_MS = 1000;
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'replication-bench-child.js');

/** The configurations measured: the first one is the headline. */
export const REPLICATION_CONFIGS = [
  { key: 'vms1', groups: 1, vmsPerGroup: 1 },
  { key: 'vms4', groups: 1, vmsPerGroup: 4 },
  { key: 'vms16', groups: 1, vmsPerGroup: 16 },
  { key: 'groups4', groups: 4, vmsPerGroup: 1 },
] as const;

interface ConfigResult {
  MBps: number;
  /** Both appliances, the simulated guest's cost taken out. */
  cpuMsPerMiB: number;
  protectedCpuMsPerMiB: number;
  recoveryCpuMsPerMiB: number;
  guestCpuMsPerMiB: number;
  protectedGcShare: number;
  recoveryGcShare: number;
  rpoP50Ms: number;
  rpoP99Ms: number;
  /** Durable flushes (fdatasync) the recovery appliance issued per second of the throughput run. */
  flushesPerSecond: number;
  /** The same per MiB replicated. */
  flushesPerMiB: number;
}

interface PipeResult {
  MBps: number;
  cpuMsPerMiB: number;
  cipher: string;
}

export const replicationBenchmark: BenchmarkDefinition = {
  description: 'protected and recovery appliances as two processes over mutual TLS on loopback (1/4/16 VMs, 4 groups), vs a bare TLS 1.3 pipe and plain TCP between two processes; CPU per MiB per process, GC share, RPO at half rate',
  async run({ scale, workDir, log }): Promise<BenchmarkResult> {
    const total = Math.max(8 * MiB, Math.round((1024 * MiB * scale) / BENCH_WRITE_BYTES) * BENCH_WRITE_BYTES);
    const rpoMs = Math.max(4000, Math.round(15_000 * Math.min(1, scale)));
    const protectedId = SiteIdentity.create('protected');
    const recoveryId = SiteIdentity.create('recovery');
    const ids = {
      protected: { identity: protectedId.toJSON(), peer: recoveryId.asTrustedPeer() },
      recovery: { identity: recoveryId.toJSON(), peer: protectedId.asTrustedPeer() },
    };
    const pipes: { tcp: PipeResult[]; tls: PipeResult[] } = { tcp: [], tls: [] };
    const baselines = async (): Promise<void> => {
      for (const kind of ['tcp', 'tls'] as const) {
        const r = await pipe(kind, total, ids);
        pipes[kind].push(r);
        log(`  ${kind === 'tcp' ? 'plain TCP' : `bare TLS 1.3 (${r.cipher})`} pipe between two processes: ${r.MBps.toFixed(1)} MB/s, ${r.cpuMsPerMiB.toFixed(2)} ms of CPU per MiB (both ends)`);
      }
    };
    await baselines();

    const results: Record<string, ConfigResult> = {};
    const recovery = new BenchProcess('recovery appliance', CHILD, ['recovery']);
    const sender = new BenchProcess('protected appliance', CHILD, ['protected']);
    try {
      const address = await recovery.call<string>('start', { dir: path.join(workDir, 'recovery'), ...ids.recovery });
      for (const config of REPLICATION_CONFIGS) {
        const vms = config.groups * config.vmsPerGroup;
        // Same bytes in every configuration; each VM's volume holds its share (at least 16 MiB), written in order.
        const volumeBytes = Math.max(16 * MiB, Math.ceil(total / vms / MiB) * MiB);
        const groups = await sender.call<GroupLayout[]>('start', { ...ids.protected, recoveryAddress: address, groups: config.groups, vmsPerGroup: config.vmsPerGroup, volumeBytes, prefix: config.key });
        await recovery.call('measure');
        const run = await sender.call<ProcessCost>('throughput', { totalBytes: total });
        const recoveryCost = await recovery.call<ProcessCost & { flushes: number }>('cost');
        const mbps = total / 1e6 / (run.wallMs / 1000);
        // RPO at half the rate just measured, checkpoints every second in every group.
        await recovery.call('sampleRpo', { groups, skipMs: 2 * CHECKPOINT_MS });
        await sender.call('paced', { rateBytes: (mbps * 1e6) / 2, runMs: rpoMs, intervalMs: CHECKPOINT_MS });
        const samples = (await recovery.call<number[]>('stopRpo')).slice();
        const guest = await sender.call<ProcessCost>('guestCost', { totalBytes: total });
        await sender.call('stop');
        const steady = samples.sort((a, b) => a - b);
        const mib = total / MiB;
        const protectedCpu = Math.max(0, run.cpuMs - guest.cpuMs) / mib;
        const recoveryCpu = recoveryCost.cpuMs / mib;
        const r: ConfigResult = {
          MBps: mbps,
          cpuMsPerMiB: protectedCpu + recoveryCpu,
          protectedCpuMsPerMiB: protectedCpu,
          recoveryCpuMsPerMiB: recoveryCpu,
          guestCpuMsPerMiB: guest.cpuMs / mib,
          protectedGcShare: run.gcMs / run.wallMs,
          recoveryGcShare: recoveryCost.gcMs / recoveryCost.wallMs,
          rpoP50Ms: percentile(steady, 50),
          rpoP99Ms: percentile(steady, 99),
          flushesPerSecond: recoveryCost.flushes / (run.wallMs / 1000),
          flushesPerMiB: recoveryCost.flushes / (total / MiB),
        };
        results[config.key] = r;
        log(`  ${config.groups} group(s) × ${config.vmsPerGroup} VM(s): ${mbps.toFixed(1)} MB/s; CPU per MiB: protected ${protectedCpu.toFixed(2)} (+ guest ${r.guestCpuMsPerMiB.toFixed(2)}), recovery ${recoveryCpu.toFixed(2)}; GC ${(100 * r.protectedGcShare).toFixed(1)} % / ${(100 * r.recoveryGcShare).toFixed(1)} %; RPO p50 ${r.rpoP50Ms} ms, p99 ${r.rpoP99Ms} ms (${steady.length} samples); ${r.flushesPerSecond.toFixed(0)} flushes/s`);
      }
      await recovery.call('stop');
    } finally {
      await sender.stop();
      await recovery.stop();
    }
    await baselines();

    const best = (list: PipeResult[]): PipeResult => list.reduce((a, b) => (b.MBps > a.MBps ? b : a));
    const tcp = best(pipes.tcp);
    const tlsPipe = best(pipes.tls);
    const head = results.vms1;
    const metrics: Record<string, number> = {
      MBps: round(head.MBps), cpuMsPerMiB: round(head.cpuMsPerMiB), protectedCpuMsPerMiB: round(head.protectedCpuMsPerMiB),
      recoveryCpuMsPerMiB: round(head.recoveryCpuMsPerMiB), guestCpuMsPerMiB: round(head.guestCpuMsPerMiB),
      protectedGcShare: round(head.protectedGcShare, 3), recoveryGcShare: round(head.recoveryGcShare, 3),
      rpoP50Ms: head.rpoP50Ms, rpoP99Ms: head.rpoP99Ms, checkpointIntervalMs: CHECKPOINT_MS, flushesPerSecond: round(head.flushesPerSecond, 1), flushesPerMiB: round(head.flushesPerMiB, 3),
      vms16VsVms1: round(results.vms16.MBps / head.MBps, 3),
      tcpMBps: round(tcp.MBps), tcpCpuMsPerMiB: round(tcp.cpuMsPerMiB), tlsPipeCpuMsPerMiB: round(tlsPipe.cpuMsPerMiB),
    };
    for (const config of REPLICATION_CONFIGS.slice(1)) {
      const r = results[config.key];
      metrics[`${config.key}MBps`] = round(r.MBps);
      metrics[`${config.key}CpuMsPerMiB`] = round(r.cpuMsPerMiB);
      metrics[`${config.key}RecoveryCpuMsPerMiB`] = round(r.recoveryCpuMsPerMiB);
      metrics[`${config.key}RpoP99Ms`] = r.rpoP99Ms;
      metrics[`${config.key}FlushesPerSecond`] = round(r.flushesPerSecond, 1);
      metrics[`${config.key}FlushesPerMiB`] = round(r.flushesPerMiB, 3);
    }
    return {
      name: 'replication',
      metrics,
      baseline: { tool: 'bare TLS 1.3 pipe between two Node processes', MBps: round(tlsPipe.MBps), cipher: tlsPipe.cipher },
      ratio: round(head.MBps / tlsPipe.MBps, 3),
      targets: { ratio: '>= 0.7', cpuMsPerMiB: '<= 3', rpoP99Ms: `<= ${CHECKPOINT_MS + 500}`, vms16VsVms1: '>= 0.9' },
      notes: [
        `scale ${scale}: ${total} bytes per configuration in ${BENCH_WRITE_BYTES}-byte guest writes of random data, 16 in flight round robin over the VMs, compression off; MB/s stops when every group has every byte acknowledged durable (journal flushed)`,
        'two processes as deployed: the protected appliance (with the fake data centre as hypervisor) and the recovery appliance (journals on local files in the benchmark folder), linked by mutual TLS 1.3 on 127.0.0.1',
        'CPU per MiB: every thread of each process over the throughput run; the protected figure has the simulated guest taken out, measured with the same writes to as many fresh VMs whose taps drop them (guestCpuMsPerMiB: on a real site the hypervisor pays it)',
        'GC share: main-thread GC pause time ÷ wall time of the throughput run, per process (concurrent marking on helper threads is in the CPU figures, not here)',
        'flushesPerSecond: durable flushes (fdatasync of a journal segment or replica) the recovery appliance issued per second of the throughput run',
        `RPO: writes at half the configuration's measured rate for ${rpoMs} ms, each group checkpointing every ${CHECKPOINT_MS} ms; the recovery process samples every 50 ms, per group, now − the newest checkpoint listed in all its journals; the first 2 s are left out`,
        `baselines, before and after the configurations (best of each counts): the same bytes in ${BENCH_WRITE_BYTES}-byte writes through a plain TCP socket and through a TLS 1.3 socket with the sites' certificates and mutual authentication, between two processes; tcp ${pipes.tcp.map((p) => p.MBps.toFixed(0)).join(' / ')} MB/s, TLS ${pipes.tls.map((p) => p.MBps.toFixed(0)).join(' / ')} MB/s`,
        ...REPLICATION_CONFIGS.map((c) => `${c.key} (${c.groups} group(s) × ${c.vmsPerGroup} VM(s)): ${JSON.stringify(roundAll(results[c.key]))}`),
      ],
    };
  },
};

/** One bare pipe between two processes: `totalBytes` from a sender process to a receiver process. */
async function pipe(kind: 'tcp' | 'tls', totalBytes: number, ids: { protected: object; recovery: object }): Promise<PipeResult> {
  const receiver = new BenchProcess(`${kind} pipe receiver`, CHILD, ['pipe']);
  const sender = new BenchProcess(`${kind} pipe sender`, CHILD, ['pipe']);
  try {
    const port = await receiver.call<number>('listen', { kind, totalBytes, ...ids.recovery });
    const sent = await sender.call<ProcessCost & { cipher: string }>('send', { kind, port, totalBytes, ...ids.protected });
    const received = await receiver.call<ProcessCost>('received');
    return { MBps: totalBytes / 1e6 / (sent.wallMs / 1000), cpuMsPerMiB: (sent.cpuMs + received.cpuMs) / (totalBytes / MiB), cipher: sent.cipher };
  } finally {
    await sender.stop();
    await receiver.stop();
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundAll(r: ConfigResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v as number, 3)]));
}

registerBenchmark('replication', replicationBenchmark);

// Benchmark `scale` (issue 14): a site with many hosts and a manager that keeps up. 1,000 groups of 4 VMs
// over 8 protected appliance processes (one per host, fake adapter, loopback), a recovery appliance
// (journals in memory: this measures the control plane, not journal I/O) and the manager, 5 s interval,
// a light guest workload on every host. Measured with checkpoints for the run's length, then the same
// workload with the manager stopped (no checkpoints: the baseline of the guest write wait). Metrics:
// checkpoint round latency p50/p99, fraction of intervals met, guest write hold p99 during barriers (and
// the guests' write wait p99 against the baseline), manager RSS and CPU, REST `GET /v1/vpgs` p99 under load.
// `--scale f` runs f × 1,000 groups for f × 10 minutes (at least 8 s, two hosts below f = 0.05).
import { readFileSync } from 'node:fs';
import { startManyHostsLab } from '../site/many-hosts-lab.js';
import { sleep, until } from '../site/two-site-lab.js';
import { registerBenchmark, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';
import { restGet, restPost } from '../client/rest-json.js';

const INTERVAL_MS = 5000;
const VMS_PER_GROUP = 4;

const pct = (xs: number[], q: number): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
function processFigures(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds: ticks / 100, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
}

/** A gauge from Prometheus text, e.g. `opencdp_checkpoint_round_seconds{quantile="0.99"}`. */
function gauge(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : undefined;
}

export const scaleBenchmark: BenchmarkDefinition = {
  description: '1,000 groups × 4 VMs on 8 appliance processes: checkpoint rounds, intervals met, guest hold, manager RSS/CPU, REST p99 (baseline: no checkpoints)',
  async run({ scale, workDir, log }): Promise<BenchmarkResult> {
    const groups = Math.max(4, Math.round(1000 * scale));
    const hosts = scale >= 0.05 ? 8 : 2;
    const phaseMs = Math.max(8000, Math.round(600_000 * Math.min(1, scale)));
    // VM j of group i runs on host (i + j) mod hosts: every group spans several hosts (the barrier across appliances).
    const perHost: { name: string; volumes: { sizeBytes: number }[] }[][] = Array.from({ length: hosts }, () => []);
    const vmName = (g: number, j: number): string => `g${g}-vm${j}`;
    for (let g = 0; g < groups; g++) for (let j = 0; j < VMS_PER_GROUP; j++) perHost[(g + j) % hosts].push({ name: vmName(g, j), volumes: [{ sizeBytes: 256 * 1024 }] });
    const writesPerSecondPerHost = 50;
    log(`   ${groups} groups × ${VMS_PER_GROUP} VMs on ${hosts} appliance processes, ${INTERVAL_MS} ms interval, ${phaseMs / 1000} s with checkpoints + ${phaseMs / 1000} s baseline`);
    const lab = await startManyHostsLab({
      hosts, vmsOf: (i) => perHost[i], network: 'loopback', volumeFiles: false, recoveryStorage: 'memory', dir: workDir,
      workload: { seed: 14, ratePerSecond: writesPerSecondPerHost, writeSizes: [4096] }, pollIntervalMs: 1000, barrierHoldMs: 500,
      bitmapBudgetBytes: 16 * 1024, startTimeoutMs: 180_000, log,
    });
    try {
      const vmId = new Map<string, string>();
      for (const h of lab.hosts) for (const v of h.vms) vmId.set(v.name, v.id);
      const created = Date.now();
      const ids: string[] = [];
      let next = 0;
      let creationRetries = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < groups) {
          const g = next++;
          // An appliance too busy to answer in time makes a creation fail: say so and try again (a few times).
          for (let attempt = 1; ; attempt++) {
            try {
              const r = await restPost<{ vpgIdentifier: string }>(lab.api, '/v1/vpgs', {
                settings: { name: `group-${g}`, checkpointIntervalMs: INTERVAL_MS, rpoTargetSeconds: 60 },
                vmIdentifiers: Array.from({ length: VMS_PER_GROUP }, (_, j) => vmId.get(vmName(g, j))), recoverySiteIdentifier: 'site-b',
              });
              ids.push(r.vpgIdentifier);
              break;
            } catch (e) {
              if (attempt >= 3) throw e;
              creationRetries++;
              log(`   creating group-${g} failed (${(e as Error).message}); retrying`);
              await sleep(2000);
            }
          }
        }
      }));
      log(`   ${groups} groups created in ${((Date.now() - created) / 1000).toFixed(1)} s; waiting for every initial sync`);
      await until('every group to meet its SLA', async () => {
        const list = await restGet<{ statusName: string }[]>(lab.api, '/v1/vpgs');
        const ok = list.filter((g) => g.statusName === 'MeetingSLA').length;
        return ok === groups ? true : undefined;
      }, Math.max(300_000, groups * 1000));
      log(`   all groups meet their SLA after ${((Date.now() - created) / 1000).toFixed(1)} s`);
      for (const h of lab.hosts) await h.control.extra('startWorkload');
      await sleep(2000);

      // Phase 1: with checkpoints.
      const holdsBefore = await Promise.all(lab.hosts.map((h) => h.control.extra<{ recentHoldMs: number[] }>('barrierFigures')));
      await Promise.all(lab.hosts.map((h) => h.control.extra('writeLatencies')));
      const cpu0 = processFigures(lab.manager.pid);
      const t0 = Date.now();
      const restMs: number[] = [];
      let rss = 0;
      while (Date.now() - t0 < phaseMs) {
        const s = performance.now();
        await restGet<unknown>(lab.api, '/v1/vpgs');
        restMs.push(performance.now() - s);
        rss = Math.max(rss, processFigures(lab.manager.pid).rssBytes);
        await sleep(1000);
      }
      const t1 = Date.now();
      const cpu1 = processFigures(lab.manager.pid);
      const metricsText = await lab.api.text(lab.api.api.GET('/metrics', { parseAs: 'text' }));
      const holdsAfter = await Promise.all(lab.hosts.map((h) => h.control.extra<{ recentHoldMs: number[] }>('barrierFigures')));
      const holdMs = holdsAfter.flatMap((a, i) => a.recentHoldMs.slice(holdsBefore[i].recentHoldMs.length));
      const withCheckpoints = (await Promise.all(lab.hosts.map((h) => h.control.extra<number[]>('writeLatencies')))).flat();
      // Intervals met: each group's listed checkpoints inside the window, gaps within 10 % of the interval.
      let expected = 0;
      let met = 0;
      for (const id of ids) {
        const cps = await restGet<{ timeStamp: string }[]>(lab.api, `/v1/vpgs/${id}/checkpoints?startDate=${new Date(t0).toISOString()}&endDate=${new Date(t1).toISOString()}`);
        const times = cps.map((c) => Date.parse(c.timeStamp)).sort((a, b) => a - b);
        const due = Math.floor((t1 - t0) / INTERVAL_MS);
        let prev = t0;
        let ok = 0;
        for (const t of times) {
          if (t - prev <= INTERVAL_MS * 1.1) ok++;
          prev = t;
        }
        expected += due;
        met += Math.min(due, ok);
      }

      // Phase 2, the baseline: the same workload, manager stopped (appliances replicate, nothing cuts checkpoints).
      await lab.stopManager();
      await Promise.all(lab.hosts.map((h) => h.control.extra('writeLatencies')));
      await sleep(phaseMs);
      const baseline = (await Promise.all(lab.hosts.map((h) => h.control.extra<number[]>('writeLatencies')))).flat();
      const metrics = {
        groups, vms: groups * VMS_PER_GROUP, appliances: hosts, intervalMs: INTERVAL_MS, phaseSeconds: phaseMs / 1000, creationRetries,
        roundP50Ms: round2((gauge(metricsText, 'opencdp_checkpoint_round_seconds', 'quantile="0.5"') ?? NaN) * 1000),
        roundP99Ms: round2((gauge(metricsText, 'opencdp_checkpoint_round_seconds', 'quantile="0.99"') ?? NaN) * 1000),
        roundStartLatenessP99Ms: round2((gauge(metricsText, 'opencdp_checkpoint_round_lateness_seconds', 'quantile="0.99"') ?? NaN) * 1000),
        groupRoundsAborted: gauge(metricsText, 'opencdp_checkpoint_group_rounds', 'outcome="aborted"') ?? 0,
        intervalsMetFraction: expected === 0 ? 0 : Math.round((met / expected) * 10_000) / 10_000,
        holdP50Ms: round2(pct(holdMs, 0.5)), holdP99Ms: round2(pct(holdMs, 0.99)), holdRounds: holdMs.length,
        guestWriteWaitP99Ms: round2(pct(withCheckpoints, 0.99)), guestWrites: withCheckpoints.length,
        managerRssMB: Math.round(rss / (1024 * 1024)), managerCpuPercent: Math.round(((cpu1.cpuSeconds - cpu0.cpuSeconds) / ((t1 - t0) / 1000)) * 1000) / 10,
        restGetVpgsP50Ms: round2(pct(restMs, 0.5)), restGetVpgsP99Ms: round2(pct(restMs, 0.99)), restCalls: restMs.length,
      };
      const baseP99 = pct(baseline, 0.99);
      return {
        name: 'scale',
        metrics,
        baseline: { tool: 'same workload, manager stopped (no checkpoint rounds)', guestWriteWaitP99Ms: round2(baseP99), guestWrites: baseline.length },
        // Guest write wait p99 with checkpoints over without: what the barrier costs the guests.
        ratio: baseP99 > 0 ? round2(metrics.guestWriteWaitP99Ms / baseP99) : 0,
        targets: { roundP99Ms: '<= 500', intervalsMetFraction: '>= 0.999', holdP99Ms: '<= 10', restGetVpgsP99Ms: '<= 200' },
        notes: [
          `hosts ran as ${lab.network.mode}; journals in memory at the recovery appliance (control plane measured, not journal I/O)`,
          `VM j of group i on host (i + j) mod ${hosts}: every group spans ${Math.min(VMS_PER_GROUP, hosts)} appliances, so every checkpoint is a barrier across processes`,
          `workload ${writesPerSecondPerHost} writes/s of 4 KiB per host; guest write wait = issue to completion in the appliance process (ms resolution)`,
          `hold = how long a round held a member's guest writes (hold to release); interval met = gap between listed checkpoints ≤ 1.1 × interval`,
        ],
      };
    } catch (e) {
      // Say which process gave up, and why (its output is gone once the lab stops).
      for (const p of [lab.manager, lab.recovery.process, ...lab.hosts.map((h) => h.process)]) {
        const last = [...p.events('signal'), ...p.events('fatal'), ...p.events('forced-exit')];
        if (!p.running || last.length > 0) log(`   ${p.name} ${p.running ? 'stopping' : `exited ${JSON.stringify(await p.exited)}`}: ${JSON.stringify(last).slice(0, 1000)}; ${p.tail(5)}`);
      }
      throw e;
    } finally {
      await lab.stop();
    }
  },
};

registerBenchmark('scale', scaleBenchmark);

// `opencdp bench replication`: guest writes split by the tap, shipped by a protected appliance over mutual
// TLS on loopback to a recovery appliance that journals them to local files — end-to-end MB/s (until every
// byte is acknowledged durable) against a plain TCP socket pipe moving the same bytes in the same run; and
// the actual RPO (time since the last checkpoint reached the journal), p50/p99, at half that rate.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import net from 'node:net';
import {
  CheckpointScheduler, LocalFileStorage, ProtectedAppliance, RecoveryAppliance, SiteIdentity, SystemClock, TlsNetwork,
  parseProtectionGroupSettings, type GroupSender, type HostId,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor } from '@opencdp/adapter-fake';
import { registerBenchmark, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const MiB = 1024 * 1024;
const WRITE = 64 * 1024;
const CHECKPOINT_MS = 1000;

export const replicationBenchmark: BenchmarkDefinition = {
  description: 'tap → protected appliance → TLS → recovery appliance → journal on loopback, vs a plain TCP pipe; RPO at half rate',
  async run({ scale, workDir, log }): Promise<BenchmarkResult> {
    const total = Math.max(8 * MiB, Math.round((1024 * MiB * scale) / WRITE) * WRITE);
    const clock = new SystemClock();
    const pool = Array.from({ length: 64 }, () => randomBytes(WRITE));

    const protectedId = SiteIdentity.create('protected');
    const recoveryId = SiteIdentity.create('recovery');
    protectedId.trustedPeers.add(recoveryId.asTrustedPeer());
    recoveryId.trustedPeers.add(protectedId.asTrustedPeer());
    const recovery = new RecoveryAppliance({ siteId: 'recovery', storage: new LocalFileStorage(`${workDir}/recovery`), clock, network: new TlsNetwork({ identity: recoveryId, clock }) });
    const address = await recovery.listen('127.0.0.1:0');
    const dc = new FakeDataCenter({ clock });
    const site = dc.addSite('protected');
    const host = dc.addHost(site.id, 'host-1');
    const vm = dc.createVm({ name: 'bench', hostId: host.id, volumes: [{ sizeBytes: 1024 * MiB }] });
    const volumeId = vm.volumes[0].id;
    const appliance = new ProtectedAppliance({ siteId: 'protected', hypervisor: new FakeHypervisor(dc, site.id), network: new TlsNetwork({ identity: protectedId, clock }), clock, bufferBytes: 512 * MiB });
    const settings = parseProtectionGroupSettings({ name: 'bench', useWanCompression: false, checkpointIntervalMs: CHECKPOINT_MS, journal: { hardLimit: { mb: 1_000_000 }, warningThreshold: { mb: 900_000 } } });
    try {
      const sender = await appliance.protect({ groupId: 'bench', settings, vmIds: [vm.id], recoveryAddress: address });
      await until(() => sender.state.phase === 'streaming', 30_000, 'the group to start streaming');

      // Throughput: as fast as the pipeline takes it, never letting the buffer pass a quarter (no fallback).
      const writer = sequentialWriter(dc, vm.id, volumeId, pool);
      const write = writer.write;
      const profile = await startProfile(process.env.OPENCDP_BENCH_PROFILE);
      const started = Date.now();
      const cpuBefore = process.cpuUsage();
      while (writer.offset < total) {
        while (sender.bufferedBytes > 128 * MiB) await new Promise((r) => setTimeout(r, 1));
        await Promise.all(Array.from({ length: 16 }, write));
      }
      await until(() => sender.bufferedBytes === 0, 120_000, 'every write to be acknowledged durable');
      const ms = Date.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      await profile?.();
      // CPU time (every thread of the process) per MiB: steadier than MB/s on a shared, loaded machine.
      const cpuMsPerMiB = (cpu.user + cpu.system) / 1000 / (total / MiB);
      const mbps = total / 1e6 / (ms / 1000);
      if (sender.state.phase !== 'streaming') throw new Error(`the sender fell back (${sender.state.phase}, ${sender.state.trigger}) during the throughput run`);
      log(`  replication: ${total / MiB} MiB in ${ms} ms = ${mbps.toFixed(1)} MB/s, ${cpuMsPerMiB.toFixed(2)} ms of CPU per MiB`);

      const tcpMBps = await plainTcp(total, pool);
      log(`  plain TCP pipe: ${tcpMBps.toFixed(1)} MB/s`);

      // RPO at half the measured rate, with auto checkpoints every second.
      const scheduler = new CheckpointScheduler({ clock, senders: [sender], intervalMs: CHECKPOINT_MS });
      scheduler.start();
      const journal = recovery.journal('bench', vm.id)!;
      const rateBytes = (mbps * 1e6) / 2;
      const runMs = Math.max(3000, Math.round(15_000 * Math.min(1, scale)));
      const samples: number[] = [];
      const t0 = Date.now();
      let sent = 0;
      const sampler = setInterval(() => {
        const latest = journal.checkpoints().at(-1);
        if (latest && Date.now() - t0 > 2 * CHECKPOINT_MS) samples.push(Date.now() - latest.timestamp);
      }, 50);
      while (Date.now() - t0 < runMs) {
        const due = ((Date.now() - t0) / 1000) * rateBytes;
        if (sent < due) {
          await write();
          sent += WRITE;
        } else await new Promise((r) => setTimeout(r, 2));
      }
      clearInterval(sampler);
      scheduler.stop();
      samples.sort((a, b) => a - b);
      const guestCpuMsPerMiB = await guestCost(dc, host.id, total, pool);
      log(`  the fake guest alone (same writes to a fresh volume, a tap that drops them): ${guestCpuMsPerMiB.toFixed(2)} ms of CPU per MiB`);
      const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
      const rpoP50Ms = pct(50);
      const rpoP99Ms = pct(99);
      log(`  RPO at ${(rateBytes / 1e6).toFixed(0)} MB/s: p50 ${rpoP50Ms} ms, p99 ${rpoP99Ms} ms (${samples.length} samples, checkpoints every ${CHECKPOINT_MS} ms)`);
      return {
        name: 'replication',
        metrics: { MBps: round(mbps), cpuMsPerMiB: round(cpuMsPerMiB), guestCpuMsPerMiB: round(guestCpuMsPerMiB), rpoP50Ms, rpoP99Ms, checkpointIntervalMs: CHECKPOINT_MS, rpoRateMBps: round(rateBytes / 1e6), wireBytes: senderWire(sender) },
        baseline: { tool: 'plain TCP socket pipe (loopback)', MBps: round(tcpMBps) },
        ratio: round(mbps / tcpMBps),
        targets: { ratio: '>= 0.6', rpoP99Ms: `<= ${CHECKPOINT_MS + 1000}` },
        notes: [
          `scale ${scale}: ${total} bytes in ${WRITE}-byte guest writes of random data, compression off; the clock stops when the recovery appliance has acknowledged every byte durable (journal flushed)`,
          'both ends in one process on loopback: TLS 1.3 with mutual authentication; journals on local files in the benchmark folder',
          'guestCpuMsPerMiB: CPU of the simulated hypervisor alone (the fake data centre copying each guest write and growing its in-memory volume), measured with the same writes to a second fresh VM whose tap drops them; it is part of cpuMsPerMiB, and on a real site the hypervisor pays it, not the appliance',
          `RPO: writes at half the measured rate for ${runMs} ms, auto checkpoints every ${CHECKPOINT_MS} ms, sampled every 50 ms as now − newest checkpoint listed in the journal`,
        ],
      };
    } finally {
      await appliance.stop();
      await recovery.stop();
    }
  },
};

/** CPU per MiB of the fake data centre itself: the throughput run's writes, to a fresh VM whose tap takes and drops them. */
async function guestCost(dc: FakeDataCenter, hostId: HostId, total: number, pool: Buffer[]): Promise<number> {
  const vm = dc.createVm({ name: 'guest-only', hostId, volumes: [{ sizeBytes: 1024 * MiB }] });
  const volumeId = vm.volumes[0].id;
  const tap = dc.openTap(vm.id);
  tap.start(() => Promise.resolve());
  try {
    const writer = sequentialWriter(dc, vm.id, volumeId, pool);
    const write = writer.write;
    const before = process.cpuUsage();
    while (writer.offset < total) {
      await Promise.all(Array.from({ length: 16 }, write));
      await new Promise((r) => setImmediate(r));
    }
    const cpu = process.cpuUsage(before);
    return (cpu.user + cpu.system) / 1000 / (total / MiB);
  } finally {
    await tap.close();
    dc.powerOff(vm.id);
    dc.deleteVm(vm.id);
  }
}

/**
 * `OPENCDP_BENCH_PROFILE=<file>`: a V8 CPU profile (`.cpuprofile`, main thread) of the throughput run
 * alone, without the initial sync, key generation, the baseline or the RPO phase. Returns the function
 * that stops it and writes the file.
 */
async function startProfile(file: string | undefined): Promise<(() => Promise<void>) | undefined> {
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

function senderWire(sender: GroupSender): number {
  return sender.currentStats().wireBytesSent;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function until(predicate: () => boolean, limitMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The baseline: the same bytes through a bare TCP socket on loopback, with backpressure, until all arrived. */
async function plainTcp(total: number, pool: Buffer[]): Promise<number> {
  let received = 0;
  let done!: () => void;
  const arrived = new Promise<void>((r) => (done = r));
  const server = net.createServer((s) => s.on('data', (d: Buffer) => {
    received += d.length;
    if (received >= total) done();
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', r));
  const start = Date.now();
  for (let sent = 0, i = 0; sent < total; sent += WRITE, i++) {
    if (!socket.write(pool[i % pool.length])) await new Promise((r) => socket.once('drain', r));
  }
  await arrived;
  const ms = Date.now() - start;
  socket.destroy();
  await new Promise((r) => server.close(r));
  return total / 1e6 / (ms / 1000);
}

/** Guest writes of WRITE bytes one after another (wrapping at 1 GiB), data taken round-robin from `pool`. */
function sequentialWriter(dc: FakeDataCenter, vmId: string, volumeId: string, pool: Buffer[]): { write: () => Promise<void>; readonly offset: number } {
  let offset = 0;
  return {
    write: () => {
      const data = pool[(offset / WRITE) % pool.length];
      const at = offset % (1024 * MiB);
      offset += WRITE;
      return dc.guestWrite(vmId, volumeId, at, data);
    },
    get offset() {
      return offset;
    },
  };
}

registerBenchmark('replication', replicationBenchmark);

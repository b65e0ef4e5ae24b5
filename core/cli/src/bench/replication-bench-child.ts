// The processes of `opencdp bench replication`, one role each (argv[2]): `recovery` (a recovery appliance
// journaling to local files), `protected` (the simulated hypervisor — a fake data centre — and a protected
// appliance shipping its guests' writes), and `pipe` (either end of a bare TCP or TLS 1.3 pipe, the
// baselines). The parent drives them over IPC; each measures its own CPU and GC time.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import {
  CheckpointScheduler, LocalFileStorage, ProtectedAppliance, RecoveryAppliance, SiteIdentity, SystemClock, TlsNetwork,
  parseProtectionGroupSettings, type GroupSender, type StorageAdapter,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor } from '@opencdp/adapter-fake';
import { costWindow, serve, type ProcessCost } from './bench-process.js';
import { BENCH_WRITE_BYTES, type GroupLayout } from './replication-bench.js';

const MiB = 1024 * 1024;

const clock = new SystemClock();
const pool = Array.from({ length: 64 }, () => randomBytes(BENCH_WRITE_BYTES));

function identities(args: { identity: unknown; peer: unknown }): SiteIdentity {
  const identity = SiteIdentity.fromJSON(args.identity);
  identity.trustedPeers.add(args.peer as ReturnType<SiteIdentity['asTrustedPeer']>);
  return identity;
}

async function until(predicate: () => boolean, limitMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// ---- recovery ---------------------------------------------------------------------------------

/** Counts durable flushes (fdatasync on local files) of the files a storage adapter opens. */
class FlushCounter {
  flushes = 0;
  wrap(storage: StorageAdapter): StorageAdapter {
    const open = storage.open.bind(storage);
    storage.open = async (name, options) => {
      const file = await open(name, options);
      const flush = file.flush.bind(file);
      file.flush = () => {
        this.flushes++;
        return flush();
      };
      return file;
    };
    return storage;
  }
}

function recoveryRole(): void {
  let appliance: RecoveryAppliance | undefined;
  let window: (() => ProcessCost) | undefined;
  const counter = new FlushCounter();
  let flushesBefore = 0;
  let sampler: NodeJS.Timeout | undefined;
  let samples: number[] = [];
  serve({
    start: async (args: { dir: string; identity: unknown; peer: unknown }) => {
      appliance = new RecoveryAppliance({ siteId: 'recovery', storage: counter.wrap(new LocalFileStorage(args.dir)), clock, network: new TlsNetwork({ identity: identities(args), clock }) });
      return appliance.listen('127.0.0.1:0');
    },
    measure: () => {
      window = costWindow();
      flushesBefore = counter.flushes;
    },
    cost: () => ({ ...window!(), flushes: counter.flushes - flushesBefore }),
    /** RPO samples every 50 ms: per group, now − the newest checkpoint listed in every one of its journals. */
    sampleRpo: (args: { groups: GroupLayout[]; skipMs: number }) => {
      samples = [];
      const t0 = Date.now();
      sampler = setInterval(() => {
        // The first intervals only show the groups starting to checkpoint.
        if (Date.now() - t0 < args.skipMs) return;
        for (const g of args.groups) {
          let newest = Number.POSITIVE_INFINITY;
          for (const vmId of g.vmIds) newest = Math.min(newest, appliance!.journal(g.groupId, vmId)?.checkpoints().at(-1)?.timestamp ?? Number.NEGATIVE_INFINITY);
          if (Number.isFinite(newest)) samples.push(Date.now() - newest);
        }
      }, 50);
    },
    stopRpo: () => {
      clearInterval(sampler);
      return samples;
    },
    stop: async () => {
      await appliance?.stop();
    },
  });
}

// ---- protected --------------------------------------------------------------------------------

interface ProtectedRun {
  dc: FakeDataCenter;
  appliance: ProtectedAppliance;
  senders: GroupSender[];
  writers: (() => Promise<void>)[];
  groups: GroupLayout[];
  volumeBytes: number;
}

function protectedRole(): void {
  let run: ProtectedRun | undefined;
  serve({
    /** A fresh fake data centre with `groups` × `vmsPerGroup` VMs, each group protected and streaming. */
    start: async (args: { identity: unknown; peer: unknown; recoveryAddress: string; groups: number; vmsPerGroup: number; volumeBytes: number; prefix: string }) => {
      const dc = new FakeDataCenter({ clock, idPrefix: args.prefix });
      const site = dc.addSite('protected');
      const host = dc.addHost(site.id, 'host-1');
      const appliance = new ProtectedAppliance({ siteId: 'protected', hypervisor: new FakeHypervisor(dc, site.id), network: new TlsNetwork({ identity: identities(args), clock }), clock, bufferBytes: 512 * MiB });
      const settings = parseProtectionGroupSettings({ name: 'bench', useWanCompression: false, checkpointIntervalMs: 1000, journal: { hardLimit: { mb: 1_000_000 }, warningThreshold: { mb: 900_000 } } });
      const groups: GroupLayout[] = [];
      const senders: GroupSender[] = [];
      const writers: (() => Promise<void>)[] = [];
      for (let g = 0; g < args.groups; g++) {
        const vms = Array.from({ length: args.vmsPerGroup }, (_, v) => dc.createVm({ name: `bench-${g}-${v}`, hostId: host.id, volumes: [{ sizeBytes: args.volumeBytes }] }));
        const groupId = `${args.prefix}g${g}`;
        senders.push(await appliance.protect({ groupId, settings, vmIds: vms.map((v) => v.id), recoveryAddress: args.recoveryAddress }));
        groups.push({ groupId, vmIds: vms.map((v) => v.id) });
        for (const vm of vms) writers.push(sequentialWriter(dc, vm.id, vm.volumes[0].id, args.volumeBytes));
      }
      await until(() => senders.every((s) => s.state.phase === 'streaming'), 120_000, 'every group to start streaming');
      run = { dc, appliance, senders, writers, groups, volumeBytes: args.volumeBytes };
      return groups;
    },
    /** Writes `totalBytes` as fast as the pipeline takes them (16 in flight, round robin over the VMs) until all are acknowledged durable. */
    throughput: async (args: { totalBytes: number }) => {
      const r = run!;
      const window = costWindow();
      let next = 0;
      for (let sent = 0; sent < args.totalBytes;) {
        while (r.appliance.bufferedBytes > 128 * MiB) await new Promise((res) => setTimeout(res, 1));
        const batch: Promise<void>[] = [];
        for (let i = 0; i < 16 && sent < args.totalBytes; i++, sent += BENCH_WRITE_BYTES) batch.push(r.writers[next++ % r.writers.length]());
        await Promise.all(batch);
      }
      await until(() => r.senders.every((s) => s.bufferedBytes === 0), 300_000, 'every write to be acknowledged durable');
      const cost = window();
      const fellBack = r.senders.find((s) => s.state.phase !== 'streaming');
      if (fellBack) throw new Error(`group ${fellBack.groupId} fell back (${fellBack.state.phase}, ${fellBack.state.trigger}) during the throughput run`);
      return cost;
    },
    /** Writes at `rateBytes` per second for `runMs` with each group's checkpoints every `intervalMs`. */
    paced: async (args: { rateBytes: number; runMs: number; intervalMs: number }) => {
      const r = run!;
      const schedulers = r.senders.map((s) => new CheckpointScheduler({ clock, senders: [s], intervalMs: args.intervalMs }));
      for (const s of schedulers) s.start();
      const t0 = Date.now();
      let sent = 0;
      let next = 0;
      try {
        while (Date.now() - t0 < args.runMs) {
          const due = ((Date.now() - t0) / 1000) * args.rateBytes;
          if (sent < due) {
            await r.writers[next++ % r.writers.length]();
            sent += BENCH_WRITE_BYTES;
          } else await new Promise((res) => setTimeout(res, 2));
        }
      } finally {
        for (const s of schedulers) s.stop();
      }
      return { sentBytes: sent };
    },
    /**
     * CPU of the simulated hypervisor alone: the same writes, spread over as many fresh VMs, whose taps
     * take and drop them. On a real site the hypervisor pays this, not the appliance.
     */
    guestCost: async (args: { totalBytes: number }) => {
      const r = run!;
      const host = r.dc.getVm(r.groups[0].vmIds[0]).hostId;
      const vms = r.writers.map((_, i) => r.dc.createVm({ name: `guest-only-${i}`, hostId: host, volumes: [{ sizeBytes: r.volumeBytes }] }));
      const taps = vms.map((vm) => {
        const tap = r.dc.openTap(vm.id);
        tap.start(() => Promise.resolve());
        return tap;
      });
      const writers = vms.map((vm) => sequentialWriter(r.dc, vm.id, vm.volumes[0].id, r.volumeBytes));
      try {
        const window = costWindow();
        let next = 0;
        for (let sent = 0; sent < args.totalBytes;) {
          const batch: Promise<void>[] = [];
          for (let i = 0; i < 16 && sent < args.totalBytes; i++, sent += BENCH_WRITE_BYTES) batch.push(writers[next++ % writers.length]());
          await Promise.all(batch);
          await new Promise((res) => setImmediate(res));
        }
        return window();
      } finally {
        for (const tap of taps) await tap.close();
        for (const vm of vms) {
          r.dc.powerOff(vm.id);
          r.dc.deleteVm(vm.id);
        }
      }
    },
    stop: async () => {
      if (!run) return;
      await run.appliance.stop();
      run.dc.dispose();
      run = undefined;
    },
  });
}

/** Guest writes of 64 KiB one after another through the volume (wrapping), data taken round robin from the pool. */
function sequentialWriter(dc: FakeDataCenter, vmId: string, volumeId: string, volumeBytes: number): () => Promise<void> {
  let offset = 0;
  return () => {
    const data = pool[(offset / BENCH_WRITE_BYTES) % pool.length];
    const at = offset % volumeBytes;
    offset += BENCH_WRITE_BYTES;
    return dc.guestWrite(vmId, volumeId, at, data);
  };
}

// ---- bare pipes (baselines) ---------------------------------------------------------------------

function pipeRole(): void {
  let server: net.Server | undefined;
  let received: Promise<ProcessCost> | undefined;
  serve({
    /** Listens for one connection (plain TCP, or mutual TLS 1.3 with the site certificates); counts `totalBytes`, then answers one byte. */
    listen: async (args: { kind: 'tcp' | 'tls'; totalBytes: number; identity?: unknown; peer?: unknown }) => {
      let arrived!: (cost: ProcessCost) => void;
      received = new Promise((resolve) => (arrived = resolve));
      const onSocket = (socket: net.Socket): void => {
        const window = costWindow();
        let n = 0;
        socket.on('data', (d: Buffer) => {
          n += d.length;
          if (n >= args.totalBytes) {
            socket.write(Buffer.from([1]));
            arrived(window());
          }
        });
        socket.on('error', () => undefined);
      };
      if (args.kind === 'tcp') server = net.createServer(onSocket);
      else {
        const id = identities({ identity: args.identity, peer: args.peer });
        server = tls.createServer({ ...tlsOptions(id), requestCert: true, rejectUnauthorized: true }, onSocket);
      }
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      return (server.address() as net.AddressInfo).port;
    },
    received: async () => {
      const cost = await received!;
      await new Promise((resolve) => server!.close(resolve));
      return cost;
    },
    /** Connects and sends `totalBytes` in 64 KiB writes with backpressure; resolves when the receiver has them all. */
    send: async (args: { kind: 'tcp' | 'tls'; port: number; totalBytes: number; identity?: unknown; peer?: unknown }) => {
      const socket: net.Socket = args.kind === 'tcp'
        ? net.connect(args.port, '127.0.0.1')
        : tls.connect({ host: '127.0.0.1', port: args.port, ...tlsOptions(identities({ identity: args.identity, peer: args.peer })), checkServerIdentity: () => undefined });
      await new Promise<void>((resolve, reject) => {
        socket.once(args.kind === 'tcp' ? 'connect' : 'secureConnect', () => resolve());
        socket.once('error', reject);
      });
      const cipher = socket instanceof tls.TLSSocket ? socket.getCipher().standardName : 'none';
      const done = new Promise<void>((resolve) => socket.once('data', () => resolve()));
      const window = costWindow();
      for (let sent = 0, i = 0; sent < args.totalBytes; sent += BENCH_WRITE_BYTES, i++) {
        if (!socket.write(pool[i % pool.length])) await new Promise((r) => socket.once('drain', r));
      }
      await done;
      const cost = window();
      socket.destroy();
      return { ...cost, cipher };
    },
  });
}

/** The same TLS settings as the site link (TlsNetwork): TLS 1.3 only, the site leaf certificates, the paired CAs. */
function tlsOptions(identity: SiteIdentity): tls.SecureContextOptions {
  return { key: identity.leafKeyPem, cert: identity.leafCertPem, ca: identity.trustedPeers.caCertPems(), minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

const roles: Record<string, () => void> = { recovery: recoveryRole, protected: protectedRole, pipe: pipeRole };
const role = roles[process.argv[2] ?? ''];
if (!role || !process.send) {
  process.stderr.write(`replication-bench-child: run by the replication benchmark with a role (${Object.keys(roles).join(', ')})\n`);
  process.exit(2);
}
role();

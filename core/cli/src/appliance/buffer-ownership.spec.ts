// The receive pool's ownership rule end to end: a protected and a recovery appliance over real mutual TLS
// on loopback, the pool in debug mode (released memory is poisoned at once), and the faults the suites
// inject — the link cut in the middle of a frame (a TCP proxy that drops both sockets), journal writes
// failing (FaultyStorage). No journal file, replica or image may ever contain the poison, and the image of
// the final checkpoint must equal the protected volume.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CheckpointScheduler, LocalFileStorage, POISON, ProtectedAppliance, RecoveryAppliance, SiteIdentity, SystemClock, TlsNetwork,
  parseProtectionGroupSettings, receivePool, seededRandom,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor, FaultyStorage } from '@opencdp/adapter-fake';

const MiB = 1024 * 1024;
const VOLUME_BYTES = 32 * MiB;

/** A TCP proxy in front of `target`; `cutAfter(n)` drops the open connection's two sockets after n more client bytes. */
async function cuttingProxy(target: string): Promise<{ address: string; cutAfter(n: number): void; cuts: number; close(): Promise<void> }> {
  const host = target.slice(0, target.lastIndexOf(':'));
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const open = new Set<{ passed: number; limit?: number; sockets: net.Socket[] }>();
  const state = { cuts: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    const conn: { passed: number; limit?: number; sockets: net.Socket[] } = { passed: 0, sockets: [client, upstream] };
    open.add(conn);
    client.on('data', (d: Buffer) => {
      if (conn.limit !== undefined && conn.passed + d.length > conn.limit) {
        // Forward part of this chunk, then drop both sides: the receiver is left inside a frame.
        const part = d.subarray(0, conn.limit - conn.passed);
        conn.limit = undefined;
        conn.passed = Number.POSITIVE_INFINITY;
        upstream.write(part, () => {
          state.cuts++;
          client.destroy();
          upstream.destroy();
        });
        return;
      }
      conn.passed += d.length;
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (d: Buffer) => client.write(d));
    for (const s of conn.sockets) {
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(conn);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cutAfter: (n) => {
      for (const c of open) c.limit = c.passed + n;
    },
    get cuts() {
      return state.cuts;
    },
    close: async () => {
      for (const c of open) for (const s of c.sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function until(predicate: () => boolean, limitMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('receive buffer ownership under faults (debug pool: released memory is poisoned)', function () {
  this.timeout(180_000);
  let dir = '';
  let wasDebug = false;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-ownership-'));
    wasDebug = receivePool.debug;
    receivePool.debug = true;
  });

  afterEach(async () => {
    receivePool.debug = wasDebug;
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('no journal, replica or image reads the poison when the link drops mid-frame and journal writes fail; the final image equals the volume', async () => {
    const clock = new SystemClock();
    const protectedId = SiteIdentity.create('protected');
    const recoveryId = SiteIdentity.create('recovery');
    protectedId.trustedPeers.add(recoveryId.asTrustedPeer());
    recoveryId.trustedPeers.add(protectedId.asTrustedPeer());
    const storage = new FaultyStorage(new LocalFileStorage(dir), clock);
    const recovery = new RecoveryAppliance({ siteId: 'recovery', storage, clock, network: new TlsNetwork({ identity: recoveryId, clock }) });
    const proxy = await cuttingProxy(await recovery.listen('127.0.0.1:0'));
    const dc = new FakeDataCenter({ clock });
    const site = dc.addSite('protected');
    const host = dc.addHost(site.id, 'host-1');
    const vm = dc.createVm({ name: 'owned', hostId: host.id, volumes: [{ sizeBytes: VOLUME_BYTES }] });
    const volumeId = vm.volumes[0].id;
    const appliance = new ProtectedAppliance({ siteId: 'protected', hypervisor: new FakeHypervisor(dc, site.id), network: new TlsNetwork({ identity: protectedId, clock }), clock, retryIntervalMs: 200 });
    const settings = parseProtectionGroupSettings({ name: 'owned', useWanCompression: false, checkpointIntervalMs: 1000 });
    const before = receivePool.stats();
    try {
      const sender = await appliance.protect({ groupId: 'g-owned', settings, vmIds: [vm.id], recoveryAddress: proxy.address });
      const streaming = (): boolean => sender.state.phase === 'streaming' && sender.connected && sender.bufferedBytes === 0;
      await until(streaming, 60_000, 'the initial sync');
      const rnd = seededRandom(2026);
      // 16 guest writes in flight (4 KiB to 256 KiB), so messages of up to 1 MiB cross the link in many TLS records.
      const burst = async (rounds: number): Promise<void> => {
        for (let r = 0; r < rounds; r++) {
          await Promise.all(Array.from({ length: 16 }, () => {
            const length = rnd.int(1, 64) * 4096;
            const offset = rnd.int(0, (VOLUME_BYTES - length) / 4096) * 4096;
            return dc.guestWrite(vm.id, volumeId, offset, rnd.bytes(length)).catch(() => undefined);
          }));
        }
      };
      await burst(8);

      // Fault 1: the link drops in the middle of a frame; writes go on meanwhile (into the bitmap), then resync.
      proxy.cutAfter(700_001);
      await burst(12);
      await until(() => proxy.cuts >= 1, 30_000, 'the proxy to cut the link mid-frame');
      await burst(4);
      await until(streaming, 60_000, 'streaming again after the link cut');

      // Fault 2: the journal's writes fail; the sender falls back, probes, and resyncs once storage works.
      storage.setFault({ kind: 'storage-error' });
      await burst(6);
      await until(() => sender.state.phase !== 'streaming' || storage.refused > 0, 30_000, 'the storage fault to be hit');
      storage.setFault(undefined);
      await burst(4);
      await until(streaming, 90_000, 'streaming again after the storage fault');
      await burst(4);
      await until(streaming, 30_000, 'the last writes to be acknowledged');

      const scheduler = new CheckpointScheduler({ clock, senders: [sender], intervalMs: 3_600_000 });
      const cp = scheduler.cut('tagged', 'final');
      assert.ok(cp, `a checkpoint could be cut (${scheduler.blockedBy()})`);
      const journal = recovery.journal('g-owned', vm.id)!;
      await until(() => journal.checkpoints().some((c) => c.id === cp.id), 30_000, 'the final checkpoint to be listed');

      const image = await journal.openImage(cp.id);
      const got = await image.read(volumeId, 0, VOLUME_BYTES);
      image.close();
      assert.equal(got.indexOf(POISON), -1, 'the image never reads poisoned memory');
      assert.equal(sha(got), sha(await dc.guestRead(vm.id, volumeId, 0, VOLUME_BYTES)), 'the final image equals the protected volume');
      await recovery.stop();
      for (const file of await filesUnder(dir)) {
        assert.equal((await fs.readFile(file)).indexOf(POISON), -1, `${path.relative(dir, file)} holds poisoned bytes: a buffer was reused while still referenced`);
      }
      const after = receivePool.stats();
      assert.ok(after.released - before.released > 20, `received frames were given back (${after.released - before.released})`);
      assert.ok(after.reused - before.reused > 10, `and their memory reused (${after.reused - before.reused})`);
      assert.ok(proxy.cuts >= 1 && storage.refused > 0, 'both faults happened');
    } finally {
      await appliance.stop();
      await recovery.stop();
      await proxy.close();
      dc.dispose();
    }
  });
});

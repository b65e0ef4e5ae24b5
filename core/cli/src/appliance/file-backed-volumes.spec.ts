import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ValidationError, VirtualClock, type VmInfo } from '@opencdp/core';
import { FakeDataCenter } from '@opencdp/adapter-fake';
import { FileBackedVolumes } from './file-backed-volumes.js';
import { hashVolumes, StatusWriter, type ProtectedStatus } from './status-file.js';

const KiB = 1024;

function dataCentre(sizes: number[]): { dc: FakeDataCenter; vm: VmInfo } {
  const dc = new FakeDataCenter({ clock: new VirtualClock(), seed: 1 });
  const site = dc.addSite('s');
  const host = dc.addHost(site.id, 'h');
  const vm = dc.createVm({ name: 'vm', hostId: host.id, volumes: sizes.map((sizeBytes) => ({ sizeBytes })) });
  return { dc, vm };
}

describe('file-backed fake volumes', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-volumes-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('mirrors guest writes into sparse files and loads them back into a new data centre', async () => {
    const first = dataCentre([256 * KiB, 128 * KiB]);
    const backed = await FileBackedVolumes.attach(first.dc, dir, [{ name: 'vm', vm: first.vm }]);
    assert.equal(backed.restoredBytes, 0);
    const [v0, v1] = first.vm.volumes;
    await first.dc.guestWrite(first.vm.id, v0.id, 64 * KiB + 512, Buffer.alloc(4 * KiB, 7));
    await first.dc.guestWrite(first.vm.id, v1.id, 0, Buffer.alloc(512, 9));
    await first.dc.guestWrite(first.vm.id, v0.id, 64 * KiB + 1024, Buffer.alloc(512, 8)); // overlaps: the later write wins
    // Mirrored before the guest's write completed: visible without closing.
    const file0 = await fs.readFile(FileBackedVolumes.fileOf(dir, 'vm', 0));
    assert.equal(file0.length, 256 * KiB);
    assert.ok(file0.equals(await first.dc.guestRead(first.vm.id, v0.id, 0, 256 * KiB)));
    const before = await hashVolumes(first.dc, [first.vm]);
    await backed.close();

    const second = dataCentre([256 * KiB, 128 * KiB]);
    const again = await FileBackedVolumes.attach(second.dc, dir, [{ name: 'vm', vm: second.vm }]);
    try {
      assert.ok(again.restoredBytes > 0 && again.restoredBytes <= 2 * 64 * KiB, `restored ${again.restoredBytes} bytes of non-zero chunks`);
      assert.deepEqual(await hashVolumes(second.dc, [second.vm]), before);
    } finally {
      await again.close();
    }
  });

  it('refuses a volume file larger than its volume', async () => {
    await fs.writeFile(FileBackedVolumes.fileOf(dir, 'vm', 0), Buffer.alloc(512 * KiB));
    const { dc, vm } = dataCentre([256 * KiB]);
    await assert.rejects(FileBackedVolumes.attach(dc, dir, [{ name: 'vm', vm }]), ValidationError);
  });
});

describe('status file', () => {
  it('hashes whole volumes as SHA-256 of the guest view', async () => {
    const { dc, vm } = dataCentre([64 * KiB]);
    await dc.guestWrite(vm.id, vm.volumes[0].id, 512, Buffer.alloc(512, 1));
    const expected = Buffer.alloc(64 * KiB);
    expected.fill(1, 512, 1024);
    assert.deepEqual(await hashVolumes(dc, [vm]), { [vm.volumes[0].id]: createHash('sha256').update(expected).digest('hex') });
  });

  it('writes snapshots atomically, the last one handed in winning', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-status-'));
    try {
      const file = path.join(dir, 'status.json');
      const errors: Error[] = [];
      const writer = new StatusWriter(file, (e) => errors.push(e));
      const status = (n: number): ProtectedStatus => ({
        pid: n, siteId: 's', groupId: 'g', startedAt: 0, updatedAt: n, stopped: false, restoredBytes: 0, vms: [], phasesSeen: [], verified: [],
        sender: { phase: 'streaming', connected: true, stats: { seq: n, bufferedBytes: 0, bitmapBytes: 0, bitmapDirtyBytes: 0, writesSent: 0, rawBytesSent: 0, wireBytesSent: 0, syncBytesSent: 0 } },
      });
      for (let i = 1; i <= 20; i++) void writer.write(status(i));
      await writer.flushed();
      assert.equal((JSON.parse(await fs.readFile(file, 'utf8')) as ProtectedStatus).pid, 20);
      assert.deepEqual(errors, []);
      assert.deepEqual(await fs.readdir(dir), ['status.json'], 'no temporary files left behind');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

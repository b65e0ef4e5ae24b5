// Recovery VMs on vcsim (vcsim's own behaviour throughout; no simulated part is involved): disks uploaded as
// flat extents with their descriptors, checked by hash through the adapter and, on the datastore folder
// itself, by `qemu-img compare` against the source image; placement, NICs with MAC handling, re-IP through
// guest customization, boot order; and failures that leave no VM and no file behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '@opencdp/core';
import type { RecoveryVmSpec, VolumeSource } from '@opencdp/core';
import { datastoreFile } from './testing/vcsim-fixture.js';
import { sha256, tempDir, useVcsim } from './testing/spec-helpers.js';
import { MoRef, str } from './vim-types.js';
import { DatastoreTransferError, VimTaskError, VimTaskTimeoutError } from './vsphere-errors.js';
import type { VsphereHypervisor } from './vsphere-hypervisor.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

function image(sizes: number[], seed: number): { source: VolumeSource; data: Buffer[] } {
  let x = seed;
  const data = sizes.map((size) => {
    const b = Buffer.alloc(size);
    // Some data, some holes: recovered disks must hold both exactly.
    for (let at = 0; at < size; at += 64 * 1024) {
      if (((at / 65536) + seed) % 3 === 0) continue;
      for (let i = 0; i < 4096; i += 4) b.writeUInt32LE((x = (Math.imul(x, 1664525) + 1013904223) >>> 0), at + i);
    }
    return b;
  });
  return {
    data,
    source: {
      sizeBytes: (id) => data[Number(id.split('-').pop())].length,
      read: async (id, offset, length) => Buffer.from(data[Number(id.split('-').pop())].subarray(offset, offset + length)),
    },
  };
}

async function qemuImg(ctx: Mocha.Context): Promise<boolean> {
  try {
    await run('qemu-img', ['--version']);
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('qemu-img is missing (qemu-utils); .ci/run installs it');
    process.stderr.write('\n  SKIPPED LOCALLY: qemu-img (qemu-utils) is not installed\n');
    ctx.skip();
    return false;
  }
}

describe('vSphere recovery VMs on vcsim', function () {
  this.timeout(60_000);
  const vc = useVcsim();
  let hv: VsphereHypervisor;

  before(async () => {
    hv = await vc.hypervisor({ taskTimeoutMs: 1500, placement: { datastore: 'LocalDS_1' } });
  });

  async function vmFolders(datastore: string): Promise<string[]> {
    const root = vc.fixture.datastores.find((d) => d.name === datastore)!.path;
    return (await fs.readdir(root)).filter((f) => f.startsWith('opencdp-'));
  }

  it('uploads every disk as a flat extent plus descriptor that equal the source (hash through the adapter, qemu-img compare on the datastore)', async function () {
    await qemuImg(this);
    const img = image([3 * MiB, 1 * MiB + 512 * 1024], 5);
    const vm = await hv.createRecoveryVm({ name: 'db - testing recovery', sourceVmId: 'vm-src-1', disks: [{ volumeId: 'v-0', source: img.source }, { volumeId: 'v-1', source: img.source }], nics: [] });
    assert.equal(vm.powerState, 'off');
    assert.deepEqual(vm.volumes.map((v) => v.sizeBytes), [3 * MiB, 1.5 * MiB]);
    const record = await hv.site.vmRecord(vm.id);
    const dir = await tempDir();
    try {
      for (let i = 0; i < 2; i++) {
        const read = await hv.readVolume(vm.id, vm.volumes[i].id, 0, vm.volumes[i].sizeBytes);
        assert.equal(sha256(read), sha256(img.data[i]), `disk ${i} reads back equal through the datastore interface`);
        const descriptor = datastoreFile(vc.fixture, record.disks[i].fileName);
        assert.match(record.disks[i].fileName, /^\[LocalDS_1\] opencdp-db---testing-recovery-[0-9a-f]{8}\/disk\d\.vmdk$/);
        const oracle = path.join(dir, `oracle-${i}.raw`);
        await fs.writeFile(oracle, img.data[i]);
        await run('qemu-img', ['compare', '-f', 'vmdk', '-F', 'raw', descriptor, oracle]);
        assert.equal(sha256(await fs.readFile(descriptor.replace(/\.vmdk$/, '-flat.vmdk'))), sha256(img.data[i]), 'the flat extent on the datastore');
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    await hv.deleteVm(vm.id);
    assert.ok(!(await hv.inventory()).vms.some((v) => v.id === vm.id));
    assert.deepEqual(await vmFolders('LocalDS_1'), [], 'Destroy_Task removed the uploaded files');
  });

  it('places the VM on the chosen host and datastore, NICs on the mapped portgroups, keeps a VMware MAC, re-IPs through guest customization, boots from the first disk', async () => {
    const inv = await hv.inventory();
    const host = inv.hosts.find((h) => h.name === 'DC0_H0')!;
    const ds0 = inv.datastores.find((d) => d.name === 'LocalDS_0')!;
    const test = inv.networks.find((n) => n.isolated)!;
    const live = inv.networks.find((n) => !n.isolated)!;
    const img = image([1 * MiB], 9);
    const spec: RecoveryVmSpec = {
      name: 'web', sourceVmId: 'vm-src-2', hostId: host.id, datastoreId: ds0.id,
      disks: [{ volumeId: 'v-0', source: img.source }],
      nics: [{ networkId: test.id, mac: '00:50:56:0a:0b:0c', ipv4: '192.168.77.20' }, { networkId: live.id, mac: '52:54:00:12:34:56' }],
    };
    const vm = await hv.createRecoveryVm(spec);
    assert.equal(vm.hostId, host.id);
    assert.deepEqual(vm.nics.map((n) => n.networkId), [test.id, live.id]);
    assert.equal(vm.nics[0].mac, '00:50:56:0a:0b:0c', 'a MAC in VMware\'s manual range is kept');
    assert.notEqual(vm.nics[1].mac, '52:54:00:12:34:56', 'a MAC vSphere would refuse is generated anew');
    const record = await hv.site.vmRecord(vm.id);
    assert.match(record.disks[0].fileName, /^\[LocalDS_0\] /);
    const boot = await hv.client.properties(new MoRef('VirtualMachine', vm.id), ['config.bootOptions']);
    const order = (boot['config.bootOptions'] as { bootOrder?: unknown }).bootOrder;
    assert.deepEqual([order].flat().map((d) => [str((d as { _type?: string })._type), Number((d as { deviceKey?: string }).deviceKey)]),
      [['VirtualMachineBootOptionsBootableDiskDevice', record.disks[0].key], ...record.nics.map((n) => ['VirtualMachineBootOptionsBootableEthernetDevice', n.key])]);
    await hv.powerOn(vm.id);
    await hv.powerOn(vm.id);
    const on = await hv.getVm(vm.id);
    assert.equal(on.powerState, 'on');
    assert.deepEqual(on.nics.map((n) => n.ipv4), ['192.168.77.20', undefined], 're-IP applied at first boot');
    await hv.shutdownGuest(vm.id);
    assert.equal((await hv.getVm(vm.id)).powerState, 'off');
    await hv.powerOff(vm.id);
    await hv.deleteVm(vm.id);
    await assert.rejects(hv.getVm(vm.id), /does not exist/);
  });

  it('refuses bad specs with typed errors before anything is made', async () => {
    const img = image([1 * MiB], 1);
    const base: RecoveryVmSpec = { name: 'bad', sourceVmId: 'vm-src-3', disks: [{ volumeId: 'v-0', source: img.source }], nics: [] };
    const vmsBefore = (await hv.inventory()).vms.length;
    const cases: [RecoveryVmSpec, string][] = [
      [{ ...base, datastoreId: 'ds-404' }, 'datastoreId'],
      [{ ...base, hostId: 'host-404' }, 'hostId'],
      [{ ...base, nics: [{ networkId: 'net-404' }] }, 'nics[0].networkId'],
      [{ ...base, name: '' }, 'name'],
      [{ ...base, disks: [{ volumeId: 'v-0', source: { sizeBytes: () => 1000, read: img.source.read } }] }, 'disks[0]'],
      // vSphere virtual disks have 512-byte sectors: a 4Kn volume cannot be recovered faithfully.
      [{ ...base, disks: [{ volumeId: 'v-0', source: img.source, sectorSize: 512 }, { volumeId: 'v-0', source: img.source, sectorSize: 4096 }] }, 'disks[1].sectorSize'],
    ];
    for (const [spec, field] of cases) {
      await assert.rejects(hv.createRecoveryVm(spec), (e: unknown) => e instanceof ValidationError && e.field === field);
    }
    assert.equal((await hv.inventory()).vms.length, vmsBefore);
    assert.deepEqual(await vmFolders('LocalDS_1'), []);
  });

  it('a failed CreateVM_Task, one that never ends, and a failed upload leave no VM and no file behind', async () => {
    const img = image([1 * MiB], 2);
    const spec: RecoveryVmSpec = { name: 'app', sourceVmId: 'vm-src-4', disks: [{ volumeId: 'v-0', source: img.source }], nics: [] };
    const vmsBefore = (await hv.inventory()).vms.map((v) => v.id).sort();
    await vc.fixture.armFault({ method: 'CreateVM_Task', kind: 'task-error', fault: 'InsufficientResourcesFault', count: 1 });
    await assert.rejects(hv.createRecoveryVm(spec), (e: unknown) => e instanceof VimTaskError && e.faultName === 'InsufficientResourcesFault');
    assert.deepEqual(await vmFolders('LocalDS_1'), [], 'the uploaded disks were deleted');
    // The hung task made the VM: it is found by its files and destroyed.
    await vc.fixture.armFault({ method: 'CreateVM_Task', kind: 'task-hang', count: 1 });
    await assert.rejects(hv.createRecoveryVm(spec), (e: unknown) => e instanceof VimTaskTimeoutError);
    assert.deepEqual((await hv.inventory()).vms.map((v) => v.id).sort(), vmsBefore, 'no VM left');
    assert.deepEqual(await vmFolders('LocalDS_1'), []);
    // The image cannot be read (a journal storage error) during the upload of the second disk.
    const failing: VolumeSource = { sizeBytes: () => 1 * MiB, read: async (id, o, l) => { if (id === 'v-1') throw new Error('journal read failed'); return Buffer.alloc(l); } };
    await assert.rejects(hv.createRecoveryVm({ ...spec, disks: [{ volumeId: 'v-0', source: failing }, { volumeId: 'v-1', source: failing }] }), /journal read failed/);
    assert.deepEqual(await vmFolders('LocalDS_1'), [], 'the first disk, already uploaded, was deleted');
    // A customization failure after the VM exists: the VM and its files go.
    await vc.fixture.armFault({ method: 'CustomizeVM_Task', kind: 'task-error', fault: 'InvalidState', count: 1 });
    const inv = await hv.inventory();
    await assert.rejects(hv.createRecoveryVm({ ...spec, nics: [{ networkId: inv.networks[0].id, ipv4: '10.0.0.5' }] }), (e: unknown) => e instanceof VimTaskError && e.faultName === 'InvalidState');
    assert.deepEqual((await hv.inventory()).vms.map((v) => v.id).sort(), vmsBefore);
    assert.deepEqual(await vmFolders('LocalDS_1'), []);
    assert.ok(!existsSync(path.join(vc.fixture.dir, 'nothing')));
  });

  it('a read-back that differs from the upload is refused (DatastoreTransferError verify) and cleaned up', async () => {
    const img = image([1 * MiB], 4);
    // Corrupt the flat file between upload and read-back: the fixture's datastore is a folder, so a test can.
    const before = await vmFolders('LocalDS_1');
    const origWrite = hv.site.files.write.bind(hv.site.files);
    hv.site.files.write = async (p, body, length) => {
      const hash = await origWrite(p, body, length);
      if (p.path.endsWith('-flat.vmdk')) await fs.writeFile(datastoreFile(vc.fixture, `[${p.datastore}] ${p.path}`), Buffer.alloc(length, 1));
      return hash;
    };
    try {
      await assert.rejects(hv.createRecoveryVm({ name: 'corrupt', sourceVmId: 'vm-src-6', disks: [{ volumeId: 'v-0', source: img.source }], nics: [] }),
        (e: unknown) => e instanceof DatastoreTransferError && /verify/.test(e.message));
    } finally {
      hv.site.files.write = origWrite;
    }
    assert.deepEqual(await vmFolders('LocalDS_1'), before);
  });
});

// The Hyper-V adapter end to end against the SIMULATED Hyper-V host (its real PowerShell layer, transport
// and VHDX code): inventory; the RCT cycle (recovery checkpoint → frozen reads by hash → reference point →
// GetVirtualDiskChanges ranges covering every write → retired reference points destroyed); lost tokens,
// hosts without RCT, failing views with nothing left behind; recovery VMs whose VHDX disks pass qemu-img
// check and equal their source under qemu-img compare, and a failed recovery that removes what it made.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ChangeTokenLostError, ChangeViewError, InvalidStateError, seededRandom, UnknownVmError, ValidationError } from '@opencdp/core';
import type { ChangedRegion, VolumeSource } from '@opencdp/core';
import { MOVE_VM_STORAGE, REMOVE_CHECKPOINTS_BY_NAME } from './harness/harness-scripts.js';
import { startSimulatedHyperv, type SimulatedHyperv } from './harness/simulated-hyperv.js';
import { RctUnavailableError } from './hyperv-errors.js';
import { GET_REFERENCE_POINTS } from './hyperv-scripts.js';
import { PowerShellCommandError } from './powershell/powershell-errors.js';
import { sha256 } from './spec-helpers.js';
import { qemuImgCheck, qemuImgEqual, requireQemuImgOrSkip } from './testing/qemu-img.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function covers(regions: ChangedRegion[], offset: number, length: number): boolean {
  return regions.some((r) => r.offset <= offset && r.offset + r.length >= offset + length);
}

describe('HypervHypervisor (on the SIMULATED Hyper-V host)', function () {
  this.timeout(120_000);
  let sim: SimulatedHyperv;

  before(function () {
    requireQemuImgOrSkip(this);
  });
  beforeEach(async () => {
    sim = await startSimulatedHyperv({ host: { rctGranularity: 4 * KiB, maxProcessedBytes: 768 * KiB } });
  });
  afterEach(async () => {
    await sim.dispose();
  });

  it('inventory: the host, VMs with their VHDX volumes and NICs, switches (Private = isolated), storage paths as datastores', async () => {
    const vm = await sim.createVm({ name: 'web01', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: 4096 }] });
    const inv = await sim.hypervisor.inventory();
    assert.deepEqual(inv.hosts.map((h) => [h.id, h.name]), [['hyperv-hv-sim-01', 'HV-SIM-01']]);
    const listed = inv.vms.find((v) => v.id === vm.id)!;
    assert.equal(listed.name, 'web01');
    assert.equal(listed.powerState, 'on');
    assert.deepEqual(listed.volumes.map((v) => [v.sizeBytes, v.sectorSize]), [[4 * MiB, 512], [2 * MiB, 4096]]);
    assert.equal(new Set(listed.volumes.map((v) => v.id)).size, 2);
    assert.deepEqual(inv.networks.map((n) => [n.name, n.isolated]), [['LAN', false], ['Isolated Test', true]]);
    assert.equal(listed.nics[0].networkId, inv.networks[0].id);
    assert.match(listed.nics[0].mac, /^00:15:5d(:[0-9a-f]{2}){3}$/);
    assert.deepEqual(inv.datastores.map((d) => d.id), ['C:\\Hyper-V', 'C:\\ClusterStorage\\Volume1']);
    assert.ok(inv.datastores.every((d) => d.freeBytes > 0 && d.freeBytes <= d.capacityBytes));
    await assert.rejects(sim.hypervisor.getVm('not-a-guid'), UnknownVmError);
    await assert.rejects(sim.hypervisor.getVm('0f0e0d0c-0000-4000-8000-000000000000'), UnknownVmError);
  });

  it('the RCT cycle: checkpoint views read frozen data by hash, changes since a reference point cover every write, retired reference points go', async () => {
    const ct = sim.hypervisor.changeTracking;
    const vm = await sim.createVm({ name: 'db01', volumes: [{ sizeBytes: 4 * MiB }] });
    const vol = vm.volumes[0];
    const oracle = Buffer.alloc(vol.sizeBytes);
    const r = seededRandom(21);
    const write = async (): Promise<{ offset: number; length: number }> => {
      const length = r.int(1, 8) * 4 * KiB;
      const offset = r.int(0, (vol.sizeBytes - length) / (4 * KiB)) * 4 * KiB;
      const data = r.bytes(length);
      await sim.guestWrite(vm.id, vol.id, offset, data);
      data.copy(oracle, offset);
      return { offset, length };
    };
    for (let i = 0; i < 10; i++) await write();
    await ct.enable(vm.id);
    const v1 = await ct.openView([vm.id], 'opencdp-g1-1');
    assert.deepEqual((await ct.listViews('opencdp-')).map((v) => [v.id, v.name, v.vmIds]), [[v1.id, 'opencdp-g1-1', [vm.id]]]);
    const at1 = Buffer.from(oracle);
    await write(); // after the view: must not show through it
    const allocated = await v1.allocated(vol.id);
    assert.ok(allocated.length > 0);
    const image = Buffer.alloc(vol.sizeBytes);
    for (const a of allocated) (await v1.read(vol.id, a.offset, a.length)).copy(image, a.offset);
    assert.equal(sha256(image), sha256(at1), 'allocated regions read from the view equal the guest data at the view');
    const t1 = v1.token(vol.id);
    await ct.releaseView(v1.id);
    assert.deepEqual(await ct.listViews('opencdp-'), [], 'the checkpoint became a reference point');
    assert.equal((await sim.admin.run(GET_REFERENCE_POINTS, { vmId: vm.id })).length, 1);
    const written = [];
    for (let i = 0; i < 12; i++) written.push(await write());
    const v2 = await ct.openView([vm.id], 'opencdp-g1-2');
    const at2 = Buffer.from(oracle);
    await write();
    const changed = await v2.changedSince(vol.id, t1);
    for (const w of written) assert.ok(covers(changed, w.offset, w.length), `the write at ${w.offset}+${w.length} is in the changed ranges`);
    const changedBytes = changed.reduce((n, c) => n + c.length, 0);
    assert.ok(changedBytes < vol.sizeBytes / 2, `only changed ranges are listed (${changedBytes} bytes)`);
    // Applying the changes to the first image gives the second.
    for (const c of changed) (await v2.read(vol.id, c.offset, c.length)).copy(image, c.offset);
    assert.equal(sha256(image), sha256(at2), 'view 1 + changed ranges of view 2 = the guest data at view 2');
    const t2 = v2.token(vol.id);
    await ct.releaseView(v2.id);
    await ct.releaseView(v2.id); // releasing twice is a no-op
    await ct.retireToken(vm.id, vol.id, t1);
    assert.equal((await sim.admin.run(GET_REFERENCE_POINTS, { vmId: vm.id })).length, 1, 'the retired token\'s reference point was destroyed');
    await ct.retireToken(vm.id, vol.id, 'hvrct:nothing:here'); // unknown tokens are ignored
    // A storage migration resets RCT: the last token is lost, and the kernel is told so.
    await sim.adminRun(MOVE_VM_STORAGE, { vmId: vm.id, destination: 'C:\\ClusterStorage\\Volume1\\db01' });
    const v3 = await ct.openView([vm.id], 'opencdp-g1-3');
    await assert.rejects(v3.changedSince(vol.id, t2), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset');
    await assert.rejects(v3.changedSince(vol.id, 'garbage'), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'unknown');
    await ct.releaseView(v3.id);
    await ct.disable(vm.id);
    assert.equal((await sim.admin.run(GET_REFERENCE_POINTS, { vmId: vm.id })).length, 0, 'disable removes the adapter\'s reference points');
  });

  it('a VM below configuration version 8.0 cannot be tracked; bad view requests are refused', async () => {
    const vm = await sim.createVm({ name: 'old', volumes: [{ sizeBytes: MiB }] });
    await sim.host.setVm(vm.id, { Version: '5.0' });
    await assert.rejects(sim.hypervisor.changeTracking.enable(vm.id), RctUnavailableError);
    await assert.rejects(sim.hypervisor.changeTracking.openView([vm.id, vm.id], 'opencdp-x'), ValidationError);
    await assert.rejects(sim.hypervisor.changeTracking.openView([vm.id], 'not-ours'), ValidationError);
  });

  it('a view that fails to open leaves nothing; a release that fails leaves the view listed until a later release succeeds; a lost view fails reads', async () => {
    const ct = sim.hypervisor.changeTracking;
    const vm = await sim.createVm({ name: 'app01', volumes: [{ sizeBytes: MiB }] });
    await sim.host.addFault({ op: 'New-OpenCdpRecoveryCheckpoint', kind: 'fail', cmdlet: 'CreateSnapshot', message: 'The system is busy', returnValue: 32768 });
    await assert.rejects(ct.openView([vm.id], 'opencdp-f-1'), (e: unknown) => e instanceof ChangeViewError && e.step === 'open');
    assert.deepEqual(await ct.listViews('opencdp-'), []);
    await sim.host.clearFaults();
    const v = await ct.openView([vm.id], 'opencdp-f-2');
    await sim.host.addFault({ op: 'ConvertTo-OpenCdpReferencePoint', kind: 'fail', message: 'busy' });
    await sim.host.addFault({ op: 'Remove-OpenCdpRecoveryCheckpoint', kind: 'fail', message: 'busy' });
    await assert.rejects(ct.releaseView(v.id), (e: unknown) => e instanceof ChangeViewError && e.step === 'release');
    assert.deepEqual((await ct.listViews('opencdp-')).map((x) => x.id), [v.id], 'the view stays listed');
    await sim.host.clearFaults();
    await ct.releaseView(v.id);
    assert.deepEqual(await ct.listViews('opencdp-'), []);
    // An administrator deletes the checkpoint under a running cycle: reads fail, nothing hangs.
    const w = await ct.openView([vm.id], 'opencdp-f-3');
    await sim.adminRun(REMOVE_CHECKPOINTS_BY_NAME, { prefix: 'opencdp-f-3' });
    assert.deepEqual(await ct.listViews('opencdp-'), []);
    await ct.releaseView(w.id);
    // VSS failing in the guest: the default falls back to a crash-consistent checkpoint.
    await sim.host.setVm(vm.id, { GuestVss: false });
    const crash = await ct.openView([vm.id], 'opencdp-f-4');
    await ct.releaseView(crash.id);
  });

  describe('recovery VMs', () => {
    function source(volumes: Record<string, Buffer>, sectors: Record<string, number> = {}): VolumeSource & { volumes: { id: string; sizeBytes: number; sectorSize: number }[] } {
      return {
        volumes: Object.entries(volumes).map(([id, b]) => ({ id, sizeBytes: b.length, sectorSize: sectors[id] ?? 512 })),
        sizeBytes: (id) => volumes[id].length,
        read: async (id, offset, length) => Buffer.from(volumes[id].subarray(offset, offset + length)),
      };
    }

    it('writes each disk as a dynamic VHDX (qemu-img check passes, qemu-img compare equals the source), attaches NICs with MAC and re-IP, powers on and off, and deletes it with its files', async () => {
      const r = seededRandom(4);
      const a = Buffer.alloc(3 * MiB);
      r.bytes(64 * KiB).copy(a, 1 * MiB);
      r.bytes(4 * KiB).copy(a, 3 * MiB - 4 * KiB);
      const b = r.bytes(2 * MiB);
      const inv = await sim.hypervisor.inventory();
      const lan = inv.networks.find((n) => !n.isolated)!;
      const test = inv.networks.find((n) => n.isolated)!;
      const vm = await sim.hypervisor.createRecoveryVm({
        name: "db01 - testing recovery 'quoted' $(x)", sourceVmId: 'vm-7', datastoreId: 'C:\\ClusterStorage\\Volume1',
        disks: [{ volumeId: 'a', source: source({ a, b }) }, { volumeId: 'b', source: source({ a, b }) }],
        nics: [{ networkId: lan.id, mac: '52:54:00:12:34:56', ipv4: '10.1.0.10' }, { networkId: test.id }],
      });
      assert.equal(vm.powerState, 'off');
      assert.equal(vm.name, "db01 - testing recovery 'quoted' $(x)");
      assert.deepEqual(vm.nics.map((n) => [n.networkId, n.mac, n.ipv4]), [[lan.id, '52:54:00:12:34:56', '10.1.0.10'], [test.id, vm.nics[1].mac, undefined]]);
      assert.deepEqual(vm.volumes.map((v) => v.sizeBytes), [3 * MiB, 2 * MiB]);
      const dir = path.join(sim.workDir, 'raw');
      await fs.mkdir(dir);
      for (const [i, data] of [a, b].entries()) {
        const hostPath = (await sim.admin.run((await import('./hyperv-scripts.js')).GET_VM, { vmId: vm.id })).Disks[i].Path;
        assert.match(hostPath, /^C:\\ClusterStorage\\Volume1\\OpenCDP\\/, 'the disk lives on the chosen datastore');
        const local = sim.local(hostPath);
        await qemuImgCheck(local);
        await fs.writeFile(path.join(dir, `${i}.raw`), data);
        assert.equal(await qemuImgEqual(path.join(dir, `${i}.raw`), 'raw', local, 'vhdx'), true, `disk ${i} equals its source under qemu-img compare`);
        assert.equal(sha256(await sim.hypervisor.readVolume(vm.id, vm.volumes[i].id, 0, data.length)), sha256(data));
      }
      await sim.hypervisor.powerOn(vm.id);
      assert.equal((await sim.hypervisor.getVm(vm.id)).powerState, 'on');
      await assert.rejects(sim.hypervisor.deleteVm(vm.id), (e: unknown) => e instanceof InvalidStateError && /Running/.test(e.message), 'a running VM is not deleted');
      await sim.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 9));
      assert.deepEqual(await sim.hypervisor.readVolume(vm.id, vm.volumes[0].id, 0, 4096), Buffer.alloc(4096, 9));
      await sim.hypervisor.shutdownGuest(vm.id);
      assert.equal((await sim.hypervisor.getVm(vm.id)).powerState, 'off');
      const folder = path.dirname(sim.local((await sim.admin.run((await import('./hyperv-scripts.js')).GET_VM, { vmId: vm.id })).Disks[0].Path));
      await sim.hypervisor.deleteVm(vm.id);
      await assert.rejects(sim.hypervisor.getVm(vm.id), UnknownVmError);
      assert.equal(await fs.stat(folder).then(() => true, () => false), false, 'the VM\'s folder and disks are gone');
    });

    it('bad requests are refused before anything is made; a failure after the disks were written removes them and the VM', async () => {
      const data = Buffer.alloc(MiB, 1);
      const inv = await sim.hypervisor.inventory();
      const lan = inv.networks[0];
      const vmsBefore = inv.vms.length;
      await assert.rejects(sim.hypervisor.createRecoveryVm({ name: 'x', sourceVmId: 's', disks: [{ volumeId: 'a', source: source({ a: data }) }], nics: [{ networkId: 'no-such-switch' }] }), ValidationError);
      await assert.rejects(sim.hypervisor.createRecoveryVm({ name: 'x', sourceVmId: 's', datastoreId: 'D:\\nowhere', disks: [{ volumeId: 'a', source: source({ a: data }) }], nics: [] }), ValidationError);
      await assert.rejects(sim.hypervisor.createRecoveryVm({ name: 'x', sourceVmId: 's', disks: [], nics: [] }), ValidationError);
      await assert.rejects(sim.hypervisor.createRecoveryVm({ name: 'bad\u0000name', sourceVmId: 's', disks: [{ volumeId: 'a', source: source({ a: data }) }], nics: [] }));
      await sim.host.addFault({ op: 'Set-OpenCdpGuestNetwork', kind: 'fail', cmdlet: 'SetGuestNetworkAdapterConfiguration', message: 'the guest has no integration services', returnValue: 32768 });
      await assert.rejects(sim.hypervisor.createRecoveryVm({ name: 'y', sourceVmId: 's', disks: [{ volumeId: 'a', source: source({ a: data }) }], nics: [{ networkId: lan.id, ipv4: '10.0.0.5' }] }),
        (e: unknown) => e instanceof PowerShellCommandError && e.cmdlet === 'SetGuestNetworkAdapterConfiguration');
      const after = await sim.hypervisor.inventory();
      assert.equal(after.vms.length, vmsBefore, 'no VM was left');
      const recovery = sim.local('C:\\Hyper-V\\OpenCDP');
      assert.deepEqual(await fs.readdir(recovery).catch(() => []), [], 'no disk or folder was left');
    });
  });
});

// CBT change tracking against vcsim. vcsim has no CBT and no snapshot disk data: both are the fixture's
// SIMULATION (fixture/vcsim/simulation.go), named so in every title here. The adapter's side is real:
// ReconfigVM_Task, CreateSnapshot_Task, QueryChangedDiskAreas looped over windows, RemoveSnapshot_Task, and
// reads of the snapshot's disk over the datastore HTTP interface, checked by hash against an oracle.
import assert from 'node:assert/strict';
import { ChangeTokenLostError, ChangeViewError, ValidationError } from '@opencdp/core';
import type { ChangedRegion, VmInfo } from '@opencdp/core';
import { createTestVm, deviceKeyOf } from './testing/test-vms.js';
import { sha256, snapshotNames, useVcsim } from './testing/spec-helpers.js';
import { MoRef } from './vim-types.js';
import { CbtAnswerError } from './vsphere-errors.js';
import type { VsphereHypervisor } from './vsphere-hypervisor.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A VM with a 4 MiB and a 1 MiB disk, and an oracle of what its guest wrote. */
class GuestDisk {
  readonly data: Buffer[];
  private seed = 1;

  constructor(readonly vm: VmInfo, private readonly write: (vm: string, key: number, offset: number, data: Buffer) => Promise<void>) {
    this.data = vm.volumes.map((v) => Buffer.alloc(v.sizeBytes));
  }

  /** Pseudo-random bytes (deterministic per instance). */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) b.writeUInt32LE((this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0), i);
    return b;
  }

  async put(volume: number, offset: number, length: number): Promise<{ offset: number; length: number }> {
    const data = this.bytes(length);
    await this.write(this.vm.id, deviceKeyOf(this.vm.volumes[volume].id), offset, data);
    data.copy(this.data[volume], offset);
    return { offset, length };
  }

  snapshot(): Buffer[] {
    return this.data.map((d) => Buffer.from(d));
  }
}

/** True when every written range lies inside the union of the regions. */
function covered(regions: ChangedRegion[], writes: { offset: number; length: number }[]): boolean {
  return writes.every((w) => {
    for (let at = w.offset; at < w.offset + w.length; at += 512) if (!regions.some((r) => r.offset <= at && at < r.offset + r.length)) return false;
    return true;
  });
}

async function readAll(read: (o: number, l: number) => Promise<Buffer>, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0; at < size; at += MiB) parts.push(await read(at, Math.min(MiB, size - at)));
  return Buffer.concat(parts);
}

describe('vSphere change tracking on vcsim with SIMULATED CBT and snapshot data', function () {
  this.timeout(60_000);
  const vc = useVcsim({ cbtWindowBytes: 256 * KiB, cbtBlockBytes: 4 * KiB });
  let hv: VsphereHypervisor;
  let n = 0;

  before(async () => {
    hv = await vc.hypervisor({ taskTimeoutMs: 1500 });
  });

  async function guestVm(): Promise<GuestDisk> {
    const vm = await createTestVm(hv, { name: `ct-${++n}`, disks: [4 * MiB, 1 * MiB] });
    return new GuestDisk(vm, (id, key, offset, data) => vc.fixture.guestWrite(id, key, offset, data));
  }

  it('enables and disables CBT through ReconfigVM_Task, idempotently (SIMULATED CBT)', async () => {
    const g = await guestVm();
    assert.equal((await hv.site.vmRecord(g.vm.id)).changeTracking, false);
    await hv.changeTracking.enable(g.vm.id);
    await hv.changeTracking.enable(g.vm.id);
    assert.equal((await hv.site.vmRecord(g.vm.id)).changeTracking, true);
    await hv.changeTracking.disable(g.vm.id);
    await hv.changeTracking.disable(g.vm.id);
    assert.equal((await hv.site.vmRecord(g.vm.id)).changeTracking, false);
  });

  it('the first view lists allocated areas with changeId "*" over many windows; its bytes equal the oracle by hash and stay frozen while the guest writes on (SIMULATED CBT)', async () => {
    const g = await guestVm();
    const writes = [await g.put(0, 0, 8 * KiB), await g.put(0, 1 * MiB + 512, 3 * KiB), await g.put(0, 4 * MiB - 64 * KiB, 64 * KiB), await g.put(1, 300 * KiB, 4 * KiB)];
    await hv.changeTracking.enable(g.vm.id);
    const before = (await vc.fixture.stats()).qcdaCalls;
    const view = await hv.changeTracking.openView([g.vm.id], 'opencdp-ct-first');
    try {
      const [v0, v1] = g.vm.volumes;
      const allocated0 = await view.allocated(v0.id);
      assert.ok((await vc.fixture.stats()).qcdaCalls - before >= 16, 'the 4 MiB disk took one call per 256 KiB window');
      assert.ok(covered(allocated0, writes.slice(0, 3)), `allocated areas ${JSON.stringify(allocated0)} cover every write`);
      assert.ok(allocated0.reduce((s, r) => s + r.length, 0) <= 128 * KiB, 'only allocated areas (no whole-disk answer)');
      assert.ok(covered(await view.allocated(v1.id), writes.slice(3)));
      const at = g.snapshot();
      assert.equal(sha256(await readAll((o, l) => view.read(v0.id, o, l), v0.sizeBytes)), sha256(at[0]));
      // The guest goes on writing; the view does not change.
      await g.put(0, 0, 64 * KiB);
      await g.put(1, 0, 1 * MiB);
      assert.equal(sha256(await readAll((o, l) => view.read(v0.id, o, l), v0.sizeBytes)), sha256(at[0]), 'the view is frozen');
      assert.equal(sha256(await readAll((o, l) => view.read(v1.id, o, l), v1.sizeBytes)), sha256(at[1]));
      assert.equal(sha256(await readAll((o, l) => hv.readVolume(g.vm.id, v1.id, o, l), v1.sizeBytes)), sha256(g.data[1]), 'the live disk has the new writes');
      assert.match(view.token(v0.id), /\/\d+$/, 'the token is the snapshot\'s changeId');
      await assert.rejects(view.read(v0.id, 4 * MiB - 512, 1024), /outside/);
    } finally {
      await hv.changeTracking.releaseView(view.id);
    }
    assert.deepEqual(await snapshotNames(hv.client, g.vm.id), [], 'no snapshot left');
  });

  it('changedSince the previous view\'s token covers every write in between (no misses): old image + changed regions = new image (SIMULATED CBT)', async () => {
    const g = await guestVm();
    await hv.changeTracking.enable(g.vm.id);
    await g.put(0, 0, 1 * MiB);
    let view = await hv.changeTracking.openView([g.vm.id], 'opencdp-ct-0');
    let image = g.snapshot();
    for (let cycle = 1; cycle <= 3; cycle++) {
      const writes: { offset: number; length: number }[][] = [[], []];
      for (let i = 0; i < 12; i++) {
        const vol = i % 3 === 0 ? 1 : 0;
        const size = g.vm.volumes[vol].sizeBytes;
        const length = (1 + ((i * 7 + cycle) % 16)) * 512;
        const offset = Math.floor((((i + 1) * 2654435761 * cycle) % (size - length)) / 512) * 512;
        writes[vol].push(await g.put(vol, offset, length));
      }
      const next = await hv.changeTracking.openView([g.vm.id], `opencdp-ct-${cycle}`);
      for (let vol = 0; vol < 2; vol++) {
        const volumeId = g.vm.volumes[vol].id;
        const regions = await next.changedSince(volumeId, view.token(volumeId));
        assert.ok(covered(regions, writes[vol]), `cycle ${cycle} disk ${vol}: ${JSON.stringify(regions)} covers ${JSON.stringify(writes[vol])}`);
        for (const r of regions) (await next.read(volumeId, r.offset, r.length)).copy(image[vol], r.offset);
        assert.equal(sha256(image[vol]), sha256(g.data[vol]), `cycle ${cycle} disk ${vol}: the previous image plus the changed regions is the new one`);
        assert.notEqual(next.token(volumeId), view.token(volumeId));
      }
      await hv.changeTracking.releaseView(view.id);
      view = next;
      image = g.snapshot();
    }
    await hv.changeTracking.releaseView(view.id);
    assert.deepEqual(await snapshotNames(hv.client, g.vm.id), []);
  });

  it('a CBT reset (tracking off and on) or an unknown changeId fails changedSince with ChangeTokenLostError (SIMULATED CBT)', async () => {
    const g = await guestVm();
    await hv.changeTracking.enable(g.vm.id);
    const v1 = await hv.changeTracking.openView([g.vm.id], 'opencdp-reset-1');
    const volumeId = g.vm.volumes[0].id;
    const token = v1.token(volumeId);
    await hv.changeTracking.releaseView(v1.id);
    await hv.client.runTask('ReconfigVM_Task', { _this: new MoRef('VirtualMachine', g.vm.id), spec: { changeTrackingEnabled: false } });
    await hv.changeTracking.enable(g.vm.id);
    await g.put(0, 0, 4 * KiB);
    const v2 = await hv.changeTracking.openView([g.vm.id], 'opencdp-reset-2');
    try {
      await assert.rejects(v2.changedSince(volumeId, token), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset' && e.volumeId === volumeId && /changeId/.test(e.message));
      await assert.rejects(v2.changedSince(volumeId, 'not-a-change-id'), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'unknown');
      await assert.rejects(v2.changedSince(volumeId, ''), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'unknown');
      assert.ok(covered(await v2.allocated(volumeId), [{ offset: 0, length: 4 * KiB }]), 'the allocated areas still answer (for the delta sync)');
    } finally {
      await hv.changeTracking.releaseView(v2.id);
    }
  });

  it('refuses CBT answers with overlapping or out-of-range areas with CbtAnswerError (SIMULATED CBT, fault injected)', async () => {
    const g = await guestVm();
    await hv.changeTracking.enable(g.vm.id);
    await g.put(0, 64 * KiB, 4 * KiB);
    const view = await hv.changeTracking.openView([g.vm.id], 'opencdp-bad-answers');
    const volumeId = g.vm.volumes[0].id;
    try {
      for (const kind of ['overlap', 'out-of-range'] as const) {
        await vc.fixture.armFault({ method: 'QueryChangedDiskAreas', kind, count: 1 });
        await assert.rejects(view.allocated(volumeId), (e: unknown) => {
          assert.ok(e instanceof CbtAnswerError, `${kind}: got ${(e as Error).message}`);
          assert.ok(e instanceof ChangeViewError, 'the kernel sees a failed view read and retries the cycle');
          assert.match(e.message, kind === 'overlap' ? /overlaps/ : /leaves the answered window/);
          return true;
        });
      }
      assert.ok(covered(await view.allocated(volumeId), [{ offset: 64 * KiB, length: 4 * KiB }]), 'good answers are accepted again');
    } finally {
      await hv.changeTracking.releaseView(view.id);
    }
  });

  it('a view that cannot be taken leaves no snapshot: a failed task, and a task that never ends whose snapshot is found by name and removed (SIMULATED snapshot data)', async () => {
    const g = await guestVm();
    await hv.changeTracking.enable(g.vm.id);
    await vc.fixture.armFault({ method: 'CreateSnapshot_Task', kind: 'task-error', fault: 'InvalidState', count: 1, this: g.vm.id });
    await assert.rejects(hv.changeTracking.openView([g.vm.id], 'opencdp-open-fails'), (e: unknown) => e instanceof ChangeViewError && e.step === 'open' && /InvalidState/.test(e.message));
    assert.deepEqual(await snapshotNames(hv.client, g.vm.id), []);
    await vc.fixture.armFault({ method: 'CreateSnapshot_Task', kind: 'task-hang', count: 1, this: g.vm.id });
    await assert.rejects(hv.changeTracking.openView([g.vm.id], 'opencdp-open-hangs'), (e: unknown) => e instanceof ChangeViewError && e.step === 'open' && /did not finish/.test(e.message));
    assert.deepEqual(await snapshotNames(hv.client, g.vm.id), [], 'the snapshot the hung task made was removed');
    await assert.rejects(hv.changeTracking.openView([g.vm.id, g.vm.id], 'opencdp-two'), ValidationError);
    await assert.rejects(hv.changeTracking.openView([g.vm.id], 'x'.repeat(81)), ValidationError);
    await assert.rejects(hv.changeTracking.openView(['vm-404'], 'opencdp-none'), /does not exist/);
  });

  it('releaseView: unknown and released views are no-ops; a failed removal is ChangeViewError(release) and the view stays listed for a retry; leftovers are listed by prefix (SIMULATED snapshot data)', async () => {
    const g = await guestVm();
    await hv.changeTracking.enable(g.vm.id);
    const view = await hv.changeTracking.openView([g.vm.id], 'opencdp-release');
    await vc.fixture.armFault({ method: 'RemoveSnapshot_Task', kind: 'task-error', fault: 'TaskInProgress', count: 1, this: view.id });
    await assert.rejects(hv.changeTracking.releaseView(view.id), (e: unknown) => e instanceof ChangeViewError && e.step === 'release' && /consolidate/.test(e.hint ?? ''));
    assert.deepEqual((await hv.changeTracking.listViews('opencdp-')).filter((v) => v.vmIds[0] === g.vm.id), [{ id: view.id, name: 'opencdp-release', vmIds: [g.vm.id] }]);
    await hv.changeTracking.releaseView(view.id);
    await hv.changeTracking.releaseView(view.id);
    await hv.changeTracking.releaseView('snapshot-404');
    // A killed process's leftover (made by another client) is found by its prefix; the user's own snapshot is not.
    await hv.client.runTask('CreateSnapshot_Task', { _this: new MoRef('VirtualMachine', g.vm.id), name: 'opencdp-leftover-42', memory: false, quiesce: false });
    await hv.client.runTask('CreateSnapshot_Task', { _this: new MoRef('VirtualMachine', g.vm.id), name: 'before-patching', memory: false, quiesce: false });
    const listed = (await hv.changeTracking.listViews('opencdp-')).filter((v) => v.vmIds[0] === g.vm.id);
    assert.deepEqual(listed.map((v) => v.name), ['opencdp-leftover-42']);
    await hv.changeTracking.releaseView(listed[0].id);
    assert.deepEqual(await snapshotNames(hv.client, g.vm.id), ['before-patching']);
  });

  it('a view whose snapshot vanished fails reads and queries with ChangeViewError(read); quiesce is asked through the snapshot (SIMULATED snapshot data)', async () => {
    const g = await guestVm();
    await hv.changeTracking.enable(g.vm.id);
    await g.put(0, 0, 4 * KiB);
    const view = await hv.changeTracking.openView([g.vm.id], 'opencdp-quiesced', { quiesce: true });
    const tree = (await hv.site.vmRecord(g.vm.id)).snapshots;
    assert.deepEqual(tree.map((s) => [s.name, s.quiesced]), [['opencdp-quiesced', true]]);
    await hv.client.runTask('RemoveSnapshot_Task', { _this: new MoRef('VirtualMachineSnapshot', view.id), removeChildren: false });
    const volumeId = g.vm.volumes[0].id;
    await assert.rejects(view.read(volumeId, 0, 4096), (e: unknown) => e instanceof ChangeViewError && e.step === 'read');
    await assert.rejects(view.allocated(volumeId), (e: unknown) => e instanceof ChangeViewError && e.step === 'read' && /no longer exists/.test(e.message));
    await hv.changeTracking.releaseView(view.id);
  });
});

// The QEMU conformance harness in change-tracking mode: what it offers the kernel and what each injected
// change-tracking fault does to the real daemons (the suite's C3/C4 rely on these effects).
import assert from 'node:assert/strict';
import { ChangeTokenLostError, ChangeViewError, VIEW_NAME_PREFIX } from '@opencdp/core';
import { createQemuHarness, type QemuHarness } from './qemu-harness.js';
import { requireToolsOrSkip } from './qemu-tools.js';

const MiB = 1024 * 1024;

describe('qemu harness in change-tracking mode (real qemu-storage-daemon)', function () {
  this.timeout(60_000);
  let h: QemuHarness;

  before(function () {
    requireToolsOrSkip(this);
  });

  beforeEach(async () => {
    h = await createQemuHarness({ capture: 'change-tracking' });
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('offers change tracking (views of one VM each: two daemons) and no splitter; each fault has its effect on QEMU and clears', async () => {
    assert.equal(h.hypervisor.openTap, undefined);
    const t = h.hypervisor.changeTracking!;
    assert.equal(t.multiVmViews, false);
    assert.equal(h.capabilities.faultChangeTracking, true);
    const vm = await h.createVm({ name: 'f', volumes: [{ sizeBytes: 1 * MiB }] });
    const v = vm.volumes[0];
    await t.enable(vm.id);
    await h.guestWrite(vm.id, v.id, 0, Buffer.alloc(4096, 7));

    await h.injectFault({ kind: 'view-open-fail' });
    await assert.rejects(t.openView([vm.id], `${VIEW_NAME_PREFIX}a`), (e: unknown) => e instanceof ChangeViewError && e.step === 'open');
    await h.clearFaults();
    const view = await t.openView([vm.id], `${VIEW_NAME_PREFIX}a`);
    const token = view.token(v.id);
    assert.equal((await view.read(v.id, 0, 4096))[0], 7);

    await h.injectFault({ kind: 'view-release-fail' });
    await assert.rejects(t.releaseView(view.id), (e: unknown) => e instanceof ChangeViewError && e.step === 'release');
    assert.equal((await t.listViews(VIEW_NAME_PREFIX)).length, 1);
    await h.clearFaults();
    await t.releaseView(view.id);

    await h.injectFault({ kind: 'token-reset', vmId: vm.id });
    const after = await t.openView([vm.id], `${VIEW_NAME_PREFIX}b`);
    await assert.rejects(after.changedSince(v.id, token), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset');

    await h.injectFault({ kind: 'view-lost' });
    await assert.rejects(after.read(v.id, 0, 4096), (e: unknown) => e instanceof ChangeViewError && e.step === 'read');
    assert.deepEqual(await t.listViews(VIEW_NAME_PREFIX), []);
    await t.releaseView(after.id);
  });
});

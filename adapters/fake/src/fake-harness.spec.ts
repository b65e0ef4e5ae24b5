import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CAPABILITIES, IoAwareVirtualClock, StorageError, ValidationError, VirtualClock } from '@opencdp/core';
import type { ConformanceHarness, HarnessFactory } from '@opencdp/core';
import { HostDownError } from './fake-errors.js';
import { createFakeHarness } from './fake-harness.js';
import type { FakeHarness } from './fake-harness.js';
import { watch } from './spec-helpers.js';

// Compile-time: the factory is what a vendor hands the suite, and the harness is the port.
const factory: HarnessFactory = createFakeHarness;
const asPort = (h: FakeHarness): ConformanceHarness => h;

describe('createFakeHarness', () => {
  let harness: FakeHarness;
  beforeEach(async () => { harness = await createFakeHarness({ seed: 3 }); });
  afterEach(async () => { await harness.dispose(); });

  it('satisfies the conformance harness port and supports every capability of its capture mode', async () => {
    const port = asPort(harness);
    assert.equal((await factory()).name, 'fake');
    assert.deepEqual(Object.keys(port.capabilities).sort(), [...CAPABILITIES].sort());
    const unsupported = (h: FakeHarness): string[] => Object.entries(h.capabilities).filter(([, v]) => v !== true).map(([c]) => c).sort();
    assert.deepEqual(unsupported(harness), ['changeTracking', 'faultChangeTracking']);
    assert.ok(harness.hypervisor.openTap && !harness.hypervisor.changeTracking, 'the splitter harness offers only openTap');
    const ct = await createFakeHarness({ capture: 'change-tracking' });
    try {
      assert.deepEqual(unsupported(ct), ['writeTap']);
      assert.match(String(ct.capabilities.writeTap), /change-tracking/);
      assert.ok(!ct.hypervisor.openTap && ct.hypervisor.changeTracking, 'the change-tracking harness offers only changeTracking');
    } finally {
      await ct.dispose();
    }
    await assert.rejects(harness.injectFault({ kind: 'view-lost' }), /splitter capture mode/);
    assert.ok(port.clock instanceof VirtualClock);
    assert.equal(port.consistencyAgent, harness.consistencyAgent);
    const inv = await port.hypervisor.inventory();
    assert.deepEqual(inv.hosts.map((h) => h.siteId), [harness.protectedSite.id, harness.protectedSite.id]);
    assert.deepEqual((await harness.recoveryHypervisor.inventory()).hosts.length, 1);
    assert.deepEqual(inv.networks.map((n) => n.isolated), [false, true]);
  });

  it('creates protected VMs round robin over the two hosts and writes as their guest', async () => {
    const a = await harness.createVm({ name: 'a', volumes: [{ sizeBytes: 1 << 20 }] });
    const b = await harness.createVm({ name: 'b', volumes: [{ sizeBytes: 1 << 20, sectorSize: 4096 }] });
    assert.deepEqual([a.hostId, b.hostId], ['host-1', 'host-2']);
    await assert.rejects(harness.createVm({ name: 'c', hostId: 'host-3', volumes: [{ sizeBytes: 1 << 20 }] }), ValidationError);
    const tap = await harness.hypervisor.openTap!(a.id);
    const seen: number[] = [];
    tap.start(async (w) => { seen.push(w.data[0]); });
    await harness.guestWrite(a.id, a.volumes[0].id, 512, Buffer.alloc(512, 8));
    assert.deepEqual(seen, [8]);
    assert.deepEqual(await harness.hypervisor.readVolume(a.id, a.volumes[0].id, 512, 512), Buffer.alloc(512, 8));
  });

  it('advance moves the virtual clock', async () => {
    const t0 = harness.clock.now();
    let fired = 0;
    harness.clock.setTimer(5000, () => { fired++; });
    await harness.advance(5000);
    assert.equal(harness.clock.now() - t0, 5000);
    assert.equal(fired, 1);
  });

  it('injects storage faults into the recovery storage and clears them', async () => {
    const file = await harness.recoveryStorage.open('f', { create: true });
    await harness.injectFault({ kind: 'storage-error' });
    await assert.rejects(file.write(0, Buffer.alloc(512)), (e) => e instanceof StorageError && e.reason === 'io');
    await harness.injectFault({ kind: 'storage-full' });
    await assert.rejects(file.write(0, Buffer.alloc(512)), (e) => e instanceof StorageError && e.reason === 'full');
    await harness.injectFault({ kind: 'storage-slow', delayMs: 100 });
    const slow = watch(file.write(0, Buffer.alloc(512, 1)));
    await harness.advance(99);
    assert.equal(slow.state, 'pending');
    await harness.advance(1);
    assert.equal(slow.state, 'resolved');
    await harness.clearFaults();
    assert.equal(harness.recoveryStorage.fault, undefined);
    assert.deepEqual(await file.read(0, 512), Buffer.alloc(512, 1));
  });

  it('injects a host restart: returns with the host down, back after hostDownMs of advanced time', async () => {
    const vm = await harness.createVm({ name: 'a', volumes: [{ sizeBytes: 1 << 20 }] });
    const tap = await harness.hypervisor.openTap!(vm.id);
    await harness.injectFault({ kind: 'host-restart', hostId: vm.hostId });
    assert.equal(tap.closed, true);
    await assert.rejects(harness.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(512)), HostDownError);
    await harness.advance(1000);
    await harness.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(512));
    await assert.rejects(harness.injectFault({ kind: 'host-restart', hostId: 'host-9' }), ValidationError);

    await harness.injectFault({ kind: 'host-restart', hostId: vm.hostId });
    await harness.clearFaults();
    assert.equal(harness.dataCenter.isHostUp(vm.hostId), true, 'clearFaults ends restarts early');
  });

  it('crashRecoveryStorage delegates to the memory storage with the seed', async () => {
    const seeds: number[] = [];
    const memory = harness.memoryStorage!;
    const crash = memory.crash.bind(memory);
    memory.crash = (seed: number): void => { seeds.push(seed); crash(seed); };
    const file = await harness.recoveryStorage.open('j', { create: true });
    await file.write(0, Buffer.alloc(512, 1));
    await file.flush();
    await file.write(0, Buffer.alloc(4096, 2)); // not flushed: may be lost or torn
    await harness.crashRecoveryStorage(42);
    assert.deepEqual(seeds, [42]);
    const after = await harness.recoveryStorage.readAll('j');
    assert.ok(after !== undefined && after.length >= 512);
    // The flushed write survives; the unflushed one may have landed (whole or torn) or not.
    assert.ok(after[0] === 1 || after[0] === 2);
  });

  it('in change-tracking mode injects the four change-tracking faults and clears them', async () => {
    const h = await createFakeHarness({ capture: 'change-tracking' });
    try {
      const ct = h.hypervisor.changeTracking!;
      const vm = await h.createVm({ name: 'ct', volumes: [{ sizeBytes: 1 << 20 }] });
      await ct.enable(vm.id);
      const before = await ct.openView([vm.id], 'opencdp-before');
      await h.injectFault({ kind: 'view-open-fail' });
      await assert.rejects(ct.openView([vm.id], 'opencdp-x'), /fault injected/);
      await h.injectFault({ kind: 'view-release-fail' });
      await assert.rejects(ct.releaseView(before.id), /fault injected/);
      await h.clearFaults();
      const view = await ct.openView([vm.id], 'opencdp-after');
      await ct.releaseView(before.id);
      const token = view.token(vm.volumes[0].id);
      await h.injectFault({ kind: 'token-reset', vmId: vm.id });
      const next = await ct.openView([vm.id], 'opencdp-next');
      await assert.rejects(next.changedSince(vm.volumes[0].id, token), /reset/);
      await h.injectFault({ kind: 'view-lost' });
      assert.deepEqual(await ct.listViews('opencdp-'), []);
    } finally {
      await h.dispose();
    }
  });
});

describe('createFakeHarness with journals in files', () => {
  it('keeps recovery storage in a private temporary folder behind PowerCutStorage, on an I/O-aware clock, and removes it on dispose', async () => {
    const h = await createFakeHarness({ recoveryStorage: 'files' });
    const dir = h.workDir!;
    try {
      assert.ok(h.clock instanceof IoAwareVirtualClock, 'files need a clock that waits for their I/O');
      assert.equal(h.capabilities.faultStorageCrash, true);
      assert.equal(h.memoryStorage, undefined);
      const file = await h.recoveryStorage.open('journals/j', { create: true });
      await file.write(0, Buffer.alloc(4096, 1));
      await file.flush();
      await file.write(4096, Buffer.alloc(4096, 2)); // cached by PowerCutStorage until flushed
      assert.equal((await stat(join(dir, 'recovery', 'journals', 'j'))).size, 4096, 'the unflushed write is not in the file yet');
      await h.crashRecoveryStorage(7);
      const after = (await h.recoveryStorage.readAll('journals/j'))!;
      assert.ok(after.subarray(0, 4096).equals(Buffer.alloc(4096, 1)), 'the flushed write survives the power cut');
      assert.equal(h.powerCutStorage!.unflushedBytes(), 0);
    } finally {
      await h.dispose();
    }
    assert.equal(existsSync(dir), false, 'dispose removed the folder');
  });

  it('without the power-cut cache declares faultStorageCrash unsupported and refuses to crash; a bad storage kind is refused', async () => {
    const h = await createFakeHarness({ recoveryStorage: 'files', powerCut: false });
    try {
      assert.match(String(h.capabilities.faultStorageCrash), /written straight through/);
      await assert.rejects(h.crashRecoveryStorage(1), ValidationError);
    } finally {
      await h.dispose();
    }
    await assert.rejects(createFakeHarness({ recoveryStorage: 'tape' as 'files' }), (e: unknown) => e instanceof ValidationError && e.field === 'recoveryStorage');
  });
});

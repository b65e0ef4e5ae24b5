import assert from 'node:assert/strict';
import { CAPABILITIES } from '@opencdp/core';
import { QemuToolMissingError } from './qemu-errors.js';
import { QEMU_UNSUPPORTED, qemuCapabilities } from './qemu-harness.js';
import { missingTools, requireToolsOrSkip } from './qemu-tools.js';

describe('missing QEMU tools', () => {
  const saved = process.env.CI;
  afterEach(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  });

  it('are found by name on PATH', () => {
    assert.deepEqual(missingTools(['node', 'no-such-qemu-tool']), ['no-such-qemu-tool']);
  });

  it('fail the run under CI=true with a typed error naming the package', () => {
    process.env.CI = 'true';
    const ctx = { skip: () => assert.fail('must not skip in CI') } as unknown as Mocha.Context;
    assert.throws(() => requireToolsOrSkip(ctx, ['qemu-img', 'no-such-qemu-tool']), (e: unknown) => e instanceof QemuToolMissingError && /no-such-qemu-tool/.test(e.message));
  });

  it('skip locally, loudly', () => {
    delete process.env.CI;
    let skipped = false;
    const ctx = { skip: () => { skipped = true; } } as unknown as Mocha.Context;
    const write = process.stderr.write.bind(process.stderr);
    let said = '';
    process.stderr.write = ((chunk: string) => { said += chunk; return true; }) as typeof process.stderr.write;
    try {
      requireToolsOrSkip(ctx, ['no-such-qemu-tool']);
    } finally {
      process.stderr.write = write;
    }
    assert.ok(skipped);
    assert.match(said, /SKIPPING QEMU TESTS.*no-such-qemu-tool/);
  });
});

describe('qemu capability table', () => {
  it('states every capability, with reasons for the unsupported ones', () => {
    const virtual = qemuCapabilities('virtual');
    assert.deepEqual(Object.keys(virtual).sort(), [...CAPABILITIES].sort());
    assert.equal(virtual.writeTap, true);
    assert.equal(virtual.virtualClock, true);
    assert.equal(virtual.recoveryVm, true);
    assert.equal(virtual.consistencyAgent, QEMU_UNSUPPORTED.consistencyAgent);
    const real = qemuCapabilities('real', false);
    assert.equal(real.virtualClock, QEMU_UNSUPPORTED.virtualReal);
    assert.equal(real.faultStorageCrash, QEMU_UNSUPPORTED.crashReal);
    for (const [c, v] of Object.entries(real)) assert.ok(v === true || (typeof v === 'string' && v.length > 10), `${c}: ${String(v)}`);
  });

  it('is built for one capture mode: the splitter, or change tracking with its faults and no splitter', () => {
    const splitter = qemuCapabilities('virtual');
    assert.equal(splitter.changeTracking, QEMU_UNSUPPORTED.splitterMode);
    assert.equal(splitter.faultChangeTracking, QEMU_UNSUPPORTED.splitterMode);
    const tracking = qemuCapabilities('virtual', true, 'change-tracking');
    assert.equal(tracking.writeTap, QEMU_UNSUPPORTED.changeTrackingMode);
    assert.equal(tracking.changeTracking, true);
    assert.equal(tracking.faultChangeTracking, true);
    assert.equal(tracking.faultHostRestart, true);
  });
});

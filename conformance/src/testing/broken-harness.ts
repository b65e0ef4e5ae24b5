// Deliberately broken harnesses for testing the suite itself: a conformance suite that cannot fail
// proves nothing, so these wrap a good harness and break one thing each.
import type {
  Capability, ConformanceHarness, HarnessFactory, HypervisorAdapter, WriteSink, WriteTap,
} from '@opencdp/core';

/**
 * A splitter that silently loses every `n`th write across the harness's taps: the guest's write
 * completes, the protected volume has it, replication never sees it (the bug J1 exists to catch).
 */
export function dropEveryNthWrite(factory: HarnessFactory, n = 50): HarnessFactory {
  return async () => {
    let count = 0;
    return withSinks(await factory(), (sink) => (write) => (++count % n === 0 ? Promise.resolve() : sink(write)));
  };
}

/**
 * A splitter that is not write-blocking: the guest's write completes at once and replication sees it
 * a few turns later, so a write issued after another completed can be stamped before it (J2's bug).
 */
export function completeBeforeReplicating(factory: HarnessFactory): HarnessFactory {
  return async () => {
    let count = 0;
    return withSinks(await factory(), (sink) => (write) => {
      const delay = count++ % 3;
      void (async () => {
        for (let i = 0; i < delay; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        await sink(write);
      })().catch(() => undefined); // the guest has moved on; a late failure has nobody to tell
      return Promise.resolve();
    });
  };
}

/** The same harness with one capability declared unsupported, for the reason given. */
export function withoutCapability(factory: HarnessFactory, capability: Capability, reason: string): HarnessFactory {
  return async () => {
    const inner = await factory();
    return overlay(inner, { capabilities: { ...inner.capabilities, [capability]: reason } });
  };
}

/**
 * A recovery platform whose recovery disks read zeros past the first MiB of every point-in-time image:
 * recovered VMs boot, but part of their data is missing (what R1–R4 compare by hash).
 */
export function recoveryDisksLoseData(factory: HarnessFactory): HarnessFactory {
  return async () => {
    const inner = await factory();
    const platform = inner.recoveryHypervisor ?? inner.hypervisor;
    const recoveryHypervisor: HypervisorAdapter = {
      ...delegate(platform),
      createRecoveryVm: (spec) => platform.createRecoveryVm({
        ...spec,
        disks: spec.disks.map((d) => ({
          volumeId: d.volumeId,
          source: {
            sizeBytes: (volumeId) => d.source.sizeBytes(volumeId),
            read: async (volumeId, offset, length) => {
              const data = Buffer.from(await d.source.read(volumeId, offset, length));
              const cut = Math.max(0, 1024 * 1024 - offset);
              if (cut < data.length) data.fill(0, cut);
              return data;
            },
          },
        })),
      }),
    };
    return overlay(inner, { recoveryHypervisor });
  };
}

/** The harness with every tap's sink passed through `wrap` (how the broken splitters misbehave). */
function withSinks(inner: ConformanceHarness, wrap: (sink: WriteSink) => WriteSink): ConformanceHarness {
  const wrapTap = (tap: WriteTap): WriteTap => ({
    get vmId() { return tap.vmId; },
    get delivered() { return tap.delivered; },
    start: (sink: WriteSink) => tap.start(wrap(sink)),
    close: () => tap.close(),
  });
  const hypervisor: HypervisorAdapter = {
    ...delegate(inner.hypervisor),
    openTap: async (vmId) => wrapTap(await inner.hypervisor.openTap!(vmId)),
  };
  return overlay(inner, { hypervisor });
}

/** A harness that answers from `changes` first and delegates everything else (methods stay bound). */
function overlay(inner: ConformanceHarness, changes: Partial<ConformanceHarness>): ConformanceHarness {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    clock: inner.clock,
    hypervisor: inner.hypervisor,
    ...(inner.recoveryHypervisor ? { recoveryHypervisor: inner.recoveryHypervisor } : {}),
    recoveryStorage: inner.recoveryStorage,
    ...(inner.consistencyAgent ? { consistencyAgent: inner.consistencyAgent } : {}),
    createVm: (spec) => inner.createVm(spec),
    guestWrite: (vmId, volumeId, offset, data) => inner.guestWrite(vmId, volumeId, offset, data),
    advance: (ms) => inner.advance(ms),
    injectFault: (fault) => inner.injectFault(fault),
    clearFaults: () => inner.clearFaults(),
    crashRecoveryStorage: (seed) => inner.crashRecoveryStorage(seed),
    dispose: () => inner.dispose(),
    ...changes,
  };
}

function delegate(h: HypervisorAdapter): HypervisorAdapter {
  return {
    platform: h.platform,
    inventory: () => h.inventory(),
    getVm: (vmId) => h.getVm(vmId),
    ...(h.openTap ? { openTap: (vmId: string) => h.openTap!(vmId) } : {}),
    ...(h.changeTracking ? { changeTracking: h.changeTracking } : {}),
    ...(h.promotion ? { promotion: h.promotion } : {}),
    readVolume: (vmId, volumeId, offset, length) => h.readVolume(vmId, volumeId, offset, length),
    createRecoveryVm: (spec) => h.createRecoveryVm(spec),
    powerOn: (vmId) => h.powerOn(vmId),
    shutdownGuest: (vmId) => h.shutdownGuest(vmId),
    powerOff: (vmId) => h.powerOff(vmId),
    deleteVm: (vmId) => h.deleteVm(vmId),
  };
}

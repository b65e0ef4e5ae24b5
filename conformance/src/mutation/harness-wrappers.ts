// Port-level wrappers the mutants are made of: a harness with one part replaced (its taps' sinks, its
// recovery platform, its recovery storage), everything else delegated unchanged. They work on any
// harness, so the catalogue can be run against a vendor's adapter as well as against the fake.
import type {
  ConformanceHarness, HarnessFactory, HarnessOptions, HypervisorAdapter, StorageAdapter, StoredFile, WriteSink, WriteTap,
} from '@opencdp/core';

/** A harness that answers from `changes` first and delegates everything else (methods stay bound). */
export function overlay(inner: ConformanceHarness, changes: Partial<ConformanceHarness>): ConformanceHarness {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    ...(inner.sectorSizes ? { sectorSizes: inner.sectorSizes } : {}),
    ...(inner.recoverySectorSizes ? { recoverySectorSizes: inner.recoverySectorSizes } : {}),
    clock: inner.clock,
    hypervisor: inner.hypervisor,
    ...(inner.recoveryHypervisor ? { recoveryHypervisor: inner.recoveryHypervisor } : {}),
    recoveryStorage: inner.recoveryStorage,
    ...(inner.consistencyAgent ? { consistencyAgent: inner.consistencyAgent } : {}),
    createVm: (spec) => inner.createVm(spec),
    ...(inner.addVolume ? { addVolume: (vmId: string, volume: Parameters<NonNullable<ConformanceHarness['addVolume']>>[1]) => inner.addVolume!(vmId, volume) } : {}),
    guestWrite: (vmId, volumeId, offset, data) => inner.guestWrite(vmId, volumeId, offset, data),
    advance: (ms) => inner.advance(ms),
    injectFault: (fault) => inner.injectFault(fault),
    clearFaults: () => inner.clearFaults(),
    crashRecoveryStorage: (seed) => inner.crashRecoveryStorage(seed),
    dispose: () => inner.dispose(),
    ...changes,
  };
}

/** Every method of a HypervisorAdapter delegated to `h` (optional parts only when `h` has them). */
export function delegate(h: HypervisorAdapter): HypervisorAdapter {
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

/** A factory whose harnesses pass through `wrap` (options such as the capture mode go through unchanged). */
export function wrapFactory(factory: HarnessFactory, wrap: (h: ConformanceHarness) => ConformanceHarness | Promise<ConformanceHarness>): HarnessFactory {
  return async (options?: HarnessOptions) => wrap(await factory(options));
}

/** Every tap the protected platform opens passes through `wrapTap`. */
export function withTaps(inner: ConformanceHarness, wrapTap: (tap: WriteTap) => WriteTap): ConformanceHarness {
  const open = inner.hypervisor.openTap;
  if (!open) return inner;
  return overlay(inner, { hypervisor: { ...delegate(inner.hypervisor), openTap: async (vmId) => wrapTap(await open.call(inner.hypervisor, vmId)) } });
}

/** A tap delegating to `tap` with its sink passed through `wrapSink`; `onClose` kept unless `dropOnClose`. */
export function tapWithSink(tap: WriteTap, wrapSink: (sink: WriteSink) => WriteSink, dropOnClose = false): WriteTap {
  return {
    get vmId() { return tap.vmId; },
    get delivered() { return tap.delivered; },
    start: (sink: WriteSink) => tap.start(wrapSink(sink)),
    ...(tap.onClose && !dropOnClose ? { onClose: (listener: (reason: Error | undefined) => void) => tap.onClose!(listener) } : {}),
    close: () => tap.close(),
  };
}

/** Every tap's sink passes through `wrapSink` (how the broken splitters misbehave). */
export function withSinks(inner: ConformanceHarness, wrapSink: (sink: WriteSink, tap: WriteTap) => WriteSink): ConformanceHarness {
  return withTaps(inner, (tap) => tapWithSink(tap, (sink) => wrapSink(sink, tap)));
}

/** The recovery platform (where recovery VMs are made) replaced by `make(platform)`. */
export function withRecoveryPlatform(inner: ConformanceHarness, make: (platform: HypervisorAdapter) => HypervisorAdapter): ConformanceHarness {
  const platform = inner.recoveryHypervisor ?? inner.hypervisor;
  const replaced = make(platform);
  // One platform for both sites: the protected side must see the same replacement.
  return inner.recoveryHypervisor ? overlay(inner, { recoveryHypervisor: replaced }) : overlay(inner, { hypervisor: replaced });
}

/** Recovery storage whose files pass through `wrapFile` (everything else delegated). */
export function withStorageFiles(inner: ConformanceHarness, wrapFile: (file: StoredFile) => StoredFile): ConformanceHarness {
  const s = inner.recoveryStorage;
  const storage: StorageAdapter = {
    get kind() { return s.kind; },
    capacity: () => s.capacity(),
    open: async (name, options) => wrapFile(await s.open(name, options)),
    exists: (name) => s.exists(name),
    list: (prefix) => s.list(prefix),
    delete: (name) => s.delete(name),
    replace: (name, data) => s.replace(name, data),
    readAll: (name) => s.readAll(name),
  };
  return overlay(inner, { recoveryStorage: storage });
}

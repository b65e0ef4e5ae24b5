// The mutant catalogue: adapters broken on purpose, each breaking one promise a port makes. The suite
// must kill every one (some case fails); a mutant that survives is a promise the suite does not check.
// Each mutant wraps any harness, so `opencdp-conformance mutate --adapter <yours>` runs them on a
// vendor's adapter too. Change-tracking mutants are listed as planned until that capture mode lands.
import { ValidationError } from '@opencdp/core';
import type { Capability, HarnessFactory, HypervisorAdapter, RecoveryVmSpec, StoredFile, VolumeSource, WriteSink, WriteTap } from '@opencdp/core';
import {
  delegate, overlay, tapWithSink, withRecoveryPlatform, withSinks, withStorageFiles, withTaps, wrapFactory,
} from './harness-wrappers.js';

export type MutatedPort = 'WriteTap' | 'HypervisorAdapter' | 'RecoveryDiskPromotion' | 'StorageAdapter' | 'ConformanceHarness' | 'ChangeTracking';

export interface Mutant {
  readonly id: string;
  /** The promise it breaks. */
  readonly breaks: string;
  readonly port: MutatedPort;
  /** Capabilities the harness must have for the mutant to apply (a splitter mutant needs a splitter). */
  readonly needs: readonly Capability[];
  /** Cases expected to kill it, run first; when none does, the whole suite runs. */
  readonly killers: readonly string[];
  mutate(factory: HarnessFactory): HarnessFactory;
}

/** A mutant that cannot be written yet, with what it will break and which cases should kill it. */
export interface PlannedMutant {
  readonly id: string;
  readonly breaks: string;
  readonly port: MutatedPort;
  readonly killers: readonly string[];
  readonly waitsFor: string;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The recovery platform with `change` applied to a delegate of it. */
function recoveryPlatform(factory: HarnessFactory, change: (platform: HypervisorAdapter, replaced: HypervisorAdapter) => Partial<HypervisorAdapter>): HarnessFactory {
  return wrapFactory(factory, (h) => withRecoveryPlatform(h, (platform) => {
    const replaced = delegate(platform);
    return Object.assign(replaced, change(platform, replaced));
  }));
}

/** createRecoveryVm with the spec's disks rewritten by `disks`. */
function recoveryDisks(factory: HarnessFactory, disks: (spec: RecoveryVmSpec) => RecoveryVmSpec['disks']): HarnessFactory {
  return recoveryPlatform(factory, (platform) => ({ createRecoveryVm: (spec: RecoveryVmSpec) => platform.createRecoveryVm({ ...spec, disks: disks(spec) }) }));
}

/** Both platforms of the harness with `change` applied (power verbs apply to protected and recovered VMs). */
function bothPlatforms(factory: HarnessFactory, change: (platform: HypervisorAdapter) => Partial<HypervisorAdapter>): HarnessFactory {
  return wrapFactory(factory, (h) => {
    const make = (p: HypervisorAdapter): HypervisorAdapter => Object.assign(delegate(p), change(p));
    return overlay(h, { hypervisor: make(h.hypervisor), ...(h.recoveryHypervisor ? { recoveryHypervisor: make(h.recoveryHypervisor) } : {}) });
  });
}

export const MUTANTS: readonly Mutant[] = [
  {
    id: 'completes-writes-early',
    breaks: 'the splitter completes the guest\'s write at once instead of when the sink answers (not write-blocking)',
    port: 'WriteTap', needs: ['writeTap'], killers: ['P2.1'],
    mutate: (f) => wrapFactory(f, (h) => withSinks(h, (sink) => (w) => {
      sink(w).catch(() => undefined); // the guest has moved on; a late failure has nobody to tell
      return Promise.resolve();
    })),
  },
  {
    id: 'delivers-after-completing',
    breaks: 'the guest\'s write completes at once and reaches the sink a few turns later, so a write issued after it completed can be stamped before it',
    port: 'WriteTap', needs: ['writeTap'], killers: ['J2.1', 'P2.1'],
    mutate: (f) => wrapFactory(f, (h) => {
      let count = 0;
      return withSinks(h, (sink) => (w) => {
        const delay = count++ % 3;
        void (async () => {
          for (let i = 0; i < delay; i++) await turn();
          await sink(w);
        })().catch(() => undefined);
        return Promise.resolve();
      });
    }),
  },
  {
    id: 'leaks-past-the-barrier',
    breaks: 'a write the sink holds (the checkpoint barrier) completes after one turn anyway, so a later write can be stamped before the marker',
    port: 'WriteTap', needs: ['writeTap'], killers: ['P2.1', 'J2.1'],
    mutate: (f) => wrapFactory(f, (h) => withSinks(h, (sink) => (w) => Promise.race([sink(w), turn().then(turn)]))),
  },
  {
    id: 'reorders-writes',
    breaks: 'every seventh write reaches the sink after the write the guest issued next',
    port: 'WriteTap', needs: ['writeTap'], killers: ['J1.1', 'J1.2'],
    mutate: (f) => wrapFactory(f, (h) => withSinks(h, (sink) => {
      let n = 0;
      let held: Parameters<WriteSink>[0] | undefined;
      return (w) => {
        if (held === undefined && ++n % 7 === 0) {
          held = w;
          return Promise.resolve(); // the guest goes on; its write is delivered after the next one
        }
        const first = sink(w);
        const late = held;
        held = undefined;
        if (late) sink(late).catch(() => undefined);
        return first;
      };
    })),
  },
  {
    id: 'drops-every-50th-write',
    breaks: 'every 50th guest write completes without ever reaching the sink',
    port: 'WriteTap', needs: ['writeTap'], killers: ['J1.1'],
    mutate: (f) => wrapFactory(f, (h) => {
      let count = 0;
      return withSinks(h, (sink) => (w) => (++count % 50 === 0 ? Promise.resolve() : sink(w)));
    }),
  },
  {
    id: 'drops-write-after-reconnect',
    breaks: 'a tap re-opened after the platform closed one drops the first write it sees',
    port: 'WriteTap', needs: ['writeTap', 'faultHostRestart'], killers: ['S5.4', 'S5.5', 'S5.2'],
    mutate: (f) => wrapFactory(f, (h) => {
      const opened = new Map<string, number>();
      return withTaps(h, (tap) => {
        const nth = (opened.get(tap.vmId) ?? 0) + 1;
        opened.set(tap.vmId, nth);
        let dropped = nth === 1;
        return tapWithSink(tap, (sink) => (w) => {
          if (dropped) return sink(w);
          dropped = true;
          return Promise.resolve();
        });
      });
    }),
  },
  {
    id: 'taps-never-report-closing',
    breaks: 'taps have no onClose: the kernel never learns that a host restart closed them',
    port: 'WriteTap', needs: ['writeTap', 'faultHostRestart'], killers: ['P2.2', 'S5.4'],
    mutate: (f) => wrapFactory(f, (h) => withTaps(h, (tap: WriteTap) => tapWithSink(tap, (s) => s, true))),
  },
  {
    id: 'flush-is-not-durable',
    breaks: 'recovery storage acknowledges flush without making the data durable, so a checkpoint is listed before its writes are',
    port: 'StorageAdapter', needs: ['faultStorageCrash'], killers: ['J6.1'],
    mutate: (f) => wrapFactory(f, (h) => withStorageFiles(h, (file: StoredFile): StoredFile => ({
      get name() { return file.name; },
      size: () => file.size(),
      read: (offset, length) => file.read(offset, length),
      write: (offset, data) => file.write(offset, data),
      flush: async () => undefined,
      trim: (offset, length) => file.trim(offset, length),
      resize: (size) => file.resize(size),
      close: () => file.close(),
    }))),
  },
  {
    id: 'ignores-storage-faults',
    breaks: 'the harness declares storage faults but injecting one changes nothing',
    port: 'ConformanceHarness', needs: ['faultStorageError', 'faultStorageFull'], killers: ['S9.1', 'J5.1'],
    mutate: (f) => wrapFactory(f, (h) => overlay(h, {
      injectFault: async (fault) => {
        if (fault.kind === 'storage-error' || fault.kind === 'storage-full' || fault.kind === 'storage-slow') return;
        return h.injectFault(fault);
      },
    })),
  },
  {
    id: 'writes-while-powered-off',
    breaks: 'a powered-off VM takes guest writes',
    port: 'HypervisorAdapter', needs: [], killers: ['P3.1'],
    mutate: (f) => wrapFactory(f, (h) => overlay(h, {
      guestWrite: async (vmId, volumeId, offset, data) => {
        const platforms = [h.hypervisor, ...(h.recoveryHypervisor ? [h.recoveryHypervisor] : [])];
        for (const p of platforms) {
          const vm = await p.getVm(vmId).catch(() => undefined);
          if (vm?.powerState !== 'off') continue;
          await p.powerOn(vmId);
          try {
            return await h.guestWrite(vmId, volumeId, offset, data);
          } finally {
            await p.powerOff(vmId);
          }
        }
        return h.guestWrite(vmId, volumeId, offset, data);
      },
    })),
  },
  {
    id: 'deletes-running-vm',
    breaks: 'deleteVm powers a running VM off and deletes it instead of refusing',
    port: 'HypervisorAdapter', needs: [], killers: ['P3.2'],
    mutate: (f) => bothPlatforms(f, (p) => ({
      deleteVm: async (vmId: string) => {
        if ((await p.getVm(vmId)).powerState === 'on') await p.powerOff(vmId);
        return p.deleteVm(vmId);
      },
    })),
  },
  {
    id: 'leaks-recovery-vm',
    breaks: 'deleteVm of a recovery VM answers but leaves the VM on the platform',
    port: 'HypervisorAdapter', needs: ['recoveryVm'], killers: ['P4.1', 'R1.1'],
    mutate: (f) => recoveryPlatform(f, (platform) => ({
      deleteVm: async (vmId: string) => {
        if ((await platform.getVm(vmId)).powerState === 'on') throw new ValidationError(`VM '${vmId}' is powered on`, 'vmId');
      },
    })),
  },
  {
    id: 'wrong-recovered-disk-size',
    breaks: 'recovered disks are one 4 KiB block shorter than their source',
    port: 'HypervisorAdapter', needs: ['recoveryVm'], killers: ['P4.1'],
    mutate: (f) => recoveryDisks(f, (spec) => spec.disks.map((d) => {
      const source: VolumeSource = {
        sizeBytes: (id) => Math.max(4096, d.source.sizeBytes(id) - 4096),
        read: (id, offset, length) => d.source.read(id, offset, length),
      };
      return { ...d, source };
    })),
  },
  {
    id: 'ignores-sector-size',
    breaks: 'recovered disks ignore the spec\'s sector size (the platform\'s default instead)',
    port: 'HypervisorAdapter', needs: ['recoveryVm'], killers: ['P4.1'],
    mutate: (f) => recoveryDisks(f, (spec) => spec.disks.map(({ volumeId, source }) => ({ volumeId, source }))),
  },
  {
    id: 'hosts-undeclared-sector-size',
    breaks: 'the harness declares 512-byte sectors only, yet a volume or recovery disk asking for 4096 is made with 512 instead of refused (vSphere\'s adapter once did this)',
    port: 'HypervisorAdapter', needs: [], killers: ['P1.1', 'P4.1'],
    mutate: (f) => wrapFactory(recoveryDisks(f, (spec) => spec.disks.map(({ volumeId, source }) => ({ volumeId, source }))), (h) => overlay(h, {
      sectorSizes: [512],
      recoverySectorSizes: [512],
      createVm: (spec) => h.createVm({ ...spec, volumes: spec.volumes.map(({ sectorSize: _ignored, ...v }) => v) }),
    })),
  },
  {
    id: 'disks-out-of-order',
    breaks: 'recovered disks come in reverse spec order',
    port: 'HypervisorAdapter', needs: ['recoveryVm'], killers: ['P4.1', 'R1.1'],
    mutate: (f) => recoveryDisks(f, (spec) => [...spec.disks].reverse()),
  },
  {
    id: 'recovered-disks-lose-data',
    breaks: 'recovered disks read zeros past the first MiB of their point-in-time image',
    port: 'HypervisorAdapter', needs: ['recoveryVm'], killers: ['P4.1', 'R1.1'],
    mutate: (f) => recoveryDisks(f, (spec) => spec.disks.map((d) => ({
      ...d,
      source: {
        sizeBytes: (id: string) => d.source.sizeBytes(id),
        read: async (id: string, offset: number, length: number) => {
          const data = Buffer.from(await d.source.read(id, offset, length));
          const cut = Math.max(0, 1024 * 1024 - offset);
          if (cut < data.length) data.fill(0, cut);
          return data;
        },
      },
    }))),
  },
  {
    id: 'free-bytes-never-fall',
    breaks: 'datastores report all their capacity free, whatever recovery VMs allocate',
    port: 'HypervisorAdapter', needs: ['recoveryVm'], killers: ['P4.1'],
    mutate: (f) => recoveryPlatform(f, (platform) => ({
      inventory: async () => {
        const inv = await platform.inventory();
        return { ...inv, datastores: inv.datastores.map((d) => ({ ...d, freeBytes: d.capacityBytes })) };
      },
    })),
  },
  {
    id: 'detached-disk-reads-its-image',
    breaks: 'detachDiskSource answers but the disk keeps reading through the point-in-time image',
    port: 'RecoveryDiskPromotion', needs: ['recoveryVm', 'recoveryPromotion'], killers: ['P4.2'],
    mutate: (f) => recoveryPlatform(f, (platform) => (platform.promotion ? {
      promotion: {
        promoteDisk: (vmId: string, volumeId: string, offset: number, length: number) => platform.promotion!.promoteDisk(vmId, volumeId, offset, length),
        detachDiskSource: async () => undefined,
      },
    } : {})),
  },
];

/** Mutants of the change-tracking capture mode: written once the fake implements ChangeTracking (C1–C5). */
export const PLANNED_MUTANTS: readonly PlannedMutant[] = [
  { id: 'forgets-to-release-a-view', breaks: 'releaseView answers but the platform keeps the snapshot (listViews still lists it)', port: 'ChangeTracking', killers: ['C4'], waitsFor: 'the ChangeTracking port in the fake' },
  { id: 'misses-a-changed-region', breaks: 'changedSince leaves out one region written between two views', port: 'ChangeTracking', killers: ['C2'], waitsFor: 'the ChangeTracking port in the fake' },
  { id: 'view-sees-later-writes', breaks: 'a view reads the live disk, so writes after it was taken show through', port: 'ChangeTracking', killers: ['C1', 'C2'], waitsFor: 'the ChangeTracking port in the fake' },
  { id: 'keeps-a-reset-token', breaks: 'after a tracking reset, changedSince answers for the old token instead of throwing ChangeTokenLostError', port: 'ChangeTracking', killers: ['C3'], waitsFor: 'the ChangeTracking port in the fake' },
  { id: 'leaves-a-view-after-failed-open', breaks: 'an openView that fails leaves its snapshot on the platform', port: 'ChangeTracking', killers: ['C4'], waitsFor: 'the ChangeTracking port in the fake' },
  { id: 'first-cycle-reads-everything', breaks: 'allocated() lists the whole volume, so the first cycle reads unallocated space', port: 'ChangeTracking', killers: ['C5'], waitsFor: 'the ChangeTracking port in the fake' },
];

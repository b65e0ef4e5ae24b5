// The conformance harness for the QEMU adapter: real qemu-storage-daemon hosts (two protected, one for
// recovery VMs on NBD-exported point-in-time images), guest writes through their NBD exports, and faults
// injected for real (kill -9 of a host's daemon, dropped QMP). It is built for one capture mode: the
// splitter (the write-blocking mirror into the appliance's NBD server; raw disks) or change tracking
// (fleecing views over persistent dirty bitmaps; qcow2 disks; no openTap). The kernel's clock is virtual by
// default — QEMU never reads it, and suite time then costs no wall time — or real (`clock: 'real'`).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CAPABILITIES, LocalFileStorage, MemoryStorage, settle, SystemClock, UnsupportedError, ValidationError, VirtualClock } from '@opencdp/core';
import type { Capability, CapabilityTable, Clock, ConformanceHarness, Fault, ProtectedVmSpec, StorageAdapter, VmId, VmInfo, VolumeId, VolumeInfo } from '@opencdp/core';
import { FaultyStorage } from '@opencdp/adapter-fake';
import type { QemuChangeTracking } from './qemu-change-tracking.js';
import { QemuHypervisor } from './qemu-hypervisor.js';
import { assertTools } from './qemu-tools.js';

export interface QemuHarnessOptions {
  /** `virtual` (default): the kernel's timers move only on `advance`; `real`: wall-clock time. */
  clock?: 'virtual' | 'real';
  /** Parent folder of the harness's working folder (default: the OS temp folder). */
  tmpDir?: string;
  /** How long an injected host restart keeps the daemon down, in clock time (default 500 ms). */
  hostDownMs?: number;
  /**
   * Where the recovery site's journals live: `memory` (default; crash-simulating, so J6 runs) or `files`
   * (core's LocalFileStorage in the working folder). QEMU's side is real either way.
   */
  journalStorage?: 'memory' | 'files';
  /** How long an injected hypervisor-manager restart keeps QMP away, in clock time (default 1000 ms). */
  managerDownMs?: number;
  /**
   * Dirty-bitmap granularity in change-tracking mode (default 4 KiB, the suites' write size: the journal
   * cases size their journals for the bytes written, and the adapter's own default — the 64 KiB qcow2
   * cluster — ships up to 16 times those bytes; the adapter's specs cover that default).
   */
  bitmapGranularity?: number;
  /** The capture mode the platform offers (default the splitter); `change-tracking` offers no `openTap`. */
  capture?: 'splitter' | 'change-tracking';
}

export interface QemuHarness extends ConformanceHarness {
  readonly hypervisor: QemuHypervisor;
  readonly recoveryStorage: FaultyStorage;
  readonly workDir: string;
}

export const QEMU_UNSUPPORTED = {
  consistencyAgent: 'no guest agent (qemu-ga) runs in the storage-daemon guests; VSS/fsfreeze checkpoints are tested with the fake adapter',
  crashReal: 'journals are real files on a running kernel: unflushed writes cannot be dropped on demand (use journalStorage: memory)',
  virtualReal: 'the harness runs the kernel on the wall clock (clock: real)',
  multiHost: 'the qemu harness runs its VMs on one qemu-storage-daemon (one host); the barrier across appliances is covered on the fake adapter',
  splitterMode: 'this qemu harness was built for the splitter capture mode (ask for capture: change-tracking)',
  changeTrackingMode: 'this qemu harness was built for the change-tracking capture mode: its platform offers no openTap',
} as const;

/** A fresh set of storage daemons, appliance NBD server and recovery storage; `dispose` kills and removes them all. */
export async function createQemuHarness(options: QemuHarnessOptions = {}): Promise<QemuHarness> {
  assertTools();
  const mode = options.clock ?? 'virtual';
  const capture = options.capture ?? 'splitter';
  if (capture !== 'splitter' && capture !== 'change-tracking') throw new ValidationError(`unknown capture mode '${String(capture)}'`, 'capture', 'use splitter or change-tracking');
  // In change-tracking mode a cycle's timer starts real QEMU work (a view, NBD reads, its release) whose
  // steps follow one another through promise chains: each timer's work finishes before the next timer is
  // due, as it would on a wall clock where a cycle takes far less than an interval.
  let hypervisorRef: QemuHypervisor | undefined;
  const idle = async (): Promise<void> => {
    for (let round = 0; hypervisorRef?.busy && round < 1000; round++) {
      await hypervisorRef.settled();
      await settle();
    }
  };
  const clock: Clock = mode === 'virtual' ? new VirtualClock(Date.now(), capture === 'change-tracking' ? { idle } : {}) : new SystemClock();
  const workDir = await fs.mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'ocq-'));
  let hypervisor: QemuHypervisor;
  try {
    hypervisor = await QemuHypervisor.create({
      workDir, recoveryHost: 'qemu-recovery-1', capture, clock,
      // Change tracking keeps its bitmaps in qcow2 (persistent across a clean restart); the splitter needs no format.
      ...(capture === 'change-tracking' ? { diskFormat: 'qcow2' as const, bitmapGranularity: options.bitmapGranularity ?? 4096 } : {}),
    });
  } catch (error) {
    await fs.rm(workDir, { recursive: true, force: true });
    throw error;
  }
  hypervisorRef = hypervisor;
  // Journals in memory are pure promise chains, so a virtual clock can jump without racing file I/O.
  const memory = (options.journalStorage ?? 'memory') === 'memory' ? new MemoryStorage() : undefined;
  const inner: StorageAdapter = memory ?? new LocalFileStorage(path.join(workDir, 'recovery'));
  const recoveryStorage = new FaultyStorage(inner, clock);
  const hostDownMs = options.hostDownMs ?? 500;
  const restarts = new Set<Promise<void>>();

  const managerDownMs = options.managerDownMs ?? 1000;
  const capabilities = qemuCapabilities(mode, memory !== undefined, capture);
  const tracking = (kind: string): QemuChangeTracking => {
    if (!hypervisor.changeTracking) throw new UnsupportedError(`fault '${kind}' (${capabilities.changeTracking})`);
    return hypervisor.changeTracking;
  };

  const harness: QemuHarness = {
    name: 'qemu',
    capabilities,
    clock,
    hypervisor,
    recoveryStorage,
    workDir,

    createVm(spec: ProtectedVmSpec): Promise<VmInfo> {
      return hypervisor.createVm(spec);
    },

    addVolume(vmId: VmId, volume: ProtectedVmSpec['volumes'][number]): Promise<VolumeInfo> {
      return hypervisor.addVolume(vmId, volume);
    },

    guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      return hypervisor.guestWrite(vmId, volumeId, offset, data);
    },

    async advance(ms: number): Promise<void> {
      if (clock instanceof VirtualClock) {
        // Real work started by timers (tap re-attach, daemon restart, volume reads) finishes before time moves on.
        await clock.advance(ms);
        await hypervisor.settled();
      } else {
        await clock.sleep(ms);
      }
    },

    async injectFault(fault: Fault): Promise<void> {
      switch (fault.kind) {
        case 'storage-error':
        case 'storage-full':
        case 'storage-slow':
          recoveryStorage.setFault(fault);
          return;
        case 'host-restart': {
          // kill -9 of the host's qemu-storage-daemon; it comes back on the same images after hostDownMs.
          if (!hypervisor.hostIds().includes(fault.hostId)) throw new ValidationError(`host '${fault.hostId}' is not a protected host`, 'hostId');
          await hypervisor.killHost(fault.hostId);
          clock.setTimer(hostDownMs, () => {
            const p = hypervisor.startHost(fault.hostId).catch(() => undefined);
            restarts.add(p);
            void p.then(() => restarts.delete(p));
          });
          return;
        }
        case 'hypervisor-manager-restart':
          // Every mirror is cancelled and QMP dropped; guests keep writing unsplit until QMP is back.
          await hypervisor.restartManager();
          clock.setTimer(managerDownMs, () => {
            const p = hypervisor.reconnectManager().catch(() => undefined);
            restarts.add(p);
            void p.then(() => restarts.delete(p));
          });
          return;
        case 'view-open-fail':
          // QEMU itself rejects the view's transaction (an action on a bitmap that does not exist) and rolls it back.
          tracking(fault.kind).failOpens(true);
          return;
        case 'view-release-fail':
          tracking(fault.kind).failReleases(true);
          return;
        case 'token-reset':
          // The VM's bitmaps are removed from its drives, as a QEMU process restarted without them would have none.
          await tracking(fault.kind).resetTokens(fault.vmId);
          return;
        case 'view-lost':
          // Every fleecing node, job, export and file of ours is removed behind the adapter's back.
          await tracking(fault.kind).loseViews();
          return;
        default:
          throw new ValidationError(`unknown fault '${(fault as { kind: string }).kind}'`, 'kind');
      }
    },

    async clearFaults(): Promise<void> {
      recoveryStorage.setFault(undefined);
      hypervisor.changeTracking?.failOpens(false);
      hypervisor.changeTracking?.failReleases(false);
      await hypervisor.reconnectManager();
      for (const hostId of hypervisor.hostIds()) if (!hypervisor.isHostUp(hostId)) await hypervisor.startHost(hostId);
    },

    async crashRecoveryStorage(seed: number): Promise<void> {
      if (!memory) throw new ValidationError(QEMU_UNSUPPORTED.crashReal, 'clock');
      memory.crash(seed);
    },

    async dispose(): Promise<void> {
      recoveryStorage.setFault(undefined);
      await Promise.allSettled([...restarts]);
      await hypervisor.dispose();
      await fs.rm(workDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/**
 * What this harness supports, said explicitly per capability: a capability added to the kernel later is
 * reported unsupported (with that reason) until someone decides otherwise here.
 */
export function qemuCapabilities(mode: 'virtual' | 'real', memoryJournals = true, capture: 'splitter' | 'change-tracking' = 'splitter'): CapabilityTable {
  const tracking = capture === 'change-tracking';
  const known: Partial<Record<Capability, true | string>> = {
    writeTap: tracking ? QEMU_UNSUPPORTED.changeTrackingMode : true,
    changeTracking: tracking ? true : QEMU_UNSUPPORTED.splitterMode,
    faultChangeTracking: tracking ? true : QEMU_UNSUPPORTED.splitterMode,
    virtualClock: mode === 'virtual' ? true : QEMU_UNSUPPORTED.virtualReal,
    faultStorageError: true,
    faultStorageFull: true,
    faultStorageSlow: true,
    faultStorageCrash: memoryJournals ? true : QEMU_UNSUPPORTED.crashReal,
    faultHostRestart: true,
    faultHypervisorManagerRestart: true,
    volumeHotAdd: true,
    consistencyAgent: QEMU_UNSUPPORTED.consistencyAgent,
    recoveryVm: true,
    multiHost: QEMU_UNSUPPORTED.multiHost,
    reverseProtection: true,
    recoveryPromotion: true,
  };
  return Object.fromEntries(CAPABILITIES.map((c) => [c, known[c] ?? `the qemu harness does not implement '${c}' yet`])) as CapabilityTable;
}

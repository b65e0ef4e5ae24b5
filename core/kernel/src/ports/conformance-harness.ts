// What the conformance suite needs to drive an adapter: make protected VMs, write into them as a guest
// would, move time, and inject faults. Capabilities an adapter lacks make cases skip with a reason.
import type { Clock } from '../clock.js';
import type { VmInfo, VmId, VolumeId, VolumeInfo } from '../model.js';
import type { ConsistencyAgent } from './consistency-agent.js';
import type { HypervisorAdapter } from './hypervisor-adapter.js';
import type { StorageAdapter } from './storage-adapter.js';

export const ConformanceHarness = Symbol('ConformanceHarness');

export const CAPABILITIES = [
  /** A true splitter (`openTap`): every write, in order, write-blocking. */
  'writeTap',
  /** Changed regions between platform snapshots (`changeTracking`). */
  'changeTracking',
  /** `advance` moves a virtual clock instantly instead of sleeping. */
  'virtualClock',
  /** Recovery storage can fail I/O on demand. */
  'faultStorageError',
  /** Recovery storage can report itself full. */
  'faultStorageFull',
  /** Recovery storage can be made slow. */
  'faultStorageSlow',
  /** Recovery storage can lose unflushed writes as in a power cut (kill -9 of the appliance). */
  'faultStorageCrash',
  /** A protected host can be restarted. */
  'faultHostRestart',
  /** The protected site's hypervisor manager can be restarted (taps close, VMs keep running unsplit). */
  'faultHypervisorManagerRestart',
  /** A volume can be added to a running protected VM (`addVolume`). */
  'volumeHotAdd',
  /** An application-consistency agent is available for VSS checkpoints. */
  'consistencyAgent',
  /** Recovery VMs can be created from point-in-time images. */
  'recoveryVm',
  /** Recovery disks can be promoted off their images (`HypervisorAdapter.promotion`): R7, clone. */
  'recoveryPromotion',
  /** Change-tracking faults can be injected: a view that fails to open or release, a token reset, a lost view. */
  'faultChangeTracking',
  /**
   * Recovered VMs can be protected back to the original site (reverse protection): the kernel can capture
   * writes on the recovery platform. A recovery site on another platform than the protected one may lack it.
   */
  'reverseProtection',
] as const;

export type Capability = (typeof CAPABILITIES)[number];

/** `true` = supported; a string = unsupported, saying why (listed in the conformance report). */
export type CapabilityTable = Record<Capability, true | string>;

export interface ProtectedVmSpec {
  name: string;
  hostId?: string;
  volumes: { name?: string; sizeBytes: number; sectorSize?: number }[];
}

/** What `sectorSizes` and `recoverySectorSizes` mean when a harness leaves them out. */
export const DEFAULT_SECTOR_SIZES: readonly number[] = [512, 4096];

export type Fault =
  | { kind: 'storage-error' }
  | { kind: 'storage-full' }
  | { kind: 'storage-slow'; delayMs: number }
  | { kind: 'host-restart'; hostId: string }
  /**
   * The protected site's hypervisor manager restarts: every write tap closes, VMs keep running and writing
   * (nothing splits those writes) until taps can be re-opened; the adapter's own downtime applies.
   */
  | { kind: 'hypervisor-manager-restart' }
  /** Change tracking: every `openView` fails until cleared (nothing may be left on the platform). */
  | { kind: 'view-open-fail' }
  /** Change tracking: every `releaseView` fails until cleared (the view stays on the platform). */
  | { kind: 'view-release-fail' }
  /** Change tracking: the platform forgets the VM's tokens (as a CBT reset after a storage migration does). */
  | { kind: 'token-reset'; vmId: VmId }
  /** Change tracking: open views vanish from under the kernel (reads fail; the platform no longer lists them). */
  | { kind: 'view-lost' };

/** How the suite asks for a harness; an adapter that has both capture modes builds the one asked for. */
export interface HarnessOptions {
  /** `splitter` uses `openTap`; `change-tracking` offers only `changeTracking` to the kernel. */
  capture?: 'splitter' | 'change-tracking';
}

export interface ConformanceHarness {
  readonly name: string;
  readonly capabilities: CapabilityTable;
  readonly clock: Clock;
  /** The protected site's platform. */
  readonly hypervisor: HypervisorAdapter;
  /**
   * The recovery site's platform, where recovery VMs are created (needed for `recoveryVm`); the suite
   * reads and writes recovered VMs through it. `hypervisor` is used when absent (one platform for both sites).
   */
  readonly recoveryHypervisor?: HypervisorAdapter;
  /** The recovery site's storage, where journals and replica volumes live. */
  readonly recoveryStorage: StorageAdapter;
  /**
   * Logical sector sizes the protected platform can give a volume (`createVm`, `addVolume`); [512, 4096]
   * when absent. A size outside it must be refused with a typed error that leaves nothing behind.
   */
  readonly sectorSizes?: readonly number[];
  /**
   * Logical sector sizes recovery VM disks can have (`createRecoveryVm`); `sectorSizes` when absent. A
   * spec asking for another must be refused with a typed error before anything is made (vSphere, say,
   * presents every virtual disk with 512-byte sectors, so a 4Kn volume cannot be recovered onto it).
   */
  readonly recoverySectorSizes?: readonly number[];
  /** Present when `capabilities.consistencyAgent` is true. */
  readonly consistencyAgent?: ConsistencyAgent;
  createVm(spec: ProtectedVmSpec): Promise<VmInfo>;
  /** Adds a volume to a VM (hot-add); present when `capabilities.volumeHotAdd` is true. */
  addVolume?(vmId: VmId, volume: ProtectedVmSpec['volumes'][number]): Promise<VolumeInfo>;
  /** Writes as the guest would; resolves when the guest's write completes. */
  guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void>;
  /** Moves time on: instantly on a virtual clock, by sleeping otherwise. */
  advance(ms: number): Promise<void>;
  injectFault(fault: Fault): Promise<void>;
  clearFaults(): Promise<void>;
  /** Drops (or tears) every write to recovery storage that was not flushed, as a power cut would. */
  crashRecoveryStorage(seed: number): Promise<void>;
  dispose(): Promise<void>;
}

/** What a vendor hands the suite: a factory, called once per case so cases never share state. */
export type HarnessFactory = (options?: HarnessOptions) => Promise<ConformanceHarness>;

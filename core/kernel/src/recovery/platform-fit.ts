// Can the recovery site's platform host the group, and what changes for the guests there? Checked before
// a recovery operation claims the group or makes anything (a volume larger than the target allows, a
// sector size it cannot present, firmware it lacks, a network mapping naming a network it does not
// have, a plan naming another platform), and the answer — controller, firmware, drivers, disks, NICs —
// goes into the recovery report as the cross-platform translation.
import { OpenCdpError } from '../errors.js';
import type { NetworkId, NetworkInfo, VmId, VolumeId } from '../model.js';
import type { DiskController, Firmware, PlatformLimits } from '../ports/platform-limits.js';

/** Where one NIC of a protected VM goes when it is recovered, live and in a test, with optional re-IP. */
export interface NicMapping {
  vmId: VmId;
  /** Index into the protected VM's NIC list. */
  nicIndex: number;
  liveNetworkId: NetworkId;
  testNetworkId: NetworkId;
  liveIpv4?: string;
  testIpv4?: string;
}

/** What a protected VM runs on at the protected site. */
export interface SourceHardware {
  platform: string;
  firmware?: Firmware;
  controller?: DiskController;
  networkKind?: string;
}

/** The first entries of a platform's limits: what a VM made there gets when nothing else is said. */
export function hardwareOf(platform: string, limits: PlatformLimits | undefined): SourceHardware {
  return {
    platform,
    ...(limits?.firmware[0] ? { firmware: limits.firmware[0] } : {}),
    ...(limits?.controllers[0] ? { controller: limits.controllers[0] } : {}),
    ...(limits?.networkKinds[0] ? { networkKind: limits.networkKinds[0] } : {}),
  };
}

export class VolumeTooLargeError extends OpenCdpError {
  constructor(readonly vmId: VmId, readonly volumeId: VolumeId, readonly sizeBytes: number, readonly maxBytes: number, platform: string) {
    super('VOLUME_TOO_LARGE', `volume '${volumeId}' of VM '${vmId}' is ${sizeBytes} bytes; platform '${platform}' hosts disks of at most ${maxBytes} bytes`,
      'recover onto a platform (or volume type) that takes disks this large, or leave this VM out of the operation');
  }
}

export class UnsupportedSectorSizeError extends OpenCdpError {
  constructor(readonly vmId: VmId, readonly volumeId: VolumeId, readonly sectorSize: number, readonly supported: readonly number[], platform: string) {
    super('SECTOR_SIZE_UNSUPPORTED', `volume '${volumeId}' of VM '${vmId}' has ${sectorSize}-byte sectors; platform '${platform}' presents only ${supported.join(' or ')}-byte sectors, and ${sectorSize}-byte I/O cannot be emulated on them`,
      'recover onto a platform that presents this sector size');
  }
}

export class UnsupportedFirmwareError extends OpenCdpError {
  constructor(readonly firmware: Firmware, readonly supported: readonly Firmware[], platform: string) {
    super('FIRMWARE_UNSUPPORTED', `the recovery plan asks for ${firmware} firmware; platform '${platform}' boots VMs with ${supported.join(' or ')} only`,
      `set the plan's firmware to ${supported.join(' or ')}, or recover onto another platform`);
  }
}

export class UnknownTargetNetworkError extends OpenCdpError {
  constructor(readonly networkId: NetworkId, readonly field: string, platform: string, available: readonly NetworkId[]) {
    super('UNKNOWN_TARGET_NETWORK', `the network mapping names network '${networkId}' (${field}), which platform '${platform}' at the recovery site does not have`,
      `map the NIC to one of ${available.join(', ') || '(no networks)'}`);
  }
}

export class TargetPlatformMismatchError extends OpenCdpError {
  constructor(readonly wanted: string, readonly actual: string) {
    super('TARGET_PLATFORM_MISMATCH', `the recovery plan names platform '${wanted}', but this recovery site runs '${actual}'`,
      `recover at a site running '${wanted}', or change the plan's targetPlatform`);
  }
}

/** Drivers a guest needs for a disk controller: Linux kernel modules, Windows drivers. */
export const CONTROLLER_DRIVERS: Readonly<Record<string, { linux: readonly string[]; windows: readonly string[] }>> = {
  'virtio-blk': { linux: ['virtio_blk', 'virtio_pci'], windows: ['viostor (virtio-win)'] },
  'virtio-scsi': { linux: ['virtio_scsi', 'virtio_pci'], windows: ['vioscsi (virtio-win)'] },
  ide: { linux: ['ata_piix'], windows: ['atapi (inbox)'] },
  sata: { linux: ['ahci'], windows: ['storahci (inbox)'] },
  pvscsi: { linux: ['vmw_pvscsi'], windows: ['pvscsi (VMware Tools)'] },
  lsilogic: { linux: ['mptspi'], windows: ['lsi_sas (inbox)'] },
  nvme: { linux: ['nvme'], windows: ['stornvme (inbox)'] },
  'hyperv-scsi': { linux: ['hv_storvsc', 'hv_vmbus'], windows: ['storvsc (inbox)'] },
  'hyperv-ide': { linux: ['ata_piix'], windows: ['atapi (inbox)'] },
  'fake-disk': { linux: [], windows: [] },
};

export interface DiskTranslation {
  volumeId: VolumeId;
  sizeBytes: number;
  sectorSize: number;
  /** The logical sector size the target presents (smaller than `sectorSize` when emulated, e.g. 4096 on 512). */
  targetSectorSize: number;
}

export interface NicTranslation {
  nicIndex: number;
  sourceNetworkId?: NetworkId;
  targetNetworkId?: NetworkId;
  /** Where the target network came from: the plan's mapping, or the site's default live / test network. */
  mappedBy: 'plan' | 'default';
  /** MAC rule: recovered NICs get a MAC the target assigns (the orchestrator never copies the source's). */
  mac: 'assigned-by-target';
  ipv4?: string;
}

export interface VmTranslation {
  vmId: VmId;
  name: string;
  source: Partial<SourceHardware>;
  target: { platform: string; firmware?: Firmware; controller?: DiskController; networkKind?: string };
  /** Drivers the guest needs on the target's controller (empty when the controller does not change). */
  drivers: { linux: string[]; windows: string[] };
  disks: DiskTranslation[];
  nics: NicTranslation[];
  /** What the operator should know (firmware change, emulated sectors, new MACs, unknown controller). */
  notes: string[];
}

export interface PlatformTranslation {
  targetPlatform: string;
  /** True when some VM comes from another platform than the target. */
  crossPlatform: boolean;
  vms: VmTranslation[];
}

export interface FitVm {
  id: VmId;
  name: string;
  hardware?: SourceHardware;
  volumes: readonly { id: VolumeId; sizeBytes: number; sectorSize: number }[];
  nics?: readonly { networkId: NetworkId }[];
}

export interface FitInput {
  targetPlatform: string;
  limits?: PlatformLimits;
  plan: { targetPlatform?: string; firmware?: Firmware; nics?: readonly NicMapping[] };
  vms: readonly FitVm[];
  /** The recovery site's networks. */
  networks: readonly NetworkInfo[];
  mode: 'test' | 'live' | 'clone';
  defaults: { live?: NetworkId; test?: NetworkId };
}

/**
 * Checks that the target can host every VM and returns the translation; throws the first typed error
 * otherwise. Pure: reads only its input, so callers run it before they change anything.
 */
export function checkPlatformFit(input: FitInput): PlatformTranslation {
  const { targetPlatform: platform, limits, plan } = input;
  if (plan.targetPlatform !== undefined && plan.targetPlatform !== platform) throw new TargetPlatformMismatchError(plan.targetPlatform, platform);
  if (plan.firmware !== undefined && limits && !limits.firmware.includes(plan.firmware)) throw new UnsupportedFirmwareError(plan.firmware, limits.firmware, platform);
  const known = new Set(input.networks.map((n) => n.id));
  const ids = input.networks.map((n) => n.id);
  const selected = new Set(input.vms.map((v) => v.id));
  (plan.nics ?? []).forEach((m, i) => {
    if (!selected.has(m.vmId)) return;
    if (!known.has(m.liveNetworkId)) throw new UnknownTargetNetworkError(m.liveNetworkId, `nics.${i}.liveNetworkId`, platform, ids);
    if (!known.has(m.testNetworkId)) throw new UnknownTargetNetworkError(m.testNetworkId, `nics.${i}.testNetworkId`, platform, ids);
  });
  const vms = input.vms.map((vm) => translateVm(vm, input));
  return { targetPlatform: platform, crossPlatform: vms.some((v) => v.source.platform !== undefined && v.source.platform !== platform), vms };
}

function translateVm(vm: FitVm, input: FitInput): VmTranslation {
  const { targetPlatform: platform, limits, plan } = input;
  const notes: string[] = [];
  const disks = vm.volumes.map((v) => {
    if (limits && v.sizeBytes > limits.maxVolumeBytes) throw new VolumeTooLargeError(vm.id, v.id, v.sizeBytes, limits.maxVolumeBytes, platform);
    const targetSectorSize = limits ? hostSector(v.sectorSize, limits.sectorSizes) : v.sectorSize;
    if (targetSectorSize === undefined) throw new UnsupportedSectorSizeError(vm.id, v.id, v.sectorSize, limits!.sectorSizes, platform);
    if (targetSectorSize !== v.sectorSize) {
      notes.push(`volume '${v.id}' has ${v.sectorSize}-byte sectors and is presented with ${targetSectorSize}-byte sectors: a partition table written in ${v.sectorSize}-byte LBAs is not found; the bytes are unchanged`);
    }
    return { volumeId: v.id, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize, targetSectorSize };
  });
  const source: Partial<SourceHardware> = vm.hardware ?? {};
  const firmware = plan.firmware ?? limits?.firmware[0];
  const controller = limits?.controllers[0];
  const networkKind = limits?.networkKinds[0];
  const cross = source.platform !== undefined && source.platform !== platform;
  if (source.firmware && firmware && source.firmware !== firmware) {
    notes.push(`firmware changes from ${source.firmware} to ${firmware}: the guest needs a ${firmware === 'uefi' ? 'GPT disk with an EFI system partition' : 'BIOS boot loader (MBR, or GPT with a BIOS boot partition)'}`);
  }
  const changes = controller !== undefined && controller !== source.controller;
  const known = controller !== undefined ? CONTROLLER_DRIVERS[controller] : undefined;
  if (controller !== undefined && !known) notes.push(`controller '${controller}' is not one the report knows drivers for: check the platform's guest requirements`);
  const drivers = changes && known ? { linux: [...known.linux], windows: [...known.windows] } : { linux: [], windows: [] };
  if (changes && known && known.linux.length > 0) {
    notes.push(`disks move from ${source.controller ?? 'an unknown controller'} to ${controller}: a Linux guest needs ${known.linux.join(', ')} in its initramfs, a Windows guest ${known.windows.join(', ')} installed before the move`);
  }
  const nics = nicTranslations(vm, input);
  if (cross) notes.push(`MAC addresses are assigned by '${platform}': guest rules keyed by the old MAC (udev, netplan, Windows adapter names) need updating`);
  return {
    vmId: vm.id, name: vm.name, source,
    target: { platform, ...(firmware ? { firmware } : {}), ...(controller ? { controller } : {}), ...(networkKind ? { networkKind } : {}) },
    drivers, disks, nics, notes,
  };
}

/** The sector size a target presents for a source sector size: the same, else the largest that divides it. */
function hostSector(sectorSize: number, supported: readonly number[]): number | undefined {
  if (supported.includes(sectorSize)) return sectorSize;
  const emulating = supported.filter((s) => s < sectorSize && sectorSize % s === 0).sort((a, b) => b - a);
  return emulating[0];
}

function nicTranslations(vm: FitVm, input: FitInput): NicTranslation[] {
  const count = Math.max(1, vm.nics?.length ?? 1);
  const out: NicTranslation[] = [];
  for (let i = 0; i < count; i++) {
    const m = (input.plan.nics ?? []).find((n) => n.vmId === vm.id && n.nicIndex === i);
    const test = input.mode === 'test';
    const target = test ? (m?.testNetworkId ?? input.defaults.test) : (m?.liveNetworkId ?? input.defaults.live);
    const ipv4 = test ? m?.testIpv4 : m?.liveIpv4;
    const sourceNetworkId = vm.nics?.[i]?.networkId;
    out.push({
      nicIndex: i, ...(sourceNetworkId !== undefined ? { sourceNetworkId } : {}), ...(target !== undefined ? { targetNetworkId: target } : {}),
      mappedBy: m ? 'plan' : 'default', mac: 'assigned-by-target', ...(ipv4 !== undefined ? { ipv4 } : {}),
    });
  }
  return out;
}

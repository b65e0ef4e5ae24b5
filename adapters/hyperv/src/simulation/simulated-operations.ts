// SIMULATION: what each of the adapter's (and the harness's) PowerShell operations does on a simulated
// Hyper-V host — the effect of the cmdlets and CIM methods the script calls, and the JSON its projection
// prints. Failures are thrown as SimulatedCmdletError with the cmdlet, message, error id and category (or
// CIM return value) that Hyper-V documents for the case.
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { HvCheckpoint, HvDiskChanges, HvInventory, HvReferencePoint, HvVm, NewVmDisk, NewVmNic } from '../hyperv-scripts.js';
import type { PsParam } from '../powershell/ps-script.js';
import { VhdxFile } from '../vhdx/vhdx-file.js';
import { findVm, SimulatedCmdletError, type SimCheckpoint, type SimDisk, type SimState, type SimVm, type SimulatedHost } from './simulated-host.js';

type Params = Readonly<Record<string, PsParam>>;
type Handler = (host: SimulatedHost, state: SimState, p: Params) => Promise<unknown>;

const MIN_RCT_VERSION = 8.0;

function str(p: Params, k: string): string {
  const v = p[k];
  if (typeof v !== 'string') throw new SimulatedCmdletError('', `Cannot bind argument to parameter '${k}' because it is null or not a string.`, 'ParameterArgumentValidationError', 'InvalidData');
  return v;
}

function num(p: Params, k: string): number {
  const v = p[k];
  if (typeof v !== 'number') throw new SimulatedCmdletError('', `Cannot convert value of parameter '${k}' to a number.`, 'ParameterArgumentTransformationError', 'InvalidData');
  return v;
}

function cimFailure(method: string, returnValue: number, message: string): SimulatedCmdletError {
  return new SimulatedCmdletError(method, message, 'ScriptHalted', 'OperationStopped', returnValue);
}

async function projectVm(host: SimulatedHost, vm: SimVm): Promise<HvVm> {
  const disks = [];
  for (const d of vm.disks) {
    const current = d.chain.at(-1)!;
    const f = await VhdxFile.open(host.local(current));
    try {
      disks.push({
        ControllerType: d.ControllerType, ControllerNumber: d.ControllerNumber, ControllerLocation: d.ControllerLocation, Path: current,
        VhdFormat: 'VHDX', VhdType: d.chain.length > 1 ? 'Differencing' : 'Dynamic', Size: f.virtualSize, LogicalSectorSize: f.logicalSectorSize,
        ParentPath: d.chain.length > 1 ? d.chain.at(-2)! : null,
      });
    } finally {
      await f.close();
    }
  }
  return {
    Id: vm.Id, Name: vm.Name, State: vm.State, Generation: vm.Generation, Version: vm.Version, Path: vm.Path, Notes: vm.Notes,
    IsClustered: false, ComputerName: '', Disks: disks,
    Nics: vm.nics.map((n) => ({ Id: n.Id, Name: n.Name, MacAddress: n.MacAddress, SwitchName: n.SwitchName, IPAddresses: [], StaticIPAddresses: n.StaticIPAddresses })),
  };
}

function projectCheckpoint(state: SimState, c: SimCheckpoint): HvCheckpoint {
  const vm = findVm(state, c.VMId);
  return {
    Id: c.Id, Name: c.Name, VMId: c.VMId, VMName: vm.Name, CreationTime: c.CreationTime,
    Disks: c.disks.map((d) => ({ ControllerType: vm.disks[d.slot].ControllerType, ControllerNumber: vm.disks[d.slot].ControllerNumber, ControllerLocation: vm.disks[d.slot].ControllerLocation, Path: d.path })),
  };
}

function projectReferencePoint(r: SimState['referencePoints'][number]): HvReferencePoint {
  return {
    InstanceID: r.InstanceID, VirtualSystemIdentifier: r.VMId, ConsistencyLevel: r.ConsistencyLevel,
    Disks: r.disks.map((d) => ({ VirtualDiskIdentifier: `Microsoft:${r.VMId.toUpperCase()}\\${d.key}\\0\\${d.slot}\\L`, ResilientChangeTrackingIdentifier: d.rctId, Path: d.path })),
  };
}

/** Merges the checkpoint's frozen file with its child (the next checkpoint's, or the live one): the child takes its name. */
async function mergeCheckpoint(host: SimulatedHost, state: SimState, c: SimCheckpoint): Promise<void> {
  const vm = findVm(state, c.VMId);
  for (const d of c.disks) {
    const disk = vm.disks[d.slot];
    const at = disk.chain.indexOf(d.path);
    if (at < 0 || at === disk.chain.length - 1) continue;
    const child = disk.chain[at + 1];
    await fs.rename(host.local(child), host.local(d.path));
    disk.chain.splice(at + 1, 1);
    for (const other of state.checkpoints) for (const od of other.disks) if (od.path === child) od.path = d.path;
  }
  state.checkpoints = state.checkpoints.filter((x) => x !== c);
}

function rctId(state: SimState, disk: SimDisk, seq: number): string {
  return `rctX:${state.rct[disk.key].guid}:${seq}`;
}

/** Trims each disk's RCT log below the oldest position still named by a reference point or a checkpoint. */
function trimRct(state: SimState): void {
  for (const [key, rct] of Object.entries(state.rct)) {
    const held = [
      ...state.referencePoints.flatMap((r) => r.disks.filter((d) => d.key === key && d.rctId.includes(rct.guid)).map((d) => d.seq)),
      ...state.checkpoints.flatMap((c) => c.disks.filter((d) => findVm(state, c.VMId).disks[d.slot]?.key === key).map((d) => d.seq)),
    ];
    const floor = held.length > 0 ? Math.min(...held) : rct.seq;
    if (floor > rct.floor) {
      rct.floor = floor;
      rct.log = rct.log.filter(([seq]) => seq > floor);
    }
  }
}

function newDiskKey(): string {
  return randomUUID().toUpperCase();
}

export const SIMULATED_OPERATIONS: Readonly<Record<string, Handler>> = {
  'Open-OpenCdpRemoteSession': async () => null,

  'Get-OpenCdpInventory': async (host, state, p) => {
    const paths = Array.isArray(p.storagePaths) ? (p.storagePaths as unknown[]).map(String) : [];
    const vms: HvVm[] = [];
    for (const vm of state.vms) vms.push(await projectVm(host, vm));
    const volumes = [];
    for (const x of paths) volumes.push({ Path: x, ...(await host.volume(x, state.volumeBytes)) });
    const inventory: HvInventory = {
      Host: { ComputerName: state.ComputerName, VirtualHardDiskPath: state.VirtualHardDiskPath, VirtualMachinePath: state.VirtualMachinePath },
      Volumes: volumes,
      Switches: state.switches,
      Vms: vms,
      ClusterGroups: [],
    };
    return inventory;
  },

  'Get-OpenCdpVm': async (host, state, p) => projectVm(host, findVm(state, str(p, 'vmId'))),

  'Get-OpenCdpHost': async (_host, state) => ({ ComputerName: state.ComputerName, Switches: state.switches }),

  'New-OpenCdpRecoveryCheckpoint': async (host, state, p) => {
    const vm = findVm(state, str(p, 'vmId'));
    const level = num(p, 'consistencyLevel');
    if (level === 1 && !vm.GuestVss && vm.State === 'Running') {
      throw cimFailure('CreateSnapshot', 32768, `'${vm.Name}' could not initiate a checkpoint operation: the guest did not respond to the production checkpoint request (VSS).`);
    }
    const id = randomUUID().toUpperCase();
    const c: SimCheckpoint = { Id: id, Name: str(p, 'name'), VMId: vm.Id, CreationTime: new Date().toISOString(), ConsistencyLevel: level, disks: [] };
    for (let slot = 0; slot < vm.disks.length; slot++) {
      const disk = vm.disks[slot];
      const frozen = disk.chain.at(-1)!;
      const dir = path.win32.dirname(disk.chain[0]);
      const base = path.win32.basename(disk.chain[0]).replace(/\.vhdx$/i, '');
      const avhdx = `${dir}\\${base}_${randomUUID().toUpperCase()}.avhdx`;
      await fs.copyFile(host.local(frozen), host.local(avhdx));
      disk.chain.push(avhdx);
      c.disks.push({ slot, path: frozen, seq: state.rct[disk.key].seq });
    }
    state.checkpoints.push(c);
    return projectCheckpoint(state, c);
  },

  'Get-OpenCdpRecoveryCheckpoints': async (_host, state, p) => {
    const prefix = str(p, 'prefix');
    return state.checkpoints.filter((c) => c.Name.startsWith(prefix)).map((c) => projectCheckpoint(state, c));
  },

  'Remove-OpenCdpRecoveryCheckpoint': async (host, state, p) => {
    const vm = findVm(state, str(p, 'vmId'));
    const c = state.checkpoints.find((x) => x.VMId === vm.Id && x.Id.toLowerCase() === str(p, 'checkpointId').toLowerCase());
    if (c) await mergeCheckpoint(host, state, c);
    trimRct(state);
    return { Removed: c !== undefined };
  },

  'ConvertTo-OpenCdpReferencePoint': async (host, state, p) => {
    const c = state.checkpoints.find((x) => x.Id.toLowerCase() === str(p, 'checkpointId').toLowerCase());
    if (!c) throw new SimulatedCmdletError('', `recovery checkpoint ${str(p, 'checkpointId')} does not exist`, 'recovery checkpoint does not exist', 'OperationStopped');
    const vm = findVm(state, c.VMId);
    if (Number(vm.Version) < MIN_RCT_VERSION) {
      throw cimFailure('ConvertToReferencePoint', 1, `ConvertToReferencePoint failed with return value 1 (not supported: configuration version ${vm.Version} of '${vm.Name}' has no RCT reference points)`);
    }
    const point = {
      InstanceID: `Microsoft:${randomUUID().toUpperCase()}`, VMId: vm.Id, ConsistencyLevel: c.ConsistencyLevel,
      disks: c.disks.map((d) => ({ slot: d.slot, path: vm.disks[d.slot].chain[0], rctId: rctId(state, vm.disks[d.slot], d.seq), seq: d.seq, key: vm.disks[d.slot].key })),
    };
    await mergeCheckpoint(host, state, c);
    state.referencePoints.push(point);
    trimRct(state);
    return projectReferencePoint(point);
  },

  'Get-OpenCdpReferencePoints': async (_host, state, p) => state.referencePoints.filter((r) => r.VMId.toLowerCase() === str(p, 'vmId').toLowerCase()).map(projectReferencePoint),

  'Remove-OpenCdpReferencePoint': async (_host, state, p) => {
    const before = state.referencePoints.length;
    state.referencePoints = state.referencePoints.filter((r) => r.InstanceID !== str(p, 'instanceId'));
    trimRct(state);
    return { Removed: state.referencePoints.length < before };
  },

  'Get-OpenCdpVirtualDiskChanges': async (_host, state, p): Promise<HvDiskChanges> => {
    const target = str(p, 'path');
    const limit = str(p, 'limitId');
    const offset = num(p, 'byteOffset');
    const length = num(p, 'byteLength');
    // The path names a checkpoint's frozen file (changes up to the checkpoint) or a VM's live file.
    let key: string | undefined;
    let until = 0;
    for (const c of state.checkpoints) {
      for (const d of c.disks) {
        if (d.path === target) {
          key = findVm(state, c.VMId).disks[d.slot].key;
          until = d.seq;
        }
      }
    }
    if (!key) {
      for (const vm of state.vms) for (const d of vm.disks) if (d.chain.at(-1) === target) { key = d.key; until = state.rct[d.key].seq; }
    }
    if (!key) throw cimFailure('GetVirtualDiskChanges', 32779, `GetVirtualDiskChanges failed: the system cannot find the file specified (${target})`);
    const rct = state.rct[key];
    const m = /^rctX:([0-9A-F-]+):(\d+)$/.exec(limit);
    if (!m || m[1] !== rct.guid || Number(m[2]) < rct.floor || Number(m[2]) > until) {
      throw cimFailure('GetVirtualDiskChanges', 32773, `GetVirtualDiskChanges failed: the change tracking identifier '${limit}' is not valid for '${target}' (invalid parameter)`);
    }
    const since = Number(m[2]);
    const processed = Math.min(length, state.maxProcessedBytes);
    const g = state.rctGranularity;
    const ranges: [number, number][] = [];
    for (const [seq, o, l] of rct.log) {
      if (seq <= since || seq > until) continue;
      const start = Math.max(offset, Math.floor(o / g) * g);
      const end = Math.min(offset + processed, Math.ceil((o + l) / g) * g);
      if (end > start) ranges.push([start, end]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of ranges) {
      const last = merged.at(-1);
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([...r]);
    }
    return { ProcessedByteLength: processed, ChangedByteOffsets: merged.map((r) => r[0]), ChangedByteLengths: merged.map((r) => r[1] - r[0]) };
  },

  'New-OpenCdpRecoveryVm': async (host, state, p) => {
    const vmId = randomUUID();
    const name = str(p, 'name');
    const vm: SimVm = {
      Id: vmId, Name: name, State: 'Off', Generation: num(p, 'generation'), Version: '9.0', Path: str(p, 'vmPath'), Notes: str(p, 'notes'), GuestVss: true, disks: [], nics: [],
    };
    if (vm.Generation !== 1 && vm.Generation !== 2) throw new SimulatedCmdletError('New-VM', `Cannot validate argument on parameter 'Generation'. The argument "${vm.Generation}" does not belong to the set "1,2".`, 'ParameterArgumentValidationError,Microsoft.HyperV.PowerShell.Commands.NewVM', 'InvalidData');
    const disks = (p.disks as NewVmDisk[] | null) ?? [];
    const nics = (p.nics as NewVmNic[] | null) ?? [];
    for (const [i, d] of disks.entries()) {
      const local = host.local(d.Path);
      await VhdxFile.open(local).then((f) => f.close(), () => {
        throw new SimulatedCmdletError('Add-VMHardDiskDrive', `Failed to add device 'Virtual Hard Disk'. The system cannot find the file specified. (${d.Path})`, 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.AddVMHardDiskDrive', 'ObjectNotFound');
      });
      const ide = vm.Generation === 1 && i === 0;
      vm.disks.push({ ControllerType: ide ? 'IDE' : 'SCSI', ControllerNumber: 0, ControllerLocation: ide ? 0 : vm.Generation === 1 ? i - 1 : i, chain: [d.Path], key: newDiskKey() });
    }
    for (const n of nics) {
      if (!state.switches.some((s) => s.Name === n.SwitchName)) {
        throw new SimulatedCmdletError('Add-VMNetworkAdapter', `Hyper-V was unable to find a virtual switch with name "${n.SwitchName}".`, 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.AddVMNetworkAdapter', 'ObjectNotFound');
      }
      if (n.MacAddress !== null && !/^[0-9A-F]{12}$/.test(n.MacAddress)) {
        throw new SimulatedCmdletError('Set-VMNetworkAdapter', `Cannot validate argument on parameter 'StaticMacAddress'. '${n.MacAddress}' is not a valid MAC address.`, 'ParameterArgumentValidationError,Microsoft.HyperV.PowerShell.Commands.SetVMNetworkAdapter', 'InvalidData');
      }
      vm.nics.push({ Id: `Microsoft:${vmId.toUpperCase()}\\${randomUUID().toUpperCase()}`, Name: n.Name, MacAddress: n.MacAddress ?? '00155D' + randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase(), SwitchName: n.SwitchName, StaticIPAddresses: [] });
    }
    for (const d of vm.disks) state.rct[d.key] = { guid: newDiskKey(), seq: 0, floor: 0, log: [] };
    state.vms.push(vm);
    return projectVm(host, vm);
  },

  'Set-OpenCdpGuestNetwork': async (_host, state, p) => {
    const vm = findVm(state, str(p, 'vmId'));
    const nic = vm.nics.find((n) => n.Name === str(p, 'nicName'));
    if (!nic) throw new SimulatedCmdletError('', `VM ${vm.Id} has no network adapter ${str(p, 'nicName')}`, `VM ${vm.Id} has no network adapter`, 'OperationStopped');
    nic.StaticIPAddresses = [str(p, 'ipAddress')];
    return { ReturnValue: 0 };
  },

  'Start-OpenCdpVm': async (_host, state, p) => {
    findVm(state, str(p, 'vmId')).State = 'Running';
    return null;
  },

  'Stop-OpenCdpVm': async (_host, state, p) => {
    findVm(state, str(p, 'vmId')).State = 'Off';
    return null;
  },

  'Remove-OpenCdpVm': async (host, state, p) => {
    const vm = findVm(state, str(p, 'vmId'));
    const files = vm.disks.map((d) => d.chain.at(-1)!);
    for (const c of state.checkpoints.filter((x) => x.VMId === vm.Id)) await mergeCheckpoint(host, state, c);
    for (const d of vm.disks) {
      await fs.rm(host.local(d.chain.at(-1)!), { force: true });
      delete state.rct[d.key];
    }
    state.referencePoints = state.referencePoints.filter((r) => r.VMId !== vm.Id);
    state.vms = state.vms.filter((v) => v !== vm);
    const folder = p.folder;
    if (typeof folder === 'string' && folder !== '') await fs.rm(host.local(folder), { recursive: true, force: true });
    return { RemovedFiles: files };
  },

  // ---- what an administrator does (the harness) ----------------------------------------------------

  'New-OpenCdpTestVm': async (host, state, p) => {
    const switchName = str(p, 'switchName');
    if (!state.switches.some((s) => s.Name === switchName)) throw new SimulatedCmdletError('Connect-VMNetworkAdapter', `Hyper-V was unable to find a virtual switch with name "${switchName}".`, 'ObjectNotFound', 'ObjectNotFound');
    const vm: SimVm = {
      Id: randomUUID(), Name: str(p, 'name'), State: 'Running', Generation: num(p, 'generation'), Version: '10.0', Path: str(p, 'vmPath'), Notes: '', GuestVss: true, disks: [],
      nics: [{ Id: '', Name: 'Network Adapter', MacAddress: '00155D' + randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase(), SwitchName: switchName, StaticIPAddresses: [] }],
    };
    vm.nics[0].Id = `Microsoft:${vm.Id.toUpperCase()}\\${randomUUID().toUpperCase()}`;
    for (const [i, d] of ((p.disks as { Path: string; SizeBytes: number; LogicalSectorSize: number }[]) ?? []).entries()) {
      await newVhd(host, d.Path, d.SizeBytes, d.LogicalSectorSize);
      const disk: SimDisk = { ControllerType: 'SCSI', ControllerNumber: 0, ControllerLocation: i, chain: [d.Path], key: newDiskKey() };
      vm.disks.push(disk);
      state.rct[disk.key] = { guid: newDiskKey(), seq: 0, floor: 0, log: [] };
    }
    state.vms.push(vm);
    return { Id: vm.Id };
  },

  'Add-OpenCdpTestVhd': async (host, state, p) => {
    const vm = findVm(state, str(p, 'vmId'));
    await newVhd(host, str(p, 'path'), num(p, 'sizeBytes'), num(p, 'logicalSectorSize'));
    const disk: SimDisk = { ControllerType: 'SCSI', ControllerNumber: 0, ControllerLocation: vm.disks.length, chain: [str(p, 'path')], key: newDiskKey() };
    vm.disks.push(disk);
    state.rct[disk.key] = { guid: newDiskKey(), seq: 0, floor: 0, log: [] };
    return null;
  },

  'Move-OpenCdpTestVmStorage': async (host, state, p) => {
    const vm = findVm(state, str(p, 'vmId'));
    const dest = str(p, 'destination').replace(/\\+$/, '');
    if (state.checkpoints.some((c) => c.VMId === vm.Id)) {
      throw new SimulatedCmdletError('Move-VMStorage', `The operation cannot be performed while the virtual machine '${vm.Name}' has checkpoints in progress.`, 'InvalidOperation,Microsoft.HyperV.PowerShell.Commands.MoveVMStorage', 'InvalidOperation');
    }
    await fs.mkdir(host.local(dest), { recursive: true });
    for (const d of vm.disks) {
      const to = `${dest}\\${path.win32.basename(d.chain[0])}`;
      await fs.rename(host.local(d.chain[0]), host.local(to));
      d.chain = [to];
      // A moved VHDX starts a new change tracking history: earlier RCT ids are unknown to it.
      state.rct[d.key] = { guid: newDiskKey(), seq: 0, floor: 0, log: [] };
    }
    state.referencePoints = state.referencePoints.filter((r) => r.VMId !== vm.Id);
    return null;
  },

  'Remove-OpenCdpTestCheckpoints': async (host, state, p) => {
    for (const c of state.checkpoints.filter((x) => x.Name.startsWith(str(p, 'prefix')))) await mergeCheckpoint(host, state, c);
    trimRct(state);
    return null;
  },
};

async function newVhd(host: SimulatedHost, winPath: string, size: number, sector: number): Promise<void> {
  const local = host.local(winPath);
  await fs.mkdir(path.dirname(local), { recursive: true });
  try {
    const f = await VhdxFile.create(local, { virtualSize: size, blockSize: 1024 * 1024, logicalSectorSize: sector, physicalSectorSize: 4096, mode: 0o644 });
    await f.close();
  } catch (error) {
    throw new SimulatedCmdletError('New-VHD', `Failed to create the virtual hard disk ${winPath}: ${(error as Error).message}`, 'CreateVirtualHardDisk,Microsoft.Vhd.PowerShell.Cmdlets.NewVhd', 'InvalidArgument');
  }
}

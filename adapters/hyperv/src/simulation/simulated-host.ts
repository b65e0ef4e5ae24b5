// SIMULATION of a Hyper-V host, for tests: no PowerShell or Hyper-V runs on these machines. A state model
// of VMs, recovery checkpoints, RCT reference points and per-disk change logs, kept in a JSON file beside
// a local folder that stands for the host's drives (`C:\X` ↔ `<root>/C/X`), where the VHDX files really
// are. Each operation the adapter's scripts perform is carried out here with the documented behaviour and
// output shape of the cmdlets and CIM methods they call. What it simplifies, on purpose: a checkpoint's
// AVHDX is a full copy (not a differencing disk: nothing here can make one), merging is a rename, RCT is a
// log of written ranges at a fixed granularity, and CIM methods finish synchronously (no jobs).
import { randomUUID } from 'node:crypto';
import { promises as fs, statfsSync } from 'node:fs';
import path from 'node:path';
import { VmPoweredOffError } from '@opencdp/adapter-fake';
import { VhdxFile } from '../vhdx/vhdx-file.js';

export const SIMULATION_DIR = '.simulated-hyperv';
/** The environment variable naming the simulated host's folder for the simulated shell. */
export const SIMULATED_ROOT_ENV = 'OPENCDP_SIMULATED_HYPERV_ROOT';

export interface SimDisk {
  ControllerType: 'IDE' | 'SCSI';
  ControllerNumber: number;
  ControllerLocation: number;
  /** The disk's files, base first: each checkpoint froze one, the last is where the VM writes now. */
  chain: string[];
  /** The RCT identity of the virtual disk (stable across checkpoints; a storage move gives a new one). */
  key: string;
}

export interface SimNic {
  Id: string;
  Name: string;
  MacAddress: string;
  SwitchName: string | null;
  StaticIPAddresses: string[];
}

export interface SimVm {
  Id: string;
  Name: string;
  State: 'Running' | 'Off';
  Generation: number;
  Version: string;
  Path: string;
  Notes: string;
  /** False: the guest has no working VSS (production checkpoints fail). */
  GuestVss: boolean;
  disks: SimDisk[];
  nics: SimNic[];
}

export interface SimCheckpoint {
  Id: string;
  Name: string;
  VMId: string;
  CreationTime: string;
  ConsistencyLevel: number;
  /** Per disk slot: the frozen file and the RCT position at the checkpoint. */
  disks: { slot: number; path: string; seq: number }[];
}

export interface SimReferencePoint {
  InstanceID: string;
  VMId: string;
  ConsistencyLevel: number;
  disks: { slot: number; path: string; rctId: string; seq: number; key: string }[];
}

export interface SimRct {
  guid: string;
  seq: number;
  /** Ids below this position are no longer known (the log was trimmed). */
  floor: number;
  /** [seq, offset, length] of every write since `floor`. */
  log: [number, number, number][];
}

export interface SimFault {
  /** Operation name (`Get-OpenCdpInventory`, …) or `*`. */
  op: string;
  kind: 'die' | 'hang' | 'garbage' | 'bad-schema' | 'fail';
  /** How many commands it hits; absent: until cleared. */
  times?: number;
  message?: string;
  cmdlet?: string;
  errorId?: string;
  returnValue?: number;
}

export interface SimState {
  ComputerName: string;
  VirtualHardDiskPath: string;
  VirtualMachinePath: string;
  switches: { Id: string; Name: string; SwitchType: string }[];
  vms: SimVm[];
  checkpoints: SimCheckpoint[];
  referencePoints: SimReferencePoint[];
  rct: Record<string, SimRct>;
  faults: SimFault[];
  /** RCT granularity in bytes (ranges are widened to it). */
  rctGranularity: number;
  /** GetVirtualDiskChanges processes at most this many bytes per call. */
  maxProcessedBytes: number;
  /** Size of the simulated volume behind every storage path. */
  volumeBytes: number;
  /** Number of commands served (for tests). */
  commands: number;
}

/** A failure shaped like PowerShell's: the cmdlet, its message, FullyQualifiedErrorId and category. */
export class SimulatedCmdletError extends Error {
  constructor(readonly cmdlet: string, message: string, readonly errorId: string, readonly category: string, readonly returnValue?: number) {
    super(message);
  }
}

export interface SimulatedHostOptions {
  computerName?: string;
  switches?: { Name: string; SwitchType: 'External' | 'Internal' | 'Private' }[];
  rctGranularity?: number;
  maxProcessedBytes?: number;
}

/** The simulated host rooted at `root` (the folder standing for its drives). */
export class SimulatedHost {
  constructor(readonly root: string) {}

  get stateFile(): string {
    return path.join(this.root, SIMULATION_DIR, 'state.json');
  }

  /** Creates the host's folders and an empty state. */
  static async create(root: string, options: SimulatedHostOptions = {}): Promise<SimulatedHost> {
    const host = new SimulatedHost(root);
    await fs.mkdir(path.join(root, SIMULATION_DIR), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.join(root, 'C', 'Hyper-V', 'Virtual Hard Disks'), { recursive: true });
    await fs.mkdir(path.join(root, 'C', 'Hyper-V', 'Virtual Machines'), { recursive: true });
    const state: SimState = {
      ComputerName: options.computerName ?? 'HV-SIM-01',
      VirtualHardDiskPath: 'C:\\Hyper-V\\Virtual Hard Disks',
      VirtualMachinePath: 'C:\\Hyper-V\\Virtual Machines',
      switches: (options.switches ?? [{ Name: 'LAN', SwitchType: 'External' }, { Name: 'Isolated Test', SwitchType: 'Private' }]).map((s) => ({ Id: randomUUID(), ...s })),
      vms: [], checkpoints: [], referencePoints: [], rct: {}, faults: [],
      rctGranularity: options.rctGranularity ?? 64 * 1024,
      maxProcessedBytes: options.maxProcessedBytes ?? 1024 ** 3,
      volumeBytes: 64 * 1024 ** 3,
      commands: 0,
    };
    await host.save(state);
    return host;
  }

  /** `C:\X\Y` → `<root>/C/X/Y`. Paths must be absolute Windows paths with a drive letter. */
  local(winPath: string): string {
    const m = /^([A-Za-z]):\\(.*)$/s.exec(winPath);
    if (!m) throw new SimulatedCmdletError('Get-Item', `Cannot find path '${winPath}' because it does not exist.`, 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand', 'ObjectNotFound');
    const parts = m[2].split('\\').filter((p) => p !== '');
    if (parts.some((p) => p === '..' || p === '.')) throw new SimulatedCmdletError('Get-Item', `The path '${winPath}' is not allowed.`, 'InvalidPath', 'InvalidArgument');
    return path.join(this.root, m[1].toUpperCase(), ...parts);
  }

  async load(): Promise<SimState> {
    return JSON.parse(await fs.readFile(this.stateFile, 'utf8')) as SimState;
  }

  async save(state: SimState): Promise<void> {
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
    await fs.rename(tmp, this.stateFile);
  }

  /**
   * Runs `fn` on the state under the host's lock (a directory made atomically; a lock left by a process that
   * died is broken), saving what it changed. Guest writes and simulator commands from any process serialise here.
   */
  async withState<T>(fn: (state: SimState) => Promise<T>): Promise<T> {
    const lock = path.join(this.root, SIMULATION_DIR, 'lock');
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.mkdir(lock);
        await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(await fs.readFile(path.join(lock, 'pid'), 'utf8').catch(() => '0'));
        if (owner > 0 && !alive(owner)) {
          await fs.rm(lock, { recursive: true, force: true });
          continue;
        }
        if (attempt > 6000) throw new Error(`the simulated host's lock is held by process ${owner}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    try {
      const state = await this.load();
      const result = await fn(state);
      await this.save(state);
      return result;
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  }

  /**
   * Get-Volume's Size and SizeRemaining for a host folder: a simulated volume of `volumeBytes` (the state's
   * capacity, capped by the real file system's) less the bytes allocated under the folder — so what a test
   * writes there shows, whatever other processes do to the machine's disk.
   */
  async volume(winPath: string, volumeBytes: number): Promise<{ Size: number; SizeRemaining: number }> {
    const fsStat = statfsSync(this.root);
    const size = Math.min(volumeBytes, fsStat.blocks * fsStat.bsize);
    const used = await allocatedBytes(this.local(winPath));
    return { Size: size, SizeRemaining: Math.max(0, size - used) };
  }

  // ---- guest I/O (the simulated guest and the harness) ----------------------------------------------

  /** A guest write to disk `slot` of a running VM: lands in the disk's current file, and RCT records the range. */
  async guestWrite(vmId: string, slot: number, offset: number, data: Buffer): Promise<void> {
    await this.withState(async (state) => {
      const vm = findVm(state, vmId);
      if (vm.State !== 'Running') throw new VmPoweredOffError(vm.Id.toLowerCase());
      const disk = vm.disks[slot];
      if (!disk) throw new Error(`VM ${vm.Name} has no disk ${slot}`);
      const file = await VhdxFile.open(this.local(disk.chain.at(-1)!), { writable: true, durable: false });
      try {
        await file.write(offset, data);
      } finally {
        await file.close();
      }
      const rct = state.rct[disk.key];
      rct.seq++;
      rct.log.push([rct.seq, offset, data.length]);
    });
  }

  /** What the guest of a VM reads from disk `slot` now. */
  async guestRead(vmId: string, slot: number, offset: number, length: number): Promise<Buffer> {
    const state = await this.load();
    const disk = findVm(state, vmId).disks[slot];
    if (!disk) throw new Error(`VM ${vmId} has no disk ${slot}`);
    const file = await VhdxFile.open(this.local(disk.chain.at(-1)!));
    try {
      return await file.read(offset, length);
    } finally {
      await file.close();
    }
  }

  /** Adds a simulation fault (see SimFault); it lasts `times` commands or until cleared. */
  async addFault(fault: SimFault): Promise<void> {
    await this.withState(async (s) => { s.faults.push(fault); });
  }

  async clearFaults(): Promise<void> {
    await this.withState(async (s) => { s.faults = []; });
  }

  /** Test settings of the simulation: a VM's configuration version, whether its guest's VSS works. */
  async setVm(vmId: string, patch: Partial<Pick<SimVm, 'Version' | 'GuestVss'>>): Promise<void> {
    await this.withState(async (s) => { Object.assign(findVm(s, vmId), patch); });
  }
}

export function findVm(state: SimState, vmId: string): SimVm {
  const vm = state.vms.find((v) => v.Id.toLowerCase() === String(vmId).toLowerCase());
  if (!vm) {
    throw new SimulatedCmdletError('Get-VM', `Hyper-V was unable to find a virtual machine with id "${vmId}".`,
      'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM', 'InvalidArgument');
  }
  return vm;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function allocatedBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await allocatedBytes(p);
    else if (e.isFile()) total += ((await fs.stat(p).catch(() => undefined))?.blocks ?? 0) * 512;
  }
  return total;
}

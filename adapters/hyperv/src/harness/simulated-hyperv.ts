// SIMULATION: a Hyper-V platform for tests and conformance — a simulated host in a temporary folder, the
// adapter's real code (PowerShell session through node-powershell, SMB-path transport, VHDX) pointed at
// it through the simulated shell, and an administrator's session for what the harness does as a person
// would (create VMs, move storage, delete checkpoints). Pending host work can be awaited, so a harness on a
// virtual clock never moves time while real I/O is still under way.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnknownVolumeError, checkWrite } from '@opencdp/core';
import type { Clock, VmId, VmInfo, VolumeId, VolumeInfo } from '@opencdp/core';
import { SmbPathTransport, type DiskTransport } from '../disk-transport.js';
import type { HypervConfig } from '../hyperv-config.js';
import { HypervHostClient } from '../hyperv-host-client.js';
import { HypervHypervisor } from '../hyperv-hypervisor.js';
import { GET_HOST } from '../hyperv-scripts.js';
import { PowerShellSession } from '../powershell/powershell-session.js';
import type { PsOperation, PsParam } from '../powershell/ps-script.js';
import { SimulatedHost, type SimulatedHostOptions } from '../simulation/simulated-host.js';
import { simulatedPowerShell } from '../simulation/simulated-powershell.js';
import { ADD_VHD, NEW_PROTECTED_VM } from './harness-scripts.js';

export interface SimulatedHypervOptions {
  /** Parent of the working folder (default: the OS temp folder). */
  tmpDir?: string;
  clock?: Clock;
  host?: SimulatedHostOptions;
  /** Overrides of the adapter's configuration. */
  config?: Partial<HypervConfig>;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface SimulatedHyperv {
  readonly workDir: string;
  readonly host: SimulatedHost;
  readonly hypervisor: HypervHypervisor;
  /** The adapter's own session (what the kernel's calls go through). */
  readonly session: PowerShellSession;
  /** An administrator's session on the same host. */
  readonly admin: PowerShellSession;
  readonly config: HypervConfig;
  /** Runs an administrator's operation. */
  adminRun<T>(op: PsOperation<T>, params: Readonly<Record<string, PsParam>>): Promise<T>;
  /** A protected VM with dynamic VHDX disks, running. */
  createVm(spec: { name: string; volumes: { sizeBytes: number; sectorSize?: number }[] }): Promise<VmInfo>;
  addVolume(vmId: VmId, volume: { sizeBytes: number; sectorSize?: number }): Promise<VmInfo['volumes'][number]>;
  /** A guest write into one of a VM's disks (the VM must run). */
  guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void>;
  /** Resolves once no host command or disk transfer is under way. */
  settled(): Promise<void>;
  /** The local path of a host path (where the VHDX really is). */
  local(hostPath: string): string;
  dispose(): Promise<void>;
}

/** Host work the transport does outside PowerShell, tracked so `settled` can wait for it. */
function trackingTransport(inner: DiskTransport, pending: Set<Promise<unknown>>, started: { count: number }): DiskTransport {
  const track = <T>(p: Promise<T>): Promise<T> => {
    started.count++;
    pending.add(p);
    void p.then(() => pending.delete(p), () => pending.delete(p));
    return p;
  };
  return {
    kind: inner.kind,
    open: (p, o) => track(inner.open(p, o)),
    writeVhdx: (p, s, o) => track(inner.writeVhdx(p, s, o)),
    mkdir: (p) => track(inner.mkdir(p)),
    remove: (p) => track(inner.remove(p)),
  };
}

export async function startSimulatedHyperv(options: SimulatedHypervOptions = {}): Promise<SimulatedHyperv> {
  const workDir = await fs.mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'ochv-sim-'));
  const sessions: PowerShellSession[] = [];
  try {
    const host = await SimulatedHost.create(path.join(workDir, 'host'), options.host);
    const shell = await simulatedPowerShell(workDir, host.root);
    const config: HypervConfig = {
      storagePaths: ['C:\\Hyper-V', 'C:\\ClusterStorage\\Volume1'],
      transport: { kind: 'smb', mappings: [{ hostPath: 'C:\\', localPath: path.join(host.root, 'C') }] },
      minIntervalMs: 1000,
      commandTimeoutMs: 60_000,
      recoveryVm: { blockSizeBytes: 1024 * 1024 },
      ...options.config,
    };
    await fs.mkdir(host.local('C:\\ClusterStorage\\Volume1'), { recursive: true });
    const session = new PowerShellSession({ ...shell, timeoutMs: config.commandTimeoutMs, ...(options.log ? { log: options.log } : {}) });
    const admin = new PowerShellSession({ ...shell, timeoutMs: 60_000 });
    sessions.push(session, admin);
    const pending = new Set<Promise<unknown>>();
    const started = { count: 0 };
    const transport = trackingTransport(new SmbPathTransport(config.transport.mappings), pending, started);
    const dataDir = path.join(workDir, 'adapter-data');
    await fs.mkdir(dataDir, { mode: 0o700 });
    const hypervisor = new HypervHypervisor({
      client: new HypervHostClient(session, transport), config, siteId: 'hyperv-site', dataDir,
      ...(options.clock ? { clock: options.clock } : {}), ...(options.log ? { log: options.log } : {}),
    });
    // Start the adapter's PowerShell now, not in the middle of a case (the administrator's starts when first used).
    await session.run(GET_HOST, {});
    let vmCount = 0;
    // Where each volume is (its disk slot): asked of the host once per VM, not per guest write — thousands of
    // writes would otherwise each cost a PowerShell round trip. Volume ids are controller positions, which
    // neither checkpoints nor storage moves change; a miss asks again.
    const layout = new Map<VmId, readonly VolumeInfo[]>();
    const volumeOf = async (vmId: VmId, volumeId: VolumeId): Promise<{ volume: VolumeInfo; slot: number }> => {
      let slot = layout.get(vmId)?.findIndex((v) => v.id === volumeId) ?? -1;
      if (slot < 0) {
        layout.set(vmId, (await hypervisor.getVm(vmId)).volumes);
        slot = layout.get(vmId)!.findIndex((v) => v.id === volumeId);
      }
      if (slot < 0) throw new UnknownVolumeError(volumeId, `VM '${vmId}'`);
      return { volume: layout.get(vmId)![slot], slot };
    };
    const sim: SimulatedHyperv = {
      workDir, host, hypervisor, session, admin, config,
      adminRun: (op, params) => admin.run(op, params),
      async createVm(spec) {
        const n = ++vmCount;
        const folder = `C:\\Hyper-V\\Virtual Machines\\vm${n}`;
        const created = await admin.run(NEW_PROTECTED_VM, {
          name: spec.name, vmPath: folder, generation: 2, switchName: 'LAN',
          disks: spec.volumes.map((v, i) => ({ Path: `${folder}\\disk${i}.vhdx`, SizeBytes: v.sizeBytes, LogicalSectorSize: v.sectorSize ?? 512 })),
        });
        return hypervisor.getVm(created.Id.toLowerCase());
      },
      async addVolume(vmId, volume) {
        const before = await hypervisor.getVm(vmId);
        const folder = `C:\\Hyper-V\\Virtual Machines\\added-${before.volumes.length}-${vmId}`;
        await admin.run(ADD_VHD, { vmId, path: `${folder}\\disk.vhdx`, sizeBytes: volume.sizeBytes, logicalSectorSize: volume.sectorSize ?? 512 });
        const after = await hypervisor.getVm(vmId);
        return after.volumes[after.volumes.length - 1];
      },
      async guestWrite(vmId, volumeId, offset, data) {
        const p = (async () => {
          // The kernel's own checks, with its typed errors, before the disk is touched (as a guest's
          // virtual disk controller refuses I/O past the end or off the sector size).
          const { volume, slot } = await volumeOf(vmId, volumeId);
          checkWrite(volume, offset, data.length);
          await host.guestWrite(vmId.toLowerCase(), slot, offset, data);
        })();
        started.count++;
        pending.add(p);
        void p.then(() => pending.delete(p), () => pending.delete(p));
        return p;
      },
      async settled() {
        // Work comes in steps (a command, then the next one its caller issues a turn later): wait until a few
        // event-loop turns pass with nothing new started and nothing running.
        for (;;) {
          const mark = session.issued + admin.issued + started.count;
          await Promise.all([session.idle(), admin.idle()]);
          await Promise.allSettled([...pending]);
          for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
          if (pending.size === 0 && mark === session.issued + admin.issued + started.count) return;
        }
      },
      local: (hostPath) => host.local(hostPath),
      async dispose() {
        await Promise.allSettled(sessions.map((s) => s.dispose()));
        await fs.rm(workDir, { recursive: true, force: true });
      },
    };
    return sim;
  } catch (error) {
    await Promise.allSettled(sessions.map((s) => s.dispose()));
    await fs.rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

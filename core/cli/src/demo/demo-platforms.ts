// What the two-site demo does inside or beside the guests, per platform. On the embedded fake data centre
// site A's appliance plays the guests (a seeded workload, held writes, a pattern overwrite). On QEMU the
// guests are real Linux VMs the lab runs: they write fsynced files by themselves, quiesce with fsfreeze,
// and the "ransomware" is the guest overwriting its own disk; the demo then also restores files through
// the REST API from a crash-consistent checkpoint and watches the recovered VMs boot and list their files.
import { createHash } from 'node:crypto';
import { parseFileLines, type FsyncedFile, type LinuxGuest } from '@opencdp/adapter-qemu';
import type { RemoteApplianceControl } from '@opencdp/core';
import type { ManagerClient, TaskView } from '../client/manager-client.js';
import { until, type LabVm, type TwoSiteLab } from '../site/two-site-lab.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export interface DemoGuestDriver {
  /** Starts the guests' writes (fake), or waits until the guests booted and write (qemu). */
  start(): Promise<void>;
  /** Quiesces the VMs for a tagged checkpoint: nothing changes on their disks until `thaw`. */
  quiesce(vms: LabVm[]): Promise<void>;
  thaw(): Promise<void>;
  /** Overwrites the start of the VM's disk as ransomware would; resolves with the bytes overwritten. */
  ransomware(vm: LabVm): Promise<number>;
  /** Stops the guests' writes before the failover. */
  stop(): Promise<void>;
  /** True when the first bytes of the VM's disk are what `ransomware` left there. */
  corrupted(vm: LabVm, head: Buffer): boolean;
}

export function fakeGuestDriver(lab: TwoSiteLab): DemoGuestDriver {
  return {
    start: () => lab.controlA.extra('startWorkload'),
    quiesce: (vms) => lab.controlA.extra('quiesce', vms.map((v) => v.id)),
    thaw: () => lab.controlA.extra('thaw'),
    ransomware: (vm) => lab.controlA.extra<number>('ransomware', vm.id, 4 * MiB),
    stop: () => lab.controlA.extra('stopWorkload'),
    corrupted: (vm, head) => head.equals(createHash('sha256').update(`locked:${vm.volumes[0]}:0`).digest()),
  };
}

const RANSOM_PATTERN = 'OPENCDP-LOCKED-BY-RANSOMWARE';

export function qemuGuestDriver(lab: TwoSiteLab, bootTimeoutMs: number): DemoGuestDriver {
  const guest = (vm: LabVm): LinuxGuest => {
    const g = lab.guests.get(vm.name);
    if (!g) throw new Error(`demo: the lab runs no guest '${vm.name}'`);
    return g;
  };
  let frozen: LinuxGuest[] = [];
  return {
    start: async () => {
      await Promise.all([...lab.guests.values()].map((g) => g.waitFor(/^booted/, bootTimeoutMs)));
    },
    // fsfreeze inside each guest: application-consistent, and ext4 is clean on disk while frozen.
    quiesce: async (vms) => {
      for (const vm of vms) {
        await guest(vm).command('freeze');
        frozen.push(guest(vm));
      }
    },
    thaw: async () => {
      for (const g of frozen) await g.command('thaw');
      frozen = [];
    },
    ransomware: async (vm) => {
      await guest(vm).command('ransomware', 4 * MiB);
      return 4 * MiB;
    },
    stop: async () => {
      for (const g of lab.guests.values()) if (g.alive) await g.command('stop');
    },
    corrupted: (_vm, head) => head.toString('latin1').startsWith(RANSOM_PATTERN),
  };
}

export interface FileRestoreCheck {
  vm: string;
  checkpointId: string;
  /** Files the guest had fsynced before the checkpoint was cut. */
  fsynced: number;
  /** Of those, listed by the restore with the right size. */
  listed: number;
  /** Of those, downloaded through the REST API with the bytes the guest fsynced. */
  matching: number;
}

/**
 * File restore through the REST API from a crash-consistent (auto) checkpoint cut after the guest reported
 * its files fsynced: every one of them must come back with its bytes (the journal is replayed first).
 */
export async function restoreFsyncedFiles(api: ManagerClient, control: RemoteApplianceControl, groupId: string, vm: LabVm, guest: LinuxGuest,
  expectTask: (taskId: string, what: string) => Promise<TaskView>): Promise<FileRestoreCheck> {
  const before = Date.now();
  const fsynced = await guest.fsynced();
  const cp = await until('an auto checkpoint after the fsynced files', async () => (await control.recovery.listCheckpoints(groupId)).find((c) => c.kind === 'auto' && c.timestamp > before + 50), 30_000);
  const inGroup = { params: { path: { vpgIdentifier: groupId } } };
  const opened = await api.call(api.api.POST('/v1/vpgs/{vpgIdentifier}/filerestore', {
    ...inGroup, body: { checkpointIdentifier: cp.id, vmIdentifier: vm.id, volumeIdentifier: vm.volumes[0] },
  }));
  await expectTask(opened.taskIdentifier, 'open the file restore');
  const session = opened.sessionIdentifier;
  const inSession = { path: { sessionIdentifier: session } };
  try {
    const entries = await api.call(api.api.GET('/v1/filerestore/{sessionIdentifier}/files', { params: { ...inSession, query: { path: '/data' } } }));
    const sizes = new Map(entries.map((e) => [e.path, e.sizeBytes]));
    let listed = 0;
    let matching = 0;
    for (const f of fsynced) {
      if (sizes.get(`/data/${f.name}`) !== f.size) continue;
      listed++;
      const data = await api.call(api.api.GET('/v1/filerestore/{sessionIdentifier}/file', { params: { ...inSession, query: { path: `/data/${f.name}` } }, parseAs: 'arrayBuffer' }));
      if (sha256(Buffer.from(data as unknown as ArrayBuffer)) === f.sha256) matching++;
    }
    return { vm: vm.name, checkpointId: cp.id, fsynced: fsynced.length, listed, matching };
  } finally {
    await api.call(api.api.DELETE('/v1/filerestore/{sessionIdentifier}', { params: inSession })).catch(() => undefined);
  }
}

export interface RecoveredGuestCheck {
  vm: string;
  recoveredVmId: string;
  /** What the recovered guest printed: `verified` (mounted, listed its files) or `mount-failed`. */
  outcome: 'verified' | 'mount-failed';
  files: FsyncedFile[];
}

/** Waits until each recovered VM booted and said what it found on its disk (its console, through site B's appliance). */
export async function watchRecoveredGuests(control: RemoteApplianceControl, vms: { name: string; recoveredVmId: string }[], timeoutMs: number): Promise<RecoveredGuestCheck[]> {
  return Promise.all(vms.map(async (vm) => {
    const text = await until(`recovered VM ${vm.name} to boot and check its disk`, async () => {
      const console = await control.extra<string>('console', vm.recoveredVmId);
      return /OPENCDP-GUEST (verified \d+|mount-failed)/.test(console) ? console : undefined;
    }, timeoutMs);
    const lines = text.split(/\r?\n/).filter((l) => l.startsWith('OPENCDP-GUEST ')).map((l) => l.slice('OPENCDP-GUEST '.length).trim());
    return { vm: vm.name, recoveredVmId: vm.recoveredVmId, outcome: lines.some((l) => l.startsWith('verified')) ? 'verified' : 'mount-failed', files: parseFileLines(lines, 'file') };
  }));
}

/** Files of `expected` the recovered guest listed with the same hash and size. */
export function filesFound(expected: FsyncedFile[], listed: FsyncedFile[]): number {
  const got = new Map(listed.map((f) => [f.name, f]));
  return expected.filter((f) => got.get(f.name)?.sha256 === f.sha256 && got.get(f.name)?.size === f.size).length;
}

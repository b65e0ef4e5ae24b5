// The guests' side of `opencdp appliance serve`, for demos and end-to-end specs only (the `guest.*`
// control methods): what an operator would do inside or beside the VMs — start a workload, quiesce, hash
// volumes, read and write them. Which of these a platform offers depends on how far the appliance can
// reach its guests: the fake data centre plays them completely; on other platforms reads and hashes go
// through the platform's `readVolume`, and QEMU pauses and resumes a guest's vCPUs (see qemu-guest-controls.ts).
import { createHash } from 'node:crypto';
import { UnsupportedError, ValidationError, type HypervisorAdapter, type VmId, type VolumeId } from '@opencdp/core';
import { FakeHypervisor, Workload } from '@opencdp/adapter-fake';
import type { JsonLog } from '../appliance/json-log.js';
import { hashVolumes } from '../appliance/status-file.js';

export interface DemoWorkload {
  seed: number;
  ratePerSecond: number;
  writeSizes: number[];
}

/** The `extra` control methods; every method is async and takes JSON arguments. */
export interface DemoGuests {
  startWorkload(): Promise<void>;
  stopWorkload(): Promise<void>;
  /** Holds new guest writes of these VMs (completed ones stay): a crash- and write-order-consistent pause. */
  quiesce(vmIds: VmId[]): Promise<void>;
  thaw(): Promise<void>;
  /** One guest write (data as base64), e.g. into a recovered VM. */
  write(vmId: VmId, volumeId: VolumeId, offset: number, base64: string): Promise<void>;
  /** Reads as the guest would (base64), e.g. to look at what an attack left. */
  read(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<string>;
  /** sha256 of every volume of these VMs, keyed by volume id. */
  hashVolumes(vmIds: VmId[]): Promise<Record<string, string>>;
  /** Overwrites the first `bytes` of every volume of a VM with an "encrypted" pattern, as ransomware would. */
  ransomware(vmId: VmId, bytes: number): Promise<number>;
  vms(): Promise<{ id: VmId; name: string }[]>;
  /** Stops what the guests run (workload, held writes) before the appliance stops. */
  close(): Promise<void>;
}

/** The controls a platform's guests allow; those it cannot offer reject with UnsupportedError saying why. */
export function demoGuestsFor(hypervisor: HypervisorAdapter, workload: DemoWorkload | undefined, log: JsonLog, platformGuests?: Partial<DemoGuests>): DemoGuests {
  if (hypervisor instanceof FakeHypervisor) return fakeGuests(hypervisor, workload, log);
  if (workload) throw new ValidationError(`a workload is played by the fake data centre's guests only, not on platform '${hypervisor.platform}'`, 'workload', 'the guests of a real platform write by themselves');
  const unsupported = (what: string) => (): Promise<never> => Promise.reject(new UnsupportedError(`${what} on platform '${hypervisor.platform}' (the appliance does not run inside its guests)`));
  const generic: DemoGuests = {
    startWorkload: async () => undefined,
    stopWorkload: async () => undefined,
    quiesce: unsupported('quiescing guests'),
    thaw: async () => undefined,
    write: unsupported('guest writes'),
    read: async (vmId, volumeId, offset, length) => (await hypervisor.readVolume(vmId, volumeId, offset, length)).toString('base64'),
    hashVolumes: async (vmIds) => hashVolumes((vm, v, o, l) => hypervisor.readVolume(vm, v, o, l), await Promise.all(vmIds.map((id) => hypervisor.getVm(id)))),
    ransomware: unsupported('overwriting guest disks'),
    vms: async () => (await hypervisor.inventory()).vms.map((v) => ({ id: v.id, name: v.name })),
    close: async () => undefined,
  };
  return { ...generic, ...platformGuests };
}

function fakeGuests(hypervisor: FakeHypervisor, config: DemoWorkload | undefined, log: JsonLog): DemoGuests {
  const dc = hypervisor.dataCenter;
  // The site's own VMs as configured; VMs recovered here later never run the workload.
  const ownVms = dc.inventory(hypervisor.siteId).vms.map((v) => v.id);
  let workloadRun: Promise<unknown> | undefined;
  let workload: Workload | undefined;
  const releases: (() => void)[] = [];
  const guests: DemoGuests = {
    startWorkload: async () => {
      if (!config || workloadRun) return;
      workload = new Workload(dc, { seed: config.seed, vms: ownVms, writeSizes: config.writeSizes });
      workloadRun = workload.run({ durationMs: 24 * 3600_000, ratePerSecond: config.ratePerSecond }).catch((e: Error) => log('workload-failed', { message: e.message }));
    },
    stopWorkload: async () => {
      workload?.stop();
      await workloadRun;
      workloadRun = undefined;
    },
    quiesce: async (vmIds) => {
      for (const id of vmIds) releases.push(dc.holdWrites(id));
    },
    thaw: async () => {
      for (const release of releases.splice(0)) release();
    },
    write: async (vmId, volumeId, offset, base64) => {
      await dc.guestWrite(vmId, volumeId, offset, Buffer.from(base64, 'base64'));
    },
    read: async (vmId, volumeId, offset, length) => (await dc.guestRead(vmId, volumeId, offset, length)).toString('base64'),
    hashVolumes: (vmIds) => hashVolumes(dc, vmIds.map((id) => dc.getVm(id))),
    ransomware: async (vmId, bytes) => {
      const vm = dc.getVm(vmId);
      let written = 0;
      for (const v of vm.volumes) {
        const block = Buffer.alloc(64 * 1024);
        for (let at = 0; at < Math.min(bytes, v.sizeBytes); at += block.length) {
          for (let i = 0; i < block.length; i += 32) createHash('sha256').update(`locked:${v.id}:${at + i}`).digest().copy(block, i);
          await dc.guestWrite(vmId, v.id, at, block.subarray(0, Math.min(block.length, v.sizeBytes - at)));
          written += block.length;
        }
      }
      return written;
    },
    vms: async () => (await hypervisor.inventory()).vms.map((v) => ({ id: v.id, name: v.name })),
    close: async () => {
      await guests.thaw();
      await guests.stopWorkload();
    },
  };
  return guests;
}

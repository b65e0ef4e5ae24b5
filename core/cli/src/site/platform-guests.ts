// Guest controls a platform adds to the demo's `guest.*` methods beyond reads and hashes (see
// demo-guests.ts). On QEMU: quiescing pauses an adopted guest's vCPUs (`stop`; in-flight I/O drains, so
// its disks hold still) and thawing resumes it; `console` shows the end of a recovered VM's serial console.
import { UnsupportedError, ValidationError, type HypervisorAdapter, type VmId } from '@opencdp/core';
import { QemuPlatform } from '@opencdp/adapter-qemu';
import type { DemoGuests } from './demo-guests.js';

export interface PlatformGuestControls extends Partial<DemoGuests> {
  /** The end of a recovered VM's console (QEMU recovery VMs run as processes with a serial console). */
  console?(vmId: VmId): Promise<string>;
}

export function platformGuests(hypervisor: HypervisorAdapter): PlatformGuestControls | undefined {
  if (!(hypervisor instanceof QemuPlatform)) return undefined;
  const paused = new Set<VmId>();
  const adopted = (vmId: VmId) => {
    const guest = hypervisor.guest(vmId);
    if (!guest) throw new ValidationError(`VM '${vmId}' is not a guest this appliance adopted`, 'vmIds');
    return guest;
  };
  return {
    quiesce: async (vmIds) => {
      const guests = vmIds.map(adopted);
      for (const [i, g] of guests.entries()) {
        await g.pause();
        paused.add(vmIds[i]);
      }
    },
    thaw: async () => {
      for (const id of [...paused]) {
        paused.delete(id);
        await hypervisor.guest(id)?.resume();
      }
    },
    console: async (vmId) => {
      const p = hypervisor.vmProcess(vmId);
      if (!p) throw new UnsupportedError(`the console of VM '${vmId}' (only recovered VMs running as processes here have one)`);
      return p.console();
    },
    close: async () => {
      for (const id of [...paused]) await hypervisor.guest(id)?.resume().catch(() => undefined);
      paused.clear();
    },
  };
}

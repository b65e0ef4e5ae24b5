// One Hyper-V host as the adapter's parts use it: its PowerShell session, its disk transport, and the
// mapping between Hyper-V's objects and the kernel's ids (a VM is its GUID; a volume is the VM plus the
// disk's controller slot, which stays the same across checkpoints while the file behind it changes).
import { UnknownVmError } from '@opencdp/core';
import type { VmId, VolumeId } from '@opencdp/core';
import type { DiskTransport } from './disk-transport.js';
import { GET_VM, type HvVm } from './hyperv-scripts.js';
import { PowerShellCommandError } from './powershell/powershell-errors.js';
import type { PowerShellSession } from './powershell/powershell-session.js';
import type { PsOperation, PsParam } from './powershell/ps-script.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class HypervHostClient {
  constructor(readonly session: PowerShellSession, readonly transport: DiskTransport) {}

  run<T>(op: PsOperation<T>, params: Readonly<Record<string, PsParam>>): Promise<T> {
    return this.session.run(op, params);
  }

  /** A VM id must be a Hyper-V VM GUID; anything else is unknown without asking the host. */
  checkVmId(vmId: VmId): string {
    if (typeof vmId !== 'string' || !GUID.test(vmId)) throw new UnknownVmError(String(vmId));
    return vmId.toLowerCase();
  }

  async getVmRecord(vmId: VmId): Promise<HvVm> {
    const id = this.checkVmId(vmId);
    try {
      return await this.run(GET_VM, { vmId: id });
    } catch (error) {
      if (error instanceof PowerShellCommandError && error.cmdlet === 'Get-VM' && /^InvalidParameter|^ObjectNotFound/.test(error.errorId)) throw new UnknownVmError(id);
      throw error;
    }
  }

  volumeId(vmId: VmId, disk: { ControllerType: string; ControllerNumber: number; ControllerLocation: number }): VolumeId {
    return `${vmId.toLowerCase()}/${disk.ControllerType.toLowerCase()}${disk.ControllerNumber}-${disk.ControllerLocation}`;
  }
}

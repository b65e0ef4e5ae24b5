// Typed errors of the Hyper-V adapter beyond the PowerShell layer's: a VM or host that cannot do RCT, a
// path the disk transport cannot reach, a bad adapter configuration.
import { OpenCdpError } from '@opencdp/core';

/** The VM cannot be tracked with RCT reference points (configuration version below 8.0, a VHD disk, …). */
export class RctUnavailableError extends OpenCdpError {
  constructor(readonly vmId: string, reason: string) {
    super('HYPERV_RCT_UNAVAILABLE', `VM '${vmId}' cannot be protected with resilient change tracking: ${reason}`,
      'upgrade the VM configuration (Update-VMVersion, needs the VM off) and convert VHD disks to VHDX (Convert-VHD)');
  }
}

/** A host path the disk transport has no mapping for (no SMB share configured for it). */
export class DiskTransportError extends OpenCdpError {
  constructor(readonly hostPath: string, reason: string) {
    super('HYPERV_DISK_TRANSPORT', `cannot reach '${hostPath}' from the appliance: ${reason}`,
      'map the host folder to a path the appliance can read (an SMB share mounted on the appliance) in transport.mappings');
  }
}

/** The adapter's configuration is invalid; the field says where. */
export class HypervConfigError extends OpenCdpError {
  constructor(readonly field: string, reason: string) {
    super('HYPERV_CONFIG', `Hyper-V adapter configuration: ${field}: ${reason}`, 'fix the platform.config section of the appliance configuration');
  }
}

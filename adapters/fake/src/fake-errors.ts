// Errors only the fake data centre raises: a guest or a tool touching a VM that is not running.
// They extend OpenCdpError so callers handle them like every other typed error (code + hint).
import { OpenCdpError } from '@opencdp/core';

/** The VM's host is down (a host-restart fault): guest I/O and taps fail until it is back. */
export class HostDownError extends OpenCdpError {
  constructor(readonly hostId: string, readonly vmId?: string) {
    super('HOST_DOWN', vmId ? `host '${hostId}' of VM '${vmId}' is down` : `host '${hostId}' is down`,
      'wait for the host to come back, then re-open write taps');
  }
}

/** The VM is powered off, so its guest cannot issue writes. */
export class VmPoweredOffError extends OpenCdpError {
  constructor(readonly vmId: string) {
    super('VM_POWERED_OFF', `VM '${vmId}' is powered off`, 'power the VM on first');
  }
}

/** The consistency agent could not quiesce the guest's applications. */
export class QuiesceError extends OpenCdpError {
  constructor(readonly vmId: string, reason: string) {
    super('QUIESCE_FAILED', `could not quiesce VM '${vmId}': ${reason}`, 'take a crash-consistent checkpoint instead, or retry');
  }
}

/** The site's hypervisor manager is restarting (a fault): write taps cannot be opened until it is back. */
export class HypervisorManagerDownError extends OpenCdpError {
  constructor(readonly siteId: string) {
    super('HYPERVISOR_MANAGER_DOWN', `the hypervisor manager of site '${siteId}' is restarting`, 'wait for it to come back, then re-open write taps');
  }
}

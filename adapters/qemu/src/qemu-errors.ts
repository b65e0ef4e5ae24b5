// Typed errors of the QEMU adapter: QMP failures (with QEMU's error class), a daemon that went away,
// NBD protocol violations and NBD request errors (with the protocol's errno), and missing tools.
import { OpenCdpError } from '@opencdp/core';

/** QEMU answered a QMP command with an error. `errorClass` is QEMU's (`GenericError`, `DeviceNotFound`, …). */
export class QmpError extends OpenCdpError {
  constructor(readonly command: string, readonly errorClass: string, readonly desc: string) {
    super('QMP_ERROR', `QMP command '${command}' failed: ${errorClass}: ${desc}`);
  }
}

/** The QMP connection closed (the daemon exited or was killed) before a command was answered. */
export class QmpClosedError extends OpenCdpError {
  constructor(what: string, reason?: string) {
    super('QMP_CLOSED', `QMP connection to ${what} closed${reason ? `: ${reason}` : ''}`, 'the QEMU process is gone; restart it and re-attach');
  }
}

/** A QEMU process failed to start or died. */
export class QemuProcessError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('QEMU_PROCESS', message, hint);
  }
}

/** A peer broke the NBD protocol (bad magic, unknown command, oversized request); the connection is closed. */
export class NbdProtocolError extends OpenCdpError {
  constructor(message: string) {
    super('NBD_PROTOCOL', message);
  }
}

/** An NBD request failed with an errno the protocol defines (EIO, EINVAL, ENOSPC, …). */
export class NbdRequestError extends OpenCdpError {
  constructor(readonly command: string, readonly errno: number, detail?: string) {
    super('NBD_REQUEST', `NBD ${command} failed with ${errnoName(errno)}${detail ? `: ${detail}` : ''}`);
  }
}

/** Option haggling failed: the server does not offer the export or refused an option. */
export class NbdNegotiationError extends OpenCdpError {
  constructor(message: string) {
    super('NBD_NEGOTIATION', message, 'check the export name and that the server is the one you meant');
  }
}

/** A host (a qemu-storage-daemon) is down: its VMs can be neither written nor tapped until it is back. */
export class HostDownError extends OpenCdpError {
  constructor(readonly hostId: string) {
    super('HOST_DOWN', `host '${hostId}' is down`, 'wait for the host to come back, then retry');
  }
}

/** A QEMU tool the adapter needs is not installed. */
export class QemuToolMissingError extends OpenCdpError {
  constructor(readonly tools: string[]) {
    super('QEMU_TOOL_MISSING', `missing QEMU tools: ${tools.join(', ')}`, 'apt-get install qemu-utils qemu-system-common qemu-system-x86');
  }
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 5: 'EIO', 12: 'ENOMEM', 22: 'EINVAL', 28: 'ENOSPC', 75: 'EOVERFLOW', 95: 'ENOTSUP', 108: 'ESHUTDOWN' };

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** The management layer (our QMP connections) is restarting: nothing can be attached until it is back. */
export class ManagerDownError extends OpenCdpError {
  constructor() {
    super('MANAGER_DOWN', 'the hypervisor manager is restarting', 'retry once it is back');
  }
}

/** A guest write to a VM that is powered off. */
export class VmPoweredOffError extends OpenCdpError {
  constructor(readonly vmId: string) {
    super('VM_POWERED_OFF', `VM '${vmId}' is powered off`, 'power it on first');
  }
}

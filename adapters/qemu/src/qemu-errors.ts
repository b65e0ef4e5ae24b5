// Typed errors of the QEMU adapter: QMP failures (with QEMU's error class), a daemon that went away,
// NBD protocol violations and NBD request errors (with the protocol's errno), and missing tools.
import { OpenCdpError, ValidationError } from '@opencdp/core';

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

/** The guest's QMP socket is not there or nobody listens on it: the guest's QEMU process is not running. */
export class GuestUnreachableError extends OpenCdpError {
  constructor(readonly vmId: string, readonly socket: string, detail: string) {
    super('QEMU_GUEST_UNREACHABLE', `guest '${vmId}' cannot be reached at ${socket}: ${detail}`,
      "start the guest's QEMU process (its own command line, or virsh start); the adapter adopts it again on the same socket");
  }
}

/** Something answers on the socket, but it is not a QEMU monitor speaking QMP. */
export class NotQemuMonitorError extends ValidationError {
  constructor(readonly socket: string, detail: string, field?: string) {
    super(`'${socket}' is not a QEMU monitor: ${detail}`, field,
      'give the path of a QMP socket of the guest (-chardev socket,id=X,path=…,server=on,wait=off -mon chardev=X,mode=control); a monitor libvirtd holds cannot be shared');
  }
}

/** The guest is in a state where a splitter cannot be attached or kept (migrated, migrating, failed). */
export class GuestStateError extends OpenCdpError {
  constructor(readonly vmId: string, readonly status: string, detail: string) {
    super('QEMU_GUEST_STATE', `guest '${vmId}' is ${status}: ${detail}`, 'protect it where it runs once it runs normally again');
  }
}

/** The guest was migrated to another QEMU process while protected: its writes no longer pass this splitter. */
export class GuestMigratedError extends OpenCdpError {
  constructor(readonly vmId: string) {
    super('QEMU_GUEST_MIGRATED', `guest '${vmId}' was migrated away from the QEMU process this appliance protects`,
      "point the platform config at the destination's QMP socket (the group then delta-syncs), or migrate it back");
  }
}

/** The guest's QEMU process went away (killed, crashed or powered off) while protected. */
export class GuestGoneError extends OpenCdpError {
  constructor(readonly vmId: string, detail: string) {
    super('QEMU_GUEST_GONE', `guest '${vmId}' went away while protected: ${detail}`, 'start it again; the adapter re-attaches and the group delta-syncs');
  }
}

/** A drive of the guest is busy with another block job (a mirror, a backup, a storage migration). */
export class DriveBusyError extends OpenCdpError {
  constructor(readonly vmId: string, readonly drive: string, detail: string) {
    super('QEMU_DRIVE_BUSY', `drive '${drive}' of guest '${vmId}' is busy with another block job: ${detail}`,
      'wait for that job to end (query-block-jobs) or cancel it, then protect again; nothing was attached');
  }
}

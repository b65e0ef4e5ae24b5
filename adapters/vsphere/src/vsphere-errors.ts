// Typed errors of the vSphere adapter: vim25 faults by their fault name, tasks that fail or never end,
// responses that are not SOAP, TLS thumbprints that do not match, datastore file transfers, and CBT answers
// the adapter refuses. Each carries a code and a hint saying what an operator can do.
import { ChangeViewError, OpenCdpError, ValidationError } from '@opencdp/core';

/** What to do about the faults operators meet most; the fault name is always in the message. */
const FAULT_HINTS: Record<string, string> = {
  InvalidLogin: 'check the user and the password (its environment variable or 0600 file) in the vsphere config',
  NotAuthenticated: 'the session expired or was terminated; the adapter logs in again once, so this repeating means the account cannot log in',
  NoPermission: 'grant the adapter\'s vCenter role the privileges listed in docs/adapters/vsphere.md',
  ManagedObjectNotFound: 'the object was removed or never existed; refresh the inventory and check the id',
  InvalidState: 'the object is busy or in the wrong state (a running task, a consolidation); retry after it settles',
  InvalidPowerState: 'the VM is in the wrong power state for this operation',
  FileFault: 'a datastore file is missing or locked; check the datastore and the VM\'s files',
  FileNotFound: 'a datastore file is missing; check the path and the datastore',
  FileAlreadyExists: 'a datastore file of that name exists; remove it or choose another name',
  InvalidArgument: 'a parameter was refused; the message names it',
  TaskInProgress: 'another task holds the object; retry when it has finished',
  InsufficientResourcesFault: 'the host, cluster or datastore lacks capacity for this operation',
  InvalidDatastorePath: 'the datastore path is malformed or names an unknown datastore',
  DuplicateName: 'an object of that name exists in the folder; choose another name',
  MethodNotFound: 'this vCenter or ESXi does not offer the method; check the API version',
  SnapshotFault: 'the snapshot could not be taken or removed; check the VM for leftover snapshots and consolidation',
};

/** vCenter answered with a vim25 fault. `faultName` is the vim25 type (`ManagedObjectNotFound`, `InvalidState`, …). */
export class VimFaultError extends OpenCdpError {
  constructor(
    readonly faultName: string,
    readonly faultMessage: string,
    readonly method: string,
    /** The fault's own fields (e.g. `invalidProperty`, `file`, `obj`), as vCenter sent them. */
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super('VIM_FAULT', `vCenter refused ${method}: ${faultName}${faultMessage ? ` (${faultMessage})` : ''}`, FAULT_HINTS[faultName] ?? 'see the fault name in the vSphere API reference');
  }
}

/** A `*_Task` ended in error; `faultName` is the task's fault. */
export class VimTaskError extends OpenCdpError {
  constructor(readonly task: string, readonly taskName: string, readonly faultName: string, readonly faultMessage: string) {
    super('VIM_TASK_FAILED', `vCenter task ${taskName} (${task}) failed: ${faultName}${faultMessage ? ` (${faultMessage})` : ''}`,
      FAULT_HINTS[faultName] ?? 'see the task in the vSphere client for details');
  }
}

/** A `*_Task` did not finish within its timeout; it was asked to cancel and what it did was cleaned up where possible. */
export class VimTaskTimeoutError extends OpenCdpError {
  constructor(readonly task: string, readonly taskName: string, readonly timeoutMs: number, readonly lastProgress?: number) {
    super('VIM_TASK_TIMEOUT', `vCenter task ${taskName} (${task}) did not finish within ${timeoutMs} ms${lastProgress !== undefined ? ` (last progress ${lastProgress} %)` : ''}`,
      'check the task and the host in the vSphere client; raise taskTimeoutMs in the vsphere config if the platform is just slow');
  }
}

/** The answer was not a SOAP envelope we can read: truncated, malformed, or an HTTP error page. */
export class SoapResponseError extends OpenCdpError {
  constructor(readonly method: string, readonly reason: string, readonly httpStatus?: number) {
    super('SOAP_RESPONSE', `vCenter's answer to ${method} could not be read${httpStatus !== undefined ? ` (HTTP ${httpStatus})` : ''}: ${reason}`,
      'a proxy or load balancer may be cutting responses; retry, and check the vCenter service health');
  }
}

/** vCenter could not be reached (refused, reset, timed out). */
export class VsphereConnectionError extends OpenCdpError {
  constructor(readonly url: string, reason: string) {
    super('VSPHERE_UNREACHABLE', `cannot reach vCenter at ${url}: ${reason}`, 'check the URL, the network path and that vCenter runs');
  }
}

/** The server's certificate does not have the thumbprint the config pins: nothing was sent to it. */
export class ThumbprintMismatchError extends OpenCdpError {
  constructor(readonly url: string, readonly expected: string, readonly actual: string) {
    super('VSPHERE_THUMBPRINT', `the certificate of ${url} has thumbprint ${actual}, the config pins ${expected}; nothing was sent`,
      'if the vCenter certificate was renewed, verify the new thumbprint out of band and update the vsphere config');
  }
}

/** A datastore file transfer over the /folder HTTP interface failed. */
export class DatastoreTransferError extends OpenCdpError {
  constructor(readonly datastorePath: string, readonly operation: 'read' | 'write' | 'verify', detail: string, readonly httpStatus?: number) {
    super('DATASTORE_TRANSFER', `datastore ${operation} of ${datastorePath} failed${httpStatus !== undefined ? ` (HTTP ${httpStatus})` : ''}: ${detail}`,
      'check the datastore (free space, the file, the adapter role\'s Datastore.FileManagement privilege)');
  }
}

/** QueryChangedDiskAreas answered areas that overlap, leave the answered window or the disk: the answer is refused. */
export class CbtAnswerError extends ChangeViewError {
  constructor(readonly vmId: string, readonly deviceKey: number, detail: string) {
    super('read', `vSphere CBT answered an invalid change list for disk ${deviceKey} of VM '${vmId}': ${detail}`,
      'the cycle is retried; if it repeats, reset CBT on the VM (disable and enable change tracking) so the next cycle runs a delta sync');
  }
}

/** A name in the adapter's config (datacenter, datastore, folder, portgroup…) does not exist on the platform. */
export class VsphereObjectNotFoundError extends OpenCdpError {
  constructor(readonly kind: string, readonly objectName: string, readonly field?: string) {
    super('VSPHERE_NOT_FOUND', `${kind} '${objectName}' does not exist in vCenter${field ? ` (config field '${field}')` : ''}`,
      `check the ${kind} name in the vsphere config against the vSphere inventory`);
  }
}

/**
 * A disk asked for logical sectors other than 512 bytes. vSphere virtual disks present 512-byte sectors to
 * guests (4Kn devices are emulated as 512e by ESXi); 4Kn virtual disks (`sectorFormat` native_4k) arrive
 * only with vSphere API 9.0, which this adapter does not speak yet. Bad input for this platform (a
 * ValidationError naming the field); nothing was made.
 */
export class SectorSizeUnsupportedError extends ValidationError {
  constructor(readonly volumeId: string, readonly sectorSize: number, field: string) {
    super(`volume '${volumeId}' has ${sectorSize}-byte sectors; vSphere virtual disks have 512-byte sectors`, field,
      'recover or protect volumes with 4096-byte sectors on a platform that offers 4Kn disks (Hyper-V VHDX, QEMU); on vSphere use 512-byte-sector (512n/512e) volumes');
  }
}

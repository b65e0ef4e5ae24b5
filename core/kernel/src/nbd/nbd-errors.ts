// Typed errors of the NBD server and client: a peer that breaks the protocol, a request the other side
// refused (with the protocol's errno), and option haggling that failed.
import { OpenCdpError } from '../errors.js';

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

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 5: 'EIO', 12: 'ENOMEM', 22: 'EINVAL', 28: 'ENOSPC', 75: 'EOVERFLOW', 95: 'ENOTSUP', 108: 'ESHUTDOWN' };

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

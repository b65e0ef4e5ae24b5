// Errors of the manager's own making (authentication, authorisation), and the one table that maps every
// typed error to an HTTP status, so the REST API, the CLI and tests agree on what a failure means.
import { OpenCdpError } from '@opencdp/core';

/** No session, a wrong password, or a session that expired. */
export class AuthenticationError extends OpenCdpError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message, 'log in with POST /v1/session/add (Basic auth) and send the token in x-zerto-session');
  }
}

/** The session's role may not do this. */
export class ForbiddenError extends OpenCdpError {
  constructor(role: string, needed: string) {
    super('FORBIDDEN', `role '${role}' may not do this (needs '${needed}')`, 'ask an administrator for a role that may');
  }
}

/** The manager cannot reach the appliance a request needs (e.g. no recovery appliance of that site is known here). */
export class ApplianceUnavailableError extends OpenCdpError {
  constructor(message: string) {
    super('APPLIANCE_UNAVAILABLE', message, 'give this manager the site\'s appliance, or use the manager of the other site');
  }
}

/** Too many failed logins for this user or from this address: wait, then try again. */
export class TooManyAttemptsError extends OpenCdpError {
  constructor(readonly retryAfterMs: number) {
    super('TOO_MANY_ATTEMPTS', `too many failed logins; try again in ${Math.ceil(retryAfterMs / 1000)} s`, 'wait, then log in with the right password; an administrator sees the attempts as events');
  }
}

/** A peer manager that cannot be reached at all (connection refused, timeout, a certificate that does not match its pin). */
export class PeerUnreachableError extends OpenCdpError {
  constructor(url: string, cause: string) {
    super('PEER_UNREACHABLE', `the peer manager at ${url} cannot be reached: ${cause}`, 'check the host name, port, https and the certificate fingerprint, and that the peer manager runs');
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  VALIDATION: 400,
  ALIGNMENT: 400,
  VOLUME_RANGE: 400,
  SEQUENCE: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOO_MANY_ATTEMPTS: 429,
  PEER_UNREACHABLE: 502,
  PEER_NOT_TRUSTED: 502,
  NOT_FOUND: 404,
  UNKNOWN_VM: 404,
  UNKNOWN_VOLUME: 404,
  CHECKPOINT_NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_STATE: 409,
  JOURNAL_HISTORY_FLOOR: 409,
  CHECKPOINT_TRIMMED: 410,
  UNSUPPORTED: 501,
  TOOL_MISSING: 501,
  IMAGE_FORMAT: 422,
  IMAGE_EXPORT: 500,
  EXPORT_DISK_FULL: 507,
  APPLIANCE_UNAVAILABLE: 503,
  CONTROL_UNREACHABLE: 503,
  CLOSED: 503,
};

/** HTTP status for a typed error; 500 for anything the manager did not expect. */
export function httpStatusOf(error: unknown): number {
  if (error instanceof OpenCdpError) return STATUS_BY_CODE[error.code] ?? 422;
  return 500;
}

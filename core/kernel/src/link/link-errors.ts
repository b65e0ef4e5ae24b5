// Typed errors of the site link: framing and message violations, version and trust refusals, pairing.
// Every one carries a stable code and a hint, so logs and the CLI can say what to do next.
import { OpenCdpError } from '../errors.js';

/**
 * Bytes or a message that break the link protocol (bad length, meta not JSON, schema failure, oversize).
 * The connection that received them is closed with this error as the reason.
 */
export class ProtocolError extends OpenCdpError {
  constructor(
    reason: string,
    /** The offending meta field, when a schema named one. */
    readonly field?: string,
    hint = 'the peer sent bytes that are not a valid OpenCDP link frame; check that both ends run OpenCDP and nothing else shares the port',
    code = 'PROTOCOL',
  ) {
    super(code, reason, hint);
  }
}

/** The two ends speak incompatible major versions of the link protocol. */
export class ProtocolVersionError extends ProtocolError {
  constructor(readonly localVersion: string, readonly remoteVersion: string, side: 'local' | 'remote' = 'local') {
    super(
      `link protocol version mismatch: this side speaks ${localVersion}, the peer speaks ${remoteVersion}` + (side === 'remote' ? ' (refused by the peer)' : ''),
      'protocolVersion',
      'upgrade the older site so both run the same major protocol version',
      'PROTOCOL_VERSION',
    );
  }
}

/** The peer's certificate does not belong to a paired site (or the peer refused ours). */
export class PeerNotTrustedError extends OpenCdpError {
  constructor(readonly address: string, detail: string) {
    super('PEER_NOT_TRUSTED', `the link to ${address} was refused: ${detail}`, 'pair the two sites (issue a pairing token on one, redeem it on the other) before linking them');
  }
}

/** The link could not be set up or broke (connection refused, reset, timeout). */
export class LinkError extends OpenCdpError {
  constructor(message: string, override readonly cause?: unknown) {
    super('LINK', message, 'check that the peer appliance runs and that the address and firewall allow the connection');
  }
}

export type PairingFailure =
  | 'malformed-token'
  | 'expired'
  | 'used'
  | 'unknown-token'
  | 'certificate-mismatch'
  | 'self'
  | 'invalid-request'
  | 'unreachable';

const pairingHints: Record<PairingFailure, string> = {
  'malformed-token': 'copy the whole token exactly as the other site printed it',
  expired: 'issue a new pairing token on the other site and redeem it before it expires',
  used: 'a pairing token works once; issue a new one on the other site',
  'unknown-token': 'the token was not issued by this site (or the site restarted); issue a new one',
  'certificate-mismatch': 'the endpoint is not the site that issued the token; check the address, or someone is intercepting the link',
  self: 'a site cannot pair with itself; redeem the token on the other site',
  'invalid-request': 'both sites must run a compatible OpenCDP version',
  unreachable: 'check that the issuing site still runs its pairing endpoint and that the address is reachable',
};

/** Pairing was refused; nothing was trusted on either side. */
export class PairingError extends OpenCdpError {
  constructor(readonly reason: PairingFailure, message: string) {
    super('PAIRING', message, pairingHints[reason]);
  }
}

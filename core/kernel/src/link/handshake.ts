// The link's version handshake: the client sends `hello`, the server answers `welcome` or `refuse`.
// Sites of the same major protocol version talk; a major mismatch is refused with both versions named,
// and both sides close, so an old appliance never misreads a newer one's frames.
import type { FramedConnection } from './framed-connection.js';
import { LinkError, ProtocolError, ProtocolVersionError } from './link-errors.js';
import { handshakeCodec, type HelloMeta, type WelcomeMeta } from './message-registry.js';

/** The link protocol version this build speaks. Bump the major on any incompatible frame change. */
export const LINK_PROTOCOL_VERSION = '1.0.0';

export interface HandshakeOptions {
  siteId: string;
  protocolVersion?: string;
  /** How long to wait for the other side's answer (default 10 000 ms). */
  timeoutMs?: number;
}

export interface ClientHandshakeOptions extends HandshakeOptions {
  role: string;
}

export interface ServerHandshakeOptions extends HandshakeOptions {
  /** Roles this server accepts; others are refused. Default: any. */
  acceptRoles?: readonly string[];
}

/** The major version of a `major.minor.patch` string. */
export function majorVersion(version: string): number {
  const major = /^(\d+)\./.exec(version)?.[1];
  if (major === undefined) throw new ProtocolError(`'${version}' is not a major.minor.patch protocol version`, 'protocolVersion');
  return Number(major);
}

/** Sends `hello` and waits for `welcome`. Throws (and closes the connection) on `refuse` or anything else. */
export async function clientHandshake(connection: FramedConnection, options: ClientHandshakeOptions): Promise<WelcomeMeta> {
  const local = options.protocolVersion ?? LINK_PROTOCOL_VERSION;
  const answer = connection.nextFrame(options.timeoutMs ?? 10_000);
  try {
    await connection.sendParts(handshakeCodec.encode('hello', { protocolVersion: local, siteId: options.siteId, role: options.role }));
    const message = handshakeCodec.decode(await answer);
    if (message.name === 'refuse') {
      const { reason, code, protocolVersion } = message.meta;
      throw code === 'PROTOCOL_VERSION'
        ? new ProtocolVersionError(local, protocolVersion ?? 'an unknown version', 'remote')
        : new ProtocolError(`${connection.remote} refused the link: ${reason}`, undefined, 'see the reason; the other site logged it too');
    }
    if (message.name !== 'welcome') throw new ProtocolError(`expected 'welcome' or 'refuse' from ${connection.remote}, got '${message.name}'`);
    const welcome = message.meta;
    if (majorVersion(welcome.protocolVersion) !== majorVersion(local)) throw new ProtocolVersionError(local, welcome.protocolVersion);
    if (connection.peerSiteId !== undefined && welcome.siteId !== connection.peerSiteId) {
      throw new ProtocolError(`${connection.remote} says it is site '${welcome.siteId}' but its certificate belongs to site '${connection.peerSiteId}'`, 'siteId');
    }
    return welcome;
  } catch (e) {
    answer.catch(() => {}); // the connection is going away; its pending read must not surface as unhandled
    // Not awaited: a peer that never finishes the close must not hold up the error (the close timer ends it).
    void connection.close(e as Error);
    throw e;
  }
}

/** Waits for `hello`, checks it, answers `welcome` or `refuse` (then closes). Returns the peer's hello. */
export async function serverHandshake(connection: FramedConnection, options: ServerHandshakeOptions): Promise<HelloMeta> {
  const local = options.protocolVersion ?? LINK_PROTOCOL_VERSION;
  let hello: HelloMeta;
  try {
    const message = handshakeCodec.decode(await connection.nextFrame(options.timeoutMs ?? 10_000));
    if (message.name !== 'hello') throw new ProtocolError(`expected 'hello' as the first message, got '${message.name}'`);
    hello = message.meta;
    if (majorVersion(hello.protocolVersion) !== majorVersion(local)) throw new ProtocolVersionError(local, hello.protocolVersion);
    if (connection.peerSiteId !== undefined && hello.siteId !== connection.peerSiteId) {
      throw new ProtocolError(`hello says site '${hello.siteId}' but the certificate belongs to site '${connection.peerSiteId}'`, 'siteId');
    }
    if (options.acceptRoles && !options.acceptRoles.includes(hello.role)) {
      throw new ProtocolError(`role '${hello.role}' is not accepted here (accepted: ${options.acceptRoles.join(', ')})`, 'role');
    }
  } catch (e) {
    await refuse(connection, e as Error, local);
    throw e;
  }
  connection.peerRole = hello.role;
  await connection.sendParts(handshakeCodec.encode('welcome', { protocolVersion: local, siteId: options.siteId }));
  return hello;
}

/** Answers `refuse` (if the stream is still usable) and starts closing with `error` as the reason. */
async function refuse(connection: FramedConnection, error: Error, protocolVersion: string): Promise<void> {
  const code = (error as { code?: unknown }).code;
  if (!connection.closed && !(error instanceof LinkError)) {
    const meta = { reason: error.message.slice(0, 2000), protocolVersion, ...(typeof code === 'string' ? { code } : {}) };
    // Best effort: a hostile or vanished peer may not take it, and the close below happens regardless.
    await connection.sendParts(handshakeCodec.encode('refuse', meta)).catch(() => {});
  }
  void connection.close(error);
}

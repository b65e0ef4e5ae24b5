// Link addresses are `host:port` strings (IPv6 hosts in brackets), as the NetworkAdapter port uses them.
// One parser, so listen, connect and pairing tokens agree on what an address is.
import type { Server } from 'node:net';
import { ValidationError } from '../errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port` or `[v6]:port`; port 0 is allowed (listen on any free port). */
export function parseLinkAddress(address: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ValidationError(`'${address}' is not a link address`, 'address', "write it as host:port, e.g. '127.0.0.1:7400' or '[::1]:7400'");
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Starts `server` listening; rejects with the listen error (address in use, no permission) instead of emitting it. */
export function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

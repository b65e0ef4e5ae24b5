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

/**
 * True for a host that only this machine reaches: `localhost`, 127.0.0.0/8 and ::1 (also as an IPv4-mapped
 * address). Plain-text services (HTTP without TLS) are allowed there only, unless an operator insists.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

// Separate hosts on one machine for tests and benchmarks of a site with many hosts: each host gets a
// network namespace joined to a bridge by a veth pair (iproute2's `ip netns`; needs root), so an
// appliance process there has its own network stack and address, as on a real host. Where namespaces
// cannot be made (not root, no iproute2, a container without the capability), hosts fall back to their
// own loopback addresses (127.0.0.x). `mode` says which ran; names and subnets are random per use so
// parallel runs never collide, and `dispose` removes everything it made.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HostSlot {
  /** The address the host's processes listen on and are reached at. */
  address: string;
  /** The command a process of this host runs under (empty on loopback). */
  prefix: string[];
}

export interface HostNetwork {
  mode: 'netns' | 'loopback';
  /** Why namespaces were not used (loopback mode). */
  fallbackReason?: string;
  /** The address of the machine itself as the hosts reach it (manager, recovery appliance). */
  rootAddress: string;
  hosts: HostSlot[];
  dispose(): Promise<void>;
}

/** Makes `count` hosts: namespaces when the machine allows (unless `prefer` is 'loopback'), loopback addresses otherwise. */
export async function createHostNetwork(count: number, prefer: 'netns' | 'loopback' = 'netns'): Promise<HostNetwork> {
  if (!Number.isSafeInteger(count) || count < 1 || count > 200) throw new RangeError(`host count ${count} must be 1 to 200`);
  if (prefer === 'netns') {
    try {
      return await namespaces(count);
    } catch (e) {
      return loopback(count, `network namespaces unavailable: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return loopback(count, 'loopback asked for');
}

function loopback(count: number, reason: string): HostNetwork {
  return {
    mode: 'loopback', fallbackReason: reason, rootAddress: '127.0.0.1',
    hosts: Array.from({ length: count }, (_, i) => ({ address: `127.0.${Math.floor(i / 240)}.${10 + (i % 240)}`, prefix: [] })),
    dispose: async () => undefined,
  };
}

async function namespaces(count: number): Promise<HostNetwork> {
  if (process.getuid?.() !== 0) throw new Error('not root');
  const tag = `oc${randomInt(0, 36 ** 4).toString(36).padStart(4, '0')}`;
  const subnet = `10.${randomInt(64, 250)}.${randomInt(0, 250)}`;
  const bridge = `${tag}br`;
  const made: { namespaces: string[]; bridge: boolean } = { namespaces: [], bridge: false };
  const ip = (...args: string[]): Promise<unknown> => run('ip', args, { timeout: 10_000 });
  const dispose = async (): Promise<void> => {
    // Deleting a namespace removes its veth end and so the pair.
    for (const ns of made.namespaces) await ip('netns', 'delete', ns).catch(() => undefined);
    if (made.bridge) await ip('link', 'delete', bridge).catch(() => undefined);
  };
  try {
    await ip('link', 'add', 'name', bridge, 'type', 'bridge');
    made.bridge = true;
    await ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    const hosts: HostSlot[] = [];
    for (let i = 0; i < count; i++) {
      const ns = `${tag}n${i}`;
      await ip('netns', 'add', ns);
      made.namespaces.push(ns);
      const outside = `${tag}h${i}`;
      const inside = `${tag}v${i}`;
      await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      await ip('link', 'set', inside, 'netns', ns);
      await ip('link', 'set', outside, 'master', bridge);
      await ip('link', 'set', outside, 'up');
      const address = `${subnet}.${10 + i}`;
      await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', inside);
      await ip('netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up');
      await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      hosts.push({ address, prefix: ['ip', 'netns', 'exec', ns] });
    }
    return { mode: 'netns', rootAddress: `${subnet}.1`, hosts, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

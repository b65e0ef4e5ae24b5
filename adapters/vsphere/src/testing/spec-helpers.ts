// Shared by this package's specs: one vcsim per describe block (started in `before`, stopped in `after`),
// adapters connected to it, hashing, temp folders, and what the fixture's datastore holds on disk.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SystemClock } from '@opencdp/core';
import type { Clock } from '@opencdp/core';
import { VimClient, type VimClientOptions } from '../vim-client.js';
import { MoRef, objects, str } from '../vim-types.js';
import { VsphereHypervisor, type VsphereConnectOptions } from '../vsphere-hypervisor.js';
import { requireVcsimOrSkip, startVcsim, type VcsimFixture, type VcsimModel } from './vcsim-fixture.js';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'ocvs-'));
}

export interface VcsimContext {
  readonly fixture: VcsimFixture;
  client(options?: Partial<VimClientOptions>): Promise<VimClient>;
  hypervisor(options?: Partial<VsphereConnectOptions>): Promise<VsphereHypervisor>;
}

/**
 * Registers `before`/`after` hooks that start one vcsim for the describe block (building the fixture the
 * first time: up to a few minutes) and close every client the block opened.
 */
export function useVcsim(model: VcsimModel = {}): VcsimContext {
  let fixture: VcsimFixture | undefined;
  const opened: { close(): Promise<void> }[] = [];
  before(async function () {
    this.timeout(400_000);
    requireVcsimOrSkip(this);
    fixture = await startVcsim(model);
  });
  after(async function () {
    this.timeout(30_000);
    for (const c of opened.splice(0)) await c.close().catch(() => undefined);
    await fixture?.stop();
  });
  const ctx: VcsimContext = {
    get fixture(): VcsimFixture {
      if (!fixture) throw new Error('vcsim is not running');
      return fixture;
    },
    async client(options = {}) {
      const f = ctx.fixture;
      const c = await VimClient.connect({ url: f.url, user: f.user, password: () => f.password, trust: { kind: 'thumbprint', thumbprint: f.thumbprint }, ...options });
      opened.push(c);
      return c;
    },
    async hypervisor(options = {}) {
      const f = ctx.fixture;
      const hv = await VsphereHypervisor.connect({
        url: f.url, user: f.user, password: f.password, trust: { kind: 'thumbprint', thumbprint: f.thumbprint },
        datacenter: 'DC0', siteId: 'site-v', clock: new SystemClock() as Clock, livePortgroup: 'DC0_DVPG0', testPortgroups: ['DC0_DVPG1'],
        taskTimeoutMs: 20_000, ...options,
      });
      opened.push({ close: () => hv.dispose() });
      return hv;
    },
  };
  return ctx;
}

/** The session keys vCenter lists (SessionManager.sessionList). */
export async function sessionKeys(admin: VimClient): Promise<string[]> {
  const props = await admin.properties(admin.content.sessionManager, ['sessionList']);
  return objects(props.sessionList).map((s) => str(s.key));
}

/** Names of the snapshots of a VM, read through an independent client. */
export async function snapshotNames(client: VimClient, vmId: string): Promise<string[]> {
  const props = await client.properties(new MoRef('VirtualMachine', vmId), ['snapshot']);
  const names: string[] = [];
  const walk = (nodes: unknown): void => {
    for (const n of objects(nodes as never)) {
      names.push(str(n.name));
      walk(n.childSnapshotList);
    }
  };
  walk((props.snapshot as { rootSnapshotList?: unknown } | undefined)?.rootSnapshotList);
  return names;
}

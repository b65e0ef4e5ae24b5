// Test support for specs that run managed appliances in the test process: a temp folder per test, the
// appliances a test started (stopped after it, even on failure), and two sites' identities that trust
// each other.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TrustedPeers, type ControlTls } from '@opencdp/core';
import { createIdentityFile, trustPeer } from '../../appliance/identity-files.js';
import type { RunningSiteAppliance } from '../site-appliance.js';

export interface SiteFiles {
  identityFile: string;
  trustedPeersFile: string;
}

/**
 * Identities of `site-a` and `site-b` in `dir`, each trusting the other; `controlTls` is what a manager of
 * site A presents on the control link (both sites' appliances accept it).
 */
export async function pairedIdentities(dir: string): Promise<{ a: SiteFiles; b: SiteFiles; controlTls: ControlTls }> {
  const f = (name: string): string => path.join(dir, name);
  const a = await createIdentityFile('site-a', f('a.identity.json'));
  const b = await createIdentityFile('site-b', f('b.identity.json'));
  await trustPeer(a, { siteId: b.siteId, caCertPem: b.caCertPem }, f('a.peers.json'));
  await trustPeer(b, { siteId: a.siteId, caCertPem: a.caCertPem }, f('b.peers.json'));
  return {
    a: { identityFile: f('a.identity.json'), trustedPeersFile: f('a.peers.json') },
    b: { identityFile: f('b.identity.json'), trustedPeersFile: f('b.peers.json') },
    controlTls: { identity: a, trustedPeers: new TrustedPeers([b.asTrustedPeer()]) },
  };
}

/** Registers mocha hooks: a fresh folder per test, and every appliance pushed to `running` stopped after it. */
export function siteApplianceFixture(prefix: string): { dir(): string; running: RunningSiteAppliance[] } {
  let dir = '';
  const running: RunningSiteAppliance[] = [];
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return { dir: () => dir, running };
}

// `appliance start --role protected` on a platform section (here the fake platform, loaded by the loader
// like any adapter) protects the existing VMs named in vmNames and nothing else, plays no guests (no
// workload, no verification), and refuses a name the platform does not have, listing the ones it has.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProtectionGroupSettings, ValidationError } from '@opencdp/core';
import { pairedIdentities } from '../site/testing/paired-sites.js';
import { until } from '../site/two-site-lab.js';
import type { ProtectedConfig } from './appliance-config.js';
import { startProtected } from './protected-process.js';
import { startRecovery } from './recovery-process.js';
import type { ProtectedStatus } from './status-file.js';

describe('protected appliance process on a platform section', function () {
  this.timeout(60_000);
  let dir = '';
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-prot-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('protects the named VMs of the platform, and refuses a name it does not have', async () => {
    const ids = await pairedIdentities(dir);
    const log = (): void => undefined;
    const recovery = await startRecovery({ role: 'recovery', siteId: 'site-b', dataDir: path.join(dir, 'b'), listen: '127.0.0.1:0', ...ids.b }, log);
    try {
      const base: ProtectedConfig = {
        role: 'protected', siteId: 'site-a', ...ids.a, recoveryAddress: recovery.address, statusFile: path.join(dir, 'status.json'),
        group: { groupId: 'g', settings: parseProtectionGroupSettings({ name: 'g', checkpointIntervalMs: 500 }) },
        platform: { name: 'fake', config: { vms: [{ name: 'web', volumes: [{ sizeBytes: 1 << 20 }] }, { name: 'db', volumes: [{ sizeBytes: 2 << 20 }] }] } },
        vmNames: ['db'],
      };
      await assert.rejects(startProtected({ ...base, vmNames: ['db', 'mail'] }, log),
        (e: unknown) => e instanceof ValidationError && e.field === 'vmNames.1' && /no VM named 'mail' \(it has 'web', 'db'\)/.test(e.message));
      const running = await startProtected(base, log);
      try {
        await until('the group to stream', async () => (running.sender.state.phase === 'streaming' ? true : undefined));
        await until('a checkpoint at the recovery site', async () => (recovery.appliance.journalsOf('g')[0]?.stats().latestCheckpoint ? true : undefined));
        assert.deepEqual(recovery.appliance.journalsOf('g').map((j) => j.vmId), ['site-a.vm-2'], 'only db is protected');
      } finally {
        await running.stop();
      }
      const status = JSON.parse(await fs.readFile(base.statusFile, 'utf8')) as ProtectedStatus;
      assert.deepEqual(status.vms.map((v) => [v.name, v.vmId]), [['db', 'site-a.vm-2']]);
      assert.equal(status.stopped, true);
      assert.deepEqual(status.verified, [], 'no guests played, nothing verified');
      assert.equal((await fs.stat(path.join(dir, 'platform-fake'))).mode & 0o777, 0o700, 'the platform folder beside the status file');
    } finally {
      await recovery.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '@opencdp/core';
import { loadApplianceConfig, parseApplianceConfig, type ProtectedConfig, type RecoveryConfig } from './appliance-config.js';

const recovery = (): Record<string, unknown> => ({
  role: 'recovery', siteId: 'rec-1', dataDir: 'data', listen: '127.0.0.1:0', identityFile: 'id.json', trustedPeersFile: 'peers.json',
});
const protectedConfig = (): Record<string, unknown> => ({
  role: 'protected', siteId: 'prot-1', identityFile: 'id.json', trustedPeersFile: 'peers.json', recoveryAddress: '127.0.0.1:7400',
  group: { groupId: 'pg-1', settings: { name: 'g', checkpointIntervalMs: 1000 } },
  vms: [{ name: 'web', volumes: [{ sizeBytes: 1048576 }] }, { name: 'db', volumes: [{ sizeBytes: 2097152, sectorSize: 4096 }] }],
  workload: { seed: 1, ratePerSecond: 50, writeSizes: [4096] },
  statusFile: 'status.json',
});

/** Asserts that parsing throws a ValidationError naming `field`. */
function rejectsField(input: unknown, role: 'recovery' | 'protected', field: string, message?: RegExp): void {
  assert.throws(() => parseApplianceConfig(input, role, '/base'), (e: unknown) => {
    assert.ok(e instanceof ValidationError, `a ValidationError, got ${String(e)}`);
    assert.equal(e.field, field, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('appliance configuration', () => {
  it('accepts a recovery configuration and resolves its paths against the file\'s folder', () => {
    const c = parseApplianceConfig(recovery(), 'recovery', '/base') as RecoveryConfig;
    assert.equal(c.dataDir, '/base/data');
    assert.equal(c.identityFile, '/base/id.json');
    assert.equal(c.trustedPeersFile, '/base/peers.json');
    assert.equal(c.listen, '127.0.0.1:0');
  });

  it('accepts a protected configuration and fills the group settings\' defaults', () => {
    const c = parseApplianceConfig({ ...protectedConfig(), volumeDir: '/abs/vols' }, 'protected', '/base') as ProtectedConfig;
    assert.equal(c.group.settings.checkpointIntervalMs, 1000);
    assert.equal(c.group.settings.priority, 'Medium');
    assert.equal(c.statusFile, '/base/status.json');
    assert.equal(c.volumeDir, '/abs/vols');
  });

  it('names the missing, unknown or malformed field', () => {
    const { listen: _, ...noListen } = recovery();
    rejectsField(noListen, 'recovery', 'listen', /missing field 'listen'/);
    rejectsField({ ...recovery(), extra: 1 }, 'recovery', 'extra', /unknown field 'extra'/);
    rejectsField({ ...recovery(), siteId: 'Not A Site' }, 'recovery', 'siteId');
    rejectsField({ ...recovery(), listen: 'localhost' }, 'recovery', 'listen');
    rejectsField({ ...protectedConfig(), recoveryAddress: 'nowhere:99999' }, 'protected', 'recoveryAddress');
    rejectsField({ ...protectedConfig(), workload: { seed: 1, ratePerSecond: 0, writeSizes: [4096] } }, 'protected', 'workload.ratePerSecond');
    rejectsField({ ...protectedConfig(), vms: [] }, 'protected', 'vms');
    rejectsField({ ...protectedConfig(), group: { groupId: '../escape', settings: { name: 'g' } } }, 'protected', 'group.groupId');
  });

  it('checks the group settings with the kernel\'s schema and names the field under group.settings', () => {
    rejectsField({ ...protectedConfig(), group: { groupId: 'pg', settings: { name: 'g', checkpointIntervalMs: 50 } } }, 'protected', 'group.settings.checkpointIntervalMs');
    rejectsField({ ...protectedConfig(), group: { groupId: 'pg', settings: {} } }, 'protected', 'group.settings.name');
  });

  it('refuses duplicate VM names and volumes that are not whole sectors', () => {
    const c = protectedConfig();
    rejectsField({ ...c, vms: [{ name: 'a', volumes: [{ sizeBytes: 4096 }] }, { name: 'a', volumes: [{ sizeBytes: 4096 }] }] }, 'protected', 'vms.1.name');
    rejectsField({ ...c, vms: [{ name: 'a', volumes: [{ sizeBytes: 4096 }, { sizeBytes: 6144, sectorSize: 4096 }] }] }, 'protected', 'vms.0.volumes.1.sizeBytes');
  });

  it('refuses a file whose role is not the --role asked for', () => {
    rejectsField(recovery(), 'protected', 'role', /--role/);
    rejectsField([], 'recovery', '(root)');
  });

  it('loads from a file and reports unreadable or non-JSON files as the config field', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-config-'));
    try {
      const file = path.join(dir, 'r.json');
      await fs.writeFile(file, JSON.stringify(recovery()));
      assert.equal(((await loadApplianceConfig(file, 'recovery')) as RecoveryConfig).dataDir, path.join(dir, 'data'));
      await fs.writeFile(file, '{ not json');
      await assert.rejects(loadApplianceConfig(file, 'recovery'), (e: ValidationError) => e.field === 'config' && /not JSON/.test(e.message));
      await assert.rejects(loadApplianceConfig(path.join(dir, 'missing.json'), 'recovery'), (e: ValidationError) => e.field === 'config');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

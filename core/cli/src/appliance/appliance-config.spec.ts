import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '@opencdp/core';
import { loadApplianceConfig, parseApplianceConfig, parseSiteApplianceConfig, type ProtectedConfig, type RecoveryConfig } from './appliance-config.js';

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

  it('takes a platform section: its package path resolves against the file, and the fake guests\' fields are refused beside it', () => {
    const { vms: _v, workload: _w, ...onPlatform } = protectedConfig();
    const c = parseApplianceConfig({ ...onPlatform, platform: { package: './vendor/acme', config: { endpoint: 'x' } }, vmNames: ['db'] }, 'protected', '/base') as ProtectedConfig;
    assert.deepEqual(c.platform, { package: '/base/vendor/acme', config: { endpoint: 'x' } });
    assert.deepEqual(c.vmNames, ['db']);
    const named = parseApplianceConfig({ ...onPlatform, platform: { name: 'qemu' }, vmNames: ['db'] }, 'protected', '/base') as ProtectedConfig;
    assert.deepEqual(named.platform, { name: 'qemu' }, 'a package name is not a path');
    rejectsField({ ...onPlatform, platform: { name: 'qemu' } }, 'protected', 'vmNames', /needs vmNames/);
    rejectsField({ ...protectedConfig(), platform: { name: 'qemu' }, vmNames: ['db'] }, 'protected', 'vms', /simulated guests/);
    rejectsField({ ...onPlatform, vms: protectedConfig().vms, vmNames: ['db'] }, 'protected', 'workload');
    rejectsField({ ...protectedConfig(), vmNames: ['db'] }, 'protected', 'vmNames', /needs a platform section/);
    rejectsField({ ...onPlatform, platform: { name: 'Bad Name' }, vmNames: ['db'] }, 'protected', 'platform.name');
    rejectsField({ ...onPlatform, platform: { name: 'qemu', extra: 1 }, vmNames: ['db'] }, 'protected', 'platform.extra');
    const r = parseApplianceConfig({ ...recovery(), platform: { name: 'aws', config: {} } }, 'recovery', '/base') as RecoveryConfig;
    assert.deepEqual(r.platform, { name: 'aws', config: {} });

    const serve = { siteId: 'site-a', identityFile: 'id.json', trustedPeersFile: 'p.json', dataDir: 'd', control: { listen: '127.0.0.1:0', token: 'x'.repeat(20) } };
    assert.deepEqual(parseSiteApplianceConfig({ ...serve, platform: { package: '../acme' } }, '/base/conf').platform, { package: '/base/acme' });
    assert.throws(() => parseSiteApplianceConfig({ ...serve, platform: { name: 'fake' }, vms: [{ name: 'a', volumes: [{ sizeBytes: 4096 }] }] }, '/base'),
      (e: unknown) => e instanceof ValidationError && e.field === 'vms' && /platform\.config\.vms/.test(e.message));
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

// The one place in this package that imports reflect-metadata: it plays the appliance (the host entry point).
// Loads the package's ContainerModule into an inversify container, gets the PlatformProvider, validates a
// configuration against its schema (ajv, errors naming the field), and creates the platform from it — on
// the SIMULATED Hyper-V shell.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { Container } from 'inversify';
import { PlatformProvider, SystemClock } from '@opencdp/core';
import { hypervAdapterModule } from './hyperv-adapter-module.js';
import { HypervConfigError } from './hyperv-errors.js';
import { parseHypervConfig, readRemotePassword } from './hyperv-config.js';
import { HypervHypervisor } from './hyperv-hypervisor.js';
import { SimulatedHost } from './simulation/simulated-host.js';
import { simulatedPowerShell } from './simulation/simulated-powershell.js';
import { tempDir } from './spec-helpers.js';

describe('hypervAdapterModule (PlatformProvider, on the SIMULATED Hyper-V shell)', function () {
  this.timeout(60_000);

  it('binds the hyperv PlatformProvider; a config that passes its schema creates a working platform', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const container = new Container();
      container.load(hypervAdapterModule);
      const provider = container.get<PlatformProvider>(PlatformProvider);
      assert.equal(provider.platform, 'hyperv');
      const host = await SimulatedHost.create(path.join(dir, 'host'));
      const shell = await simulatedPowerShell(dir, host.root);
      const config = {
        powershell: { executable: shell.executable },
        storagePaths: ['C:\\Hyper-V'],
        transport: { kind: 'smb', mappings: [{ hostPath: 'C:\\', localPath: path.join(host.root, 'C') }] },
      };
      // The appliance's check: the provider's own schema.
      const validate = new Ajv({ strict: false }).compile(provider.configSchema);
      assert.equal(validate(config), true, JSON.stringify(validate.errors));
      assert.equal(validate({ ...config, storagePaths: ['relative\\path'] }), false);
      Object.assign(process.env, shell.env);
      const dataDir = path.join(dir, 'data');
      await fs.mkdir(dataDir, { mode: 0o700 });
      const platform = await provider.create(config, { roles: ['recovery'], siteId: 'site-b', dataDir, clock: new SystemClock(), log: () => undefined });
      try {
        assert.ok(platform.hypervisor instanceof HypervHypervisor);
        const inv = await platform.hypervisor.inventory();
        assert.deepEqual(inv.hosts.map((h) => h.siteId), ['site-b']);
        assert.deepEqual(inv.networks.map((n) => n.name), ['LAN', 'Isolated Test']);
        assert.ok(platform.hypervisor.changeTracking);
      } finally {
        await platform.dispose();
        for (const k of Object.keys(shell.env ?? {})) delete process.env[k];
      }
    } finally {
      await cleanup();
    }
  });

  it('bad configurations are refused naming the field; passwords come from the environment or a 0600 file only', async () => {
    const base = { storagePaths: ['C:\\VMs'], transport: { kind: 'smb', mappings: [{ hostPath: 'C:\\VMs', localPath: '/mnt/vms' }] } };
    assert.throws(() => parseHypervConfig({ ...base, storagePaths: [] }), (e: unknown) => e instanceof HypervConfigError && e.field === 'storagePaths');
    assert.throws(() => parseHypervConfig({ ...base, password: 'x' }), HypervConfigError);
    assert.throws(() => parseHypervConfig({ ...base, remoteHost: { computerName: 'hv 01' } }), (e: unknown) => e instanceof HypervConfigError && e.field === 'remoteHost.computerName');
    assert.throws(() => parseHypervConfig({ ...base, remoteHost: { computerName: 'hv01', passwordEnv: 'X' } }), HypervConfigError);
    assert.throws(() => parseHypervConfig({ ...base, transport: { kind: 'smb', mappings: [{ hostPath: 'C:\\VMs', localPath: 'relative' }] } }), (e: unknown) => e instanceof HypervConfigError && /transport\.mappings\.0\.localPath/.test(e.field));
    const ok = parseHypervConfig({ ...base, remoteHost: { computerName: 'hv01.corp.example', userName: 'CORP\\svc', passwordEnv: 'HV_PASSWORD' } });
    assert.equal(await readRemotePassword(ok.remoteHost!, { HV_PASSWORD: 'pw' }), 'pw');
    await assert.rejects(readRemotePassword(ok.remoteHost!, {}), HypervConfigError);
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, 'pw');
      await fs.writeFile(file, 'from-file\n', { mode: 0o644 });
      await assert.rejects(readRemotePassword({ computerName: 'h', userName: 'u', passwordFile: file }), /readable by others/);
      await fs.chmod(file, 0o600);
      assert.equal(await readRemotePassword({ computerName: 'h', userName: 'u', passwordFile: file }), 'from-file');
    } finally {
      await cleanup();
    }
  });
});

// The one place in this package that imports reflect-metadata: it plays the host entry point. An appliance
// loads the package's ContainerModule (named in package.json), gets the PlatformProvider, validates its
// config section with the provider's schema and creates the platform — here against vcsim over TLS.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { Container } from 'inversify';
import { PlatformProvider, SystemClock, ValidationError } from '@opencdp/core';
import * as adapter from './index.js';
import { VsphereHypervisor } from './vsphere-hypervisor.js';
import { VsphereObjectNotFoundError } from './vsphere-errors.js';
import { sessionKeys, useVcsim } from './testing/spec-helpers.js';

describe('vsphereAdapterModule (vcsim)', function () {
  this.timeout(60_000);
  const vc = useVcsim();
  const context = { roles: ['protected', 'recovery'] as const, siteId: 'site-v', dataDir: '/nonexistent', clock: new SystemClock(), log: () => undefined };

  function provider(): PlatformProvider {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { opencdp: { containerModule: string } };
    const module = (adapter as unknown as Record<string, unknown>)[pkg.opencdp.containerModule];
    const container = new Container();
    container.load(module as Parameters<Container['load']>[0]);
    return container.get<PlatformProvider>(PlatformProvider);
  }

  it('loads by the package.json name, validates a config with its schema and creates a working vSphere platform', async () => {
    const p = provider();
    assert.equal(p.platform, 'vsphere');
    const config = { url: vc.fixture.url, user: vc.fixture.user, passwordEnv: 'OPENCDP_TEST_VSPHERE_PW', thumbprint: vc.fixture.thumbprint, datacenter: 'DC0', datastore: 'LocalDS_1', livePortgroup: 'DC0_DVPG0', testPortgroups: ['DC0_DVPG1'] };
    assert.ok(new Ajv({ strict: true }).compile(p.configSchema)(config), 'the schema accepts it');
    process.env.OPENCDP_TEST_VSPHERE_PW = vc.fixture.password;
    try {
      const instance = await p.create(config, { ...context, roles: [...context.roles] });
      assert.ok(instance.hypervisor instanceof VsphereHypervisor);
      const inventory = await instance.hypervisor.inventory();
      assert.deepEqual(inventory.networks.filter((n) => n.isolated).map((n) => n.name), ['DC0_DVPG1']);
      assert.equal(inventory.networks[0].name, 'DC0_DVPG0', 'the live portgroup is listed first');
      assert.deepEqual(inventory.datastores.map((d) => d.name).sort(), ['LocalDS_0', 'LocalDS_1']);
      assert.equal(inventory.hosts.length, 3);
      const admin = await vc.client();
      const key = (instance.hypervisor as VsphereHypervisor).client.sessionKey!;
      assert.ok((await sessionKeys(admin)).includes(key));
      await instance.dispose();
      assert.ok(!(await sessionKeys(admin)).includes(key), 'dispose logged out');
    } finally {
      delete process.env.OPENCDP_TEST_VSPHERE_PW;
    }
  });

  it('refuses a config naming what is wrong: a bad field, an unset password variable, an unknown datacenter, datastore or portgroup', async () => {
    const p = provider();
    const base = { url: vc.fixture.url, user: vc.fixture.user, passwordEnv: 'OPENCDP_TEST_VSPHERE_PW', thumbprint: vc.fixture.thumbprint, datacenter: 'DC0' };
    await assert.rejects(p.create({ ...base, datacenter: '' }, { ...context, roles: ['recovery'] }), (e: unknown) => e instanceof ValidationError && e.field === 'datacenter');
    await assert.rejects(p.create(base, { ...context, roles: ['recovery'] }), (e: unknown) => e instanceof ValidationError && e.field === 'passwordEnv');
    process.env.OPENCDP_TEST_VSPHERE_PW = vc.fixture.password;
    const admin = await vc.client();
    const before = (await sessionKeys(admin)).sort();
    try {
      for (const [patch, fieldName] of [[{ datacenter: 'DC9' }, 'datacenter'], [{ datastore: 'nope' }, 'datastore'], [{ testPortgroups: ['nope'] }, 'testPortgroups'], [{ cluster: 'nope' }, 'cluster'], [{ folder: 'nope' }, 'folder']] as const) {
        await assert.rejects(p.create({ ...base, ...patch }, { ...context, roles: ['recovery'] }), (e: unknown) => {
          assert.ok(e instanceof VsphereObjectNotFoundError, `got ${(e as Error).message}`);
          assert.equal(e.field, fieldName);
          return true;
        });
      }
      assert.deepEqual((await sessionKeys(admin)).sort(), before, 'refused configs left no session behind');
    } finally {
      delete process.env.OPENCDP_TEST_VSPHERE_PW;
    }
  });
});

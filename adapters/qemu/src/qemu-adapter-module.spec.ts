// The one place in this package that imports reflect-metadata: it plays the host entry point.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { Container } from 'inversify';
import { HypervisorAdapter } from '@opencdp/core';
import { qemuAdapterModule, QemuHypervisorOptionsToken } from './qemu-adapter-module.js';
import { QemuHypervisor, type QemuHypervisorOptions } from './qemu-hypervisor.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { tempDir } from './spec-helpers.js';

describe('qemuAdapterModule', function () {
  this.timeout(30_000);

  before(function () {
    requireToolsOrSkip(this);
  });

  it('resolves HypervisorAdapter to one QemuHypervisor on the bound folder', async () => {
    const dir = await tempDir();
    const container = new Container();
    container.bind<QemuHypervisorOptions>(QemuHypervisorOptionsToken).toConstantValue({ workDir: dir, hosts: ['di-host'] });
    container.load(qemuAdapterModule);
    const hv = await container.getAsync<HypervisorAdapter>(HypervisorAdapter);
    try {
      assert.ok(hv instanceof QemuHypervisor);
      assert.equal(hv, await container.getAsync<HypervisorAdapter>(HypervisorAdapter), 'a singleton');
      assert.equal(hv.platform, 'qemu');
      assert.deepEqual((await hv.inventory()).hosts.map((h) => h.name), ['di-host']);
    } finally {
      await (hv as QemuHypervisor).dispose();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

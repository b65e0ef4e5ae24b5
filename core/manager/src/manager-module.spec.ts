// Host-style test: the one place in this package that imports reflect-metadata.
import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container } from 'inversify';
import { Clock, VirtualClock, coreModule } from '@opencdp/core';
import { pino } from 'pino';
import { ManagerFactory, ManagerOptionsKey, managerModule } from './manager-module.js';
import type { ManagerOptions } from './manager.js';
import { RecordingAppliance } from './testing/recording-appliance.js';

describe('managerModule', () => {
  it('resolves a ManagerFactory that starts a manager with the bound options and the host\'s Clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opencdp-manager-di-'));
    const clock = new VirtualClock(Date.UTC(2026, 5, 1));
    const container = new Container();
    container.bind<Clock>(Clock).toConstantValue(clock);
    container.bind<ManagerOptions>(ManagerOptionsKey).toConstantValue({ dataDir: dir, siteId: 'site-a', appliances: [new RecordingAppliance('site-a')], logger: pino({ level: 'silent' }) });
    await container.load(coreModule, managerModule);
    const manager = await container.get<ManagerFactory>(ManagerFactory).start();
    try {
      assert.equal(manager.clock, clock);
      assert.equal(manager.localSite().id, 'site-a');
    } finally {
      await manager.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

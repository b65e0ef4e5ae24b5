// Host-style test: the one place in this package that imports reflect-metadata.
import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container } from 'inversify';
import { Clock, VirtualClock, coreModule } from '@opencdp/core';
import { pino } from 'pino';
import { Accounts } from './accounts/accounts.js';
import { ApplianceRegistry } from './appliances/appliance-registry.js';
import { ProtectionGroups } from './groups/protection-groups.js';
import { SettingsDrafts } from './groups/settings-drafts.js';
import { Manager, type ManagerOptions } from './manager.js';
import { ManagerFactory, ManagerOptionsKey, managerModule } from './manager-module.js';
import { ManagerParts } from './manager-parts.js';
import { Alerts } from './monitor/alerts.js';
import { Monitor } from './monitor/monitor.js';
import { FileRestores } from './recovery/file-restores.js';
import { RecoveryReports } from './recovery/recovery-reports.js';
import { RecoveryTasks } from './recovery/recovery-tasks.js';
import { CheckpointScheduler } from './scheduler/checkpoint-scheduler.js';
import { Peering } from './sites/peering.js';
import { Sites } from './sites/sites.js';
import { Store } from './store.js';
import { EventLog } from './tasks/event-log.js';
import { TaskRunner } from './tasks/task-runner.js';
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

  it('builds each part once per container: the facade and every part share the same instances', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opencdp-manager-di-'));
    const container = new Container();
    container.bind<ManagerOptions>(ManagerOptionsKey).toConstantValue({ dataDir: dir, siteId: 'site-a', appliances: [], logger: pino({ level: 'silent' }) });
    container.load(managerModule);
    const parts = container.get<ManagerParts>(ManagerParts);
    try {
      const classes = {
        store: Store, accounts: Accounts, sites: Sites, peering: Peering, appliances: ApplianceRegistry, groups: ProtectionGroups, drafts: SettingsDrafts,
        scheduler: CheckpointScheduler, recovery: RecoveryTasks, fileRestores: FileRestores, reports: RecoveryReports, monitor: Monitor, alerts: Alerts, tasks: TaskRunner, events: EventLog,
      } as const;
      for (const [key, cls] of Object.entries(classes)) {
        const part = parts[key as keyof typeof classes];
        assert.ok(part instanceof cls, key);
        assert.equal(container.get<unknown>(cls), part, `${key} is one instance`);
      }
      assert.equal(container.get(Manager).parts, parts);
    } finally {
      parts.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

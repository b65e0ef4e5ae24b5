// Dependency-injection entry point of @opencdp/manager (named in package.json's `opencdp` field): a host
// binds `ManagerOptions` (data dir, site, appliances) and gets a `ManagerFactory` that starts the manager.
import { ContainerModule } from 'inversify';
import { Clock } from '@opencdp/core';
import { Manager, type ManagerOptions as ManagerStartOptions } from './manager.js';

/** Binding key of the `ManagerOptions` (see manager.ts) the factory starts with. */
export const ManagerOptionsKey = Symbol('ManagerOptions');
export const ManagerFactory = Symbol('ManagerFactory');
/** Starts the manager with the bound options (and the bound Clock unless the options name one). */
export interface ManagerFactory {
  start(): Promise<Manager>;
}

export const managerModule = new ContainerModule(({ bind }) => {
  bind<ManagerFactory>(ManagerFactory).toDynamicValue((ctx) => ({
    start: () => {
      const options = ctx.get<ManagerStartOptions>(ManagerOptionsKey);
      const clock = options.clock ?? ctx.get<Clock>(Clock, { optional: true });
      return Manager.start({ ...options, ...(clock ? { clock } : {}) });
    },
  }));
});

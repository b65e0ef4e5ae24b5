// Dependency-injection entry point of @opencdp/core (named in package.json's `opencdp` field): the
// embedded defaults a host gets unless an adapter or the host binds something else first.
import { ContainerModule } from 'inversify';
import { Clock, SystemClock } from './clock.js';
import { ConsistencyAgent, ConsistencyAgentProvider } from './ports/consistency-agent.js';
import { StorageAdapter } from './ports/storage-adapter.js';
import { LocalFileStorage } from './storage/local-file-storage.js';

/** Folder the default local-file storage keeps journals and replicas in. */
export const StorageRoot = Symbol('StorageRoot');

/**
 * Binds, where nothing is bound yet: `Clock` to the system clock, `StorageRoot` to `./opencdp-data`,
 * `StorageAdapter` to sparse local files under it, and `ConsistencyAgentProvider` to a provider of every
 * bound `ConsistencyAgent` (an empty list when there are none).
 */
export const coreModule = new ContainerModule(({ bind, isBound }) => {
  if (!isBound(Clock)) bind<Clock>(Clock).toConstantValue(new SystemClock());
  if (!isBound(StorageRoot)) bind<string>(StorageRoot).toConstantValue('opencdp-data');
  if (!isBound(StorageAdapter)) bind<StorageAdapter>(StorageAdapter).toDynamicValue((ctx) => new LocalFileStorage(ctx.get<string>(StorageRoot))).inSingletonScope();
  bind<ConsistencyAgentProvider>(ConsistencyAgentProvider).toDynamicValue((ctx) => ({
    getAgents: () => ctx.getAll<ConsistencyAgent>(ConsistencyAgent, { optional: true }),
  }));
});

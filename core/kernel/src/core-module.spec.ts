// Host-style test: the one place in core that imports reflect-metadata.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { Container } from 'inversify';
import { Clock, SystemClock, VirtualClock } from './clock.js';
import { coreModule, StorageRoot } from './core-module.js';
import { ConsistencyAgent, ConsistencyAgentProvider } from './ports/consistency-agent.js';
import { StorageAdapter } from './ports/storage-adapter.js';
import { LocalFileStorage } from './storage/local-file-storage.js';

describe('coreModule', () => {
  it('binds and resolves every default', () => {
    const c = new Container();
    c.load(coreModule);
    assert.ok(c.get<Clock>(Clock) instanceof SystemClock);
    assert.equal(c.get<string>(StorageRoot), 'opencdp-data');
    const storage = c.get<StorageAdapter>(StorageAdapter);
    assert.ok(storage instanceof LocalFileStorage);
    assert.equal(c.get<StorageAdapter>(StorageAdapter), storage, 'one storage per container');
    assert.deepEqual(c.get<ConsistencyAgentProvider>(ConsistencyAgentProvider).getAgents(), [], 'an empty list, never undefined');
  });

  it('keeps what the host bound first and gathers every consistency agent', () => {
    const c = new Container();
    const clock = new VirtualClock();
    c.bind<Clock>(Clock).toConstantValue(clock);
    const agent = (name: string): ConsistencyAgent => ({ name, handles: () => true, quiesce: async (vmId) => ({ vmId, handle: name }), thaw: async () => undefined });
    c.bind<ConsistencyAgent>(ConsistencyAgent).toConstantValue(agent('fsfreeze'));
    c.bind<ConsistencyAgent>(ConsistencyAgent).toConstantValue(agent('vss'));
    c.load(coreModule);
    assert.equal(c.get<Clock>(Clock), clock);
    assert.deepEqual(c.get<ConsistencyAgentProvider>(ConsistencyAgentProvider).getAgents().map((a) => a.name), ['fsfreeze', 'vss']);
  });
});

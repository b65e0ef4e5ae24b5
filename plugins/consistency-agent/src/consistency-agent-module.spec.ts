// Host-style test: the one place in this package that imports reflect-metadata.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { Container } from 'inversify';
import type { ServiceIdentifier } from 'inversify';
import { ConsistencyAgent, ConsistencyAgentProvider, coreModule } from '@opencdp/core';
import { consistencyAgentModule } from './consistency-agent-module.js';
import { HttpConsistencyAgent, HttpConsistencyAgentConfig } from './http-consistency-agent.js';
import { AUTH_TOKEN } from './spec-helpers.js';

describe('consistencyAgentModule', () => {
  it('binds and resolves every service, built from the config the host bound', () => {
    const container = new Container();
    const config: HttpConsistencyAgentConfig = { guests: { 'vm-1': { url: 'http://127.0.0.1:9480', token: AUTH_TOKEN } }, name: 'guests' };
    container.bind<HttpConsistencyAgentConfig>(HttpConsistencyAgentConfig).toConstantValue(config);
    container.load(coreModule, consistencyAgentModule);
    const ids: ServiceIdentifier[] = [HttpConsistencyAgentConfig, HttpConsistencyAgent, ConsistencyAgent, ConsistencyAgentProvider];
    for (const id of ids) assert.ok(container.get<unknown>(id) !== undefined, String(id));

    const agent = container.get<ConsistencyAgent>(ConsistencyAgent);
    assert.ok(agent instanceof HttpConsistencyAgent);
    assert.equal(agent, container.get(HttpConsistencyAgent), 'one agent, whichever way it is asked for');
    assert.equal(agent.name, 'guests');
    assert.equal(agent.handles('vm-1'), true);
    assert.equal(agent.handles('vm-2'), false);
    assert.deepEqual(container.get<ConsistencyAgentProvider>(ConsistencyAgentProvider).getAgents(), [agent], 'the kernel finds it');
  });

  it('without a bound config, binds an agent that handles no VM', () => {
    const container = new Container();
    container.load(consistencyAgentModule);
    assert.deepEqual(container.get<HttpConsistencyAgentConfig>(HttpConsistencyAgentConfig), { guests: {} });
    assert.equal(container.get<ConsistencyAgent>(ConsistencyAgent).handles('vm-1'), false);
  });
});

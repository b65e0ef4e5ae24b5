// Dependency-injection entry point of @opencdp/plugin-consistency-agent (named in package.json's
// `opencdp` field): contributes an HttpConsistencyAgent to the kernel's list of consistency agents.
import { ContainerModule } from 'inversify';
import { ConsistencyAgent } from '@opencdp/core';
import { HttpConsistencyAgent, HttpConsistencyAgentConfig } from './http-consistency-agent.js';

/**
 * Binds `ConsistencyAgent` (one more entry in core's ConsistencyAgentProvider list) to a singleton
 * HttpConsistencyAgent built from `HttpConsistencyAgentConfig`. Bind that config before loading the
 * module; without one the agent knows no guests and handles no VM.
 */
export const consistencyAgentModule = new ContainerModule(({ bind, isBound }) => {
  if (!isBound(HttpConsistencyAgentConfig)) bind<HttpConsistencyAgentConfig>(HttpConsistencyAgentConfig).toConstantValue({ guests: {} });
  bind(HttpConsistencyAgent).toSelf().inSingletonScope();
  bind<ConsistencyAgent>(ConsistencyAgent).toService(HttpConsistencyAgent);
});

// Dependency-injection entry point of @opencdp/adapter-hyperv (named in package.json's `opencdp` field):
// binds the PlatformProvider an appliance loads to run on Hyper-V.
import { ContainerModule } from 'inversify';
import { PlatformProvider } from '@opencdp/core';
import { HypervPlatformProvider } from './hyperv-platform-provider.js';

export const hypervAdapterModule = new ContainerModule(({ bind }) => {
  bind<PlatformProvider>(PlatformProvider).toConstantValue(new HypervPlatformProvider());
});

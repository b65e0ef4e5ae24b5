// Dependency-injection entry point of @opencdp/adapter-vsphere (named in package.json's `opencdp` field):
// binds the `PlatformProvider` an appliance process asks for when its config says `platform: vsphere`.
import { ContainerModule } from 'inversify';
import { PlatformProvider } from '@opencdp/core';
import { VspherePlatformProvider } from './vsphere-platform-provider.js';

export const vsphereAdapterModule = new ContainerModule(({ bind }) => {
  bind<PlatformProvider>(PlatformProvider).toConstantValue(new VspherePlatformProvider());
});

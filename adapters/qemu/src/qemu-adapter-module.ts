// Dependency-injection entry point of @opencdp/adapter-qemu (named in package.json's `opencdp` field):
// binds `PlatformProvider` (platform `qemu`, what an appliance process loads) and, for hosts that bind
// the options, `HypervisorAdapter` to a QemuHypervisor whose daemons and sockets live under them.
import { ContainerModule } from 'inversify';
import { HypervisorAdapter, PlatformProvider } from '@opencdp/core';
import { QemuHypervisor, type QemuHypervisorOptions } from './qemu-hypervisor.js';
import { QemuPlatformProvider } from './qemu-platform-provider.js';

export const QemuHypervisorOptionsToken = Symbol('QemuHypervisorOptions');

/**
 * A host binds `QemuHypervisorOptionsToken` (at least `workDir`) and resolves `HypervisorAdapter`
 * asynchronously (`await container.getAsync(HypervisorAdapter)`): starting the daemons takes real time.
 */
export const qemuAdapterModule = new ContainerModule(({ bind }) => {
  bind<HypervisorAdapter>(HypervisorAdapter)
    .toDynamicValue(async (ctx) => QemuHypervisor.create(ctx.get<QemuHypervisorOptions>(QemuHypervisorOptionsToken)))
    .inSingletonScope();
  bind<PlatformProvider>(PlatformProvider).toConstantValue(new QemuPlatformProvider());
});

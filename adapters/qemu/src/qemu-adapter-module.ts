// Dependency-injection entry point of @opencdp/adapter-qemu (named in package.json's `opencdp` field):
// binds `HypervisorAdapter` to a QemuHypervisor whose daemons and sockets live under the bound options.
import { ContainerModule } from 'inversify';
import { HypervisorAdapter } from '@opencdp/core';
import { QemuHypervisor, type QemuHypervisorOptions } from './qemu-hypervisor.js';

export const QemuHypervisorOptionsToken = Symbol('QemuHypervisorOptions');

/**
 * A host binds `QemuHypervisorOptionsToken` (at least `workDir`) and resolves `HypervisorAdapter`
 * asynchronously (`await container.getAsync(HypervisorAdapter)`): starting the daemons takes real time.
 */
export const qemuAdapterModule = new ContainerModule(({ bind }) => {
  bind<HypervisorAdapter>(HypervisorAdapter)
    .toDynamicValue(async (ctx) => QemuHypervisor.create(ctx.get<QemuHypervisorOptions>(QemuHypervisorOptionsToken)))
    .inSingletonScope();
});

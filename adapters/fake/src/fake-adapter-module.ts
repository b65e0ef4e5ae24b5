// Dependency-injection entry point of @opencdp/adapter-fake (named in package.json's `opencdp` field):
// a host loads it to run the kernel on an in-memory data centre — the demo's default platform.
import { ContainerModule } from 'inversify';
import { Clock, HypervisorAdapter, PlatformProvider, VirtualClock } from '@opencdp/core';
import type { SiteId } from '@opencdp/core';
import { FakeConsistencyAgent } from './fake-consistency-agent.js';
import { FakeDataCenter, FakeDataCenterOptions } from './fake-data-center.js';
import { FakeHypervisor, FakeSiteId } from './fake-hypervisor.js';
import { FakePlatformProvider } from './fake-platform-provider.js';

/**
 * Sets up the demo topology on an empty data centre: a protected site with two hosts and a recovery
 * site with one. Returns the protected site, which the bound hypervisor serves.
 */
export function ensureDefaultTopology(dc: FakeDataCenter): SiteId {
  const existing = dc.sites()[0];
  if (existing) return existing.id;
  const protectedSite = dc.addSite('protected');
  dc.addHost(protectedSite.id, 'protected-host-1');
  dc.addHost(protectedSite.id, 'protected-host-2');
  const recoverySite = dc.addSite('recovery');
  dc.addHost(recoverySite.id, 'recovery-host-1');
  return protectedSite.id;
}

/**
 * Binds `HypervisorAdapter` to a FakeHypervisor over the protected site of a singleton
 * FakeDataCenter, and `Clock` to a VirtualClock unless the host bound one already (load the host's
 * clock binding first to run the fake on real time). Override `FakeDataCenterOptions` or `FakeSiteId`
 * with `rebind` for another seed or site. Also binds `PlatformProvider` (platform `fake`), which is what
 * an appliance process loads (see fake-platform-provider.ts).
 */
export const fakeAdapterModule = new ContainerModule(({ bind, isBound }) => {
  if (!isBound(Clock)) bind<Clock>(Clock).toDynamicValue(() => new VirtualClock()).inSingletonScope();
  bind<FakeDataCenterOptions>(FakeDataCenterOptions).toDynamicValue((ctx) => ({ clock: ctx.get<Clock>(Clock), seed: 1 })).inSingletonScope();
  bind(FakeDataCenter).toSelf().inSingletonScope();
  bind<SiteId>(FakeSiteId).toDynamicValue((ctx) => ensureDefaultTopology(ctx.get(FakeDataCenter))).inSingletonScope();
  bind(FakeHypervisor).toSelf().inSingletonScope();
  bind<HypervisorAdapter>(HypervisorAdapter).toService(FakeHypervisor);
  bind(FakeConsistencyAgent).toSelf().inSingletonScope();
  // What an appliance process loads: a data centre of its own per `create`, on the appliance's clock.
  bind<PlatformProvider>(PlatformProvider).toConstantValue(new FakePlatformProvider());
});

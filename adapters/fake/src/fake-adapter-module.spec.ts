// The one place in this package that imports reflect-metadata: it plays the host entry point.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { Container } from 'inversify';
import type { ServiceIdentifier } from 'inversify';
import { Clock, HypervisorAdapter, PlatformProvider, SystemClock, VirtualClock } from '@opencdp/core';
import { fakeAdapterModule } from './fake-adapter-module.js';
import { FakeConsistencyAgent } from './fake-consistency-agent.js';
import { FakeDataCenter, FakeDataCenterOptions } from './fake-data-center.js';
import { FakeHypervisor, FakeSiteId } from './fake-hypervisor.js';

describe('fakeAdapterModule', () => {
  it('binds and resolves every service', async () => {
    const container = new Container();
    container.load(fakeAdapterModule);
    const ids: ServiceIdentifier[] = [Clock, FakeDataCenterOptions, FakeDataCenter, FakeSiteId, FakeHypervisor, HypervisorAdapter, FakeConsistencyAgent, PlatformProvider];
    for (const id of ids) assert.ok(container.get<unknown>(id) !== undefined, String(id));

    const clock = container.get<Clock>(Clock);
    assert.ok(clock instanceof VirtualClock);
    const dc = container.get(FakeDataCenter);
    assert.equal(dc.clock, clock);
    const hv = container.get<HypervisorAdapter>(HypervisorAdapter);
    assert.ok(hv instanceof FakeHypervisor);
    assert.equal(hv, container.get(FakeHypervisor), 'one hypervisor, whichever way it is asked for');
    assert.equal(hv.dataCenter, dc);
    assert.equal(container.get(FakeConsistencyAgent).handles('vm-1'), false);
    assert.equal(container.get<PlatformProvider>(PlatformProvider).platform, 'fake');
    const inv = await hv.inventory();
    assert.deepEqual(inv.hosts.map((h) => h.name), ['protected-host-1', 'protected-host-2']);
    assert.deepEqual(dc.sites().map((s) => s.name), ['protected', 'recovery']);
  });

  it('keeps a Clock the host bound first', async () => {
    const container = new Container();
    const system = new SystemClock();
    container.bind<Clock>(Clock).toConstantValue(system);
    container.load(fakeAdapterModule);
    assert.equal(container.get(FakeDataCenter).clock, system);
  });
});

import { strict as assert } from 'node:assert';
import { ControlUnreachableError } from '@opencdp/core';
import { pino } from 'pino';
import { ApplianceUnavailableError } from '../errors.js';
import { RecordingAppliance } from '../testing/recording-appliance.js';
import { ApplianceRegistry } from './appliance-registry.js';

describe('manager appliance registry', () => {
  const group = { name: 'db', protectedSiteId: 'site-a', recoverySiteId: 'site-b' };
  const protectedA = new RecordingAppliance('site-a', undefined, { recovery: false });
  const plainB = new RecordingAppliance('site-b', undefined, { recovery: false });
  const recoveryB = new RecordingAppliance('site-b');

  it('serves a group by its protected site\'s appliance and its recovery site\'s appliance with recovery operations', () => {
    const registry = new ApplianceRegistry([protectedA, plainB, recoveryB], pino({ level: 'silent' }), { 'site-b': '10.0.0.2:7201' });
    assert.equal(registry.protectedAppliance(group), protectedA);
    assert.equal(registry.recoveryAppliance(group), recoveryB, 'the one that can recover, not the first of the site');
    assert.equal(registry.recoveryOf(group), recoveryB.recovery);
    assert.equal(registry.recoveryAddress('site-b'), '10.0.0.2:7201');
    assert.equal(registry.recoveryAddress('site-c'), 'site:site-c');
    assert.deepEqual([registry.reaches('site-a'), registry.reaches('site-c')], [true, false]);
  });

  it('says which site it cannot reach, by a typed error', () => {
    const registry = new ApplianceRegistry([plainB], pino({ level: 'silent' }));
    assert.throws(() => registry.protectedOf(group), (e: Error) => e instanceof ApplianceUnavailableError && /site 'site-a'/.test(e.message));
    assert.throws(() => registry.recoveryOf(group), (e: Error) => e instanceof ApplianceUnavailableError && /recovery appliance of site 'site-b'/.test(e.message));
    assert.equal(registry.recoveryAppliance(group), plainB, 'without recovery operations, still the site\'s appliance (for its facts)');
  });

  it('lists one inventory per reachable site and skips an appliance that does not answer', async () => {
    const down = new RecordingAppliance('site-c');
    down.inventory = async () => {
      throw new ControlUnreachableError('http://site-c', 'connection refused');
    };
    const registry = new ApplianceRegistry([protectedA, plainB, recoveryB, down], pino({ level: 'silent' }));
    const inventories = await registry.inventories();
    assert.deepEqual([...inventories.keys()], ['site-a', 'site-b']);
    assert.deepEqual(inventories.get('site-b')!.vms.map((v) => v.id), ['site-b-vm-1', 'site-b-vm-2', 'site-b-vm-3']);
    assert.equal(recoveryB.callsOf('inventory').length, 1, 'every appliance is asked: with one platform per host each lists only its own VMs');
  });

  it('placing a VM while an appliance of its site does not answer is a retryable ApplianceUnavailableError naming it, not "no appliance serves"', async () => {
    const silent = new RecordingAppliance('site-a', undefined, { recovery: false });
    silent.inventory = async () => {
      throw new ControlUnreachableError('http://host-2', 'read ECONNRESET');
    };
    const registry = new ApplianceRegistry([protectedA, silent, recoveryB], pino({ level: 'silent' }));
    await assert.rejects(registry.place('site-a', 'site-b', ['site-a-vm-9'], () => 0),
      (e: Error) => e instanceof ApplianceUnavailableError && /did not answer/.test(e.message) && /ECONNRESET/.test(e.message));
    const alone = new ApplianceRegistry([protectedA, recoveryB], pino({ level: 'silent' }));
    await assert.rejects(alone.place('site-a', 'site-b', ['site-a-vm-9'], () => 0), /no appliance of site 'site-a' serves VM 'site-a-vm-9'/);
  });
});

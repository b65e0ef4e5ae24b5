import { strict as assert } from 'node:assert';
import { ConflictError, InvalidStateError, ValidationError } from '@opencdp/core';
import { TaskState } from '../store.js';
import { addGroup, siteEach } from '../testing/spec-helpers.js';
import type { CreateGroupInput } from './protection-groups.js';

describe('manager protection groups', () => {
  const s = siteEach();
  const input = (over: Partial<CreateGroupInput> = {}): CreateGroupInput => ({ settings: { name: 'db' }, vmIds: ['site-a-vm-1'], recoverySiteId: 'site-b', ...over });

  it('refuses unknown sites, VMs twice or outside the inventory, a plan naming other VMs, and a taken name, changing nothing', async () => {
    const { groups, store } = s.parts;
    await addGroup(s.site, 'app');
    const before = store.digest();
    const field = (f: string) => (e: Error): boolean => e instanceof ValidationError && e.field === f;
    await assert.rejects(groups.create(input({ recoverySiteId: 'site-z' })), field('recoverySiteIdentifier'));
    await assert.rejects(groups.create(input({ protectedSiteId: 'site-z' })), field('protectedSiteIdentifier'));
    await assert.rejects(groups.create(input({ vmIds: ['site-a-vm-1', 'site-a-vm-1'] })), field('vmIdentifiers'));
    await assert.rejects(groups.create(input({ vmIds: ['site-b-vm-1'] })), field('vmIdentifiers'));
    await assert.rejects(groups.create(input({ plan: { bootGroups: [{ name: 'web', delaySeconds: 0, vmIds: ['site-a-vm-2'] }] } })), field('bootGroups.0.vmIds'));
    await assert.rejects(groups.create(input({ plan: { nics: [{ vmId: 'site-a-vm-3', nicIndex: 0, liveNetworkId: 'n', testNetworkId: 't' }] } })), field('nics.0.vmId'));
    await assert.rejects(groups.create(input({ settings: { name: 'app' } })), ConflictError);
    await assert.rejects(groups.create(input({ settings: { name: 'db', rpoTargetSeconds: -1 } })), ValidationError);
    assert.equal(store.digest(), before);
  });

  it('creates a group: protects it through its protected appliance, and sums the provisioned bytes of its VMs', async () => {
    const { groups, events } = s.parts;
    const id = await addGroup(s.site, 'db', ['site-a-vm-1', 'site-a-vm-2']);
    const g = groups.get(id);
    assert.deepEqual([g.protectedSiteId, g.recoverySiteId, g.lifecycle, g.provisionedBytes], ['site-a', 'site-b', 'active', 2 * 64 * 1024 * 1024]);
    const spec = s.site.siteA.protectedGroups.get(id)!;
    assert.deepEqual([spec.vmIds, spec.recoveryAddress, spec.settings.name, spec.preseeded], [['site-a-vm-1', 'site-a-vm-2'], 'site:site-b', 'db', undefined]);
    assert.deepEqual(events.list({ groupId: id }).map((e) => e.type), ['GroupCreated']);
  });

  it('re-protects preseeded only when the appliance\'s part of the settings changed', async () => {
    const { groups } = s.parts;
    const id = await addGroup(s.site, 'db');
    s.site.siteA.calls.length = 0;
    await groups.update(id, input({ settings: { name: 'db', rpoTargetSeconds: 90 } }));
    await s.site.manager.whenIdle();
    assert.deepEqual(s.site.siteA.calls.map((c) => c.method).filter((m) => m !== 'inventory'), [], 'an RPO target is the manager\'s business');
    await groups.update(id, input({ settings: { name: 'db', rpoTargetSeconds: 90 }, vmIds: ['site-a-vm-1', 'site-a-vm-2'] }));
    await s.site.manager.whenIdle();
    assert.deepEqual(s.site.siteA.calls.map((c) => c.method).filter((m) => m !== 'inventory'), ['unprotectGroup', 'protectGroup']);
    assert.equal(s.site.siteA.protectedGroups.get(id)?.preseeded, true);
    await assert.rejects(groups.update(id, input({ recoverySiteId: 'site-a' })), (e: ValidationError) => e.field === 'basic.protectedSiteIdentifier');
  });

  it('pauses, resumes and force-syncs only an active group through its protected appliance', async () => {
    const { groups, store, tasks } = s.parts;
    const id = await addGroup(s.site);
    const taskIds = [groups.pause(id, 'ann'), groups.resume(id), groups.forceSync(id)];
    await s.site.manager.whenIdle();
    assert.deepEqual(taskIds.map((t) => tasks.get(t).state), [TaskState.Completed, TaskState.Completed, TaskState.Completed]);
    assert.deepEqual(s.site.siteA.calls.map((c) => c.method).filter((m) => ['pause', 'resume', 'forceSync'].includes(m)), ['pause', 'resume', 'forceSync']);
    store.putGroup({ ...groups.get(id), lifecycle: 'recovered' });
    assert.throws(() => groups.pause(id), InvalidStateError);
  });

  it('deletes only with both appliances reachable, unless forced; a failed delete leaves the group deleting', async () => {
    const { groups, tasks, appliances } = s.parts;
    const id = await addGroup(s.site);
    const recovery = appliances.recoveryOf(groups.get(id));
    const remove = recovery.deleteGroup;
    recovery.deleteGroup = async () => {
      throw new InvalidStateError('the journal is busy');
    };
    const failed = await groups.delete(id, { keepRecoveryVolumes: true, force: false });
    await s.site.manager.whenIdle();
    assert.deepEqual([tasks.get(failed).state, tasks.get(failed).error], [TaskState.Failed, 'the journal is busy']);
    assert.equal(groups.get(id).lifecycle, 'deleting');
    await assert.rejects(groups.delete(id, { keepRecoveryVolumes: true, force: false }), ConflictError);
    recovery.deleteGroup = remove;
    const forced = await groups.delete(id, { keepRecoveryVolumes: true, force: true });
    await s.site.manager.whenIdle();
    assert.equal(tasks.get(forced).state, TaskState.Completed);
    assert.deepEqual(groups.list(), []);
    assert.deepEqual((s.site.siteB.callsOf('recovery.deleteGroup').at(-1) as [{ keepRecoveryVolumes: boolean; force: boolean }])[0], { groupId: id, keepRecoveryVolumes: true, force: true });
  });
});

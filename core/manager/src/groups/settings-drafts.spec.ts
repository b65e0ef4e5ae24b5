import { strict as assert } from 'node:assert';
import { NotFoundError, ValidationError, parseProtectionGroupSettings } from '@opencdp/core';
import type { DraftBody, GroupRow } from '../store.js';
import { siteEach } from '../testing/spec-helpers.js';
import { draftOfGroup, fromDraft } from './settings-drafts.js';

describe('manager settings drafts', () => {
  const s = siteEach();
  const group: GroupRow = {
    id: 'vpg-1', name: 'erp', vmIds: ['vm-1', 'vm-2'], protectedSiteId: 'site-a', recoverySiteId: 'site-b', createdAt: 0, lifecycle: 'active', provisionedBytes: 0,
    settings: parseProtectionGroupSettings({ name: 'erp', rpoTargetSeconds: 120, priority: 'High', journal: { hardLimit: { mb: 4096 }, warningThreshold: { percent: 70 } } }),
    plan: {
      hostId: 'host-9', bootGroups: [{ name: 'db first', delaySeconds: 30, vmIds: ['vm-2'] }],
      nics: [{ vmId: 'vm-1', nicIndex: 0, liveNetworkId: 'net-live', testNetworkId: 'net-test', liveIpv4: '10.0.0.5' }],
    },
  };

  it('turns a group into a draft and back into the same settings, VMs, sites and plan', () => {
    const back = fromDraft(draftOfGroup(group));
    assert.deepEqual(parseProtectionGroupSettings(back.settings), group.settings);
    assert.deepEqual([back.vmIds, back.protectedSiteId, back.recoverySiteId, back.plan], [group.vmIds, 'site-a', 'site-b', group.plan]);
  });

  it('names the field a draft lacks or gives twice', () => {
    const draft = (): DraftBody => structuredClone(draftOfGroup(group));
    const cases: Array<[(d: DraftBody) => void, string]> = [
      [(d) => delete d.basic.name, 'basic.name'],
      [(d) => delete d.basic.recoverySiteIdentifier, 'basic.recoverySiteIdentifier'],
      [(d) => (d.vms = []), 'vms'],
      [(d) => Object.assign(d.journal.limitation as object, { hardLimitInPercent: 10 }), 'journal.limitation.hardLimitInMB'],
    ];
    for (const [spoil, field] of cases) {
      const d = draft();
      spoil(d);
      assert.throws(() => fromDraft(d), (e: ValidationError) => e instanceof ValidationError && e.field === field, field);
    }
  });

  it('creates a group from a draft filled part by part, then edits it through a copy; a committed draft is gone', async () => {
    const { drafts, groups } = s.parts;
    const id = drafts.open();
    drafts.setPart(id, 'basic', { name: 'web', recoverySiteIdentifier: 'site-b', rpoInSeconds: 45 });
    drafts.setPart(id, 'vms', [{ vmIdentifier: 'site-a-vm-3' }]);
    const created = await drafts.commit(id, 'ann');
    assert.throws(() => drafts.get(id), NotFoundError);
    const g = groups.get(created.groupId);
    assert.deepEqual([g.name, g.vmIds, g.settings.rpoTargetSeconds], ['web', ['site-a-vm-3'], 45]);
    const copy = drafts.open(g.id);
    assert.deepEqual(drafts.get(copy).body.vms, [{ vmIdentifier: 'site-a-vm-3' }]);
    drafts.setPart(copy, 'basic', { ...drafts.get(copy).body.basic, rpoInSeconds: 600 });
    const updated = await drafts.commit(copy);
    assert.equal(updated.groupId, g.id);
    assert.equal(groups.get(g.id).settings.rpoTargetSeconds, 600);
    const discarded = drafts.open();
    drafts.discard(discarded);
    assert.throws(() => drafts.get(discarded), NotFoundError);
    assert.throws(() => drafts.open('vpg-404'), NotFoundError);
  });
});

// The checks on a stored group that several parts make before they act on it (groups, the scheduler,
// recovery, file restore), kept below all of them so none has to ask another part for them.
import { InvalidStateError, NotFoundError, ValidationError } from '@opencdp/core';
import type { RecoveryPlan } from '@opencdp/core';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import type { Sites } from '../sites/sites.js';
import type { GroupRow, Store } from '../store.js';

/** The stored group, or NotFoundError. */
export function requireGroup(store: Store, id: string): GroupRow {
  const g = store.getGroup(id);
  if (!g) throw new NotFoundError('group', id);
  return g;
}

/** Protection actions need an active group (not one being deleted or already recovered). */
export function assertActive(g: GroupRow): void {
  if (g.lifecycle !== 'active') throw new InvalidStateError(`group '${g.name}' is ${g.lifecycle}`, 'only an active group allows this');
}

/** Boot groups and NIC mappings may name only the group's own VMs. */
export function checkPlan(plan: RecoveryPlan, vmIds: string[]): void {
  for (const [i, bg] of (plan.bootGroups ?? []).entries()) {
    for (const vm of bg.vmIds) if (!vmIds.includes(vm)) throw new ValidationError(`boot group '${bg.name}' names VM '${vm}', which is not in the group`, `bootGroups.${i}.vmIds`);
  }
  for (const [i, nic] of (plan.nics ?? []).entries()) {
    if (!vmIds.includes(nic.vmId)) throw new ValidationError(`NIC mapping names VM '${nic.vmId}', which is not in the group`, `nics.${i}.vmId`);
  }
}

/**
 * Whether this manager drives the group's protection (cuts its checkpoints, restores it on a restarted
 * appliance): active, protected at this site or at a site with no paired manager of its own, and it
 * reaches a protected appliance of the group.
 */
export function drivesGroup(g: GroupRow, sites: Sites, appliances: ApplianceRegistry): boolean {
  if (g.lifecycle !== 'active') return false;
  const mine = g.protectedSiteId === sites.siteId || !sites.peerSites().some((s) => s.id === g.protectedSiteId);
  return mine && appliances.protectedMembers(g).length > 0;
}

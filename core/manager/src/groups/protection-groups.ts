// Protection-group definitions: create (settings through core's schema, sites, VMs from the protected
// site's inventory, recovery plan), change, delete, and the protected appliance's user actions (pause,
// resume, force sync). Every change is stored, announced by an event, shared with the paired managers
// and handed to the scheduler; the appliance's part runs as a task.
import { randomUUID } from 'node:crypto';
import { ConflictError, ValidationError, parseProtectionGroupSettings } from '@opencdp/core';
import type { ApplianceControl, Clock, ProtectionGroupSettings, RecoveryPlan, RecoveryVmDefinition } from '@opencdp/core';
import type { MemberProtection } from './member-protection.js';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { defined } from '../defined.js';
import { ApplianceUnavailableError } from '../errors.js';
import type { Monitor } from '../monitor/monitor.js';
import type { RecoveryGuard } from '../recovery/recovery-guard.js';
import type { CheckpointScheduler } from '../scheduler/checkpoint-scheduler.js';
import type { Peering } from '../sites/peering.js';
import type { Sites } from '../sites/sites.js';
import type { GroupRow, Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { assertActive, checkPlan, requireGroup } from './group-rules.js';

export interface CreateGroupInput {
  settings: unknown;
  vmIds: string[];
  protectedSiteId?: string;
  recoverySiteId: string;
  plan?: RecoveryPlan;
}

export class ProtectionGroups {
  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly sites: Sites, private readonly appliances: ApplianceRegistry,
    private readonly events: EventLog, private readonly tasks: TaskRunner, private readonly peering: Peering, private readonly scheduler: CheckpointScheduler,
    private readonly guard: RecoveryGuard, private readonly monitor: Monitor, private readonly members: MemberProtection,
  ) {}

  /** The group, or NotFoundError. */
  get(id: string): GroupRow {
    return requireGroup(this.store, id);
  }

  list(): GroupRow[] {
    return this.store.listGroups();
  }

  /** Checks a new group (settings schema, sites, VMs), stores it and starts protecting it; returns the task. */
  async create(input: CreateGroupInput, user?: string): Promise<{ taskId: string; groupId: string }> {
    const settings = parseProtectionGroupSettings(input.settings);
    const { g, vms } = await this.check(settings, input, undefined);
    this.store.putGroup(g);
    this.events.record('GroupCreated', `group '${g.name}' created (${g.vmIds.length} VMs, ${g.protectedSiteId} → ${g.recoverySiteId})`, g.id, user);
    const release = this.members.claim(g.id);
    this.saved(g);
    const taskId = this.tasks.start('CreateProtectionGroup', g.id, user, async (progress) => {
      progress(10, 'defining the group at the recovery site');
      await this.defineAtRecoverySite(g, vms);
      progress(30, `protecting on ${g.placement?.members.length ?? 1} appliance(s)`);
      await this.members.protect(g, settings);
    }, release);
    return { taskId, groupId: g.id };
  }

  /** Changes an existing group (from a committed settings draft); re-protects with the replicas as preseeded targets when the appliance's part changed. */
  async update(id: string, input: CreateGroupInput, user?: string): Promise<{ taskId: string; groupId: string }> {
    const old = this.get(id);
    const settings = parseProtectionGroupSettings(input.settings);
    const { g, vms } = await this.check(settings, input, old);
    if (g.protectedSiteId !== old.protectedSiteId || g.recoverySiteId !== old.recoverySiteId) throw new ValidationError('the sites of an existing group cannot change', 'basic.protectedSiteIdentifier');
    assertActive(old);
    await this.guard.assertNoOperation(old);
    const reprotect = JSON.stringify(old.vmIds) !== JSON.stringify(g.vmIds) || JSON.stringify(old.settings.journal) !== JSON.stringify(settings.journal)
      || old.settings.useWanCompression !== settings.useWanCompression || old.settings.priority !== settings.priority;
    this.store.putGroup(g);
    this.events.record('GroupUpdated', `group '${g.name}' settings changed${reprotect ? '; re-protecting with the replicas as preseeded targets' : ''}`, g.id, user);
    const release = reprotect ? this.members.claim(g.id) : (): void => undefined;
    this.saved(g);
    const taskId = this.tasks.start('UpdateProtectionGroup', g.id, user, async (progress) => {
      progress(10, 'defining the group at the recovery site');
      await this.defineAtRecoverySite(g, vms);
      if (!reprotect) return;
      progress(20, 'stopping protection');
      await this.members.unprotect(old, false);
      progress(60, 'protecting');
      await this.members.protect(g, settings, true);
    }, release);
    return { taskId, groupId: g.id };
  }

  /** A group was stored: the paired managers and the scheduler hear of it. */
  private saved(g: GroupRow): void {
    this.peering.syncPeersOf(g);
    this.scheduler.watch(g);
  }

  /** Tells the recovery appliance what the group is, so it can recover with no manager up (R8). */
  private async defineAtRecoverySite(g: GroupRow, vms: RecoveryVmDefinition[]): Promise<void> {
    const ra = this.appliances.recoveryAppliance(g);
    if (ra?.defineRecoveryGroup) await ra.defineRecoveryGroup({ groupId: g.id, name: g.name, vms, plan: g.plan });
  }

  private async check(settings: ProtectionGroupSettings, input: CreateGroupInput, old: GroupRow | undefined): Promise<{ g: GroupRow; vms: RecoveryVmDefinition[] }> {
    const protectedSiteId = input.protectedSiteId ?? this.sites.siteId;
    if (!this.sites.knows(protectedSiteId)) throw new ValidationError(`protected site '${protectedSiteId}' is neither this site nor a peer`, 'protectedSiteIdentifier');
    if (!this.sites.knows(input.recoverySiteId)) throw new ValidationError(`recovery site '${input.recoverySiteId}' is neither this site nor a peer`, 'recoverySiteIdentifier');
    if (new Set(input.vmIds).size !== input.vmIds.length) throw new ValidationError('a VM is listed twice', 'vmIdentifiers');
    const byName = this.store.getGroupByName(settings.name);
    if (byName && byName.id !== old?.id) throw new ConflictError(`a group named '${settings.name}' exists`, 'pick another name');
    if (!this.appliances.reaches(protectedSiteId)) throw new ValidationError(`this manager reaches no appliance of site '${protectedSiteId}'`, 'protectedSiteIdentifier');
    const { vms: siteVms, silent } = await this.appliances.siteVms(protectedSiteId);
    let provisionedBytes = 0;
    const vms: RecoveryVmDefinition[] = [];
    for (const vmId of input.vmIds) {
      const vm = siteVms.get(vmId);
      if (!vm && silent.length > 0) throw new ApplianceUnavailableError(`VM '${vmId}' is not in the inventory of the appliances of site '${protectedSiteId}' that answered; appliance ${silent.join(', ')} did not answer`);
      if (!vm) throw new ValidationError(`VM '${vmId}' is not in the inventory of site '${protectedSiteId}'`, 'vmIdentifiers');
      provisionedBytes += vm.volumes.reduce((n, v) => n + v.sizeBytes, 0);
      vms.push({ id: vm.id, name: vm.name, nics: vm.nics.map((n) => ({ networkId: n.networkId, mac: n.mac, ...defined({ ipv4: n.ipv4 }) })) });
    }
    const plan = input.plan ?? old?.plan ?? {};
    checkPlan(plan, input.vmIds);
    // Where it runs: kept for an existing group whose VMs did not change (its journals do not move).
    const sameVms = old !== undefined && JSON.stringify(old.vmIds) === JSON.stringify(input.vmIds);
    let placement = sameVms ? old.placement : undefined;
    if (!sameVms) {
      const load = this.store.groupsPerRecoveryAppliance();
      placement = await this.appliances.place(protectedSiteId, input.recoverySiteId, input.vmIds, (applianceId) => load.get(applianceId) ?? 0);
      if (old?.placement?.recovery) placement.recovery = old.placement.recovery;
    }
    const g: GroupRow = {
      id: old?.id ?? `vpg-${this.store.nextCounter('group')}-${randomUUID().slice(0, 8)}`,
      name: settings.name, settings, vmIds: [...input.vmIds], protectedSiteId, recoverySiteId: input.recoverySiteId, plan,
      createdAt: old?.createdAt ?? this.clock.now(), lifecycle: old?.lifecycle ?? 'active', provisionedBytes,
      ...(old?.syncedAt !== undefined ? { syncedAt: old.syncedAt } : {}), ...(old?.lastTest ? { lastTest: old.lastTest } : {}), ...(old?.state ? { state: old.state } : {}),
      ...(placement ? { placement } : {}),
    };
    return { g, vms };
  }


  /** Stops protection, removes the group at the recovery site (keeping its volumes if asked), then forgets it; `force` goes on past unreachable appliances. */
  async delete(id: string, options: { keepRecoveryVolumes: boolean; force: boolean }, user?: string): Promise<string> {
    const g = this.get(id);
    if (!options.force) {
      await this.guard.assertNoOperation(g);
      if (g.lifecycle === 'deleting') throw new ConflictError(`group '${g.name}' is being deleted`, 'wait, or delete with force');
    }
    g.lifecycle = 'deleting';
    this.store.putGroup(g);
    this.events.record('GroupDeleting', `deleting group '${g.name}'${options.keepRecoveryVolumes ? ' keeping the recovery volumes' : ''}${options.force ? ' (forced)' : ''}`, g.id, user);
    this.scheduler.forget(g.id);
    return this.tasks.start('RemoveProtectionGroup', g.id, user, async (progress) => {
      progress(10, 'stopping protection');
      const reachable = this.appliances.protectedMembers(g).length > 0 && this.appliances.unknownMembers(g).length === 0;
      if (!reachable && !options.force) {
        throw new ApplianceUnavailableError(`this manager reaches no appliance of site '${g.protectedSiteId}'; delete with force to remove the group anyway`);
      }
      await this.members.unprotect(g, options.force);
      const recovery = this.appliances.recoveryAppliance(g)?.recovery;
      progress(50, 'removing the group at the recovery site');
      if (recovery) await recovery.deleteGroup({ groupId: g.id, keepRecoveryVolumes: options.keepRecoveryVolumes, force: options.force }, (p, step) => progress(50 + (45 * p) / 100, step));
      else if (!options.force) throw new ApplianceUnavailableError(`this manager reaches no recovery appliance of site '${g.recoverySiteId}'; delete with force to remove the group anyway`);
      this.store.deleteGroup(g.id, this.clock.now());
      this.monitor.forget(g.id);
      this.events.record('GroupDeleted', `group '${g.name}' deleted`, g.id, user);
      this.peering.syncPeersOf(g, [g.id]);
      // A failed delete leaves the group 'deleting'; deleting again with force removes it.
    });
  }

  pause(id: string, user?: string): string {
    return this.protectedAction(id, 'Pause', user, (a, g) => a.pause(g.id), 'replication paused by a user');
  }

  resume(id: string, user?: string): string {
    return this.protectedAction(id, 'Resume', user, (a, g) => a.resume(g.id), 'replication resumed by a user');
  }

  forceSync(id: string, user?: string): string {
    return this.protectedAction(id, 'ForceSync', user, (a, g) => a.forceSync(g.id), 'force sync requested by a user');
  }

  private protectedAction(id: string, type: string, user: string | undefined, fn: (a: ApplianceControl, g: GroupRow) => Promise<void>, what: string): string {
    const g = this.get(id);
    assertActive(g);
    this.appliances.membersOf(g);
    return this.tasks.start(type, g.id, user, async () => {
      await this.members.each(g, (a) => fn(a, g));
      this.events.record(type, `${what} (group '${g.name}')`, g.id, user);
    });
  }
}

// A group's protection on each of its protected appliances (one per host holding some of its VMs): start
// it on every member or on none (a member that fails makes the others stop again, nothing half-made is
// left), stop it everywhere, run a user action on every member, and protect a group again on a member that
// lost it (an appliance restarted with its memory gone): preseeded, so a delta sync compares both sides.
import type { ApplianceControl, ProtectionGroupSettings } from '@opencdp/core';
import type { Logger } from 'pino';
import type { ApplianceRegistry, GroupMember } from '../appliances/appliance-registry.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { GroupRow } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';

export class MemberProtection {
  /** `group/member` pairs being protected again now (one repair at a time each). */
  private readonly repairing = new Set<string>();
  /** Groups being protected or unprotected by a user's task now: a member not knowing them yet is expected. */
  private readonly busy = new Map<string, number>();

  constructor(private readonly log: Logger, private readonly lifecycle: ManagerLifecycle, private readonly appliances: ApplianceRegistry, private readonly events: EventLog) {}

  /** Protects the group on every member; if one fails, stops it on those that started and rethrows. */
  async protect(g: GroupRow, settings: ProtectionGroupSettings, preseeded = false): Promise<void> {
    const members = this.appliances.membersOf(g);
    const done: GroupMember[] = [];
    this.busy.set(g.id, (this.busy.get(g.id) ?? 0) + 1);
    try {
      for (const m of members) {
        await m.control.protectGroup({ groupId: g.id, settings, vmIds: m.vmIds, recoveryAddress: this.appliances.recoveryAddressOf(g), ...(preseeded ? { preseeded } : {}) });
        done.push(m);
      }
    } catch (e) {
      for (const m of done) await m.control.unprotectGroup(g.id, { deleteSourceVms: false }).catch((err: Error) => this.log.warn({ err, appliance: m.id }, 'undoing protection failed'));
      throw e;
    } finally {
      this.release(g.id);
    }
  }

  /**
   * Marks a group as being (re)protected by a user's task from now until the returned function is called:
   * the task may wait (under load, seconds) before it reaches the appliances, and meanwhile a member that
   * does not know the group yet is expected — not repaired behind the task's back.
   */
  claim(groupId: string): () => void {
    this.busy.set(groupId, (this.busy.get(groupId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(groupId);
    };
  }

  /** Whether a user's task is protecting or unprotecting the group now. */
  inTask(groupId: string): boolean {
    return this.busy.has(groupId);
  }

  private release(groupId: string): void {
    const n = (this.busy.get(groupId) ?? 1) - 1;
    if (n <= 0) this.busy.delete(groupId);
    else this.busy.set(groupId, n);
  }

  /** Stops the group on every member it reaches; a member that no longer knows it is fine. With `force`, failures are logged, not thrown. */
  async unprotect(g: Pick<GroupRow, 'id' | 'name' | 'protectedSiteId' | 'recoverySiteId' | 'vmIds' | 'placement'>, force: boolean): Promise<void> {
    const failures: Error[] = [];
    this.busy.set(g.id, (this.busy.get(g.id) ?? 0) + 1);
    try {
      for (const m of this.appliances.protectedMembers(g)) {
        try {
          await m.control.unprotectGroup(g.id, { deleteSourceVms: false });
        } catch (e) {
          if ((e as { code?: string }).code === 'NOT_FOUND') continue;
          if (!force) failures.push(e as Error);
          else this.log.warn({ err: e, appliance: m.id, groupId: g.id }, 'unprotect failed (forced delete goes on)');
        }
      }
    } finally {
      this.release(g.id);
    }
    if (failures.length > 0) throw failures[0];
  }

  /** Runs a user action (pause, resume, force sync) on every member. */
  async each(g: GroupRow, action: (a: ApplianceControl, groupId: string) => Promise<void>): Promise<void> {
    for (const m of this.appliances.membersOf(g)) await action(m.control, g.id);
  }

  /**
   * A member answered that it does not protect the group (it restarted and lost its memory): protect it
   * there again with its VMs, preseeded — the journals hold most of the data, so a delta sync sends only
   * what differs (S5). Runs in the background, once at a time per member.
   */
  repair(g: GroupRow, member: GroupMember): void {
    const key = `${g.id}/${member.id}`;
    if (this.repairing.has(key) || this.busy.has(g.id) || this.lifecycle.stopped || g.lifecycle !== 'active') return;
    this.repairing.add(key);
    const name = this.appliances.nameOf(member.control);
    this.events.record('GroupMemberRestored', `${name} no longer protected group '${g.name}' (restarted?): protecting its ${member.vmIds.length} VM(s) there again with a delta sync`, g.id);
    this.lifecycle.track(member.control.protectGroup({ groupId: g.id, settings: g.settings, vmIds: member.vmIds, recoveryAddress: this.appliances.recoveryAddressOf(g), preseeded: true })
      .catch((e: Error) => {
        if (!this.lifecycle.stopped && !/already protected/.test(e.message)) this.events.record('GroupMemberRestoreFailed', `protecting group '${g.name}' again on ${name} failed: ${e.message}`, g.id);
      })
      .finally(() => this.repairing.delete(key)));
  }
}

// One recovery operation per group: the guard remembers the groups whose operation this manager is
// starting or running, and asks the recovery appliance about operations started elsewhere (the other
// site's manager, a commit policy that applies on its own). Groups, recovery and the monitor consult it;
// cancelling an operation (later) would release the group here.
import { CheckpointNotFoundError, ConflictError, ValidationError } from '@opencdp/core';
import type { RecoveryOperations } from '@opencdp/core';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import type { GroupRow } from '../store.js';

export class RecoveryGuard {
  private readonly busy = new Set<string>();

  constructor(private readonly appliances: ApplianceRegistry) {}

  /** Whether this manager is starting or running an operation on the group. */
  isBusy(groupId: string): boolean {
    return this.busy.has(groupId);
  }

  hold(groupId: string): void {
    this.busy.add(groupId);
  }

  release(groupId: string): void {
    this.busy.delete(groupId);
  }

  /** ConflictError when this manager runs an operation on the group. */
  assertIdle(g: GroupRow): void {
    if (this.busy.has(g.id)) throw new ConflictError(`group '${g.name}' has a recovery operation in progress`, 'finish or roll it back first');
  }

  /** ConflictError when an operation runs on the group, through this manager or not (asks the recovery appliance when reachable). */
  async assertNoOperation(g: GroupRow): Promise<void> {
    this.assertIdle(g);
    const recovery = this.appliances.recoveryAppliance(g)?.recovery;
    const active = recovery ? await recovery.active(g.id) : undefined;
    if (active) throw new ConflictError(`group '${g.name}' has a ${active.kind} in progress (${active.phase})`, 'finish or roll it back first');
    // Again: another request may have started one while the appliance answered.
    this.assertIdle(g);
  }
}

/** The named checkpoint must be one of the group's (CheckpointNotFoundError otherwise). */
export async function checkCheckpoint(g: GroupRow, recovery: RecoveryOperations, checkpointId: string | undefined): Promise<void> {
  if (checkpointId === undefined) return;
  const list = await recovery.listCheckpoints(g.id);
  if (!list.some((c) => c.id === checkpointId)) throw new CheckpointNotFoundError(checkpointId, `group '${g.name}'`);
}

/** The named VMs must be the group's. */
export function checkVms(g: GroupRow, vmIds: string[] | undefined): void {
  for (const vm of vmIds ?? []) if (!g.vmIds.includes(vm)) throw new ValidationError(`VM '${vm}' is not in group '${g.name}'`, 'vmIdentifiers');
}

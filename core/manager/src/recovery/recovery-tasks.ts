// Recovery operations driven through the recovery appliance's RecoveryOperations (R1–R10): failover
// test, failover, move, their commit and rollback, and clone. Each is a task; a failover or move waits
// for the user until commit or rollback; each ends in a recovery report. After a committed failover or
// move the group is Recovered, or protected back with the sites swapped (reverse protection).
import { ConflictError, InvalidStateError } from '@opencdp/core';
import type { ActiveRecovery, CommitPolicy, ProgressSink, RecoveryKind, RecoveryOperations, ShutdownPolicy } from '@opencdp/core';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { defined } from '../defined.js';
import { assertActive, requireGroup } from '../groups/group-rules.js';
import type { CheckpointScheduler } from '../scheduler/checkpoint-scheduler.js';
import type { Peering } from '../sites/peering.js';
import { TaskState, type GroupRow, type Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskOutcome, TaskRunner } from '../tasks/task-runner.js';
import { checkCheckpoint, checkVms, type RecoveryGuard } from './recovery-guard.js';
import type { RecoveryReports } from './recovery-reports.js';

export interface FailoverRequest {
  checkpointId?: string;
  vmIds?: string[];
  shutdownPolicy: ShutdownPolicy;
  timeToWaitBeforeShutdownSec: number;
  commitPolicy: CommitPolicy;
  commitPolicyTimeoutSec: number;
  reverseProtection: boolean;
}

export interface MoveRequest { commitPolicy: CommitPolicy; commitPolicyTimeoutSec: number; forceShutdown: boolean; reverseProtection: boolean; keepSourceVms: boolean; continueOnPreScriptFailure?: boolean }

export class RecoveryTasks {
  constructor(
    private readonly store: Store, private readonly appliances: ApplianceRegistry, private readonly guard: RecoveryGuard,
    private readonly reports: RecoveryReports, private readonly events: EventLog, private readonly tasks: TaskRunner,
    private readonly peering: Peering, private readonly scheduler: CheckpointScheduler,
  ) {}

  failoverTest(id: string, req: { checkpointId?: string; vmIds?: string[] }, user?: string): Promise<string> {
    return this.recoveryTask(id, 'FailoverTest', user, req, async (recovery, g, progress, signal) => {
      const active = await recovery.startFailoverTest({ groupId: g.id, ...defined({ checkpointId: req.checkpointId, vmIds: req.vmIds }) }, progress);
      if (signal.aborted) {
        // Cancelled while starting: the test VMs go away again, and the report says why.
        const report = await recovery.stopFailoverTest({ groupId: g.id, success: false, summary: 'cancelled while starting' }, progress);
        this.reports.record(report);
        return { result: { reportIdentifier: report.id }, state: TaskState.Stopped };
      }
      // The test runs until the user stops it (FailoverTestStop), as the anchor's task does.
      return { result: active, state: TaskState.WaitingForUserInput };
    }, true);
  }

  stopFailoverTest(id: string, req: { success: boolean; summary?: string }, user?: string): Promise<string> {
    return this.followUpTask(id, 'FailoverTestStop', ['FailoverTest'], user, async (recovery, g, _active, progress) => {
      const report = await recovery.stopFailoverTest({ groupId: g.id, success: req.success, ...defined({ summary: req.summary }) }, progress);
      this.reports.record(report);
      const fresh = this.store.getGroup(g.id);
      if (fresh) this.store.putGroup({ ...fresh, lastTest: { at: report.endedAt, success: req.success, ...defined({ summary: req.summary }) } });
      this.tasks.completeWaiting(g.id, 'FailoverTest');
      return { result: { reportIdentifier: report.id } };
    });
  }

  failover(id: string, req: FailoverRequest, user?: string): Promise<string> {
    return this.recoveryTask(id, 'Failover', user, req, async (recovery, g, progress, signal) => {
      const active = await recovery.failover({
        groupId: g.id, shutdownPolicy: req.shutdownPolicy, timeToWaitBeforeShutdownSec: req.timeToWaitBeforeShutdownSec, commitPolicy: req.commitPolicy,
        commitPolicyTimeoutSec: req.commitPolicyTimeoutSec, reverseProtection: req.reverseProtection, ...defined({ checkpointId: req.checkpointId, vmIds: req.vmIds }),
      }, progress);
      return this.afterStart(recovery, g, active, req, progress, signal);
    }, true);
  }

  move(id: string, req: MoveRequest, user?: string): Promise<string> {
    return this.recoveryTask(id, 'Move', user, {}, async (recovery, g, progress, signal) => this.afterStart(recovery, g, await recovery.move({ groupId: g.id, ...req }, progress), req, progress, signal), true);
  }

  /**
   * A failover or move cancelled while starting is rolled back as soon as it reaches before-commit (Stopped).
   * One that committed at once (commit policy Commit, no wait) has decided the group's fate; else it waits for the user.
   */
  private async afterStart(recovery: RecoveryOperations, g: GroupRow, active: ActiveRecovery, req: { commitPolicy: CommitPolicy; reverseProtection: boolean }, progress: ProgressSink, signal: AbortSignal): Promise<TaskOutcome> {
    if (signal.aborted && active.phase === 'before-commit') {
      const report = await recovery.rollback(g.id, progress);
      this.reports.record(report);
      return { result: { reportIdentifier: report.id }, state: TaskState.Stopped };
    }
    if (active.phase === 'done' && req.commitPolicy === 'commit') this.afterCommit(g, active.vms.map((v) => v.recoveredVmId), req.reverseProtection);
    return { result: active, state: active.phase === 'before-commit' ? TaskState.WaitingForUserInput : TaskState.Completed };
  }

  commit(id: string, kind: 'Failover' | 'Move', req: { reverseProtection?: boolean; keepSourceVms?: boolean }, user?: string): Promise<string> {
    return this.followUpTask(id, `${kind}Commit`, [kind], user, async (recovery, g, active, progress) => {
      const report = await recovery.commit({ groupId: g.id, ...defined(req) }, progress);
      this.reports.record(report);
      this.tasks.completeWaiting(g.id, kind);
      // What the recovery site did decides the group's fate (the choice made at failover time applies when the commit names none).
      const step = report.steps.find((st) => st.name === 'reverse-protection');
      const reverse = step ? step.result === 'Success' : req.reverseProtection ?? false;
      this.afterCommit(g, report.vms.length > 0 ? report.vms.map((v) => v.recoveredVmId) : active.vms.map((v) => v.recoveredVmId), reverse);
      return { result: { reportIdentifier: report.id } };
    });
  }

  rollback(id: string, kind: 'Failover' | 'Move', user?: string): Promise<string> {
    return this.followUpTask(id, `${kind}Rollback`, [kind], user, async (recovery, g, _active, progress) => {
      const report = await recovery.rollback(g.id, progress);
      this.reports.record(report);
      this.tasks.completeWaiting(g.id, kind);
      return { result: { reportIdentifier: report.id } };
    });
  }

  clone(id: string, req: { checkpointId?: string; datastoreId?: string; vmIds?: string[] }, user?: string): Promise<string> {
    return this.recoveryTask(id, 'CloneStart', user, req, async (recovery, g, progress) => {
      const report = await recovery.clone({ groupId: g.id, ...defined(req) }, progress);
      this.reports.record(report);
      return { result: { reportIdentifier: report.id } };
    });
  }

  /** The recovery API has no way to stop a clone once it runs; say so instead of pretending. */
  cloneAbort(id: string): never {
    const g = requireGroup(this.store, id);
    const running = this.tasks.list({ groupId: g.id, state: TaskState.InProgress }).some((t) => t.type === 'CloneStart');
    if (!running) throw new InvalidStateError(`group '${g.name}' has no clone in progress`);
    throw new InvalidStateError(`the clone of group '${g.name}' cannot be aborted once it runs`, 'wait for it to finish, then delete the cloned VMs');
  }

  /** Starts a recovery operation as a task after checking, before anything changes, that none runs on the group. */
  private async recoveryTask(id: string, type: string, user: string | undefined, opts: { checkpointId?: string; vmIds?: string[] },
    run: (recovery: RecoveryOperations, g: GroupRow, progress: ProgressSink, signal: AbortSignal) => Promise<TaskOutcome>, cancellable = false): Promise<string> {
    const g = requireGroup(this.store, id);
    assertActive(g);
    const recovery = this.appliances.recoveryOf(g);
    checkVms(g, opts.vmIds);
    await checkCheckpoint(g, recovery, opts.checkpointId);
    await this.guard.assertNoOperation(g);
    this.guard.hold(g.id);
    this.events.record(type, `${type} started on group '${g.name}'`, g.id, user);
    return this.tasks.start(type, g.id, user, (progress, signal) => run(recovery, g, progress, signal), () => this.guard.release(g.id), { cancellable });
  }

  /** A step on a running operation (stop a test, commit, roll back): checks the operation is the right kind first. */
  private async followUpTask(id: string, type: string, kinds: RecoveryKind[], user: string | undefined,
    run: (recovery: RecoveryOperations, g: GroupRow, active: ActiveRecovery, progress: ProgressSink) => Promise<TaskOutcome>): Promise<string> {
    const g = requireGroup(this.store, id);
    const recovery = this.appliances.recoveryOf(g);
    const active = await recovery.active(g.id);
    if (!active || !kinds.includes(active.kind)) throw new InvalidStateError(`group '${g.name}' has no ${kinds.join('/')} in progress${active ? ` (it has a ${active.kind})` : ''}`);
    if (this.guard.isBusy(g.id)) throw new ConflictError(`the ${active.kind} of group '${g.name}' is still starting`, 'wait for its task to finish');
    this.guard.hold(g.id);
    this.events.record(type, `${type} on group '${g.name}'`, g.id, user);
    return this.tasks.start(type, g.id, user, (progress) => run(recovery, g, active, progress), () => this.guard.release(g.id));
  }

  /**
   * After a committed failover or move. With reverse protection the recovery site's orchestrator has started
   * protecting the recovered VMs back (same group id, preseeded): the manager swaps the sites and keeps cutting
   * checkpoints. Without it the group is Recovered.
   */
  private afterCommit(g: GroupRow, recoveredVmIds: string[], reverse: boolean): void {
    const fresh = this.store.getGroup(g.id);
    if (!fresh) return;
    if (!reverse) {
      this.store.putGroup({ ...fresh, lifecycle: 'recovered' });
      this.events.record('GroupRecovered', `group '${g.name}' runs at site ${g.recoverySiteId}; not protected back`, g.id);
      this.peering.syncPeersOf(g);
      return;
    }
    const reversed: GroupRow = { ...fresh, protectedSiteId: fresh.recoverySiteId, recoverySiteId: fresh.protectedSiteId, vmIds: recoveredVmIds, lifecycle: 'active' };
    delete reversed.syncedAt;
    // The appliance that recovered the group now protects it back (its orchestrator started that); the
    // journals are wherever that appliance sends (the original site's recovery appliance, found by site).
    const ra = this.appliances.recoveryAppliance(g);
    if (ra) reversed.placement = { members: [{ applianceId: this.appliances.idOf(ra), vmIds: [...recoveredVmIds] }] };
    else delete reversed.placement;
    this.store.putGroup(reversed);
    this.events.record('ReverseProtection', `group '${g.name}' now protected from ${reversed.protectedSiteId} to ${reversed.recoverySiteId}`, g.id);
    this.peering.syncPeersOf(reversed);
    this.scheduler.watch(reversed);
  }
}

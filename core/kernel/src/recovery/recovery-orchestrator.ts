// The recovery orchestrator (R1–R10): failover test, failover, move, clone, file restore and group
// deletion over the recovery site's journals and hypervisor. It lives beside the recovery appliance and
// needs no manager (R8): the journals, the platform and the group definitions are all it reads; the
// protected site is only asked to shut VMs down or stop protecting, and an unreachable protected site
// does not stop a failover. At most one operation runs per group; every operation reports progress and
// ends in a RecoveryReport.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock.js';
import {
  ConflictError, InvalidStateError, NotFoundError, UnsupportedError, ValidationError,
} from '../errors.js';
import type { Journal } from '../journal/journal.js';
import type { PointInTimeImage } from '../journal/point-in-time-image.js';
import type { Checkpoint, CheckpointId, DatastoreId, GroupId, NetworkId, VmId, VmInfo, VolumeId } from '../model.js';
import type { HypervisorAdapter, RecoveryNicSpec } from '../ports/hypervisor-adapter.js';
import type { StorageAdapter } from '../ports/storage-adapter.js';
import type { GroupStatus, GroupSubStatus } from '../status/group-status.js';
import type {
  ActiveRecovery, CloneRequest, CommitPolicy, CommitRequest, DeleteGroupRequest, FailoverRequest, FailoverTestRequest,
  FailoverTestStopRequest, FileRestoreSession, MoveRequest, ProgressSink, ProtectedSiteControl, RecoveredVm, RecoveryKind,
  RecoveryOperations, RecoveryOutcome, RecoveryPhase, RecoveryReport, RecoveryStep, RestoredFileEntry, ShutdownPolicy,
} from './recovery-api.js';
import { ExtVolumeReader, type ExtVolumeReaderOptions } from './file-restore.js';
import { promoteDisks } from './promotion.js';
import { checkPlatformFit, type PlatformTranslation } from './platform-fit.js';
import { RecoveryScriptError, type RecoveryScriptRunner } from './recovery-scripts.js';
import {
  type RecoveryGroupDefinition, type RecoveryGroupDirectory, type RecoveryJournalSource,
  type RecoveryVmDefinition, type ReverseProtectionStarter,
} from './recovery-platform.js';

export interface RecoveryOrchestratorOptions {
  clock: Clock;
  /** The recovery site's platform: recovery VMs are created, booted and deleted here. */
  hypervisor: HypervisorAdapter;
  /** The recovery site's journals (a RecoveryAppliance fits). */
  journals: RecoveryJournalSource;
  /** Group definitions: name, VMs, recovery plan (boot groups, NIC mappings, re-IP). */
  groups: RecoveryGroupDirectory;
  /** The protected site (in-process, or a peer manager's API); may be unreachable during a disaster. */
  protectedSite: ProtectedSiteControl;
  /** Starts reverse protection after a commit; without it, a commit asking for reverse protection records a failed step. */
  reverseProtection?: ReverseProtectionStarter;
  /** The journals' storage and root folder, for deleting a group's journals (R9). */
  storage?: StorageAdapter;
  journalRoot?: string;
  /** Networks for NICs without a mapping; default: the first non-isolated / isolated network of the inventory. */
  liveNetworkId?: NetworkId;
  testNetworkId?: NetworkId;
  /** Paces promotion on the clock (default unpaced). */
  promotionBytesPerSecond?: number;
  promotionChunkBytes?: number;
  /** How long a move waits for its final checkpoint to reach every journal (default 60 s). */
  finalCheckpointTimeoutMs?: number;
  /** For deterministic ids in tests (operations, reports, file restore sessions). */
  newId?: () => string;
  /** Runs the plan's pre- and post-recovery scripts; without it a plan that names scripts fails its script steps. */
  scripts?: RecoveryScriptRunner;
  /** File restore: tool locations, temp folder, and how the private view of a volume is made (default a sparse copy). */
  fileRestore?: ExtVolumeReaderOptions;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface RecoveryOrchestratorEvents {
  /** Phase changes of an operation (a copy of its state). */
  phase: [ActiveRecovery];
  report: [RecoveryReport];
}

interface VmUnderRecovery {
  def: RecoveryVmDefinition;
  journal: Journal;
  image?: PointInTimeImage;
  vm?: VmInfo;
  info: RecoveredVm;
}

interface Operation {
  active: ActiveRecovery;
  groupName: string;
  vms: VmUnderRecovery[];
  steps: RecoveryStep[];
  /** An essential step failed. */
  failed: boolean;
  progress: ProgressSink;
  lastPercent: number;
  shutdownVmIds: VmId[];
  reverseProtection: boolean;
  keepSourceVms: boolean;
  commitTimer?: TimerHandle;
  /** A commit, rollback or stop is under way. */
  ending: boolean;
  /** What the target platform makes of the VMs (checked before the operation started). */
  translation?: PlatformTranslation;
}

interface RestoreSession {
  session: FileRestoreSession;
  image: PointInTimeImage;
  reader: ExtVolumeReader;
}

/** `throws` (default true): rethrow a failure; `fails` (default true): a failure fails the operation. */
interface StepOptions {
  throws?: boolean;
  fails?: boolean;
}

const SHUTDOWN_POLICIES: readonly ShutdownPolicy[] = ['none', 'shutdown', 'force'];
const COMMIT_POLICIES: readonly CommitPolicy[] = ['rollback', 'commit', 'none'];

export class RecoveryOrchestrator extends EventEmitter<RecoveryOrchestratorEvents> implements RecoveryOperations {
  private readonly ops = new Map<GroupId, Operation>();
  /** Groups with an operation starting, running or being deleted (set synchronously, before any await). */
  private readonly claims = new Set<GroupId>();
  private readonly reportList: RecoveryReport[] = [];
  private readonly sessions = new Map<string, RestoreSession>();
  /** Images still backing recovered VMs on a platform that cannot promote. */
  private readonly retainedImages: PointInTimeImage[] = [];

  constructor(private readonly options: RecoveryOrchestratorOptions) {
    super();
  }

  // ---- queries -------------------------------------------------------------------------------

  async listCheckpoints(groupId: GroupId): Promise<Checkpoint[]> {
    const group = this.group(groupId);
    const journals = group.vms.map((vm) => this.options.journals.journal(groupId, vm.id));
    if (journals.some((j) => !j)) return [];
    return intersect(journals as Journal[]);
  }

  async active(groupId: GroupId): Promise<ActiveRecovery | undefined> {
    return this.current(groupId);
  }

  /** The operation running on the group, if any (synchronous, for in-process callers). */
  current(groupId: GroupId): ActiveRecovery | undefined {
    const op = this.ops.get(groupId);
    return op && copyActive(op.active);
  }

  async reports(groupId?: GroupId): Promise<RecoveryReport[]> {
    return this.reportsNow(groupId);
  }

  /** Reports of ended operations, oldest first (optionally of one group); synchronous. */
  reportsNow(groupId?: GroupId): RecoveryReport[] {
    return this.reportList.filter((r) => groupId === undefined || r.groupId === groupId).map((r) => structuredClone(r));
  }

  // ---- R1 failover test ----------------------------------------------------------------------

  async startFailoverTest(request: FailoverTestRequest, progress?: ProgressSink): Promise<ActiveRecovery> {
    requireObject(request);
    const group = this.group(request.groupId);
    const defs = selectVms(group, request.vmIds);
    const fit = await this.checkFit(group, defs, 'test');
    this.claim(group.groupId);
    let op: Operation | undefined;
    try {
      const vms = this.journalsOf(group, defs);
      const checkpoint = resolveCheckpoint(group.groupId, vms.map((v) => v.journal), request.checkpointId);
      op = this.newOperation(group, 'FailoverTest', checkpoint, vms, progress, fit);
      await this.runScript(op, group, 'pre', false);
      await this.recoverVms(op, group, 'test');
      this.setPhase(op, 'running', 100, 'test VMs running on the test network');
      return copyActive(op.active);
    } catch (e) {
      await this.abort(group.groupId, op, e);
      throw e;
    }
  }

  async stopFailoverTest(request: FailoverTestStopRequest, progress?: ProgressSink): Promise<RecoveryReport> {
    requireObject(request);
    if (typeof request.success !== 'boolean') throw new ValidationError('success must be true or false', 'success');
    if (request.summary !== undefined && typeof request.summary !== 'string') throw new ValidationError('summary must be a string', 'summary');
    const op = this.operation(request.groupId, ['FailoverTest'], ['running']);
    op.ending = true;
    if (progress) op.progress = progress;
    this.setPhase(op, 'rolling-back', 10, 'removing the test VMs and their scratch writes');
    await this.step(op, 'remove-test-vms', () => this.teardown(op), { throws: false });
    return this.finish(op, 'test-stopped', request.success ? undefined : 'the user marked the test as failed', request.summary);
  }

  // ---- R2 failover, R3 move ------------------------------------------------------------------

  async failover(request: FailoverRequest, progress?: ProgressSink): Promise<ActiveRecovery> {
    requireObject(request);
    const group = this.group(request.groupId);
    const defs = selectVms(group, request.vmIds);
    oneOf(request.shutdownPolicy, SHUTDOWN_POLICIES, 'shutdownPolicy');
    oneOf(request.commitPolicy, COMMIT_POLICIES, 'commitPolicy');
    seconds(request.timeToWaitBeforeShutdownSec, 'timeToWaitBeforeShutdownSec');
    seconds(request.commitPolicyTimeoutSec, 'commitPolicyTimeoutSec');
    bool(request.reverseProtection, 'reverseProtection');
    const fit = await this.checkFit(group, defs, 'live');
    this.claim(group.groupId);
    let op: Operation | undefined;
    try {
      const vms = this.journalsOf(group, defs);
      const checkpoint = resolveCheckpoint(group.groupId, vms.map((v) => v.journal), request.checkpointId);
      op = this.newOperation(group, 'Failover', checkpoint, vms, progress, fit);
      op.reverseProtection = request.reverseProtection;
      await this.runScript(op, group, 'pre', false);
      if (request.shutdownPolicy !== 'none') {
        const ids = defs.map((d) => d.id);
        this.report(op, 5, 'shutting down the protected VMs');
        await this.step(op, 'shutdown-protected-vms', () => this.options.protectedSite.shutdownVms(group.groupId, ids, request.shutdownPolicy, { timeoutSec: request.timeToWaitBeforeShutdownSec }));
        op.shutdownVmIds = ids;
      }
      await this.recoverVms(op, group, 'live');
      this.setPhase(op, 'before-commit', 100, 'recovered VMs running; waiting to commit or roll back');
      return await this.applyCommitPolicy(op, request.commitPolicy, request.commitPolicyTimeoutSec);
    } catch (e) {
      await this.abort(group.groupId, op, e);
      throw e;
    }
  }

  async move(request: MoveRequest, progress?: ProgressSink): Promise<ActiveRecovery> {
    requireObject(request);
    const group = this.group(request.groupId);
    oneOf(request.commitPolicy, COMMIT_POLICIES, 'commitPolicy');
    seconds(request.commitPolicyTimeoutSec, 'commitPolicyTimeoutSec');
    bool(request.forceShutdown, 'forceShutdown');
    bool(request.reverseProtection, 'reverseProtection');
    bool(request.keepSourceVms, 'keepSourceVms');
    if (request.continueOnPreScriptFailure !== undefined) bool(request.continueOnPreScriptFailure, 'continueOnPreScriptFailure');
    const fit = await this.checkFit(group, group.vms, 'live');
    this.claim(group.groupId);
    let op: Operation | undefined;
    try {
      const vms = this.journalsOf(group, group.vms);
      const latest = intersect(vms.map((v) => v.journal)).at(-1);
      const pending: Checkpoint = latest ?? { id: 'pending', groupId: group.groupId, seq: 0, timestamp: this.options.clock.now(), kind: 'tagged' };
      op = this.newOperation(group, 'Move', pending, vms, progress, fit);
      op.reverseProtection = request.reverseProtection;
      op.keepSourceVms = request.keepSourceVms;
      await this.runScript(op, group, 'pre', request.continueOnPreScriptFailure === true);
      const ids = group.vms.map((d) => d.id);
      this.report(op, 5, 'shutting down the source VMs');
      await this.step(op, 'shutdown-source-vms', () => this.options.protectedSite.shutdownVms(group.groupId, ids, request.forceShutdown ? 'force' : 'shutdown'));
      op.shutdownVmIds = ids;
      this.report(op, 15, 'final sync and checkpoint');
      const cp = await this.step(op, 'final-checkpoint', async () => {
        const c = await this.options.protectedSite.finalCheckpoint(group.groupId);
        await this.awaitCheckpoint(vms.map((v) => v.journal), c);
        return c;
      });
      op.active.checkpoint = { ...cp };
      await this.recoverVms(op, group, 'live');
      this.setPhase(op, 'before-commit', 100, 'moved VMs running; waiting to commit or roll back');
      return await this.applyCommitPolicy(op, request.commitPolicy, request.commitPolicyTimeoutSec);
    } catch (e) {
      await this.abort(group.groupId, op, e);
      throw e;
    }
  }

  async commit(request: CommitRequest, progress?: ProgressSink): Promise<RecoveryReport> {
    requireObject(request);
    if (request.reverseProtection !== undefined) bool(request.reverseProtection, 'reverseProtection');
    if (request.keepSourceVms !== undefined) bool(request.keepSourceVms, 'keepSourceVms');
    const op = this.operation(request.groupId, ['Failover', 'Move'], ['before-commit']);
    if (progress) op.progress = progress;
    return this.doCommit(op, request);
  }

  async rollback(groupId: GroupId, progress?: ProgressSink): Promise<RecoveryReport> {
    const op = this.operation(groupId, ['Failover', 'Move'], ['before-commit']);
    if (progress) op.progress = progress;
    return this.doRollback(op);
  }

  // ---- R4 clone ------------------------------------------------------------------------------

  async clone(request: CloneRequest, progress?: ProgressSink): Promise<RecoveryReport> {
    requireObject(request);
    const group = this.group(request.groupId);
    const defs = selectVms(group, request.vmIds);
    if (!this.options.hypervisor.promotion) {
      throw new UnsupportedError(`cloning on platform '${this.options.hypervisor.platform}' (it cannot copy a point-in-time image into a VM's own disks)`);
    }
    if (request.datastoreId !== undefined) await this.checkDatastore(request.datastoreId);
    const fit = await this.checkFit(group, defs, 'clone');
    this.claim(group.groupId);
    let op: Operation | undefined;
    try {
      const vms = this.journalsOf(group, defs);
      const checkpoint = resolveCheckpoint(group.groupId, vms.map((v) => v.journal), request.checkpointId);
      op = this.newOperation(group, 'Clone', checkpoint, vms, progress, fit);
      await this.recoverVms(op, group, 'clone', request.datastoreId);
      await this.promote(op, 60);
      return this.finish(op, 'cloned');
    } catch (e) {
      await this.abort(group.groupId, op, e);
      throw e;
    }
  }

  // ---- R5 file restore -----------------------------------------------------------------------

  async openFileRestore(groupId: GroupId, checkpointId: CheckpointId, vmId: VmId, volumeId: VolumeId): Promise<FileRestoreSession> {
    const group = this.group(groupId);
    if (typeof checkpointId !== 'string' || checkpointId === '') throw new ValidationError('checkpointId must be a non-empty string', 'checkpointId');
    const def = group.vms.find((v) => v.id === vmId);
    if (!def) throw new ValidationError(`VM '${vmId}' is not in group '${groupId}'`, 'vmId');
    const [{ journal }] = this.journalsOf(group, [def]);
    if (!journal.volumes.some((v) => v.id === volumeId)) throw new ValidationError(`volume '${volumeId}' is not a volume of VM '${vmId}'`, 'volumeId');
    resolveCheckpoint(groupId, [journal], checkpointId);
    const image = await journal.openImage(checkpointId);
    try {
      const reader = await ExtVolumeReader.open(image, volumeId, this.options.fileRestore);
      const session: FileRestoreSession = { id: this.newId('restore'), groupId, checkpointId, vmId, volumeId };
      this.sessions.set(session.id, { session, image, reader });
      return { ...session };
    } catch (e) {
      image.close();
      throw e;
    }
  }

  async listFiles(sessionId: string, path: string): Promise<RestoredFileEntry[]> {
    return this.session(sessionId).reader.list(path);
  }

  async extractFile(sessionId: string, path: string): Promise<Buffer> {
    return this.session(sessionId).reader.read(path);
  }

  async closeFileRestore(sessionId: string): Promise<void> {
    const s = this.session(sessionId);
    this.sessions.delete(sessionId);
    s.image.close();
    await s.reader.close();
  }

  // ---- R9 delete -----------------------------------------------------------------------------

  async deleteGroup(request: DeleteGroupRequest, progress?: ProgressSink): Promise<void> {
    requireObject(request);
    bool(request.keepRecoveryVolumes, 'keepRecoveryVolumes');
    bool(request.force, 'force');
    const group = this.group(request.groupId);
    const id = group.groupId;
    const busy = this.ops.get(id);
    if (!request.force && !this.options.storage) throw new UnsupportedError('deleting a group\'s journals (the orchestrator was given no storage)');
    if (!request.force) this.claim(id); // a running operation: ConflictError, nothing changed
    else this.claims.add(id);
    const report = (p: number, s: string): void => progress?.(p, s);
    report(0, 'stopping protection');
    try {
      if (request.force) {
        await this.options.protectedSite.stopProtection(id, { deleteSourceVms: false }).catch((e: Error) => this.log('delete-stop-protection-failed', { groupId: id, message: e.message }));
      } else {
        // Unforced: a protected site that cannot be told leaves everything as it was. One that answers it
        // protects the group no more (the manager unprotects it there first) has already done what we ask.
        await this.options.protectedSite.stopProtection(id, { deleteSourceVms: false }).catch((e: Error & { code?: string }) => {
          if (e.code !== 'NOT_FOUND') throw e;
        });
      }
      if (busy) {
        busy.commitTimer?.cancel();
        report(20, `ending the ${busy.active.kind} operation`);
        if (busy.active.phase !== 'promoting' && busy.active.phase !== 'done') await this.teardown(busy).catch(() => undefined);
        this.ops.delete(id);
      }
      report(40, 'closing the journals');
      for (const vm of group.vms) await this.options.journals.journal(id, vm.id)?.close();
      const storage = this.options.storage;
      if (storage) {
        report(60, request.keepRecoveryVolumes ? 'deleting the journals, keeping the recovery volumes' : 'deleting the journals and recovery volumes');
        const root = this.options.journalRoot ?? 'journals';
        for (const name of await storage.list(`${root}/${id}/`)) {
          if (request.keepRecoveryVolumes && /\/replica\/[^/]+\.(img|alloc)$/.test(name)) continue;
          await storage.delete(name);
        }
      }
      this.options.groups.remove?.(id);
      report(100, 'group deleted');
    } finally {
      this.claims.delete(id);
    }
  }

  // ---- the steps -----------------------------------------------------------------------------

  /** Opens the images, creates the VMs (test / live / clone) and boots them by boot group (not clones). */
  private async recoverVms(op: Operation, group: RecoveryGroupDefinition, mode: 'test' | 'live' | 'clone', datastoreId?: DatastoreId): Promise<void> {
    const cp = op.active.checkpoint;
    this.report(op, 20, `opening the images at checkpoint ${cp.id}`);
    await this.step(op, 'open-images', async () => {
      for (const v of op.vms) v.image = await v.journal.openImage(cp.id);
    });
    const networks = await this.defaultNetworks(mode);
    this.report(op, 30, 'creating the recovery VMs');
    await this.step(op, mode === 'test' ? 'create-test-vms' : mode === 'clone' ? 'create-clone-vms' : 'create-recovery-vms', async () => {
      for (const v of op.vms) {
        const nics = nicSpecs(group, v.def, mode, networks);
        const image = v.image!;
        // A clone goes where the user said; otherwise the VM's own placement, then the group's.
        const placement = group.plan.vms?.find((p) => p.vmId === v.def.id);
        const hostId = placement?.hostId ?? group.plan.hostId;
        const dsId = datastoreId ?? placement?.datastoreId ?? group.plan.datastoreId;
        v.vm = await this.options.hypervisor.createRecoveryVm({
          name: mode === 'test' ? `${v.def.name} - testing recovery` : mode === 'clone' ? `${v.def.name} - clone` : v.def.name,
          sourceVmId: v.def.id,
          ...(hostId !== undefined ? { hostId } : {}),
          ...(dsId !== undefined ? { datastoreId: dsId } : {}),
          disks: image.volumes.map((vol) => ({ volumeId: vol.id, source: image, sectorSize: vol.sectorSize })),
          nics,
        });
        v.info.recoveredVmId = v.vm.id;
        v.info.networkIds = nics.map((n) => n.networkId);
      }
    });
    if (mode === 'clone') return;
    this.report(op, 50, 'powering on by boot group');
    await this.step(op, 'power-on', () => this.boot(op, group));
    await this.runScript(op, group, 'post', true);
  }

  /**
   * Runs the plan's pre- or post-recovery script as a step whose detail is its output. A failed pre-recovery
   * script fails the operation before anything changed, unless `goOn`; a failed post-recovery script is
   * recorded and the recovered VMs stay up.
   */
  private async runScript(op: Operation, group: RecoveryGroupDefinition, phase: 'pre' | 'post', goOn: boolean): Promise<void> {
    const script = phase === 'pre' ? group.plan.scripts?.preRecovery : group.plan.scripts?.postRecovery;
    if (!script) return;
    this.report(op, phase === 'pre' ? 3 : 97, `running the ${phase}-recovery script ${script.command}`);
    await this.step(op, `${phase}-recovery-script`, async () => {
      if (!this.options.scripts) throw new RecoveryScriptError('this recovery appliance runs no scripts (give it a scripts folder)');
      const r = await this.options.scripts.run(script, { operation: op.active.kind, phase, groupId: group.groupId, groupName: group.name, checkpointId: op.active.checkpoint.id });
      const summary = `${script.command}: ${r.timedOut ? `killed after its ${script.timeoutSeconds} s timeout` : `exit code ${r.exitCode ?? 'none (signal)'}`} after ${r.durationMs} ms${r.output ? `\n${r.output}` : ''}`;
      if (r.timedOut || r.exitCode !== 0) throw new RecoveryScriptError(summary);
      return summary;
    }, goOn ? { throws: false, fails: false } : {});
  }

  /** VMs in no boot group first, together; then each boot group, the next one `delaySeconds` after it. */
  private async boot(op: Operation, group: RecoveryGroupDefinition): Promise<void> {
    const grouped = new Set((group.plan.bootGroups ?? []).flatMap((g) => g.vmIds));
    const waves: { name?: string; delaySeconds: number; vms: VmUnderRecovery[] }[] = [];
    const loose = op.vms.filter((v) => !grouped.has(v.def.id));
    if (loose.length > 0) waves.push({ delaySeconds: 0, vms: loose });
    for (const g of group.plan.bootGroups ?? []) {
      const vms = op.vms.filter((v) => g.vmIds.includes(v.def.id));
      if (vms.length > 0) waves.push({ name: g.name, delaySeconds: g.delaySeconds, vms });
    }
    for (let i = 0; i < waves.length; i++) {
      const w = waves[i];
      await Promise.all(w.vms.map((v) => this.options.hypervisor.powerOn(v.vm!.id)));
      const at = this.options.clock.now();
      for (const v of w.vms) {
        v.info.poweredOnAt = at;
        if (w.name !== undefined) v.info.bootGroup = w.name;
      }
      this.report(op, 50 + Math.floor((45 * (i + 1)) / waves.length), `boot group ${w.name ?? '(VMs in no boot group)'} powered on`);
      if (i < waves.length - 1 && w.delaySeconds > 0) await this.options.clock.sleep(w.delaySeconds * 1000);
    }
  }

  private async applyCommitPolicy(op: Operation, policy: CommitPolicy, timeoutSec: number): Promise<ActiveRecovery> {
    if (policy === 'none') return copyActive(op.active);
    const apply = (): Promise<RecoveryReport> => (policy === 'commit' ? this.doCommit(op, {}) : this.doRollback(op));
    if (timeoutSec <= 0) {
      await apply();
      return copyActive(op.active);
    }
    op.commitTimer = this.options.clock.setTimer(timeoutSec * 1000, () => {
      op.commitTimer = undefined;
      if (op.ending || this.ops.get(op.active.groupId) !== op) return;
      apply().catch((e: Error) => this.log('commit-policy-failed', { groupId: op.active.groupId, policy, message: e.message }));
    });
    return copyActive(op.active);
  }

  private async doCommit(op: Operation, overrides: Partial<CommitRequest>): Promise<RecoveryReport> {
    op.ending = true;
    op.commitTimer?.cancel();
    const groupId = op.active.groupId;
    const reverse = overrides.reverseProtection ?? op.reverseProtection;
    const keep = overrides.keepSourceVms ?? op.keepSourceVms;
    this.setPhase(op, 'committing', 5, 'committing');
    // The protected site may be gone (that is why we fail over): record it, but the commit stands (R8).
    await this.step(op, 'stop-protection', () => this.options.protectedSite.stopProtection(groupId, { deleteSourceVms: op.active.kind === 'Move' && !keep && !reverse }), { throws: false, fails: false });
    await this.promote(op, 20);
    if (reverse) {
      this.report(op, 95, 'starting reverse protection');
      await this.step(op, 'reverse-protection', async () => {
        const starter = this.options.reverseProtection;
        if (!starter) throw new UnsupportedError('reverse protection (no starter configured at the recovery site)');
        await starter({
          groupId, groupName: op.groupName,
          vms: op.vms.map((v) => ({
            sourceVmId: v.def.id, recoveredVmId: v.vm!.id,
            volumes: v.image!.volumes.map((vol, i) => ({ sourceVolumeId: vol.id, recoveredVolumeId: v.vm!.volumes[i].id, sizeBytes: vol.sizeBytes })),
          })),
        });
      }, { throws: false });
    }
    return this.finish(op, 'committed');
  }

  private async doRollback(op: Operation): Promise<RecoveryReport> {
    op.ending = true;
    op.commitTimer?.cancel();
    this.setPhase(op, 'rolling-back', 10, 'removing the recovered VMs');
    await this.step(op, 'remove-recovered-vms', () => this.teardown(op), { throws: false });
    if (op.shutdownVmIds.length > 0) {
      this.report(op, 60, 'powering the protected VMs back on');
      await this.step(op, 'power-on-protected-vms', () => this.options.protectedSite.powerOnVms(op.active.groupId, op.shutdownVmIds), { throws: false });
    }
    return this.finish(op, 'rolled-back');
  }

  /** Copies the images into the recovered VMs' disks (phase 'promoting'), then lets the images go. */
  private async promote(op: Operation, from: number): Promise<void> {
    this.setPhase(op, 'promoting', from, 'promoting the journal into the recovered disks');
    op.active.promotionPercent = 0;
    await this.step(op, 'promote', async () => {
      const promoted = await promoteDisks({
        clock: this.options.clock,
        hypervisor: this.options.hypervisor,
        disks: op.vms.flatMap((v) => v.image!.volumes.map((vol, i) => ({ vmId: v.vm!.id, volumeId: v.vm!.volumes[i].id, sizeBytes: vol.sizeBytes }))),
        ...(this.options.promotionChunkBytes ? { chunkBytes: this.options.promotionChunkBytes } : {}),
        ...(this.options.promotionBytesPerSecond ? { bytesPerSecond: this.options.promotionBytesPerSecond } : {}),
        onProgress: (p) => {
          op.active.promotionPercent = p;
          this.report(op, from + Math.floor(((94 - from) * p) / 100), `promoting (${p} %)`);
        },
      });
      if (promoted) {
        for (const v of op.vms) v.image!.close();
        return undefined;
      }
      // The platform keeps the disks on the images: they stay open (pinned) as long as the orchestrator lives.
      for (const v of op.vms) this.retainedImages.push(v.image!);
      return 'the platform cannot promote: the recovered disks keep reading through the journal';
    }, { throws: false });
    op.active.promotionPercent = 100;
  }

  /** Powers off and deletes the operation's VMs and closes its images; the first error is thrown after trying everything. */
  private async teardown(op: Operation): Promise<void> {
    const errors: Error[] = [];
    for (const v of op.vms) {
      if (v.vm) {
        const vmId = v.vm.id;
        await this.options.hypervisor.powerOff(vmId).catch((e: Error) => errors.push(e));
        try {
          await this.options.hypervisor.deleteVm(vmId);
          v.vm = undefined;
        } catch (e) {
          errors.push(e as Error);
        }
      }
      v.image?.close();
    }
    if (errors.length > 0) throw errors[0];
  }

  /** An operation failed while starting: undo what it did, record a failed report, free the group. */
  private async abort(groupId: GroupId, op: Operation | undefined, error: unknown): Promise<void> {
    if (!op) {
      this.claims.delete(groupId);
      return;
    }
    op.commitTimer?.cancel();
    if (this.ops.get(groupId) !== op || op.ending) {
      // Ended already (an immediate commit or rollback failed after finishing): nothing to undo.
      this.claims.delete(groupId);
      return;
    }
    await this.step(op, 'undo', async () => {
      await this.teardown(op);
      if (op.shutdownVmIds.length > 0) await this.options.protectedSite.powerOnVms(groupId, op.shutdownVmIds);
    }, { throws: false });
    this.finish(op, 'aborted', (error as Error)?.message ?? String(error));
  }

  private finish(op: Operation, outcome: RecoveryOutcome, failure?: string, summary?: string): RecoveryReport {
    const now = this.options.clock.now();
    if (failure) op.failed = true;
    const report: RecoveryReport = {
      id: op.active.id,
      groupId: op.active.groupId,
      groupName: op.groupName,
      kind: op.active.kind,
      checkpoint: { ...op.active.checkpoint },
      startedAt: op.active.startedAt,
      endedAt: now,
      result: op.failed ? 'Fail' : 'Success',
      ...(summary !== undefined ? { summary } : failure !== undefined ? { summary: failure } : {}),
      steps: op.steps.map((s) => ({ ...s })),
      vms: op.vms.map((v) => ({ ...v.info, networkIds: [...v.info.networkIds] })),
      outcome,
      ...(op.translation ? { translation: structuredClone(op.translation) } : {}),
    };
    op.active.phase = 'done';
    this.report(op, 100, op.failed ? 'failed' : 'done');
    this.emit('phase', copyActive(op.active));
    this.ops.delete(op.active.groupId);
    this.claims.delete(op.active.groupId);
    this.reportList.push(report);
    this.emit('report', structuredClone(report));
    this.log('recovery-report', { groupId: report.groupId, kind: report.kind, result: report.result });
    return structuredClone(report);
  }

  /** Runs one step and records it; by default its failure fails the operation and is thrown (see StepOptions). */
  private async step<T>(op: Operation, name: string, fn: () => Promise<T>, options: StepOptions = {}): Promise<T> {
    const startedAt = this.options.clock.now();
    try {
      const value = await fn();
      op.steps.push({ name, startedAt, endedAt: this.options.clock.now(), result: 'Success', ...(typeof value === 'string' ? { detail: value } : {}) });
      return value;
    } catch (e) {
      const detail = (e as Error)?.message ?? String(e);
      op.steps.push({ name, startedAt, endedAt: this.options.clock.now(), result: 'Fail', detail });
      if (options.fails !== false) op.failed = true;
      if (options.throws === false) {
        this.log('recovery-step-failed', { groupId: op.active.groupId, step: name, message: detail });
        return undefined as T;
      }
      throw e;
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  private newOperation(group: RecoveryGroupDefinition, kind: RecoveryKind, checkpoint: Checkpoint, vms: VmUnderRecovery[], progress: ProgressSink | undefined, translation: PlatformTranslation): Operation {
    const now = this.options.clock.now();
    const op: Operation = {
      active: { id: this.newId(kind.toLowerCase()), groupId: group.groupId, kind, phase: 'running', checkpoint: { ...checkpoint }, startedAt: now, vms: vms.map((v) => v.info) },
      groupName: group.name, vms, steps: [], failed: false, progress: progress ?? (() => undefined), lastPercent: -1,
      shutdownVmIds: [], reverseProtection: false, keepSourceVms: true, ending: false, translation,
    };
    const drivers = [...new Set(translation.vms.flatMap((v) => v.drivers.linux))];
    op.steps.push({
      name: 'check-platform-fit', startedAt: now, endedAt: now, result: 'Success',
      detail: `${translation.crossPlatform ? 'cross-platform recovery' : 'recovery'} onto '${translation.targetPlatform}'${drivers.length > 0 ? `; Linux guests need ${drivers.join(', ')}` : ''}`,
    });
    this.ops.set(group.groupId, op);
    this.report(op, 0, `${kind} of group '${group.name}' started`);
    return op;
  }

  private setPhase(op: Operation, phase: RecoveryPhase, percent: number, step: string): void {
    op.active.phase = phase;
    this.report(op, percent, step);
    this.emit('phase', copyActive(op.active));
  }

  /** Progress never goes backwards within an operation. */
  private report(op: Operation, percent: number, step: string): void {
    const p = Math.max(op.lastPercent, Math.min(100, Math.max(0, Math.floor(percent))));
    op.lastPercent = p;
    try {
      op.progress(p, step);
    } catch (e) {
      this.log('progress-sink-failed', { message: (e as Error).message });
    }
  }

  /** Claims the group for a new operation, synchronously: a second one gets a ConflictError and changes nothing. */
  private claim(groupId: GroupId): void {
    const op = this.ops.get(groupId);
    if (op || this.claims.has(groupId)) {
      throw new ConflictError(
        `group '${groupId}' already has a recovery operation${op ? ` (${op.active.kind}, phase '${op.active.phase}')` : ' starting'}`,
        op?.active.kind === 'FailoverTest' ? 'stop the failover test first' : 'commit or roll back the running operation first',
      );
    }
    this.claims.add(groupId);
  }

  private operation(groupId: GroupId, kinds: RecoveryKind[], phases: RecoveryPhase[]): Operation {
    this.group(groupId);
    const op = this.ops.get(groupId);
    if (!op || !kinds.includes(op.active.kind)) {
      throw new InvalidStateError(`group '${groupId}' has no ${kinds.join(' or ')} operation to end${op ? ` (it runs a ${op.active.kind})` : ''}`);
    }
    if (op.ending || !phases.includes(op.active.phase)) {
      throw new ConflictError(`the ${op.active.kind} of group '${groupId}' is in phase '${op.active.phase}'${op.ending ? ' and already ending' : ''}`, 'wait for it to finish');
    }
    return op;
  }

  private group(groupId: GroupId): RecoveryGroupDefinition {
    if (typeof groupId !== 'string' || groupId === '') throw new ValidationError('groupId must be a non-empty string', 'groupId');
    const g = this.options.groups.group(groupId);
    if (!g) throw new NotFoundError('group', groupId);
    return g;
  }

  private journalsOf(group: RecoveryGroupDefinition, defs: readonly RecoveryVmDefinition[]): VmUnderRecovery[] {
    return defs.map((def) => {
      const journal = this.options.journals.journal(group.groupId, def.id);
      if (!journal) throw new InvalidStateError(`the recovery site has no journal for VM '${def.id}' of group '${group.groupId}' yet`, 'wait for the initial sync');
      return { def, journal, info: { sourceVmId: def.id, recoveredVmId: '', name: def.name, networkIds: [] } };
    });
  }

  /** Waits (on the clock) until every journal lists a checkpoint the protected site just cut. */
  private async awaitCheckpoint(journals: Journal[], cp: Checkpoint): Promise<void> {
    const limit = this.options.clock.now() + (this.options.finalCheckpointTimeoutMs ?? 60_000);
    while (!journals.every((j) => j.checkpoints().some((c) => c.id === cp.id))) {
      if (this.options.clock.now() >= limit) throw new InvalidStateError(`checkpoint '${cp.id}' did not reach every journal of group '${cp.groupId}' in time`);
      await this.options.clock.sleep(20);
    }
  }

  private async defaultNetworks(mode: 'test' | 'live' | 'clone'): Promise<{ live?: NetworkId; test?: NetworkId }> {
    let { liveNetworkId: live, testNetworkId: test } = this.options;
    if (live === undefined || test === undefined) {
      const networks = (await this.options.hypervisor.inventory()).networks;
      live ??= networks.find((n) => !n.isolated)?.id;
      test ??= networks.find((n) => n.isolated)?.id;
    }
    if (mode === 'test' && test === undefined) throw new InvalidStateError('the recovery site has no isolated test network', 'add one, or map every NIC to a test network');
    return { ...(live !== undefined ? { live } : {}), ...(test !== undefined ? { test } : {}) };
  }

  /**
   * Refuses, before the group is claimed or anything made, a target that cannot host the VMs (see
   * platform-fit.ts); returns what the target makes of them for the report.
   */
  private async checkFit(group: RecoveryGroupDefinition, defs: readonly RecoveryVmDefinition[], mode: 'test' | 'live' | 'clone'): Promise<PlatformTranslation> {
    const hv = this.options.hypervisor;
    const [inventory, defaults] = await Promise.all([hv.inventory(), this.defaultNetworks(mode)]);
    return checkPlatformFit({
      targetPlatform: hv.platform,
      ...(hv.limits ? { limits: hv.limits } : {}),
      plan: group.plan,
      networks: inventory.networks,
      mode,
      defaults,
      // A VM without a journal yet is refused by journalsOf once claimed; here it has no volumes to check.
      vms: defs.map((def) => ({
        id: def.id, name: def.name, volumes: this.options.journals.journal(group.groupId, def.id)?.volumes ?? [],
        ...(def.hardware ? { hardware: def.hardware } : {}), ...(def.nics ? { nics: def.nics } : {}),
      })),
    });
  }

  private async checkDatastore(datastoreId: DatastoreId): Promise<void> {
    const ds = (await this.options.hypervisor.inventory()).datastores;
    if (!ds.some((d) => d.id === datastoreId)) {
      throw new ValidationError(`datastore '${datastoreId}' is not at the recovery site`, 'datastoreId', `use one of ${ds.map((d) => d.id).join(', ')}`);
    }
  }

  private session(sessionId: string): RestoreSession {
    const s = this.sessions.get(sessionId);
    if (!s) throw new NotFoundError('file restore session', String(sessionId));
    return s;
  }

  private newId(kind: string): string {
    return this.options.newId?.() ?? `${kind}-${randomUUID()}`;
  }

  private log(event: string, fields: Record<string, unknown>): void {
    this.options.log?.(event, fields);
  }
}

/** The group status a manager shows while an operation runs (undefined: the replication status stands). */
export function recoveryStatusOf(active: Pick<ActiveRecovery, 'kind' | 'phase'> | undefined): { status: GroupStatus; subStatus: GroupSubStatus } | undefined {
  if (!active || active.kind === 'FailoverTest' || active.kind === 'Clone' || active.phase === 'done') return undefined;
  const move = active.kind === 'Move';
  const status: GroupStatus = move ? 'Moving' : 'FailingOver';
  switch (active.phase) {
    case 'running':
    case 'before-commit': return { status, subStatus: move ? 'MovingBeforeCommit' : 'FailingOverBeforeCommit' };
    case 'committing': return { status, subStatus: move ? 'MovingCommitting' : 'FailingOverCommitting' };
    case 'rolling-back': return { status, subStatus: move ? 'MovingRollingBack' : 'FailingOverRollingBack' };
    case 'promoting': return { status, subStatus: 'Promoting' };
    default: return undefined;
  }
}

/** Checkpoints listed in every journal, oldest first. */
function intersect(journals: readonly Journal[]): Checkpoint[] {
  if (journals.length === 0) return [];
  const lists = journals.map((j) => j.checkpoints());
  return lists[0].filter((cp) => lists.every((l) => l.some((c) => c.id === cp.id)));
}

function resolveCheckpoint(groupId: GroupId, journals: readonly Journal[], checkpointId: CheckpointId | undefined): Checkpoint {
  if (checkpointId === undefined) {
    const latest = intersect(journals).at(-1);
    if (!latest) throw new InvalidStateError(`group '${groupId}' has no checkpoint at the recovery site yet`, 'wait for the initial sync and the first checkpoint');
    return latest;
  }
  if (typeof checkpointId !== 'string' || checkpointId === '') throw new ValidationError('checkpointId must be a non-empty string', 'checkpointId');
  let cp: Checkpoint | undefined;
  // Journal.getCheckpoint throws CheckpointNotFoundError / CheckpointTrimmedError: a checkpoint of another group is not found here.
  for (const j of journals) cp = j.getCheckpoint(checkpointId);
  if (cp && cp.groupId !== groupId) throw new ValidationError(`checkpoint '${checkpointId}' belongs to group '${cp.groupId}', not '${groupId}'`, 'checkpointId');
  return cp!;
}

function selectVms(group: RecoveryGroupDefinition, vmIds: VmId[] | undefined): RecoveryVmDefinition[] {
  if (vmIds === undefined) return group.vms;
  if (!Array.isArray(vmIds) || vmIds.length === 0) throw new ValidationError('vmIds must be a non-empty list when given', 'vmIds');
  return vmIds.map((id) => {
    const def = group.vms.find((v) => v.id === id);
    if (!def) throw new ValidationError(`VM '${id}' is not in group '${group.groupId}'`, 'vmIds');
    return def;
  });
}

function nicSpecs(group: RecoveryGroupDefinition, def: RecoveryVmDefinition, mode: 'test' | 'live' | 'clone', networks: { live?: NetworkId; test?: NetworkId }): RecoveryNicSpec[] {
  const count = Math.max(1, def.nics?.length ?? 1);
  const out: RecoveryNicSpec[] = [];
  for (let i = 0; i < count; i++) {
    const m = (group.plan.nics ?? []).find((n) => n.vmId === def.id && n.nicIndex === i);
    const test = mode === 'test';
    const networkId = test ? (m?.testNetworkId ?? networks.test) : (m?.liveNetworkId ?? networks.live);
    if (networkId === undefined) throw new InvalidStateError(`no ${test ? 'test' : 'live'} network for NIC ${i} of VM '${def.id}'`, 'map the NIC in the recovery plan');
    const ipv4 = test ? m?.testIpv4 : m?.liveIpv4;
    out.push({ networkId, ...(ipv4 !== undefined ? { ipv4 } : {}) });
  }
  return out;
}

function copyActive(a: ActiveRecovery): ActiveRecovery {
  return { ...a, checkpoint: { ...a.checkpoint }, vms: a.vms.map((v) => ({ ...v, networkIds: [...v.networkIds] })) };
}

function requireObject(request: unknown): void {
  if (typeof request !== 'object' || request === null) throw new ValidationError('the request must be an object', 'request');
}

function oneOf<T extends string>(value: T, allowed: readonly T[], field: string): void {
  if (!allowed.includes(value)) throw new ValidationError(`${field} must be one of ${allowed.join(', ')}, got '${String(value)}'`, field);
}

function seconds(value: number, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ValidationError(`${field} must be a number of seconds ≥ 0, got ${String(value)}`, field);
}

function bool(value: unknown, field: string): void {
  if (typeof value !== 'boolean') throw new ValidationError(`${field} must be true or false`, field);
}


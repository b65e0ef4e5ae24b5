// Replicates one protection group inside one process: the group's write taps feed per-VM journals
// directly, each write stamped with the group's sequence number, and checkpoints are cut with the
// barrier (hold every tap's completions, mark every journal at one sequence number and timestamp,
// release). On a platform without a splitter every checkpoint is a change-tracking cycle instead
// (`LocalChangeCycles`). The appliances and the site link put a network between the two halves without
// changing these semantics.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock.js';
import { ClosedError, UnsupportedError, ValidationError } from '../errors.js';
import { captureModeOf, checkCycleInterval, type CaptureMode } from '../capture/capture-mode.js';
import { WriteGate } from '../capture/write-gate.js';
import { Journal } from '../journal/journal.js';
import type { Checkpoint, CheckpointKind, GroupId, VmId } from '../model.js';
import type { ConsistencyAgent } from '../ports/consistency-agent.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { StorageAdapter } from '../ports/storage-adapter.js';
import type { WriteTap } from '../ports/write-tap.js';
import { journalSizeBytes, type ProtectionGroupSettings } from '../settings.js';
import { LocalChangeCycles, type FrozenCycle } from './local-change-cycles.js';

export interface LocalReplicationOptions {
  groupId: GroupId;
  settings: ProtectionGroupSettings;
  vmIds: VmId[];
  hypervisor: HypervisorAdapter;
  /** Recovery-site storage for the journals and replica volumes. */
  storage: StorageAdapter;
  clock: Clock;
  /** Folder for journals (default `journals`); each VM's journal is `<root>/<groupId>/<vmId>`. */
  journalRoot?: string;
  agents?: ConsistencyAgent[];
  /** Cut auto checkpoints every `settings.checkpointIntervalMs` (default true). */
  autoCheckpoints?: boolean;
  /** Checkpoint ids; inject for determinism (default random UUIDs). */
  newId?: () => string;
  /** The capture mode, where the platform offers both (default: the splitter when there is one). */
  capture?: CaptureMode;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface LocalReplicationEvents {
  checkpoint: [Checkpoint];
  /** A write could not be journaled: the replica has diverged and needs a sync. */
  'replication-error': [{ vmId: VmId; error: Error }];
  'checkpoint-error': [Error];
}

export class LocalReplication extends EventEmitter<LocalReplicationEvents> {
  private seq = 0;
  private readonly journals = new Map<VmId, Journal>();
  private readonly taps: WriteTap[] = [];
  /** Change-tracking mode: the cycles that stand in for the taps. */
  private cycles?: LocalChangeCycles;
  private readonly gate: WriteGate;
  private timer?: TimerHandle;
  private stopped = false;
  private nextAutoAt = 0;

  private constructor(private readonly options: LocalReplicationOptions) {
    super();
    this.gate = new WriteGate(options.groupId);
  }

  /**
   * Opens (or recovers) a journal per VM and attaches a tap to each VM. The protected volumes must
   * start equal to the replicas (new, or preseeded): copying existing data is the appliances' initial sync.
   */
  static async start(options: LocalReplicationOptions): Promise<LocalReplication> {
    if (options.vmIds.length === 0) throw new ValidationError('a protection group needs at least one VM', 'vmIds');
    if (new Set(options.vmIds).size !== options.vmIds.length) throw new ValidationError('a VM is listed twice in the group', 'vmIds');
    const hypervisor = options.hypervisor;
    const mode = captureModeOf(hypervisor, options.capture);
    if (mode === 'change-tracking') checkCycleInterval(hypervisor.changeTracking!, options.settings.checkpointIntervalMs, hypervisor.platform);
    const rep = new LocalReplication(options);
    const { settings, clock, storage } = options;
    const root = options.journalRoot ?? 'journals';
    for (const vmId of options.vmIds) {
      const vm = await hypervisor.getVm(vmId);
      const provisioned = vm.volumes.reduce((n, v) => n + v.sizeBytes, 0);
      const journal = await Journal.open({
        storage, clock, vmId, path: `${root}/${options.groupId}/${vmId}`,
        volumes: vm.volumes.map((v) => ({ id: v.id, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize })),
        historyMs: settings.journalHistoryHours * 3_600_000,
        hardLimitBytes: journalSizeBytes(settings.journal.hardLimit, provisioned),
        warningBytes: journalSizeBytes(settings.journal.warningThreshold, provisioned),
      });
      rep.journals.set(vmId, journal);
      rep.seq = Math.max(rep.seq, journal.lastSeq);
    }
    if (mode === 'change-tracking') {
      rep.cycles = await LocalChangeCycles.start({
        groupId: options.groupId, tracking: hypervisor.changeTracking!, vms: await Promise.all(options.vmIds.map((id) => hypervisor.getVm(id))),
        journals: rep.journals, nextSeq: () => ++rep.seq, mark: (kind, tag, timestamp) => rep.mark(kind, tag, timestamp), ...(options.log ? { log: options.log } : {}),
      });
    }
    for (const vmId of mode === 'splitter' ? options.vmIds : []) {
      const tap = await hypervisor.openTap!(vmId);
      tap.start((write) => rep.onWrite(vmId, write));
      rep.taps.push(tap);
    }
    if (options.autoCheckpoints !== false) rep.scheduleAuto();
    return rep;
  }

  get groupId(): GroupId {
    return this.options.groupId;
  }

  get captureMode(): CaptureMode {
    return this.cycles ? 'change-tracking' : 'splitter';
  }

  /** Resolves once no change-tracking cycle runs (at once in splitter mode). */
  async settled(): Promise<void> {
    await this.cycles?.settled();
  }

  /** Last sequence number stamped. */
  get lastSeq(): number {
    return this.seq;
  }

  journal(vmId: VmId): Journal {
    const j = this.journals.get(vmId);
    if (!j) throw new ValidationError(`VM '${vmId}' is not in group '${this.groupId}'`, 'vmId');
    return j;
  }

  /** Checkpoints common to every VM of the group, oldest first. */
  checkpoints(): Checkpoint[] {
    const lists = [...this.journals.values()].map((j) => j.checkpoints());
    return lists[0].filter((cp) => lists.every((l) => l.some((c) => c.id === cp.id)));
  }

  /** Cuts a crash-consistent checkpoint across the group. */
  checkpoint(kind: Exclude<CheckpointKind, 'vss'> = 'tagged', tag?: string): Promise<Checkpoint> {
    return cutCheckpoint([this], kind, tag, this.options.clock.now()).then((cps) => cps[0]);
  }

  /**
   * Cuts a checkpoint while `vmId`'s applications are quiesced by a consistency agent: application-
   * consistent for that VM, crash-consistent for the rest. The guest is thawed even when the cut fails.
   */
  async vssCheckpoint(vmId: VmId, tag?: string): Promise<Checkpoint> {
    this.journal(vmId);
    const agent = (this.options.agents ?? []).find((a) => a.handles(vmId));
    if (!agent) throw new UnsupportedError(`application-consistent checkpoints for VM '${vmId}' (no consistency agent handles it)`);
    const token = await agent.quiesce(vmId);
    try {
      return (await cutCheckpoint([this], 'vss', tag, this.options.clock.now()))[0];
    } finally {
      await agent.thaw(token);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.releaseBarrier();
    for (const tap of this.taps) await tap.close();
    await this.cycles?.settled();
    // After a simulated power cut the journals' files are gone from under them; closing must not throw then.
    await Promise.allSettled([...this.journals.values()].map((j) => j.close()));
  }

  // ---- internals shared with cutCheckpoint -------------------------------------------------

  /** Change-tracking mode: freezes this group's next cycle (undefined in splitter mode). */
  async freeze(): Promise<FrozenCycle | undefined> {
    if (this.stopped) throw new ClosedError(`replication of group '${this.groupId}'`);
    return this.cycles?.freeze();
  }

  /** Holds the completion of every write from now on, until `releaseBarrier`. */
  holdBarrier(): void {
    if (this.stopped) throw new ClosedError(`replication of group '${this.groupId}'`);
    this.gate.hold();
  }

  releaseBarrier(): void {
    this.gate.release();
  }

  /** Queues the marker in every journal behind the writes stamped so far. */
  mark(kind: CheckpointKind, tag: string | undefined, timestamp: number): { checkpoint: Checkpoint; durable: Promise<void> } {
    const checkpoint: Checkpoint = { id: this.options.newId?.() ?? randomUUID(), groupId: this.groupId, seq: this.seq, timestamp, kind, ...(tag !== undefined ? { tag } : {}) };
    const durable = Promise.all([...this.journals.values()].map((j) => j.addCheckpoint(checkpoint))).then(() => {
      this.emit('checkpoint', checkpoint);
    });
    return { checkpoint, durable };
  }

  private async onWrite(vmId: VmId, write: { volumeId: string; offset: number; data: Buffer }): Promise<void> {
    const seq = ++this.seq;
    try {
      await this.journals.get(vmId)!.append({ ...write, seq });
    } catch (error) {
      this.emit('replication-error', { vmId, error: error as Error });
      throw error;
    }
    // The barrier: a write stamped after a marker does not complete until the marker is in place.
    if (this.gate.held) await this.gate.passed();
  }

  private scheduleAuto(): void {
    const interval = this.options.settings.checkpointIntervalMs;
    const now = this.options.clock.now();
    this.nextAutoAt = Math.max(this.nextAutoAt + interval, now + (this.nextAutoAt === 0 ? interval : 0));
    this.timer = this.options.clock.setTimer(this.nextAutoAt - now, () => {
      if (this.stopped) return;
      this.checkpoint('auto').catch((e: Error) => this.emit('checkpoint-error', e)).finally(() => {
        if (!this.stopped) this.scheduleAuto();
      });
    });
  }
}

/**
 * Cuts one checkpoint across several groups with one timestamp (a tagged checkpoint "to many groups").
 * Every splitter group's completions are held first, so no write that completed before another was
 * issued can end up after the marker while the other is before it. Change-tracking groups freeze their
 * views first and ship them after; their checkpoints carry the oldest of those views' times (no image is
 * newer than its timestamp says), and there is no consistent cut across their groups.
 */
export async function cutCheckpoint(groups: LocalReplication[], kind: CheckpointKind, tag: string | undefined, timestamp: number): Promise<Checkpoint[]> {
  const frozen: (FrozenCycle | undefined)[] = [];
  const held: LocalReplication[] = [];
  try {
    for (const g of groups) frozen.push(await g.freeze());
    const cycles = frozen.filter((f): f is FrozenCycle => f !== undefined);
    const viewTime = cycles.length > 0 ? Math.min(...cycles.map((f) => f.takenAt)) : timestamp;
    for (const [i, g] of groups.entries()) {
      if (frozen[i]) continue;
      g.holdBarrier();
      held.push(g);
    }
    const marks = groups.map((g, i) => (frozen[i] ? undefined : g.mark(kind, tag, timestamp)));
    for (const g of held.splice(0)) g.releaseBarrier();
    const shipped = frozen.map((f) => f?.finish(kind, tag, viewTime));
    frozen.length = 0; // finish releases the views, also on failure
    await Promise.all([...marks.map((m) => m?.durable), ...shipped]);
    return await Promise.all(groups.map(async (_, i) => marks[i]?.checkpoint ?? (await shipped[i])!));
  } finally {
    for (const g of held) g.releaseBarrier();
    for (const f of frozen) await f?.abort();
  }
}

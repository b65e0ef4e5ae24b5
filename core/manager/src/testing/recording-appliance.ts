// A test double of ApplianceControl that records every call and answers from plain in-memory state the
// test sets (facts, checkpoints, inventory). Recovery operations keep one active operation per group like
// the real orchestrator, so the manager's conflict checks and task bookkeeping can be tested without a
// data path. Not a fake of replication: tests of real behaviour use ApplianceService on the fake adapter.
import { ConflictError, InvalidStateError, NotFoundError, ValidationError } from '@opencdp/core';
import type {
  ActiveRecovery, ApplianceControl, Checkpoint, CheckpointCutRequest, GroupFacts, Inventory, ProgressSink, ProtectGroupSpec, RecoveryOperations,
  RecoveryReport, RestoredFileEntry, FileRestoreSession, RecoveryKind, RecoveryGroupDefinition,
} from '@opencdp/core';

export interface RecordedCall {
  method: string;
  args: unknown[];
}

export function testInventory(siteId: string, vmCount = 3): Inventory {
  return {
    hosts: [{ id: `${siteId}-host-1`, name: 'host-1', siteId }],
    vms: Array.from({ length: vmCount }, (_, i) => ({
      id: `${siteId}-vm-${i + 1}`, name: `vm-${i + 1}`, hostId: `${siteId}-host-1`, powerState: 'on' as const,
      volumes: [{ id: `${siteId}-vm-${i + 1}-disk-0`, vmId: `${siteId}-vm-${i + 1}`, name: 'disk-0', sizeBytes: 64 * 1024 * 1024, sectorSize: 512 }],
      nics: [{ id: `${siteId}-vm-${i + 1}-nic-0`, networkId: `${siteId}-net`, mac: `02:00:00:00:00:0${i + 1}` }],
    })),
    networks: [{ id: `${siteId}-net`, name: 'prod', isolated: false }, { id: `${siteId}-test-net`, name: 'test', isolated: true }],
    datastores: [{ id: `${siteId}-ds-1`, name: 'ds-1', capacityBytes: 1e12, freeBytes: 1e12 }, { id: `${siteId}-ds-2`, name: 'ds-2', capacityBytes: 2e12, freeBytes: 1e12 }],
    folders: [{ id: `${siteId}-folder-1`, name: 'production', vmIds: [`${siteId}-vm-1`] }],
    platform: 'recording',
  };
}

export class RecordingAppliance implements ApplianceControl {
  readonly calls: RecordedCall[] = [];
  readonly protectedGroups = new Map<string, ProtectGroupSpec>();
  readonly facts = new Map<string, GroupFacts>();
  readonly checkpointsOf: Map<string, Checkpoint[]>;
  readonly activeOps = new Map<string, ActiveRecovery>();
  /** Set to make recovery operations wait until the test resolves them. */
  gate?: Promise<void>;
  /** Whether cutCheckpoints answers undefined (group cannot be checkpointed). */
  refuseCheckpoints = false;
  files: Record<string, Buffer> = { '/etc/hosts': Buffer.from('127.0.0.1 localhost\n') };
  readonly recovery?: RecoveryOperations;
  private seq = 0;
  private reportN = 0;

  /** `checkpoints`: share one map between a protected and a recovery double, as the link would. */
  constructor(readonly siteId: string, private readonly inv: Inventory = testInventory(siteId), options: { recovery?: boolean; checkpoints?: Map<string, Checkpoint[]> } = {}) {
    this.checkpointsOf = options.checkpoints ?? new Map();
    if (options.recovery !== false) this.recovery = this.makeRecovery();
  }

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  callsOf(method: string): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  async inventory(): Promise<Inventory> {
    this.record('inventory');
    return structuredClone(this.inv);
  }

  /** Group definitions the recovery side keeps (R8); recorded, so tests see the plan a group reaches it with. */
  async defineRecoveryGroup(definition: RecoveryGroupDefinition): Promise<void> {
    this.record('defineRecoveryGroup', definition);
  }

  async protectGroup(spec: ProtectGroupSpec): Promise<void> {
    this.record('protectGroup', spec);
    if (this.protectedGroups.has(spec.groupId)) throw new ValidationError(`group '${spec.groupId}' is already protected`, 'groupId');
    this.protectedGroups.set(spec.groupId, spec);
    if (!this.facts.has(spec.groupId)) this.facts.set(spec.groupId, { groupId: spec.groupId, phase: 'initial-sync', connected: true });
  }

  async unprotectGroup(groupId: string, options: { deleteSourceVms: boolean }): Promise<void> {
    this.record('unprotectGroup', groupId, options);
    if (!this.protectedGroups.delete(groupId)) throw new NotFoundError('protected group', groupId);
  }

  async pause(groupId: string): Promise<void> {
    this.record('pause', groupId);
    this.known(groupId);
  }

  async resume(groupId: string): Promise<void> {
    this.record('resume', groupId);
    this.known(groupId);
  }

  async forceSync(groupId: string): Promise<void> {
    this.record('forceSync', groupId);
    this.known(groupId);
  }

  async cutCheckpoints(request: CheckpointCutRequest): Promise<(Checkpoint | undefined)[]> {
    this.record('cutCheckpoints', request);
    return request.groupIds.map((groupId) => {
      this.known(groupId);
      if (this.refuseCheckpoints) return undefined;
      const cp: Checkpoint = { id: request.ids[groupId], groupId, seq: ++this.seq, timestamp: request.timestamp, kind: request.kind, ...(request.tag ? { tag: request.tag } : {}) };
      this.checkpointsOf.set(groupId, [...(this.checkpointsOf.get(groupId) ?? []), cp]);
      const facts = this.facts.get(groupId);
      if (facts) facts.lastCheckpoint = cp;
      return cp;
    });
  }

  async finalCheckpoint(groupId: string, id: string, timestamp: number): Promise<Checkpoint> {
    this.record('finalCheckpoint', groupId, id, timestamp);
    const [cp] = await this.cutCheckpoints({ groupIds: [groupId], kind: 'tagged', tag: 'final', timestamp, ids: { [groupId]: id } });
    if (!cp) throw new InvalidStateError(`group '${groupId}' cannot be checkpointed now`);
    return cp;
  }

  async shutdownVms(groupId: string, vmIds: string[], policy: string): Promise<void> {
    this.record('shutdownVms', groupId, vmIds, policy);
  }

  async powerOnVms(groupId: string, vmIds: string[]): Promise<void> {
    this.record('powerOnVms', groupId, vmIds);
  }

  async groupFacts(groupId: string): Promise<GroupFacts> {
    this.record('groupFacts', groupId);
    const f = this.facts.get(groupId);
    if (!f) throw new NotFoundError('group', groupId);
    return structuredClone(f);
  }

  private known(groupId: string): void {
    if (!this.protectedGroups.has(groupId)) throw new NotFoundError('protected group', groupId);
  }

  private makeRecovery(): RecoveryOperations {
    const self = this;
    const latest = (groupId: string, checkpointId?: string): Checkpoint => {
      const list = self.checkpointsOf.get(groupId) ?? [];
      const cp = checkpointId ? list.find((c) => c.id === checkpointId) : list[list.length - 1];
      if (!cp) throw new InvalidStateError(`group '${groupId}' has no checkpoint${checkpointId ? ` '${checkpointId}'` : ''}`);
      return cp;
    };
    const start = async (groupId: string, kind: RecoveryKind, checkpointId: string | undefined, progress: ProgressSink | undefined, phase: ActiveRecovery['phase']): Promise<ActiveRecovery> => {
      if (self.activeOps.has(groupId)) throw new ConflictError(`group '${groupId}' has an operation running`);
      const cp = latest(groupId, checkpointId);
      const op: ActiveRecovery = { id: `op-${groupId}-${kind}`, groupId, kind, phase: 'running', checkpoint: cp, startedAt: cp.timestamp, vms: [{ sourceVmId: 'vm', recoveredVmId: `recovered-${groupId}`, name: 'vm', networkIds: [] }] };
      self.activeOps.set(groupId, op);
      progress?.(50, 'creating VMs');
      if (self.gate) await self.gate;
      op.phase = phase;
      return structuredClone(op);
    };
    const report = (groupId: string, kind: RecoveryKind, cp: Checkpoint, summary?: string): RecoveryReport => ({
      id: `report-${++self.reportN}`, groupId, groupName: groupId, kind, checkpoint: cp, startedAt: cp.timestamp, endedAt: cp.timestamp + 1000, result: 'Success',
      steps: [{ name: 'recover', startedAt: cp.timestamp, endedAt: cp.timestamp + 1000, result: 'Success' }], vms: [], ...(summary ? { summary } : {}),
    });
    const finish = (groupId: string, kinds: RecoveryKind[]): ActiveRecovery => {
      const op = self.activeOps.get(groupId);
      if (!op || !kinds.includes(op.kind)) throw new InvalidStateError(`no ${kinds.join('/')} on group '${groupId}'`);
      self.activeOps.delete(groupId);
      return op;
    };
    const sessions = new Map<string, FileRestoreSession>();
    return {
      listCheckpoints: async (groupId) => {
        self.record('recovery.listCheckpoints', groupId);
        return [...(self.checkpointsOf.get(groupId) ?? [])];
      },
      active: async (groupId) => {
        const op = self.activeOps.get(groupId);
        return op ? structuredClone(op) : undefined;
      },
      startFailoverTest: async (r, p) => {
        self.record('recovery.startFailoverTest', r);
        return start(r.groupId, 'FailoverTest', r.checkpointId, p, 'running');
      },
      stopFailoverTest: async (r) => {
        self.record('recovery.stopFailoverTest', r);
        const op = finish(r.groupId, ['FailoverTest']);
        return report(r.groupId, 'FailoverTest', op.checkpoint, r.summary);
      },
      failover: async (r, p) => {
        self.record('recovery.failover', r);
        return start(r.groupId, 'Failover', r.checkpointId, p, 'before-commit');
      },
      move: async (r, p) => {
        self.record('recovery.move', r);
        return start(r.groupId, 'Move', undefined, p, 'before-commit');
      },
      commit: async (r) => {
        self.record('recovery.commit', r);
        const op = finish(r.groupId, ['Failover', 'Move']);
        return report(r.groupId, op.kind, op.checkpoint);
      },
      rollback: async (groupId) => {
        self.record('recovery.rollback', groupId);
        const op = finish(groupId, ['Failover', 'Move']);
        return report(groupId, op.kind, op.checkpoint);
      },
      clone: async (r, p) => {
        self.record('recovery.clone', r);
        const cp = latest(r.groupId, r.checkpointId);
        p?.(50, 'cloning');
        return report(r.groupId, 'Clone', cp);
      },
      openFileRestore: async (groupId, checkpointId, vmId, volumeId) => {
        self.record('recovery.openFileRestore', groupId, checkpointId, vmId, volumeId);
        const s = { id: `fr-${sessions.size + 1}`, groupId, checkpointId, vmId, volumeId };
        sessions.set(s.id, s);
        return s;
      },
      listFiles: async (sessionId, path): Promise<RestoredFileEntry[]> => {
        self.record('recovery.listFiles', sessionId, path);
        if (!sessions.has(sessionId)) throw new NotFoundError('file restore session', sessionId);
        return Object.entries(self.files).filter(([f]) => f.startsWith(path)).map(([f, d]) => ({ path: f, type: 'file' as const, sizeBytes: d.length }));
      },
      extractFile: async (sessionId, path) => {
        self.record('recovery.extractFile', sessionId, path);
        const d = self.files[path];
        if (!d) throw new NotFoundError('file', path);
        return d;
      },
      closeFileRestore: async (sessionId) => {
        self.record('recovery.closeFileRestore', sessionId);
        sessions.delete(sessionId);
      },
      deleteGroup: async (r, p) => {
        self.record('recovery.deleteGroup', r);
        p?.(50, 'removing');
      },
    };
  }
}

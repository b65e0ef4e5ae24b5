// The QEMU splitter: per protected volume an `nbd` block node pointing at the appliance's NBD server and
// a `blockdev-mirror` (sync full, copy-mode write-blocking) onto it. Once every mirror is READY each
// guest write reaches the server before the guest sees it complete; the server hands it to the sink
// and answers only when the sink does, which is how a checkpoint barrier holds the guest.
import { ClosedError, ValidationError } from '@opencdp/core';
import type { GuestWrite, VmId, VolumeInfo, WriteSink, WriteTap } from '@opencdp/core';
import type { NbdServer } from './nbd-server.js';
import type { QmpClient, QmpEvent } from './qmp-client.js';
import { OpenCdpError } from '@opencdp/core';

/** The mirror behind a tap ended without the owner closing it (the appliance went away, a write to it failed). */
export class TapLostError extends OpenCdpError {
  constructor(vmId: VmId, detail: string) {
    super('TAP_LOST', `write tap on VM '${vmId}' lost its mirror: ${detail}`, 'the adapter re-attaches when the tap is opened again; a sync covers the gap');
  }
}

export interface QemuTapVolume {
  volume: VolumeInfo;
  /** The volume's block node in the daemon. */
  node: string;
}

export interface QemuWriteTapOptions {
  vmId: VmId;
  /** Unique among the daemon's taps; names nodes, jobs and exports. */
  tapId: string;
  qmp: QmpClient;
  server: NbdServer;
  volumes: QemuTapVolume[];
  /** How long to wait for the mirrors' initial copy (default 60 s). */
  readyTimeoutMs?: number;
  /**
   * The mirror's initial copy: `full` (default) copies the whole disk into the appliance's server first
   * (acknowledged and dropped), `none` copies nothing and is READY at once — the kernel's own initial or
   * delta sync reads the disk anyway, so a large real disk is not read twice.
   */
  sync?: 'full' | 'none';
  /** Told about background work (detaching), so an owner can wait for it to settle. */
  track?: <T>(work: Promise<T>) => Promise<T>;
}

type Phase = 'attaching' | 'ready' | 'closed';

export class QemuWriteTap implements WriteTap {
  private sink: WriteSink | undefined;
  private count = 0;
  private phase: Phase = 'attaching';
  private reason: Error | undefined;
  private readonly listeners: ((reason: Error | undefined) => void)[] = [];
  private readonly jobs = new Map<string, QemuTapVolume & { target: string; exportName: string; ready: boolean }>();
  private volumeCount = 0;
  /** Answers of writes the sink still holds; all resolved when the tap closes, so the mirror can go. */
  private readonly held = new Set<() => void>();
  private readonly onEvent = (e: QmpEvent): void => this.event(e);
  private readonly onQmpClose = (reason: Error): void => this.shutdown(reason);

  private constructor(private readonly options: QemuWriteTapOptions) {}

  get vmId(): VmId {
    return this.options.vmId;
  }

  get delivered(): number {
    return this.count;
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  get closeReason(): Error | undefined {
    return this.reason;
  }

  /** Job ids of the mirrors (for tests and diagnostics). */
  get jobIds(): string[] {
    return [...this.jobs.keys()];
  }

  /** Names of the tap's exports on the appliance's NBD server, one per volume. */
  get exportNames(): string[] {
    return [...this.jobs.values()].map((j) => j.exportName);
  }

  /** Attaches every volume's mirror and resolves once all of them are READY (the initial copy done). */
  static async open(options: QemuWriteTapOptions): Promise<QemuWriteTap> {
    const tap = new QemuWriteTap(options);
    const { qmp, server } = options;
    qmp.on('event', tap.onEvent);
    qmp.on('close', tap.onQmpClose);
    try {
      await Promise.all(options.volumes.map((v) => tap.attach(v)));
      if (tap.phase === 'closed') throw tap.reason ?? new ClosedError(`write tap on VM '${options.vmId}'`);
      tap.phase = 'ready';
      return tap;
    } catch (error) {
      tap.shutdown(error instanceof Error ? error : new Error(String(error)));
      await tap.detach();
      throw error;
    }
  }

  /**
   * Mirrors one more volume (hot-added to the VM) into the tap; resolves once its mirror is READY, from
   * when on its writes are delivered like the others'.
   */
  async addVolume(v: QemuTapVolume): Promise<void> {
    if (this.phase === 'closed') throw new ClosedError(`write tap on VM '${this.vmId}'`);
    await this.attach(v);
  }

  private async attach(v: QemuTapVolume): Promise<void> {
    const { qmp, server, tapId } = this.options;
    const i = this.volumeCount++;
    const jobId = `${tapId}-m${i}`;
    const target = `${tapId}-t${i}`;
    const exportName = `${tapId}/${v.volume.id}`;
    const entry = { ...v, target, exportName, ready: false };
    this.jobs.set(jobId, entry);
    server.addExport(exportName, {
      sizeBytes: v.volume.sizeBytes,
      // Until its mirror is READY a volume's target gets the initial copy, which is the sync's business.
      write: (offset, data) => (entry.ready ? this.deliver({ volumeId: v.volume.id, offset, data }) : Promise.resolve()),
      writeZeroes: (offset, length) => (entry.ready ? this.deliver({ volumeId: v.volume.id, offset, data: Buffer.alloc(length) }) : Promise.resolve()),
      // The source's `file` node ignores discards, so the protected volume keeps its bytes: nothing to split.
      trim: async () => undefined,
      flush: async () => undefined,
    });
    await qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': target, server: { type: 'unix', path: server.path }, export: exportName });
    const ready = qmp.waitForEvent('BLOCK_JOB_READY', (e) => e.data?.device === jobId, this.options.readyTimeoutMs ?? 60_000);
    ready.catch(() => undefined);
    await qmp.execute('blockdev-mirror', { 'job-id': jobId, device: v.node, target, sync: this.options.sync ?? 'full', 'copy-mode': 'write-blocking' });
    await ready;
    entry.ready = true;
  }

  /** Closes the tap with a reason, as the platform does (host or manager restart). */
  async fail(reason: Error): Promise<void> {
    if (this.phase === 'closed') return;
    this.shutdown(reason);
    await this.detach();
  }

  start(sink: WriteSink): void {
    if (this.phase === 'closed') throw new ClosedError(`write tap on VM '${this.vmId}'`);
    if (this.sink) throw new ValidationError(`write tap on VM '${this.vmId}' is already started`, 'sink', 'open another tap for a second consumer');
    this.sink = sink;
  }

  onClose(listener: (reason: Error | undefined) => void): void {
    if (this.phase === 'closed') {
      const reason = this.reason;
      queueMicrotask(() => listener(reason));
      return;
    }
    this.listeners.push(listener);
  }

  /** Cancels the mirrors and removes their nodes; writes still held by the sink complete when it answers. */
  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.shutdown(undefined);
    await this.detach();
  }

  /** Server side: one split write. Before `start` (the initial copy, or nobody listening) it is acknowledged and dropped. */
  private deliver(write: GuestWrite): Promise<void> {
    if (this.phase !== 'ready' || !this.sink) return Promise.resolve();
    this.count++;
    let answer: Promise<void>;
    try {
      answer = Promise.resolve(this.sink(write));
    } catch (error) {
      return Promise.reject(error);
    }
    // A closed tap is nobody's business: QEMU's cancel waits for in-flight target writes, so `shutdown`
    // releases the ones the sink still holds. (Not Promise.race with a promise that settles at close:
    // that leaves one reaction per write on it for the tap's whole life.)
    return new Promise<void>((resolve, reject) => {
      this.held.add(resolve);
      answer.then(
        () => {
          if (this.held.delete(resolve)) resolve();
        },
        (error: unknown) => {
          if (this.held.delete(resolve)) reject(error);
        },
      );
    });
  }

  private event(e: QmpEvent): void {
    if (e.event !== 'BLOCK_JOB_COMPLETED' && e.event !== 'BLOCK_JOB_CANCELLED') return;
    const jobId = e.data?.device;
    if (typeof jobId !== 'string' || !this.jobs.has(jobId)) return;
    if (this.phase === 'closed') return;
    const error = typeof e.data?.error === 'string' ? e.data.error : e.event === 'BLOCK_JOB_CANCELLED' ? 'the mirror was cancelled' : 'the mirror completed';
    this.shutdown(new TapLostError(this.vmId, `job '${jobId}': ${error}`));
    void this.detach();
  }

  private shutdown(reason: Error | undefined): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.reason = reason;
    this.sink = undefined;
    for (const release of this.held) release();
    this.held.clear();
    for (const l of this.listeners.splice(0)) {
      try {
        l(reason);
      } catch (error) {
        queueMicrotask(() => { throw error; });
      }
    }
  }

  private detaching: Promise<void> | undefined;

  /** Best effort: cancel remaining jobs, wait for them to go, delete the target nodes and exports. */
  private detach(): Promise<void> {
    const track = this.options.track ?? (<T>(p: Promise<T>): Promise<T> => p);
    this.detaching ??= track((async () => {
      const { qmp, server } = this.options;
      qmp.off('event', this.onEvent);
      qmp.off('close', this.onQmpClose);
      if (!qmp.closed) {
        for (const jobId of this.jobs.keys()) {
          const gone = qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === jobId && e.data?.status === 'null', 10_000).catch(() => undefined);
          const cancelled = await qmp.execute('block-job-cancel', { device: jobId, force: true }).then(() => true, () => false);
          if (cancelled) await gone;
        }
        for (const { target } of this.jobs.values()) await qmp.execute('blockdev-del', { 'node-name': target }).catch(() => undefined);
      }
      for (const { exportName } of this.jobs.values()) server.removeExport(exportName);
    })());
    return this.detaching;
  }
}

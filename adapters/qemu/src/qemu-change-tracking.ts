// QEMU's change tracking for the change-tracking capture mode (libvirt's incremental-backup model): a
// dirty bitmap per drive (persistent on qcow2) records the guest's writes, and each cycle's frozen view is
// image fleecing — one QMP `transaction` per QEMU process that starts a `blockdev-backup sync=none` per
// drive into a temporary qcow2 and, at the same instant, starts the next bitmap and stops the current one.
// The view and the stopped bitmaps are read over NBD (block status on `base:allocation` and
// `qemu:dirty-bitmap:NAME`). Which QEMU process holds a VM's drives is the `ViewHost`'s business: the
// storage daemons of `QemuHypervisor`, or an adopted guest's own process (`QemuPlatform`).
import { randomBytes } from 'node:crypto';
import { ChangeTokenLostError, ChangeViewError, UnknownVolumeError, ValidationError, VolumeRangeError } from '@opencdp/core';
import type { ChangedRegion, ChangeTracking, ChangeView, Clock, ViewRef, VmId, VolumeId, VolumeInfo } from '@opencdp/core';
import {
  bitmapName, ourBitmaps, parseToken, planFreeze, retirable, tiling, tokenName, type FreezePlan, type QemuBitmapInfo, type TrackBitmap,
} from './bitmap-chain.js';
import {
  VIEW_ID, createTargets, idsInProcess, idsOnDisk, objectName, orphanName, readDescriptor, removeFiles, removeObjects,
  targetFile, writeDescriptor, type ViewDescriptor,
} from './fleecing-view.js';
import { deleteExport } from './block-exports.js';
import { NbdClient } from '@opencdp/core/nbd';
import { QmpError } from './qemu-errors.js';
import type { QmpClient } from './qmp-client.js';

/** One QEMU process that holds drives: a storage daemon, or an adopted guest's qemu-system process. */
export interface ViewSite {
  /** Names the process in descriptors and messages (a host id, a guest's VM id). */
  readonly key: string;
  /**
   * The live QMP connection; undefined when the process is gone (nothing of ours can live in it any more).
   * Throws when the process runs but cannot be reached now (a management outage).
   */
  qmp(): Promise<QmpClient | undefined>;
  /** An NBD server in that process for the views' exports: its socket. Paired with `releaseNbd`. */
  acquireNbd(): Promise<string>;
  releaseNbd(): void;
}

/** A drive: the volume and its top (format) node, where the bitmap lives and the backup starts. */
export interface TrackedDrive {
  volume: VolumeInfo;
  node: string;
}

export interface ViewHost {
  /** Where the views' temporary qcow2 files and descriptors go (0700); must outlive the appliance process. */
  readonly viewsDir: string;
  /** The process holding a VM's drives, and the drives (throws UnknownVmError, or when the process is down). */
  locate(vmId: VmId): Promise<{ site: ViewSite; drives: TrackedDrive[] }>;
  /** Every process that may hold views of ours. */
  sites(): ViewSite[];
}

export interface QemuChangeTrackingOptions {
  host: ViewHost;
  /** Views' `takenAt` (the kernel's RPO and checkpoint times) come from it. */
  clock: Clock;
  /** Bitmap granularity in bytes (a power of two, 512 B – 64 MiB); default: QEMU's (the qcow2 cluster, 64 KiB). */
  granularity?: number;
  /** The shortest cycle offered (default 1000 ms: a view costs a qcow2, a transaction and NBD connections). */
  minIntervalMs?: number;
  /** True when every VM of this platform sits in one QEMU process, so one transaction is one cut across them. */
  multiVmViews: boolean;
  /** Random hex digits for view ids and tracking epochs (tests inject a seeded source). */
  randomHex?: (bytes: number) => string;
  /** Wraps the adapter's QEMU work so a harness on a virtual clock can wait for it. */
  track?: <T>(p: Promise<T>) => Promise<T>;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** What the platform's change tracking has done (benchmarks, tests). */
export interface QemuChangeTrackingStats {
  viewsOpened: number;
  viewsReleased: number;
  /** Bytes read from views. */
  bytesRead: number;
  /** Bitmaps merged away after failed cycles. */
  bitmapsMerged: number;
}

/** QEMU's largest NBD request is 32 MiB. */
const READ_CHUNK_BYTES = 16 * 1024 * 1024;
const NBD_STATE_ZERO = 2;

interface ViewDrive {
  k: number;
  drive: TrackedDrive;
  vmId: VmId;
  plan: FreezePlan;
  client: NbdClient;
}

export class QemuChangeTracking implements ChangeTracking {
  readonly minIntervalMs: number;
  readonly multiVmViews: boolean;
  private readonly views = new Map<string, FleecingView>();
  private observedGranularity: number | undefined;
  private openFails = false;
  private releaseFails = false;
  private readonly counters: QemuChangeTrackingStats = { viewsOpened: 0, viewsReleased: 0, bytesRead: 0, bitmapsMerged: 0 };

  constructor(private readonly o: QemuChangeTrackingOptions) {
    const g = o.granularity;
    if (g !== undefined && (!Number.isInteger(g) || g < 512 || g > 64 * 1024 * 1024 || (g & (g - 1)) !== 0)) {
      throw new ValidationError(`bitmap granularity ${g} is not a power of two between 512 B and 64 MiB`, 'granularity');
    }
    this.minIntervalMs = o.minIntervalMs ?? 1000;
    this.multiVmViews = o.multiVmViews;
  }

  /** The configured granularity, else the one QEMU chose for the bitmaps seen so far (64 KiB before any). */
  get granularityBytes(): number {
    return this.o.granularity ?? this.observedGranularity ?? 65536;
  }

  enable(vmId: VmId): Promise<void> {
    return this.track(async () => {
      const { site, drives } = await this.o.host.locate(vmId);
      const qmp = await this.live(site, 'open');
      const nodes = await nodeTable(qmp);
      for (const d of drives) {
        const plan = planFreeze(ourBitmaps(nodes.get(d.node)?.bitmaps), () => this.hex(4));
        if (plan.frozen) continue; // healthy and recording: nothing to do
        await qmp.execute('block-dirty-bitmap-add', this.bitmapArgs(d.node, bitmapName(plan.epoch, 0, 0), nodes.get(d.node)?.drv));
        await this.removeBitmaps(qmp, d.node, plan.useless);
        this.log('ct-tracking-started', { vmId, volumeId: d.volume.id, node: d.node, epoch: plan.epoch, why: plan.restart });
      }
      await this.observe(qmp, drives);
    });
  }

  disable(vmId: VmId): Promise<void> {
    return this.track(async () => {
      const { site, drives } = await this.o.host.locate(vmId);
      const qmp = await site.qmp();
      if (!qmp) return; // the process is gone, and its non-persistent bitmaps with it; persistent ones go at the next freeze
      const nodes = await nodeTable(qmp);
      for (const d of drives) await this.removeBitmaps(qmp, d.node, ourBitmaps(nodes.get(d.node)?.bitmaps), true);
    });
  }

  openView(vmIds: readonly VmId[], name: string): Promise<ChangeView> {
    if (!Array.isArray(vmIds) || vmIds.length === 0 || vmIds.some((v) => typeof v !== 'string')) throw new ValidationError('a view needs at least one VM id', 'vmIds');
    if (new Set(vmIds).size !== vmIds.length) throw new ValidationError('a VM is listed twice for one view', 'vmIds');
    if (vmIds.length > 1 && !this.multiVmViews) {
      throw new ValidationError(`this platform's views hold one VM each (its VMs do not share one QEMU process), asked for ${vmIds.length}`, 'vmIds', 'open one view per VM');
    }
    if (typeof name !== 'string' || name.length === 0 || name.length > 1024) throw new ValidationError('a view needs a name of 1 to 1024 characters', 'name');
    return this.track(this.open([...vmIds], name));
  }

  releaseView(viewId: string): Promise<void> {
    if (typeof viewId !== 'string' || !VIEW_ID.test(viewId)) return Promise.resolve(); // not one of ours: unknown, nothing to do
    return this.track(async () => {
      if (this.releaseFails) throw new ChangeViewError('release', `the platform could not release view '${viewId}' (fault injected)`, 'it stays until released');
      const handle = this.views.get(viewId);
      const site = handle?.site ?? (await this.siteOfView(viewId));
      handle?.disconnect();
      try {
        const qmp = site ? await site.qmp() : undefined;
        if (qmp) await removeObjects(qmp, viewId);
        await removeFiles(this.o.host.viewsDir, viewId);
      } catch (e) {
        throw new ChangeViewError('release', `view '${handle?.name ?? viewId}' could not be released: ${(e as Error).message}`, 'it is released again before the next cycle');
      }
      if (handle) {
        this.views.delete(viewId);
        handle.closed();
      }
      this.counters.viewsReleased++;
      this.log('ct-view-released', { viewId, name: handle?.name });
    });
  }

  listViews(prefix: string): Promise<ViewRef[]> {
    return this.track(async () => {
      const out: ViewRef[] = [];
      const ids = new Set<string>(await idsOnDisk(this.o.host.viewsDir));
      for (const site of this.o.host.sites()) {
        const qmp = await site.qmp().catch(() => undefined);
        if (qmp) for (const id of await idsInProcess(qmp)) ids.add(id);
      }
      for (const id of [...ids].sort()) {
        const d = await readDescriptor(this.o.host.viewsDir, id);
        const ref: ViewRef = d ? { id, name: d.name, vmIds: [...d.vmIds] } : { id, name: orphanName(id), vmIds: [] };
        if (ref.name.startsWith(prefix)) out.push(ref);
      }
      return out;
    });
  }

  retireToken(vmId: VmId, volumeId: VolumeId, token: string): Promise<void> {
    const parsed = parseToken(token);
    if (!parsed) return Promise.resolve();
    return this.track(async () => {
      const { site, drives } = await this.o.host.locate(vmId);
      const drive = drives.find((d) => d.volume.id === volumeId);
      if (!drive) throw new UnknownVolumeError(volumeId, `VM '${vmId}'`);
      const qmp = await site.qmp();
      if (!qmp) return;
      const bitmaps = ourBitmaps((await nodeTable(qmp)).get(drive.node)?.bitmaps);
      await this.removeBitmaps(qmp, drive.node, retirable(bitmaps, parsed.epoch, parsed.seq));
    });
  }

  // ---- faults (the conformance harness injects them) ------------------------------------------------

  /** While on, every view's transaction carries an action QEMU rejects, so QEMU rolls it back for real. */
  failOpens(on: boolean): void {
    this.openFails = on;
  }

  /** While on, `releaseView` fails without touching anything (the view stays on the platform). */
  failReleases(on: boolean): void {
    this.releaseFails = on;
  }

  /** Removes every bitmap of ours from the VM's drives, as a QEMU process restarted without them would have none. */
  resetTokens(vmId: VmId): Promise<void> {
    return this.track(async () => {
      const { site, drives } = await this.o.host.locate(vmId);
      const qmp = await this.live(site, 'read');
      const nodes = await nodeTable(qmp);
      for (const d of drives) await this.removeBitmaps(qmp, d.node, ourBitmaps(nodes.get(d.node)?.bitmaps), true);
    });
  }

  /** Every view of ours vanishes behind the adapter's back (an operator's cleanup): reads of open views fail. */
  loseViews(): Promise<void> {
    return this.track(async () => {
      for (const site of this.o.host.sites()) {
        const qmp = await site.qmp().catch(() => undefined);
        if (!qmp) continue;
        for (const id of await idsInProcess(qmp)) {
          await removeObjects(qmp, id);
          await removeFiles(this.o.host.viewsDir, id);
        }
      }
      for (const id of await idsOnDisk(this.o.host.viewsDir)) await removeFiles(this.o.host.viewsDir, id);
    });
  }

  stats(): QemuChangeTrackingStats {
    return { ...this.counters };
  }

  /** Releases every view this instance holds open (the platform is shutting down); best effort. */
  async dispose(): Promise<void> {
    const fails = this.releaseFails;
    this.releaseFails = false;
    for (const id of [...this.views.keys()]) await this.releaseView(id).catch((e: Error) => this.log('ct-view-release-failed', { viewId: id, message: e.message }));
    this.releaseFails = fails;
  }

  // ---- internals ---------------------------------------------------------------------------------

  private async open(vmIds: VmId[], name: string): Promise<ChangeView> {
    const located = await Promise.all(vmIds.map(async (vmId) => ({ vmId, ...(await this.o.host.locate(vmId)) })));
    const site = located[0].site;
    if (located.some((l) => l.site.key !== site.key)) {
      throw new ValidationError(`VMs ${vmIds.join(', ')} are in different QEMU processes (${[...new Set(located.map((l) => l.site.key))].join(', ')}): one view cannot be one cut across them`, 'vmIds', 'open one view per QEMU process');
    }
    const drives = located.flatMap((l) => l.drives.map((drive) => ({ vmId: l.vmId, drive })));
    if (drives.length === 0) throw new ValidationError(`VMs ${vmIds.join(', ')} have no drives`, 'vmIds');
    const id = `opencdp-v${this.hex(4)}`;
    const dir = this.o.host.viewsDir;
    const fail = (e: unknown): ChangeViewError => (e instanceof ChangeViewError ? e : new ChangeViewError('open', `view '${name}' of ${vmIds.join(', ')} could not be taken: ${(e as Error).message}`, 'it is retried next cycle; nothing of it was left in QEMU'));
    const qmp = await site.qmp().catch((e: unknown) => { throw fail(e); });
    if (!qmp) throw fail(new Error(`the QEMU process '${site.key}' is not running`));
    await this.sweepOrphans(qmp).catch(() => undefined);
    const descriptor: ViewDescriptor = {
      version: 1, id, name, site: site.key, vmIds, drives: drives.map((d) => ({ vmId: d.vmId, volumeId: d.drive.volume.id, node: d.drive.node })), createdAt: this.o.clock.now(),
    };
    let leased = false;
    const parts: ViewDrive[] = [];
    try {
      await writeDescriptor(dir, descriptor);
      await createTargets(dir, id, drives.map((d) => d.drive.volume.sizeBytes));
      for (const [k] of drives.entries()) {
        await qmp.execute('blockdev-add', {
          driver: 'qcow2', 'node-name': objectName(id, 't', k), backing: null,
          file: { driver: 'file', 'node-name': objectName(id, 'f', k), filename: targetFile(dir, id, k) },
        });
      }
      const nodes = await nodeTable(qmp);
      const plans = drives.map((d) => planFreeze(ourBitmaps(nodes.get(d.drive.node)?.bitmaps), () => this.hex(4)));
      for (const [k, d] of drives.entries()) {
        const compact = plans[k].compact;
        if (compact) await this.merge(qmp, d.drive.node, compact.tiles);
      }
      const actions: unknown[] = [];
      for (const [k, d] of drives.entries()) {
        const plan = plans[k];
        actions.push({ type: 'blockdev-backup', data: { 'job-id': objectName(id, 'j', k), device: d.drive.node, target: objectName(id, 't', k), sync: 'none', 'filter-node-name': objectName(id, 'c', k), 'auto-finalize': true, 'auto-dismiss': true } });
        actions.push({ type: 'block-dirty-bitmap-add', data: this.bitmapArgs(d.drive.node, bitmapName(plan.epoch, plan.seq, plan.seq), nodes.get(d.drive.node)?.drv) });
        if (plan.frozen) actions.push({ type: 'block-dirty-bitmap-disable', data: { node: d.drive.node, name: plan.frozen.name } });
      }
      // The injected fault: a bitmap that does not exist, so QEMU itself rejects and rolls back the whole transaction.
      if (this.openFails) actions.push({ type: 'block-dirty-bitmap-disable', data: { node: drives[0].drive.node, name: 'opencdp-fault-injected' } });
      await qmp.execute('transaction', { actions });
      const takenAt = this.o.clock.now();
      for (const [k, d] of drives.entries()) {
        const plan = plans[k];
        if (plan.restart) this.log('ct-tracking-restarted', { viewId: id, volumeId: d.drive.volume.id, epoch: plan.epoch, why: plan.restart });
        await this.removeBitmaps(qmp, d.drive.node, plan.useless).catch(() => undefined);
        await qmp.execute('blockdev-add', { driver: 'snapshot-access', 'node-name': objectName(id, 'a', k), file: objectName(id, 'c', k) });
      }
      const nbdPath = await site.acquireNbd();
      leased = true;
      for (const [k] of drives.entries()) {
        const exportId = objectName(id, 'e', k);
        await qmp.execute('block-export-add', { type: 'nbd', id: exportId, 'node-name': objectName(id, 'a', k), name: exportId, writable: false });
      }
      for (const [k, d] of drives.entries()) {
        const client = await NbdClient.connect({ path: nbdPath, exportName: objectName(id, 'e', k), metaContexts: ['base:allocation'] });
        parts.push({ k, drive: d.drive, vmId: d.vmId, plan: plans[k], client });
      }
      await this.observe(qmp, drives.map((d) => d.drive));
      const view = new FleecingView(this, { id, name, vmIds, takenAt, site, nbdPath, parts });
      this.views.set(id, view);
      this.counters.viewsOpened++;
      this.log('ct-view-opened', { viewId: id, name, vmIds, site: site.key, drives: drives.length });
      return view;
    } catch (e) {
      for (const p of parts) p.client.destroy();
      await removeObjects(qmp, id).catch((err: Error) => this.log('ct-view-cleanup-failed', { viewId: id, message: err.message }));
      await removeFiles(dir, id).catch(() => undefined);
      if (leased) site.releaseNbd();
      throw fail(e);
    }
  }

  /** Objects of views whose descriptor is gone and that no handle of ours holds (nobody could ever release them by name). */
  private async sweepOrphans(qmp: QmpClient): Promise<void> {
    for (const id of await idsInProcess(qmp)) {
      if (this.views.has(id) || (await readDescriptor(this.o.host.viewsDir, id))) continue;
      await removeObjects(qmp, id);
      await removeFiles(this.o.host.viewsDir, id);
      this.log('ct-orphan-removed', { viewId: id });
    }
  }

  private async siteOfView(id: string): Promise<ViewSite | undefined> {
    const d = await readDescriptor(this.o.host.viewsDir, id);
    const sites = this.o.host.sites();
    if (d) return sites.find((s) => s.key === d.site);
    for (const s of sites) {
      const qmp = await s.qmp().catch(() => undefined);
      if (qmp && (await idsInProcess(qmp)).has(id)) return s;
    }
    return undefined;
  }

  /** Regions written since the view `token` names, up to `view`'s freeze (see bitmap-chain.ts). */
  async changedSince(view: FleecingView, part: ViewDrive, token: string): Promise<ChangedRegion[]> {
    const volumeId = part.drive.volume.id;
    const t = parseToken(token);
    if (!t) throw new ChangeTokenLostError(volumeId, 'unknown', `'${String(token)}' is not a token of QEMU's change tracking`);
    const { plan } = part;
    if (t.epoch === plan.epoch && t.seq === plan.seq) return []; // the view's own state
    if (!plan.frozen) throw new ChangeTokenLostError(volumeId, 'reset', `tracking of drive '${part.drive.node}' restarted with view '${view.name}': ${plan.restart}`);
    if (t.epoch !== plan.epoch) throw new ChangeTokenLostError(volumeId, 'reset', `tracking of drive '${part.drive.node}' was restarted after the token was taken (epoch ${t.epoch}, now ${plan.epoch})`);
    if (t.seq > plan.frozen.to) throw new ChangeTokenLostError(volumeId, 'unknown', `'${token}' is newer than view '${view.name}'`);
    const qmp = await this.live(view.site, 'read');
    const node = part.drive.node;
    const bitmaps = ourBitmaps((await nodeTable(qmp)).get(node)?.bitmaps);
    const tiles = tiling(bitmaps, t.epoch, t.seq, plan.frozen.to);
    if (!tiles) {
      const bad = bitmaps.filter((b) => b.epoch === t.epoch && b.inconsistent);
      throw new ChangeTokenLostError(volumeId, 'reset', bad.length > 0
        ? `the bitmaps of drive '${node}' are inconsistent (the QEMU process was not shut down cleanly)`
        : `drive '${node}' no longer has the bitmaps from view ${t.seq} to ${plan.frozen.to} (removed, or the QEMU process restarted without them)`);
    }
    const bitmap = tiles.length > 1 ? await this.merge(qmp, node, tiles) : tiles[0];
    // The kernel passes only its acknowledged token and never an older one again: what ends before it is dead.
    await this.removeBitmaps(qmp, node, retirable(bitmaps.filter((b) => b.to < t.seq), t.epoch, t.seq));
    const exportId = objectName(view.id, 'b', part.k);
    await qmp.execute('block-export-add', { type: 'nbd', id: exportId, 'node-name': objectName(view.id, 'a', part.k), name: exportId, writable: false, bitmaps: [{ node, name: bitmap.name }] })
      .catch((e: unknown) => { throw new ChangeViewError('read', `view '${view.name}' cannot export the bitmap of drive '${node}': ${(e as Error).message}`, 'a new view is taken next cycle'); });
    try {
      const context = `qemu:dirty-bitmap:${bitmap.name}`;
      const client = await NbdClient.connect({ path: view.nbdPath, exportName: exportId, metaContexts: [context] });
      try {
        const regions: ChangedRegion[] = [];
        for (const e of await client.blockStatus(context, 0, part.drive.volume.sizeBytes)) {
          if (!(e.flags & 1)) continue;
          const last = regions.at(-1);
          if (last && last.offset + last.length === e.offset) last.length += e.length;
          else regions.push({ volumeId, offset: e.offset, length: e.length });
        }
        return regions;
      } finally {
        await client.close();
      }
    } finally {
      await deleteExport(qmp, exportId);
    }
  }

  /**
   * The tiles of failed cycles become one bitmap (one transaction: the merged bitmap never exists half-filled),
   * then the tiles go; a crash in between leaves duplicates, which `tiling` and `retireToken` handle.
   */
  private async merge(qmp: QmpClient, node: string, tiles: TrackBitmap[]): Promise<TrackBitmap> {
    const [from, to] = [tiles[0].from, tiles.at(-1)!.to];
    const name = bitmapName(tiles[0].epoch, from, to);
    const persistent = (await nodeTable(qmp)).get(node)?.drv === 'qcow2';
    await qmp.execute('transaction', { actions: [
      { type: 'block-dirty-bitmap-add', data: { node, name, persistent, disabled: true, granularity: tiles[0].granularity } },
      { type: 'block-dirty-bitmap-merge', data: { node, target: name, bitmaps: tiles.map((b) => b.name) } },
    ] });
    await this.removeBitmaps(qmp, node, tiles);
    this.counters.bitmapsMerged += tiles.length;
    this.log('ct-bitmaps-merged', { node, into: name, from: tiles.map((b) => b.name) });
    return { ...tiles[0], name, from, to, recording: false, busy: false };
  }

  async allocated(view: FleecingView, part: ViewDrive): Promise<ChangedRegion[]> {
    const volumeId = part.drive.volume.id;
    const regions: ChangedRegion[] = [];
    const extents = await part.client.blockStatus('base:allocation', 0, part.drive.volume.sizeBytes).catch((e: unknown) => { throw this.readError(view, e); });
    for (const e of extents) {
      if (e.flags & NBD_STATE_ZERO) continue; // reads as zeros: nothing to copy
      const last = regions.at(-1);
      if (last && last.offset + last.length === e.offset) last.length += e.length;
      else regions.push({ volumeId, offset: e.offset, length: e.length });
    }
    return regions;
  }

  async read(view: FleecingView, part: ViewDrive, offset: number, length: number): Promise<Buffer> {
    const size = part.drive.volume.sizeBytes;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new VolumeRangeError(part.drive.volume.id, offset, length, size);
    }
    if (length === 0) return Buffer.alloc(0);
    try {
      const chunks: Promise<Buffer>[] = [];
      for (let at = offset; at < offset + length; at += READ_CHUNK_BYTES) chunks.push(part.client.read(at, Math.min(READ_CHUNK_BYTES, offset + length - at)));
      const data = chunks.length === 1 ? await chunks[0] : Buffer.concat(await Promise.all(chunks));
      this.counters.bytesRead += length;
      return data;
    } catch (e) {
      throw this.readError(view, e);
    }
  }

  readError(view: FleecingView, e: unknown): ChangeViewError {
    if (e instanceof ChangeViewError) return e;
    return new ChangeViewError('read', `view '${view.name}' can no longer be read: ${(e as Error).message}`, 'a new view is taken next cycle');
  }

  track<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
    const p = typeof work === 'function' ? work() : work;
    return this.o.track ? this.o.track(p) : p;
  }

  private async live(site: ViewSite, step: 'open' | 'read'): Promise<QmpClient> {
    const qmp = await site.qmp();
    if (!qmp) throw new ChangeViewError(step, `the QEMU process '${site.key}' is not running`, 'start it; tracking restarts (a delta sync) when it runs again');
    return qmp;
  }

  private bitmapArgs(node: string, name: string, drv: string | undefined): Record<string, unknown> {
    // Only qcow2 stores bitmaps: on any other format they live as long as the QEMU process.
    return { node, name, persistent: drv === 'qcow2', ...(this.o.granularity !== undefined ? { granularity: this.o.granularity } : {}) };
  }

  private async removeBitmaps(qmp: QmpClient, node: string, bitmaps: readonly TrackBitmap[], strict = false): Promise<void> {
    for (const b of bitmaps) {
      try {
        await qmp.execute('block-dirty-bitmap-remove', { node, name: b.name });
      } catch (e) {
        // Already gone is fine; anything else only matters where the caller needs them gone.
        if (strict && !(e instanceof QmpError && /not found/i.test(e.desc))) throw e;
      }
    }
  }

  private async observe(qmp: QmpClient, drives: readonly TrackedDrive[]): Promise<void> {
    if (this.o.granularity !== undefined) return;
    const nodes = await nodeTable(qmp);
    for (const d of drives) {
      for (const b of ourBitmaps(nodes.get(d.node)?.bitmaps)) this.observedGranularity = Math.max(this.observedGranularity ?? 0, b.granularity);
    }
  }

  private hex(bytes: number): string {
    return this.o.randomHex ? this.o.randomHex(bytes) : randomBytes(bytes).toString('hex');
  }

  log(event: string, fields: Record<string, unknown>): void {
    this.o.log?.(event, fields);
  }
}

/** A view handed to the kernel: reads and bitmap queries go through the tracking that opened it, one at a time. */
class FleecingView implements ChangeView {
  readonly id: string;
  readonly name: string;
  readonly vmIds: readonly VmId[];
  readonly takenAt: number;
  readonly site: ViewSite;
  readonly nbdPath: string;
  private readonly parts: Map<VolumeId, ViewDrive>;
  private released = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly tracking: QemuChangeTracking, v: { id: string; name: string; vmIds: VmId[]; takenAt: number; site: ViewSite; nbdPath: string; parts: ViewDrive[] }) {
    this.id = v.id;
    this.name = v.name;
    this.vmIds = v.vmIds;
    this.takenAt = v.takenAt;
    this.site = v.site;
    this.nbdPath = v.nbdPath;
    this.parts = new Map(v.parts.map((p) => [p.drive.volume.id, p]));
  }

  changedSince(volumeId: VolumeId, token: string): Promise<ChangedRegion[]> {
    return this.serial(volumeId, (p) => this.tracking.changedSince(this, p, token));
  }

  allocated(volumeId: VolumeId): Promise<ChangedRegion[]> {
    return this.serial(volumeId, (p) => this.tracking.allocated(this, p));
  }

  read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    // Reads may overlap each other (the NBD client pipelines them); only bitmap work is serialised.
    return this.tracking.track(async () => this.tracking.read(this, this.part(volumeId), offset, length));
  }

  token(volumeId: VolumeId): string {
    const p = this.part(volumeId);
    return tokenName(p.plan.epoch, p.plan.seq);
  }

  /** Being released: reads end here (QEMU then drops the exports without waiting for clients). */
  disconnect(): void {
    for (const p of this.parts.values()) p.client.destroy();
  }

  /** Released by the tracking: the NBD server lease ends. */
  closed(): void {
    if (this.released) return;
    this.released = true;
    this.disconnect();
    this.site.releaseNbd();
  }

  private part(volumeId: VolumeId): ViewDrive {
    if (this.released) throw new ChangeViewError('read', `view '${this.name}' was released`, 'take a new view');
    const p = this.parts.get(volumeId);
    if (!p) throw new UnknownVolumeError(volumeId, `view '${this.name}'`);
    return p;
  }

  private serial<T>(volumeId: VolumeId, fn: (p: ViewDrive) => Promise<T>): Promise<T> {
    const p = this.part(volumeId);
    const run = this.chain.then(() => fn(p), () => fn(p));
    this.chain = run.catch(() => undefined);
    return this.tracking.track(run);
  }
}

interface NodeRow {
  drv: string;
  bitmaps: QemuBitmapInfo[] | undefined;
}

async function nodeTable(qmp: QmpClient): Promise<Map<string, NodeRow>> {
  const rows = await qmp.execute<{ 'node-name': string; drv: string; 'dirty-bitmaps'?: QemuBitmapInfo[] }[]>('query-named-block-nodes', { flat: true });
  return new Map(rows.map((r) => [r['node-name'], { drv: r.drv, bitmaps: r['dirty-bitmaps'] }]));
}

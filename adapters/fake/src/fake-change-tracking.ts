// The fake platform's change tracking, for the change-tracking capture mode: frozen views of one or
// several VMs taken at one instant (copy-on-write copies of their volumes), per-volume tokens naming a
// VM's change generation, allocated regions, and the faults real platforms show — a view that cannot be
// taken or released, tracking that forgets its tokens (a CBT reset), views that vanish from under the
// kernel. State lives per data centre, so a platform facade made again (an appliance restart) finds it.
import { ChangeTokenLostError, ChangeViewError, UnknownVmError, UnknownVolumeError, ValidationError, checkRange } from '@opencdp/core';
import type { ChangedRegion, ChangeTracking, ChangeView, SiteId, ViewRef, VmId, VolumeId } from '@opencdp/core';
import type { FakeDataCenter } from './fake-data-center.js';
import { TRACK_BLOCK, type SparseVolume } from './sparse-volume.js';

export interface FakeChangeTrackingOptions {
  /** The shortest cycle the platform supports (default 100 ms, the shortest checkpoint interval). */
  minIntervalMs?: number;
  /** One view may span several VMs as one consistent cut (default true). */
  multiVmViews?: boolean;
}

interface FrozenVolume {
  vmId: VmId;
  volume: SparseVolume;
  /** The VM's generation the copy holds (writes stamped with it or earlier). */
  generation: number;
  /** The VM's tracking epoch when the view was taken. */
  epoch: number;
}

interface FakeView extends ViewRef {
  readonly takenAt: number;
  readonly volumes: Map<VolumeId, FrozenVolume>;
}

/** The data centre's change-tracking state, shared by every site facade of it. */
class TrackingState {
  readonly enabled = new Set<VmId>();
  /** A VM's tokens are valid only within its current epoch; a reset or `disable` moves it on. */
  readonly epochs = new Map<VmId, number>();
  readonly views = new Map<string, FakeView>();
  readonly retired = new Set<string>();
  openFails = false;
  releaseFails = false;
  nextViewId = 1;
  readonly counters = { viewsOpened: 0, viewsReleased: 0, bytesRead: 0 };

  epoch(vmId: VmId): number {
    return this.epochs.get(vmId) ?? 0;
  }
}

const states = new WeakMap<FakeDataCenter, TrackingState>();

function stateOf(dc: FakeDataCenter): TrackingState {
  let s = states.get(dc);
  if (!s) states.set(dc, (s = new TrackingState()));
  return s;
}

/** What the fake's change tracking has done so far, for tests (C5 reads bytes read from views). */
export interface FakeChangeTrackingStats {
  viewsOpened: number;
  viewsReleased: number;
  /** Views on the platform now (not released, not lost). */
  openViews: number;
  /** Bytes read from views. */
  bytesRead: number;
}

/** `ChangeTracking` for one site of a fake data centre. */
export class FakeChangeTracking implements ChangeTracking {
  readonly minIntervalMs: number;
  readonly granularityBytes = TRACK_BLOCK;
  readonly multiVmViews: boolean;

  constructor(private readonly dc: FakeDataCenter, private readonly siteId: SiteId, options: FakeChangeTrackingOptions = {}) {
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.multiVmViews = options.multiVmViews ?? true;
  }

  private get state(): TrackingState {
    return stateOf(this.dc);
  }

  async enable(vmId: VmId): Promise<void> {
    this.own(vmId);
    this.state.enabled.add(vmId);
  }

  async disable(vmId: VmId): Promise<void> {
    this.own(vmId);
    const s = this.state;
    s.enabled.delete(vmId);
    s.epochs.set(vmId, s.epoch(vmId) + 1);
  }

  async openView(vmIds: readonly VmId[], name: string): Promise<ChangeView> {
    const s = this.state;
    if (!Array.isArray(vmIds) || vmIds.length === 0) throw new ValidationError('a view needs at least one VM', 'vmIds');
    if (new Set(vmIds).size !== vmIds.length) throw new ValidationError('a VM is listed twice for one view', 'vmIds');
    if (vmIds.length > 1 && !this.multiVmViews) throw new ValidationError(`this platform's views hold one VM each, asked for ${vmIds.length}`, 'vmIds', 'open one view per VM');
    if (typeof name !== 'string' || name === '') throw new ValidationError('a view needs a name', 'name');
    for (const vmId of vmIds) {
      this.own(vmId);
      if (!s.enabled.has(vmId)) throw new ChangeViewError('open', `change tracking is not enabled on VM '${vmId}'`, 'enable it first');
    }
    if (s.openFails) throw new ChangeViewError('open', `the platform could not take view '${name}' (fault injected)`, 'it is retried');
    // One instant for every VM: the data centre is single-threaded, so no guest write falls between them.
    const volumes = new Map<VolumeId, FrozenVolume>();
    for (const vmId of vmIds) {
      const { generation, volumes: frozen } = this.dc.freezeVm(vmId);
      for (const [volumeId, volume] of frozen) volumes.set(volumeId, { vmId, volume, generation, epoch: s.epoch(vmId) });
    }
    const view: FakeView = { id: `view-${s.nextViewId++}`, name, vmIds: [...vmIds], takenAt: this.dc.clock.now(), volumes };
    s.views.set(view.id, view);
    s.counters.viewsOpened++;
    return this.handle(view);
  }

  async releaseView(viewId: string): Promise<void> {
    const s = this.state;
    if (!s.views.has(viewId)) return;
    if (s.releaseFails) throw new ChangeViewError('release', `the platform could not release view '${viewId}' (fault injected)`, 'it stays until released');
    s.views.delete(viewId);
    s.counters.viewsReleased++;
  }

  async listViews(prefix: string): Promise<ViewRef[]> {
    return [...this.state.views.values()]
      .filter((v) => v.name.startsWith(prefix) && v.vmIds.every((id) => this.mine(id)))
      .map((v) => ({ id: v.id, name: v.name, vmIds: [...v.vmIds] }));
  }

  async retireToken(_vmId: VmId, _volumeId: VolumeId, token: string): Promise<void> {
    this.state.retired.add(token);
  }

  // ---- faults (the harness injects them) -------------------------------------------------------

  /** While on, every `openView` fails (and leaves nothing behind). */
  failOpens(on: boolean): void {
    this.state.openFails = on;
  }

  /** While on, every `releaseView` fails (the view stays). */
  failReleases(on: boolean): void {
    this.state.releaseFails = on;
  }

  /** The platform forgets every token of the VM (a CBT reset after a storage migration). */
  resetTokens(vmId: VmId): void {
    this.own(vmId);
    const s = this.state;
    s.epochs.set(vmId, s.epoch(vmId) + 1);
  }

  /** Every open view of this site vanishes (a snapshot deleted behind the kernel's back). */
  loseViews(): void {
    const s = this.state;
    for (const [id, view] of s.views) if (view.vmIds.every((vmId) => this.mine(vmId))) s.views.delete(id);
  }

  stats(): FakeChangeTrackingStats {
    const s = this.state;
    return { ...s.counters, openViews: s.views.size };
  }

  // ---- internals -------------------------------------------------------------------------------

  private handle(view: FakeView): ChangeView {
    const s = this.state;
    const frozen = (volumeId: VolumeId): FrozenVolume => {
      if (s.views.get(view.id) !== view) throw new ChangeViewError('read', `view '${view.name}' is no longer on the platform`, 'a new view is taken next cycle');
      const f = view.volumes.get(volumeId);
      if (!f) throw new UnknownVolumeError(volumeId, `view '${view.name}'`);
      return f;
    };
    const regions = (volumeId: VolumeId, ranges: { offset: number; length: number }[]): ChangedRegion[] => ranges.map((r) => ({ volumeId, ...r }));
    return {
      id: view.id, name: view.name, vmIds: view.vmIds, takenAt: view.takenAt,
      changedSince: async (volumeId, token) => {
        const f = frozen(volumeId);
        const parsed = /^fake-ct:(\d+):(\d+):(.+)$/.exec(token);
        if (!parsed || parsed[3] !== volumeId) throw new ChangeTokenLostError(volumeId, 'unknown', `'${token}' is not a token of this volume`);
        const [epoch, generation] = [Number(parsed[1]), Number(parsed[2])];
        if (epoch !== s.epoch(f.vmId) || !s.enabled.has(f.vmId)) throw new ChangeTokenLostError(volumeId, 'reset', `change tracking of VM '${f.vmId}' was reset after the token was taken`);
        if (s.retired.has(token)) throw new ChangeTokenLostError(volumeId, 'expired', `'${token}' was retired`);
        if (generation >= f.generation) throw new ChangeTokenLostError(volumeId, 'unknown', `'${token}' is newer than view '${view.name}'`);
        return regions(volumeId, f.volume.changedSince(generation));
      },
      allocated: async (volumeId) => regions(volumeId, frozen(volumeId).volume.allocated()),
      read: async (volumeId, offset, length) => {
        const f = frozen(volumeId);
        checkRange(f.volume.info, offset, length);
        s.counters.bytesRead += length;
        return f.volume.read(offset, length);
      },
      token: (volumeId) => {
        const f = frozen(volumeId);
        return `fake-ct:${f.epoch}:${f.generation}:${volumeId}`;
      },
    };
  }

  private mine(vmId: VmId): boolean {
    try {
      return this.dc.siteOf(vmId) === this.siteId;
    } catch {
      return false; // deleted since
    }
  }

  private own(vmId: VmId): void {
    if (!this.mine(vmId)) throw new UnknownVmError(vmId);
  }
}

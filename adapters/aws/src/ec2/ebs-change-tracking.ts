// Change tracking of EC2 instances by EBS snapshots, for the kernel's change-tracking capture mode.
// A view is one CreateSnapshots call (every volume of one instance at one instant: crash-consistent
// across that instance's volumes, not across instances, hence `multiVmViews: false`); a token is the
// snapshot id of one volume in a view; `changedSince` is ListChangedBlocks between the token's snapshot
// and the view's, `allocated` is ListSnapshotBlocks, `read` is GetSnapshotBlock. Releasing a view
// deletes its snapshots except those whose tokens were taken: they stay (tagged as tokens) until
// `retireToken`, when the recovery site acknowledged a newer one. Leftovers are found by tag.
import {
  ChangeTokenLostError, ChangeViewError, OpenCdpError, UnknownVmError, ValidationError,
  type ChangedRegion, type ChangeTracking, type ChangeView, type Clock, type ViewRef, type VmId, type VolumeId,
} from '@opencdp/core';
import { AwsApiError } from '../aws-errors.js';
import { EBS_BLOCK_SIZE, GIB, type EbsDirect } from '../ebs/ebs-direct.js';
import { tagsOf, type Ec2Api } from './ec2-api.js';

export const VIEW_TAG = 'opencdp:view';
export const VIEW_STATE_TAG = 'opencdp:view-state';
export const VIEW_VM_TAG = 'opencdp:vm';

export interface EbsChangeTrackingOptions {
  /**
   * Shortest cycle accepted (default 5 min): EBS snapshots are incremental but complete in minutes, and
   * AWS throttles snapshot creation; shorter cycles would pile up pending snapshots.
   */
  minIntervalMs?: number;
}

interface OpenView {
  ref: ViewRef;
  /** Volume → snapshot id in this view. */
  snapshots: Map<VolumeId, { id: string; sizeBytes: number }>;
  taken: Set<string>;
  /** Block tokens per volume, listed on first read. */
  tokens: Map<VolumeId, Map<number, string>>;
}

export class EbsChangeTracking implements ChangeTracking {
  readonly minIntervalMs: number;
  readonly granularityBytes = EBS_BLOCK_SIZE;
  readonly multiVmViews = false;
  private readonly views = new Map<string, OpenView>();

  constructor(private readonly ec2: Ec2Api, private readonly ebs: EbsDirect, private readonly clock: Clock, options: EbsChangeTrackingOptions = {}) {
    this.minIntervalMs = options.minIntervalMs ?? 5 * 60_000;
  }

  async enable(vmId: VmId): Promise<void> {
    // EBS tracks changed blocks between any two snapshots of a volume's lineage: nothing to switch on.
    await this.instance(vmId);
  }

  async disable(vmId: VmId): Promise<void> {
    const mine = await this.ec2.describeSnapshots([{ Name: `tag:${VIEW_VM_TAG}`, Values: [vmId] }]);
    for (const s of mine) await this.ec2.deleteSnapshot(s.SnapshotId!);
    for (const [id, v] of this.views) if (v.ref.vmIds.includes(vmId)) this.views.delete(id);
  }

  async openView(vmIds: readonly VmId[], name: string): Promise<ChangeView> {
    if (vmIds.length !== 1) throw new ValidationError(`an EBS view covers one instance (CreateSnapshots is per instance), got ${vmIds.length}`, 'vmIds');
    const vmId = vmIds[0];
    await this.instance(vmId);
    let made: { SnapshotId?: string; VolumeId?: string; StartTime?: Date; VolumeSize?: number }[] = [];
    try {
      made = await this.ec2.createSnapshots(vmId, { Name: name.slice(0, 255), [VIEW_TAG]: name.slice(0, 255), [VIEW_STATE_TAG]: 'view', [VIEW_VM_TAG]: vmId }, `OpenCDP view ${name}`);
      await this.ec2.waitSnapshots(made.map((s) => s.SnapshotId!));
    } catch (error) {
      for (const s of made) await this.ec2.deleteSnapshot(s.SnapshotId!).catch(() => undefined);
      throw new ChangeViewError('open', `EBS view '${name}' of instance '${vmId}' could not be taken: ${(error as Error).message}`,
        error instanceof OpenCdpError ? error.hint : undefined);
    }
    const id = made.map((s) => s.SnapshotId!).join(',');
    const view: OpenView = {
      ref: { id, name, vmIds: [vmId] },
      snapshots: new Map(made.map((s) => [s.VolumeId!, { id: s.SnapshotId!, sizeBytes: (s.VolumeSize ?? 0) * GIB }])),
      taken: new Set(), tokens: new Map(),
    };
    this.views.set(id, view);
    const takenAt = Math.min(...made.map((s) => s.StartTime?.getTime() ?? this.clock.now()));
    return {
      ...view.ref,
      takenAt,
      changedSince: (volumeId, token) => this.changedSince(view, volumeId, token),
      allocated: async (volumeId) => {
        const s = this.snapshotOf(view, volumeId);
        return regions(volumeId, (await this.viewBlocks(view, volumeId)).keys(), s.sizeBytes);
      },
      read: (volumeId, offset, length) => this.read(view, volumeId, offset, length),
      token: (volumeId) => {
        const s = this.snapshotOf(view, volumeId);
        view.taken.add(s.id);
        return s.id;
      },
    };
  }

  async releaseView(viewId: string): Promise<void> {
    const view = this.views.get(viewId);
    const ids = viewId.split(',').filter((s) => /^snap-[0-9a-f]+$/.test(s));
    try {
      for (const id of ids) {
        if (view?.taken.has(id)) await this.ec2.createTags([id], { [VIEW_STATE_TAG]: 'token' });
        else await this.ec2.deleteSnapshot(id);
      }
    } catch (error) {
      throw new ChangeViewError('release', `EBS view '${view?.ref.name ?? viewId}' could not be released: ${(error as Error).message}`, 'it is listed again by listViews; the kernel retries');
    }
    this.views.delete(viewId);
  }

  async listViews(prefix: string): Promise<ViewRef[]> {
    let snaps;
    try {
      snaps = await this.ec2.describeSnapshots([{ Name: `tag:${VIEW_STATE_TAG}`, Values: ['view'] }]);
    } catch (error) {
      throw new ChangeViewError('list', `EBS views could not be listed: ${(error as Error).message}`);
    }
    const byName = new Map<string, { ids: string[]; vm: string }>();
    for (const s of snaps) {
      const tags = tagsOf(s);
      const name = tags[VIEW_TAG] ?? '';
      if (!name.startsWith(prefix)) continue;
      const entry = byName.get(name) ?? { ids: [], vm: tags[VIEW_VM_TAG] ?? '' };
      entry.ids.push(s.SnapshotId!);
      byName.set(name, entry);
    }
    return [...byName].map(([name, e]) => ({ id: e.ids.sort().join(','), name, vmIds: [e.vm] }));
  }

  async retireToken(vmId: VmId, _volumeId: VolumeId, token: string): Promise<void> {
    if (!/^snap-[0-9a-f]+$/.test(token)) return;
    const found = await this.ec2.describeSnapshots(undefined, [token]).catch((e: unknown) => {
      if (e instanceof AwsApiError && e.awsCode === 'InvalidSnapshot.NotFound') return [];
      throw e;
    });
    const s = found[0];
    // Only snapshots this adapter took for the VM are ever deleted here.
    if (!s || tagsOf(s)[VIEW_VM_TAG] !== vmId) return;
    await this.ec2.deleteSnapshot(token);
  }

  // ---- internals ----------------------------------------------------------------------------

  private async instance(vmId: VmId): Promise<void> {
    const i = /^i-[0-9a-f]+$/.test(vmId) ? await this.ec2.instance(vmId) : undefined;
    if (!i || i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down') throw new UnknownVmError(vmId);
  }

  private snapshotOf(view: OpenView, volumeId: VolumeId): { id: string; sizeBytes: number } {
    const s = view.snapshots.get(volumeId);
    if (!s) throw new ValidationError(`volume '${volumeId}' is not in view '${view.ref.name}'`, 'volumeId');
    return s;
  }

  private async changedSince(view: OpenView, volumeId: VolumeId, token: string): Promise<ChangedRegion[]> {
    const s = this.snapshotOf(view, volumeId);
    if (!/^snap-[0-9a-f]+$/.test(token)) throw new ChangeTokenLostError(volumeId, 'unknown', `'${token}' is not an EBS snapshot id`);
    try {
      const changed = await this.ebs.changedBlocks(token, s.id);
      return regions(volumeId, changed.map((c) => c.index), s.sizeBytes);
    } catch (error) {
      if (error instanceof AwsApiError && error.awsCode === 'ResourceNotFoundException') throw new ChangeTokenLostError(volumeId, 'expired', `snapshot ${token} no longer exists`);
      if (error instanceof AwsApiError && error.awsCode === 'ValidationException' && /lineage|UNRELATED/i.test(error.message)) {
        throw new ChangeTokenLostError(volumeId, 'reset', `snapshot ${token} is not of this volume's lineage`);
      }
      throw new ChangeViewError('read', `changed blocks of volume '${volumeId}' since ${token}: ${(error as Error).message}`);
    }
  }

  private async viewBlocks(view: OpenView, volumeId: VolumeId): Promise<Map<number, string>> {
    let tokens = view.tokens.get(volumeId);
    if (!tokens) {
      const s = this.snapshotOf(view, volumeId);
      try {
        tokens = new Map((await this.ebs.listBlocks(s.id)).map((b) => [b.index, b.token]));
      } catch (error) {
        throw new ChangeViewError('read', `blocks of view '${view.ref.name}' volume '${volumeId}': ${(error as Error).message}`);
      }
      view.tokens.set(volumeId, tokens);
    }
    return tokens;
  }

  private async read(view: OpenView, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const s = this.snapshotOf(view, volumeId);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > s.sizeBytes) {
      throw new ValidationError(`read [${offset}, ${offset + length}) is outside volume '${volumeId}'`, 'offset');
    }
    const tokens = await this.viewBlocks(view, volumeId);
    const out = Buffer.alloc(length);
    const first = Math.floor(offset / EBS_BLOCK_SIZE);
    const last = length === 0 ? first - 1 : Math.floor((offset + length - 1) / EBS_BLOCK_SIZE);
    const reads: Promise<void>[] = [];
    for (let b = first; b <= last; b++) {
      const token = tokens.get(b);
      if (!token) continue;
      reads.push(this.ebs.getBlock(s.id, b, token).then((data) => {
        const base = b * EBS_BLOCK_SIZE;
        const from = Math.max(offset, base);
        const to = Math.min(offset + length, base + EBS_BLOCK_SIZE);
        data.copy(out, from - offset, from - base, to - base);
      }));
    }
    try {
      await Promise.all(reads);
    } catch (error) {
      throw new ChangeViewError('read', `view '${view.ref.name}' volume '${volumeId}': ${(error as Error).message}`);
    }
    return out;
  }
}

/** 512 KiB blocks as merged byte regions inside the volume. */
function regions(volumeId: VolumeId, blocks: Iterable<number>, sizeBytes: number): ChangedRegion[] {
  const out: ChangedRegion[] = [];
  for (const b of [...blocks].sort((x, y) => x - y)) {
    const offset = b * EBS_BLOCK_SIZE;
    if (offset >= sizeBytes) continue;
    const length = Math.min(EBS_BLOCK_SIZE, sizeBytes - offset);
    const last = out.at(-1);
    if (last && last.offset + last.length === offset) last.length += length;
    else out.push({ volumeId, offset, length });
  }
  return out;
}

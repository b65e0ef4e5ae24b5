// The views of one change-tracking cycle: one view of all the group's VMs where the platform's views
// span VMs (one consistent cut), else one view per VM. Views are named `VIEW_NAME_PREFIX` + the group's
// key + the cycle, so that leftovers of a killed process are found again by prefix and released: a
// platform snapshot nobody releases grows forever.
import { ChangeViewError, VIEW_NAME_PREFIX, type ChangeTracking, type ChangeView, type ViewRef } from '../ports/change-tracking.js';
import type { VmId } from '../model.js';

/** The name prefix of every view a group's cycles take (`opencdp-<group>-`); ids are made safe for platform names. */
export function viewPrefix(groupId: string): string {
  return `${VIEW_NAME_PREFIX}${groupId.replace(/[^A-Za-z0-9_.-]/g, '_')}-`;
}

export class CycleViews {
  private released = false;

  private constructor(private readonly tracking: ChangeTracking, readonly views: readonly ChangeView[]) {}

  /**
   * Opens the cycle's views of `vmIds`, named `<prefix><cycle>` (`-<n>` per VM where views hold one VM).
   * If one fails, those already open are released (best effort: a failed release is found by the sweep).
   */
  static async open(tracking: ChangeTracking, vmIds: readonly VmId[], prefix: string, cycle: string): Promise<CycleViews> {
    const groups = tracking.multiVmViews ? [vmIds] : vmIds.map((id) => [id]);
    const opened: ChangeView[] = [];
    try {
      for (const [i, ids] of groups.entries()) opened.push(await tracking.openView(ids, groups.length === 1 ? `${prefix}${cycle}` : `${prefix}${cycle}-${i + 1}`));
    } catch (e) {
      for (const v of opened) await tracking.releaseView(v.id).catch(() => undefined);
      throw e instanceof ChangeViewError ? e : new ChangeViewError('open', `a view of ${vmIds.join(', ')} could not be taken: ${(e as Error).message}`);
    }
    return new CycleViews(tracking, opened);
  }

  /** The view holding `vmId`. */
  of(vmId: VmId): ChangeView {
    const view = this.views.find((v) => v.vmIds.includes(vmId));
    if (!view) throw new ChangeViewError('read', `no view of this cycle holds VM '${vmId}'`);
    return view;
  }

  /** When the oldest of the views was frozen: the state every image of the cycle is at least as new as. */
  get takenAt(): number {
    return Math.min(...this.views.map((v) => v.takenAt));
  }

  /** Releases every view (each tried even if another fails); returns the failures. Idempotent. */
  async release(): Promise<Error[]> {
    if (this.released) return [];
    this.released = true;
    const failures: Error[] = [];
    for (const v of this.views) {
      try {
        await this.tracking.releaseView(v.id);
      } catch (e) {
        failures.push(e as Error);
      }
    }
    return failures;
  }
}

/**
 * Releases the views named with `prefix` whose VMs are all `owned` (a view of another appliance's VMs is
 * not ours to release, even in the same group). Returns what was released and what could not be.
 */
export async function sweepViews(tracking: ChangeTracking, prefix: string, owned: (vmId: VmId) => boolean): Promise<{ released: ViewRef[]; failed: { view: ViewRef; error: Error }[] }> {
  const released: ViewRef[] = [];
  const failed: { view: ViewRef; error: Error }[] = [];
  for (const view of await tracking.listViews(prefix)) {
    if (!view.name.startsWith(prefix) || !view.vmIds.every(owned)) continue;
    try {
      await tracking.releaseView(view.id);
      released.push(view);
    } catch (e) {
      failed.push({ view, error: e as Error });
    }
  }
  return { released, failed };
}

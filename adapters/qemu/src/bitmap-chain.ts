// QEMU dirty bitmaps as change-tracking tokens. Each view n of a drive starts a bitmap that records the
// guest's writes from view n on; the next view disables it. A bitmap's name says which views it spans
// (`opencdp-ct-<epoch>-<from>-<to>`: the writes between view `from` and view `to + 1`), so the changes since
// the state of view t are the union of bitmaps that tile [t, f] (f: the bitmap that was recording when the
// view froze) — computed from what QEMU lists, never from this process's memory, so a killed appliance's
// successor and a restarted QEMU (persistent bitmaps) resume. The epoch changes whenever tracking restarts
// (no healthy recording bitmap: a QEMU process restarted without them, an unclean shutdown, a reset), so a
// token of an earlier epoch can never be mistaken for one of the new. Tiles of failed cycles are merged into
// one bitmap when a later view lists changes since an older token, and the middle of a long chain at each
// freeze (`FreezePlan.compact`), so repeated failures do not pile bitmaps up. Nothing here can make a token
// answer for less than it covers: a token whose tiles are not all there is lost (a delta sync), never short.

/** Bitmaps the adapter adds are named with this prefix; nothing else of a drive's bitmaps is touched. */
export const BITMAP_PREFIX = 'opencdp-ct-';

/** A bitmap as `query-named-block-nodes` lists it under a node's `dirty-bitmaps`. */
export interface QemuBitmapInfo {
  name?: string;
  recording: boolean;
  busy: boolean;
  persistent: boolean;
  granularity: number;
  count: number;
  inconsistent?: boolean;
}

/** One of our bitmaps, its name parsed. */
export interface TrackBitmap {
  name: string;
  epoch: string;
  from: number;
  to: number;
  recording: boolean;
  busy: boolean;
  /** Inconsistent after an unclean shutdown of the QEMU process: unusable, may only be removed. */
  inconsistent: boolean;
  granularity: number;
}

const NAME = /^opencdp-ct-([0-9a-f]{8})-(\d{1,15})-(\d{1,15})$/;
const TOKEN = /^([0-9a-f]{8})-(\d{1,15})$/;

export function bitmapName(epoch: string, from: number, to: number): string {
  return `${BITMAP_PREFIX}${epoch}-${from}-${to}`;
}

/** The token naming view `seq` of `epoch` (the state the bitmap `…-<seq>-…` starts from). */
export function tokenName(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

export function parseToken(token: string): { epoch: string; seq: number } | undefined {
  const m = typeof token === 'string' ? TOKEN.exec(token) : null;
  return m ? { epoch: m[1], seq: Number(m[2]) } : undefined;
}

/** Our bitmaps among a node's, parsed; others' bitmaps (a backup tool's, libvirt's checkpoints) are left out. */
export function ourBitmaps(infos: readonly QemuBitmapInfo[] | undefined): TrackBitmap[] {
  const out: TrackBitmap[] = [];
  for (const b of infos ?? []) {
    const m = b.name ? NAME.exec(b.name) : null;
    if (!m) continue;
    const from = Number(m[2]);
    const to = Number(m[3]);
    if (to < from) continue;
    out.push({ name: b.name!, epoch: m[1], from, to, recording: b.recording, busy: b.busy, inconsistent: b.inconsistent === true, granularity: b.granularity });
  }
  return out.sort((a, b) => (a.epoch === b.epoch ? a.from - b.from || a.to - b.to : a.epoch < b.epoch ? -1 : 1));
}

/** What a view's transaction does to one drive's bitmaps, and what its tokens can reach afterwards. */
export interface FreezePlan {
  epoch: string;
  /** The bitmap that recorded until the freeze (disabled in the transaction), if tracking was healthy. */
  frozen: TrackBitmap | undefined;
  /** This view's number: its bitmap `…-<seq>-<seq>` is added (recording) in the transaction; its token is `<epoch>-<seq>`. */
  seq: number;
  /** Why tracking restarts with this view (no tokens before it can be answered), when it does. */
  restart: string | undefined;
  /** Bitmaps of ours that no token can use any more (other epochs, inconsistent): removed after the freeze. */
  useless: TrackBitmap[];
  /**
   * Tiles of the chain to merge into one before the freeze. Tokens starting inside the merged run are lost;
   * the kernel only passes its acknowledged token, which is the first or second start of the chain (a
   * listing since a token merges everything from it and drops what came before, a retirement drops the
   * previous token's tiles) or, before any listing, one of the newest (a first cycle that succeeded).
   */
  compact: { tiles: TrackBitmap[]; name: string } | undefined;
}

/** Starts kept at each end of the chain however long cycles keep failing. */
const KEPT_FIRST = 2;
const KEPT_LAST = 2;

/**
 * Plans a freeze of one drive from its bitmaps now. Tracking continues where exactly one healthy bitmap of
 * ours records and it is the newest of its epoch; otherwise it restarts in a new epoch (`newEpoch()`).
 */
export function planFreeze(bitmaps: readonly TrackBitmap[], newEpoch: () => string): FreezePlan {
  const recording = bitmaps.filter((b) => b.recording && !b.inconsistent);
  const inconsistent = bitmaps.filter((b) => b.inconsistent);
  let restart: string | undefined;
  if (recording.length === 1) {
    const r = recording[0];
    const newest = Math.max(...bitmaps.filter((b) => b.epoch === r.epoch && !b.inconsistent).map((b) => b.to));
    if (r.from === r.to && r.to === newest) {
      return { epoch: r.epoch, frozen: r, seq: r.to + 1, restart: undefined, useless: bitmaps.filter((b) => b.epoch !== r.epoch || b.inconsistent), compact: compaction(bitmaps, r) };
    }
    restart = `its recording bitmap '${r.name}' is not the newest of its chain`;
  } else if (recording.length > 1) {
    restart = `${recording.length} bitmaps of ours were recording at once`;
  } else if (inconsistent.length > 0) {
    restart = `its bitmaps are inconsistent: the QEMU process was not shut down cleanly (${inconsistent.map((b) => b.name).join(', ')})`;
  } else if (bitmaps.length > 0) {
    restart = 'no bitmap of ours was recording (tracking was disabled on it)';
  } else {
    restart = 'no bitmap of ours was on it (tracking was never enabled or was reset, or the QEMU process restarted without them: not persistent, or made since its last clean shutdown)';
  }
  return { epoch: newEpoch(), frozen: undefined, seq: 1, restart, useless: [...bitmaps], compact: undefined };
}

/** The chain of stopped tiles ending just before the recording bitmap, and what of its middle to merge. */
function compaction(bitmaps: readonly TrackBitmap[], recording: TrackBitmap): FreezePlan['compact'] {
  const usable = bitmaps.filter((b) => b.epoch === recording.epoch && !b.inconsistent && !b.recording && !b.busy);
  const chain: TrackBitmap[] = [];
  for (let at = recording.from - 1; at >= 0;) {
    // The widest tile ending here.
    const prev = usable.filter((b) => b.to === at).sort((a, b) => a.from - b.from)[0];
    if (!prev) break;
    chain.unshift(prev);
    at = prev.from - 1;
  }
  const tiles = chain.slice(KEPT_FIRST, chain.length - KEPT_LAST);
  if (tiles.length < 2) return undefined;
  return { tiles, name: bitmapName(recording.epoch, tiles[0].from, tiles.at(-1)!.to) };
}

/** The bitmaps whose union holds every write since view `seq` up to the freeze, in order; undefined when they do not tile it. */
export function tiling(bitmaps: readonly TrackBitmap[], epoch: string, seq: number, frozenTo: number): TrackBitmap[] | undefined {
  const usable = bitmaps.filter((b) => b.epoch === epoch && !b.inconsistent && b.to <= frozenTo);
  const out: TrackBitmap[] = [];
  for (let at = seq; at <= frozenTo;) {
    // The widest tile starting here (a merged bitmap and the tiles it was merged from may both be present).
    const next = usable.filter((b) => b.from === at).sort((a, b) => b.to - a.to)[0];
    if (!next) return undefined;
    out.push(next);
    at = next.to + 1;
  }
  return out;
}

/**
 * Bitmaps `retireToken(<epoch>-<seq>)` may remove: those starting at or before view `seq` (no later token
 * can need them; the kernel only moves forward). Never one that records, nor one exported right now.
 */
export function retirable(bitmaps: readonly TrackBitmap[], epoch: string, seq: number): TrackBitmap[] {
  return bitmaps.filter((b) => b.epoch === epoch && b.from <= seq && !b.recording && !b.busy);
}

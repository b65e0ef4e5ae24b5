// Reusable memory for received frames. A frame that arrives in several socket chunks has to be assembled
// into one buffer; taking that buffer from a pool, and giving it back once its payload has been written,
// stops every replicated byte from costing a fresh allocation (and the full garbage collections that
// external memory growing this fast sets off).
//
// Ownership rule: `acquire` hands out a buffer that the caller owns exclusively. The owner may pass views of
// it along (decoder → messenger → appliance → journal → storage) while it keeps it; `release` gives it back,
// and after that no one may read or write it — the pool hands the memory to the next frame. The recovery
// appliance releases a message's payload once every journal append that took a view of it has settled:
// the journal's writes have finished and the storage port forbids adapters to keep a caller's buffer past
// the write (StoredFile.write). Buffers that are never released are simply garbage collected.
//
// Debug builds (OPENCDP_DEBUG_BUFFERS=1, or `debug: true`) assert the rule: a buffer released twice or
// not from the pool throws, and released memory is filled with a poison pattern at once, so a reader that
// kept a view sees the poison instead of stale data (the ownership spec looks for it in journals and images).

import { OpenCdpError } from '../errors.js';

/** The debug poison: a recognisable 32-byte pattern repeated over released memory. */
export const POISON = Buffer.from('OPENCDP-POISON:released-buffer!!', 'latin1');

export interface BufferPoolOptions {
  /** Smallest pooled size (smaller requests are plain allocations). Default 64 KiB. */
  minBytes?: number;
  /** Largest pooled size. Default 8 MiB. */
  maxBytes?: number;
  /** Bytes kept on the free lists at most (default 64 MiB); beyond it released buffers are left to the GC. */
  keepBytes?: number;
  /** Assert the ownership rule and poison released memory (default: OPENCDP_DEBUG_BUFFERS=1). */
  debug?: boolean;
}

export interface BufferPoolStats {
  acquired: number;
  reused: number;
  released: number;
  freeBytes: number;
}

/** The ownership rule was broken (a debug-build assertion): a bug, not an input or environment problem. */
export class BufferPoolError extends OpenCdpError {
  constructor(message: string) {
    super('BUFFER_OWNERSHIP', message, 'this is a bug in OpenCDP: a received buffer was given back to the pool twice; please report it with the log');
  }
}

export class BufferPool {
  /** Assert the ownership rule and poison released memory; tests may switch it on for a process's pool. */
  debug: boolean;
  private readonly minBytes: number;
  private readonly maxBytes: number;
  private readonly keepBytes: number;
  /** Free slabs per size class (index = log2 of the size). */
  private readonly free: ArrayBuffer[][] = [];
  /** Every slab this pool made: true while handed out. Weak, so unreleased slabs are collected. */
  private readonly out = new WeakMap<ArrayBuffer, boolean>();
  private freeBytes = 0;
  private readonly counts = { acquired: 0, reused: 0, released: 0 };

  constructor(options: BufferPoolOptions = {}) {
    this.minBytes = options.minBytes ?? 64 * 1024;
    this.maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.keepBytes = options.keepBytes ?? 64 * 1024 * 1024;
    this.debug = options.debug ?? process.env.OPENCDP_DEBUG_BUFFERS === '1';
  }

  /** A buffer of exactly `size` bytes (contents undefined) that the caller owns until it releases it. */
  acquire(size: number): Buffer {
    if (size < this.minBytes || size > this.maxBytes) return Buffer.allocUnsafeSlow(size);
    this.counts.acquired++;
    const cls = Math.ceil(Math.log2(size));
    const list = this.free[cls];
    let slab = list?.pop();
    if (slab) {
      this.freeBytes -= slab.byteLength;
      this.counts.reused++;
    } else slab = new ArrayBuffer(2 ** cls);
    this.out.set(slab, true);
    return Buffer.from(slab, 0, size);
  }

  /**
   * Gives back the buffer `view` belongs to (any view of a pooled buffer, e.g. a frame's payload). Views of
   * memory the pool did not hand out are ignored; in debug builds a second release throws.
   */
  release(view: Buffer): void {
    const slab = view.buffer as ArrayBuffer;
    const state = this.out.get(slab);
    if (state === undefined) return; // not pooled memory (a frame that arrived in one chunk, a small one)
    if (!state) {
      if (this.debug) throw new BufferPoolError(`buffer of ${slab.byteLength} bytes released twice: the ownership rule was broken`);
      return;
    }
    this.out.set(slab, false);
    this.counts.released++;
    if (this.debug) poison(new Uint8Array(slab));
    if (this.freeBytes + slab.byteLength > this.keepBytes) {
      this.out.delete(slab);
      return;
    }
    const cls = Math.log2(slab.byteLength);
    (this.free[cls] ??= []).push(slab);
    this.freeBytes += slab.byteLength;
  }

  /** True while `view`'s memory is handed out (for assertions in callers). */
  owns(view: Buffer): boolean {
    return this.out.get(view.buffer as ArrayBuffer) === true;
  }

  stats(): BufferPoolStats {
    return { ...this.counts, freeBytes: this.freeBytes };
  }
}

function poison(bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += POISON.length) bytes.set(POISON.subarray(0, Math.min(POISON.length, bytes.length - at)), at);
}

/**
 * The pool of received frames in this process: the link's frame decoders assemble multi-chunk frames in
 * it and the recovery appliance gives payloads back once journaled. OPENCDP_RECEIVE_POOL=0 turns pooling
 * off (every frame a fresh allocation, as before the pool), for A/B measurements.
 */
export const receivePool = new BufferPool(process.env.OPENCDP_RECEIVE_POOL === '0' ? { maxBytes: 0 } : {});

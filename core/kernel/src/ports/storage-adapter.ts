// Where the recovery site keeps journals and replica volumes. The embedded default is local sparse
// files; the fake data centre keeps them in memory (with crash simulation); cloud adapters map them
// onto object or block stores. Names are '/'-separated paths relative to the adapter's root.

export const StorageAdapter = Symbol('StorageAdapter');

export interface StorageCapacity {
  totalBytes: number;
  freeBytes: number;
}

export interface StorageAdapter {
  /** Short name for logs and reports, e.g. `local-files` or `memory`. */
  readonly kind: string;
  capacity(): Promise<StorageCapacity>;
  /** Opens a file, creating it (empty, or sparse of `size` bytes) when `create` is set. */
  open(name: string, options?: { create?: boolean; size?: number }): Promise<StoredFile>;
  exists(name: string): Promise<boolean>;
  /** Names of the files under a folder prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(name: string): Promise<void>;
  /** Replaces a small file's whole content atomically and durably (write, flush, rename). */
  replace(name: string, data: Buffer): Promise<void>;
  /** Reads a whole small file, or undefined when it does not exist. */
  readAll(name: string): Promise<Buffer | undefined>;
}

export interface StoredFile {
  readonly name: string;
  size(): Promise<number>;
  /** Reads `length` bytes; bytes past the end of the file and holes read as zero. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: reads into `target` (as much of it as the file holds from `offset`) and resolves with the
   * bytes read, fewer only at the end of the file. A long scan then reuses one buffer instead of
   * allocating one per call. Callers fall back to `read` where an adapter lacks it.
   */
  readInto?(offset: number, target: Buffer): Promise<number>;
  /**
   * Writes the buffers back to back starting at `offset` (one vectored write where possible). Ownership:
   * the buffers stay the caller's. An adapter may read them only until the returned promise settles;
   * one that needs the bytes later (an in-memory store, a queue) copies them first, because the caller
   * may reuse that memory at once (the recovery appliance recycles received payload buffers).
   */
  write(offset: number, data: Buffer | readonly Buffer[]): Promise<void>;
  /** Makes everything written so far durable. */
  flush(): Promise<void>;
  /** Gives the space of a range back (reads as zero afterwards). */
  trim(offset: number, length: number): Promise<void>;
  resize(size: number): Promise<void>;
  close(): Promise<void>;
}

// Storage that fails on demand: wraps any StorageAdapter (and the files it opens) and injects the
// recovery-storage faults the conformance suite needs — I/O errors, a full store, slowness. Any
// harness uses it over its own recovery storage. A refused operation is refused before it reaches
// the wrapped store, so it changes nothing.
import type { Clock } from '../clock.js';
import { StorageError, ValidationError } from '../errors.js';
import type { StorageAdapter, StorageCapacity, StoredFile } from '../ports/storage-adapter.js';

export type StorageFault =
  | { kind: 'storage-error' }
  | { kind: 'storage-full' }
  | { kind: 'storage-slow'; delayMs: number };

export class FaultyStorage implements StorageAdapter {
  private current: StorageFault | undefined;
  private refusedCount = 0;

  constructor(readonly inner: StorageAdapter, private readonly clock: Clock) {}

  get kind(): string {
    return this.inner.kind;
  }

  get fault(): StorageFault | undefined {
    return this.current && { ...this.current };
  }

  /** Operations refused by a fault so far. */
  get refused(): number {
    return this.refusedCount;
  }

  /**
   * `storage-error`: every operation rejects with StorageError(…, 'io');
   * `storage-full`: writes, replaces, creates and growing resizes reject with StorageError(…, 'full'),
   * the rest work and `capacity` reports no free space; `storage-slow`: every operation first waits
   * `delayMs` on the clock. `undefined` clears the fault. Operations already waiting keep their fault.
   */
  setFault(fault: StorageFault | undefined): void {
    if (fault !== undefined) {
      if (fault.kind === 'storage-slow') {
        if (!(Number.isFinite(fault.delayMs) && fault.delayMs >= 0)) throw new ValidationError('delayMs must be ≥ 0', 'delayMs');
      } else if (fault.kind !== 'storage-error' && fault.kind !== 'storage-full') {
        throw new ValidationError(`unknown storage fault '${(fault as { kind: string }).kind}'`, 'kind');
      }
    }
    this.current = fault && { ...fault };
  }

  async capacity(): Promise<StorageCapacity> {
    await this.gate(false, 'capacity');
    const capacity = await this.inner.capacity();
    return this.current?.kind === 'storage-full' ? { totalBytes: capacity.totalBytes, freeBytes: 0 } : capacity;
  }

  async open(name: string, options?: { create?: boolean; size?: number }): Promise<StoredFile> {
    // Opening an existing file takes no space even with `create`; only a real creation is refused when full.
    const creates = options?.create === true && this.current?.kind === 'storage-full' && !(await this.inner.exists(name));
    await this.gate(creates, `open '${name}'`);
    return new FaultyFile(await this.inner.open(name, options), this);
  }

  async exists(name: string): Promise<boolean> {
    await this.gate(false, `exists '${name}'`);
    return this.inner.exists(name);
  }

  async list(prefix: string): Promise<string[]> {
    await this.gate(false, `list '${prefix}'`);
    return this.inner.list(prefix);
  }

  async delete(name: string): Promise<void> {
    await this.gate(false, `delete '${name}'`);
    return this.inner.delete(name);
  }

  async replace(name: string, data: Buffer): Promise<void> {
    await this.gate(true, `replace '${name}'`);
    return this.inner.replace(name, data);
  }

  async readAll(name: string): Promise<Buffer | undefined> {
    await this.gate(false, `readAll '${name}'`);
    return this.inner.readAll(name);
  }

  /**
   * Applies the current fault to one operation: waits if slow, throws if refused. After a slow wait
   * the fault is looked at again, since it may have changed meanwhile (only a slow fault delays).
   * `consumesSpace`: writes, creations, growth (refused when full); reads, trims, deletes, flushes do not.
   * @internal also used by the files this storage opens.
   */
  async gate(consumesSpace: boolean, what: string): Promise<void> {
    const fault = this.current;
    if (fault?.kind === 'storage-slow') {
      await this.clock.sleep(fault.delayMs);
      if (this.current?.kind === 'storage-slow') return;
      return this.gate(consumesSpace, what);
    }
    if (fault?.kind === 'storage-error') {
      this.refusedCount++;
      throw new StorageError(`${what}: injected I/O error on ${this.inner.kind} storage`, 'io');
    }
    if (fault?.kind === 'storage-full' && consumesSpace) {
      this.refusedCount++;
      throw new StorageError(`${what}: ${this.inner.kind} storage is full (injected)`, 'full');
    }
  }
}

class FaultyFile implements StoredFile {
  constructor(private readonly inner: StoredFile, private readonly storage: FaultyStorage) {}

  get name(): string {
    return this.inner.name;
  }

  async size(): Promise<number> {
    await this.storage.gate(false, `size of '${this.name}'`);
    return this.inner.size();
  }

  async read(offset: number, length: number): Promise<Buffer> {
    await this.storage.gate(false, `read of '${this.name}'`);
    return this.inner.read(offset, length);
  }

  async write(offset: number, data: Buffer | readonly Buffer[]): Promise<void> {
    await this.storage.gate(true, `write to '${this.name}'`);
    return this.inner.write(offset, data);
  }

  async flush(): Promise<void> {
    await this.storage.gate(false, `flush of '${this.name}'`);
    return this.inner.flush();
  }

  async trim(offset: number, length: number): Promise<void> {
    // Trimming gives space back, so a full store allows it.
    await this.storage.gate(false, `trim of '${this.name}'`);
    return this.inner.trim(offset, length);
  }

  async resize(size: number): Promise<void> {
    const grows = this.storage.fault?.kind === 'storage-full' && size > (await this.inner.size());
    await this.storage.gate(grows, `resize of '${this.name}'`);
    return this.inner.resize(size);
  }

  /**
   * Closing always reaches the wrapped file (a fault only delays it): a handle must be released even
   * on a failing store, or an appliance shutting down after an I/O error would leak it.
   */
  async close(): Promise<void> {
    if (this.storage.fault?.kind === 'storage-slow') await this.storage.gate(false, `close of '${this.name}'`);
    return this.inner.close();
  }
}

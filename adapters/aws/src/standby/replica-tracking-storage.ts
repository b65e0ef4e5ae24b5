// A StorageAdapter decorator that tells the standby chains which parts of which replica volume changed:
// every write, trim and resize of a file named `<root>/<group>/<vm>/replica/<volume>.img` (the journal's
// layout) is reported before it is passed on, so a change the store may have made is never missed.
import type { StorageAdapter, StorageCapacity, StoredFile } from '@opencdp/core';

export interface ReplicaKey {
  groupId: string;
  vmId: string;
  volumeId: string;
}

/** The standby key of a replica file name, or undefined for every other file. */
export function replicaKeyOf(name: string): ReplicaKey | undefined {
  const m = /(?:^|\/)([^/]+)\/([^/]+)\/replica\/([^/]+)\.img$/.exec(name);
  if (!m) return undefined;
  try {
    return { groupId: m[1], vmId: m[2], volumeId: decodeURIComponent(m[3]) };
  } catch {
    return undefined;
  }
}

export interface ReplicaChangeListener {
  /** Bytes [offset, offset + length) of replica `name` may have changed. */
  replicaChanged(name: string, key: ReplicaKey, offset: number, length: number): void;
  /** Replica `name` was resized (or created) to `size` bytes. */
  replicaResized(name: string, key: ReplicaKey, size: number): void;
  /** A handle on replica `name` opened (reads through it see writes not flushed yet) or closed. */
  replicaOpened?(name: string, key: ReplicaKey, file: StoredFile): void;
  replicaClosed?(name: string, key: ReplicaKey, file: StoredFile): void;
}

export class ReplicaTrackingStorage implements StorageAdapter {
  constructor(readonly inner: StorageAdapter, private readonly listener: ReplicaChangeListener) {}

  get kind(): string {
    return this.inner.kind;
  }

  capacity(): Promise<StorageCapacity> {
    return this.inner.capacity();
  }

  async open(name: string, options?: { create?: boolean; size?: number }): Promise<StoredFile> {
    const file = await this.inner.open(name, options);
    const key = replicaKeyOf(name);
    if (!key) return file;
    this.listener.replicaResized(name, key, await file.size());
    const tracked = new TrackedFile(file, key, this.listener);
    this.listener.replicaOpened?.(name, key, tracked);
    return tracked;
  }

  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  delete(name: string): Promise<void> {
    return this.inner.delete(name);
  }

  replace(name: string, data: Buffer): Promise<void> {
    const key = replicaKeyOf(name);
    if (key) this.listener.replicaResized(name, key, data.length);
    if (key) this.listener.replicaChanged(name, key, 0, data.length);
    return this.inner.replace(name, data);
  }

  readAll(name: string): Promise<Buffer | undefined> {
    return this.inner.readAll(name);
  }
}

class TrackedFile implements StoredFile {
  constructor(private readonly inner: StoredFile, private readonly key: ReplicaKey, private readonly listener: ReplicaChangeListener) {}

  get name(): string {
    return this.inner.name;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.inner.read(offset, length);
  }

  write(offset: number, data: Buffer | readonly Buffer[]): Promise<void> {
    const length = Buffer.isBuffer(data) ? data.length : data.reduce((n, b) => n + b.length, 0);
    if (Number.isSafeInteger(offset) && offset >= 0) this.listener.replicaChanged(this.name, this.key, offset, length);
    return this.inner.write(offset, data);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  trim(offset: number, length: number): Promise<void> {
    if (Number.isSafeInteger(offset) && offset >= 0) this.listener.replicaChanged(this.name, this.key, offset, length);
    return this.inner.trim(offset, length);
  }

  async resize(size: number): Promise<void> {
    const before = await this.inner.size();
    if (Number.isSafeInteger(size) && size >= 0) {
      this.listener.replicaResized(this.name, this.key, size);
      // Shrinking zeroes the tail; growing adds zeros the old standby did not hold either way.
      if (size < before) this.listener.replicaChanged(this.name, this.key, size, before - size);
    }
    return this.inner.resize(size);
  }

  close(): Promise<void> {
    this.listener.replicaClosed?.(this.name, this.key, this);
    return this.inner.close();
  }
}

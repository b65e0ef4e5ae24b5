// The run state all parts of one manager share: whether it is stopping (parts then start no new work and
// write nothing more), the background work still running (tasks, peer syncs) that `stop` waits for, and
// the address the REST API serves on once it listens (pairing hands it to the peer).
export class ManagerLifecycle {
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  /** `https://host:port` (or `http://`) of the REST API, once it listens. */
  address?: string;
  /** SHA-256 fingerprint of the REST API's certificate when it serves HTTPS (pairing hands it to the peer to pin). */
  tlsFingerprint?: string;

  get stopped(): boolean {
    return this.stopping;
  }

  /** From now on parts start nothing new; what runs finishes its bookkeeping. */
  markStopped(): void {
    this.stopping = true;
  }

  /** Counts `p` as running work until it settles (its outcome is the caller's business). */
  track(p: Promise<unknown>): void {
    const done = p.then(() => undefined, () => undefined);
    this.running.add(done);
    void done.then(() => this.running.delete(done));
  }

  /** Resolves when no work tracked so far is still running. */
  async whenIdle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

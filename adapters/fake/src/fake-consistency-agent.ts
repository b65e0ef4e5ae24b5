// A stand-in for a VSS / fsfreeze agent on the fake data centre: quiesce holds the VM's new guest
// writes (they wait, they do not fail) until thaw, and every call is logged so tests can check the
// kernel quiesced and thawed exactly once around an application-consistent checkpoint.
import { inject, injectable } from 'inversify';
import { ValidationError } from '@opencdp/core';
import type { ConsistencyAgent, QuiesceToken, VmId } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { QuiesceError } from './fake-errors.js';

export interface ConsistencyLogEntry {
  action: 'quiesce' | 'thaw';
  vmId: VmId;
  /** The token's handle; absent for a failed quiesce. */
  handle?: string;
  /** Clock time of the call. */
  at: number;
  ok: boolean;
  error?: string;
}

@injectable()
export class FakeConsistencyAgent implements ConsistencyAgent {
  readonly name = 'fake';
  private readonly entries: ConsistencyLogEntry[] = [];
  private readonly releases = new Map<string, () => void>();
  private readonly excluded = new Set<VmId>();
  private pendingFailure: string | undefined;
  private counter = 0;

  constructor(@inject(FakeDataCenter) private readonly dc: FakeDataCenter) {}

  /** Every quiesce and thaw so far, oldest first. */
  get log(): readonly ConsistencyLogEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** VMs currently quiesced (one entry per open token). */
  get quiesced(): VmId[] {
    return [...this.releases.keys()].map((h) => this.entries.find((e) => e.handle === h)!.vmId);
  }

  /** Any VM of the data centre, unless excluded to model a VM without an agent. */
  handles(vmId: VmId): boolean {
    try {
      this.dc.getVm(vmId);
    } catch {
      return false;
    }
    return !this.excluded.has(vmId);
  }

  /** Models a VM whose guest has no agent installed (`handles` answers false, quiesce fails). */
  exclude(vmId: VmId): void {
    this.excluded.add(vmId);
  }

  /** The next quiesce fails with a QuiesceError (and holds nothing). */
  failNextQuiesce(reason = 'injected failure'): void {
    this.pendingFailure = reason;
  }

  async quiesce(vmId: VmId): Promise<QuiesceToken> {
    const at = this.dc.clock.now();
    const failure = this.pendingFailure ?? (this.excluded.has(vmId) ? 'no agent in this guest' : undefined);
    this.pendingFailure = undefined;
    let release: () => void;
    try {
      if (failure !== undefined) throw new QuiesceError(vmId, failure);
      release = this.dc.holdWrites(vmId);
    } catch (error) {
      this.entries.push({ action: 'quiesce', vmId, at, ok: false, error: (error as Error).message });
      throw error;
    }
    const handle = `quiesce-${++this.counter}`;
    this.releases.set(handle, release);
    this.entries.push({ action: 'quiesce', vmId, handle, at, ok: true });
    return { vmId, handle };
  }

  async thaw(token: QuiesceToken): Promise<void> {
    const at = this.dc.clock.now();
    const release = this.releases.get(token.handle);
    const quiesced = this.entries.find((e) => e.handle === token.handle && e.action === 'quiesce');
    if (!release || quiesced?.vmId !== token.vmId) {
      const error = new ValidationError(`'${token.handle}' is not an open quiesce of VM '${token.vmId}'`, 'token', 'thaw each token once');
      this.entries.push({ action: 'thaw', vmId: token.vmId, handle: token.handle, at, ok: false, error: error.message });
      throw error;
    }
    this.releases.delete(token.handle);
    release();
    this.entries.push({ action: 'thaw', vmId: token.vmId, handle: token.handle, at, ok: true });
  }
}

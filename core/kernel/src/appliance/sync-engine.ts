// The sync engine of a splitter-fed group: initial copies (every non-zero block), delta syncs (a hash
// comparison with the receiver's image; only differing blocks cross), volume initial syncs for added VMs
// and volumes, and bitmap syncs (regions recorded while the group could not stream). One runs at a time;
// each sends ordinary sequenced writes through the stream, in slots reserved before reading the volume.
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { VmId, VmInfo } from '../model.js';
import type { ReplicationPhase } from '../status/group-status.js';
import { deltaSync } from '../sync/delta-sync.js';
import type { DirtyBitmap } from '../sync/dirty-bitmap.js';
import { nonZeroRuns } from '../sync/non-zero-runs.js';
import type { GroupPhase } from './group-phase.js';
import type { LinkSession } from './link-session.js';
import { SyncInterruptedError, type SendStream, type WriteItem } from './send-stream.js';

export interface SyncEngineParts {
  groupId: string;
  hypervisor: HypervisorAdapter;
  phase: GroupPhase;
  stream: SendStream;
  link: LinkSession;
  /** The group's VMs on this appliance (the live list). */
  vms: VmInfo[];
  /** Registered volumes and their VM (the live map). */
  volumeVm: Map<string, VmId>;
  /** Where recorded regions are kept (replaced when the group's volumes change). */
  bitmap(): DirtyBitmap;
  /** VMs whose writes nobody splits right now: a sync would be stale the moment it ends. */
  tapsDown(): number;
  stopped(): boolean;
  scheduleRetry(): void;
  /** A sync finished and the group streams again; `finished` is the phase it ended. */
  synced(finished: ReplicationPhase): void;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export class SyncEngine {
  /** The whole-group sync due next: a full copy, or a comparison with the receiver. */
  pending?: 'initial' | 'delta';
  /** Volumes added to the running group (with their VM, or alone) that still need their initial copy. */
  readonly pendingVolumes = new Set<string>();
  private syncing?: Promise<void>;

  constructor(private readonly parts: SyncEngineParts, preseeded: boolean) {
    this.pending = preseeded ? 'delta' : 'initial';
  }

  /** The receiver's journals hold something already (our state was lost, e.g. a restart): compare instead of copying. */
  receiverNotFresh(): void {
    if (this.pending === 'initial') this.pending = 'delta';
  }

  /** Compares both sides block by block and re-sends what differs (delta sync, trigger ForceSync). */
  forceSync(): void {
    this.pending = 'delta';
    this.parts.phase.trigger = 'ForceSync';
    this.kick();
  }

  /** Runs whatever sync is due (initial, delta or bitmap), then streams. One at a time. */
  kick(): void {
    const { phase, link, stream } = this.parts;
    // A sync while some VM's writes are not split would be stale the moment it ends.
    if (this.syncing || this.parts.stopped() || !link.connected || !link.groupOpened || phase.storageError || this.parts.tapsDown() > 0) return;
    if (phase.paused) return;
    if (link.refusedByReceiver) {
      // The receiver drops our writes until a probe clears its refusal (a user resumed a journal-full pause early).
      this.parts.scheduleRetry();
      return;
    }
    this.syncing = (async () => {
      try {
        for (;;) {
          if (this.pending === 'initial') {
            phase.set('initial-sync', undefined);
            // A full copy covers every recorded region and every added VM.
            this.pendingVolumes.clear();
            this.parts.bitmap().clear();
            await this.fullCopy(this.parts.vms);
            this.pending = undefined;
          } else if (this.pending === 'delta') {
            phase.set('delta-sync', phase.trigger === 'ForceSync' ? 'ForceSync' : phase.trigger);
            // The comparison covers every block, so what the bitmap recorded so far is covered too.
            this.parts.bitmap().clear();
            await this.compareAndSend();
            this.pending = undefined;
          } else if (this.pendingVolumes.size > 0) {
            phase.set('volume-initial-sync', 'ConfigurationChanged');
            const added = [...this.pendingVolumes];
            await this.fullCopy(this.parts.vms.map((vm) => ({ ...vm, volumes: vm.volumes.filter((v) => added.includes(v.id)) })).filter((vm) => vm.volumes.length > 0));
            for (const id of added) this.pendingVolumes.delete(id);
          } else if (!this.parts.bitmap().isEmpty) {
            phase.set('bitmap-sync', phase.trigger ?? 'RecoveryApplianceCommunicationProblem');
            await this.resendBitmap();
          }
          await stream.drained();
          if (!link.connected || phase.storageError || phase.phase === 'recording' || phase.paused) return;
          if (this.pending === undefined && this.pendingVolumes.size === 0 && this.parts.bitmap().isEmpty) break;
        }
        const finished = phase.phase;
        phase.streaming();
        this.parts.synced(finished);
      } catch (e) {
        this.parts.log?.('sync-interrupted', { groupId: this.parts.groupId, message: (e as Error).message });
      } finally {
        this.syncing = undefined;
        // Whatever stopped the sync (link, storage, a failed read), it runs again after the retry interval.
        if (phase.phase !== 'streaming') this.parts.scheduleRetry();
      }
    })();
  }

  /** Throws when the group left the state a sync needs (link down, storage failed, stopped, recording, paused). */
  assertSyncing(): void {
    const { phase, link } = this.parts;
    if (!link.connected || phase.storageError || this.parts.stopped() || phase.interruptsSync) {
      throw new SyncInterruptedError(this.parts.groupId, phase.phase);
    }
  }

  /** Initial sync: every non-zero block of the VMs' volumes (the recovery replica starts as zeros). */
  private async fullCopy(vms: VmInfo[]): Promise<void> {
    const chunk = 1024 * 1024;
    for (const vm of vms) {
      for (const v of vm.volumes) {
        for (let off = 0; off < v.sizeBytes; off += chunk) {
          this.assertSyncing();
          const len = Math.min(chunk, v.sizeBytes - off);
          // Reserve the sequence numbers before reading: a guest write after the read point overrides it.
          const slot = await this.parts.stream.reserveSlot(len / 4096 + 1, () => this.assertSyncing());
          const data = await this.parts.hypervisor.readVolume(vm.id, v.id, off, len);
          let s = slot.first;
          slot.fill(nonZeroRuns(data, Math.max(4096, v.sectorSize)).map(([start, end]) => ({ kind: 'write', seq: s++, vmId: vm.id, volumeId: v.id, offset: off + start, data: data.subarray(start, end) })));
        }
      }
    }
  }

  /** Delta sync: a hash-tree comparison against the receiver's current image; only differing blocks cross. */
  private async compareAndSend(): Promise<void> {
    const hv = this.parts.hypervisor;
    for (const vm of this.parts.vms) {
      for (const v of vm.volumes) {
        this.assertSyncing();
        await deltaSync({
          sizeBytes: v.sizeBytes,
          readLocal: (offset, length) => hv.readVolume(vm.id, v.id, offset, length),
          remote: { hashBlocks: (req) => this.hashBlocks(vm.id, v.id, req) },
          sendBlock: async (offset, data) => {
            this.assertSyncing();
            // Re-read after reserving the sequence numbers: the block may have changed since it was hashed.
            // Sent in pieces of at most 1 MiB, like every other sync, so that any piece fits a small journal.
            const piece = 1024 * 1024;
            const slot = await this.parts.stream.reserveSlot(Math.ceil(data.length / piece), () => this.assertSyncing());
            const fresh = await hv.readVolume(vm.id, v.id, offset, data.length);
            const items: WriteItem[] = [];
            for (let at = 0; at < fresh.length; at += piece) {
              items.push({ kind: 'write', seq: slot.first + items.length, vmId: vm.id, volumeId: v.id, offset: offset + at, data: fresh.subarray(at, Math.min(at + piece, fresh.length)) });
            }
            slot.fill(items);
          },
        });
      }
    }
  }

  private async resendBitmap(): Promise<void> {
    const hv = this.parts.hypervisor;
    const bitmap = this.parts.bitmap();
    const regions = bitmap.take();
    let i = 0;
    let at = regions[0]?.offset ?? 0;
    try {
      for (; i < regions.length; i++) {
        const r = regions[i];
        const vmId = this.parts.volumeVm.get(r.volumeId)!;
        for (at = Math.max(at, r.offset); at < r.offset + r.length; at += 1024 * 1024) {
          this.assertSyncing();
          const len = Math.min(1024 * 1024, r.offset + r.length - at);
          const slot = await this.parts.stream.reserveSlot(1, () => this.assertSyncing());
          const data = await hv.readVolume(vmId, r.volumeId, at, len);
          slot.fill([{ kind: 'write', seq: slot.first, vmId, volumeId: r.volumeId, offset: at, data }]);
        }
        at = regions[i + 1]?.offset ?? 0;
      }
    } catch (e) {
      // Whatever was taken from the bitmap and not yet queued goes back into it: nothing is forgotten.
      if (i < regions.length) {
        const r = regions[i];
        this.parts.bitmap().mark(r.volumeId, at, r.offset + r.length - at);
        for (const rest of regions.slice(i + 1)) this.parts.bitmap().mark(rest.volumeId, rest.offset, rest.length);
      }
      throw e;
    }
  }

  private async hashBlocks(vmId: VmId, volumeId: string, req: { offset: number; length: number; blockBytes: number }): Promise<Buffer> {
    this.assertSyncing();
    return this.parts.link.hashBlocks(vmId, volumeId, req);
  }
}

// Where a change-tracking cycle puts what it reads on an appliance: the group's stream, in slots (so the
// writes go out in sequence order, like any sync's, under the same send window, buffer limits and group
// priorities), with the recovery appliance's hashes for delta syncs, and a check that stops the cycle
// when the group can no longer send (link down, paused, storage failed, stopped, killed, or the stream
// was spilled meanwhile).
import type { CycleSink } from '../capture/cycle-reader.js';
import type { VmId } from '../model.js';
import type { GroupPhase } from './group-phase.js';
import type { LinkSession } from './link-session.js';
import { SyncInterruptedError, type SendStream } from './send-stream.js';

export function streamSink(
  parts: { groupId: string; stream: SendStream; link: LinkSession; phase: GroupPhase; stopped(): boolean; makeRoom(bytes: number): void },
  spills: number, killed: () => boolean, queued: (vmId: VmId, lastSeq: number) => void,
): CycleSink {
  const { stream, link, phase, groupId } = parts;
  const check = (): void => {
    if (!link.connected || phase.storageError || parts.stopped() || killed() || phase.interruptsSync || stream.spills !== spills) {
      throw new SyncInterruptedError(groupId, phase.phase);
    }
  };
  return {
    put: async (vmId, volumeId, writes) => {
      // The appliance's shared buffer: past its limit the lowest-priority group falls back first (this one too).
      parts.makeRoom(writes.reduce((n, w) => n + w.data.length, 0));
      const slot = await stream.reserveSlot(writes.length, check);
      slot.fill(writes.map((w, i) => ({ kind: 'write', seq: slot.first + i, vmId, volumeId, offset: w.offset, data: w.data })));
      queued(vmId, slot.first + writes.length - 1);
    },
    remote: (vmId, volumeId) => ({
      hashBlocks: (req) => {
        check();
        return link.hashBlocks(vmId, volumeId, req);
      },
    }),
    check,
  };
}

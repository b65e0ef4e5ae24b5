// The protected site's appliance (one per host): it runs a `GroupSender` per protected group — which takes
// the group's changes from its capture path, stamps the group's sequence number, buffers (bounded),
// compresses and sends them to the recovery appliance — and shares one replication buffer between them:
// past 90 % the lowest-priority group falls back first. The parts of a group's sender live beside this
// file: group-phase (its state machine), send-stream, link-session, splitter-capture with sync-engine,
// or change-tracking-capture, and group-lifecycle.
import { captureModeOf, checkCycleInterval } from '../capture/capture-mode.js';
import { ValidationError } from '../errors.js';
import { GroupSender, type GroupProtection } from './group-sender.js';
import type { ProtectedApplianceOptions } from './protected-appliance-options.js';
import { SEND_FILL } from './send-stream.js';

export type { ProtectedApplianceOptions } from './protected-appliance-options.js';
export { GroupSender, type GroupProtection, type SenderState, type SenderStats } from './group-sender.js';
export { SyncInterruptedError } from './send-stream.js';
export type { CaptureNotice, CaptureStats } from './capture-path.js';

export class ProtectedAppliance {
  private readonly senders = new Map<string, GroupSender>();

  constructor(readonly options: ProtectedApplianceOptions) {}

  get bufferBytes(): number {
    return this.options.bufferBytes ?? 64 * 1024 * 1024;
  }

  /** Starts protecting a group's VMs (those on this appliance's host). */
  async protect(group: GroupProtection): Promise<GroupSender> {
    if (this.senders.has(group.groupId)) throw new ValidationError(`group '${group.groupId}' is already protected by this appliance`, 'groupId');
    const hv = this.options.hypervisor;
    if (captureModeOf(hv, group.capture) === 'change-tracking') checkCycleInterval(hv.changeTracking!, group.settings.checkpointIntervalMs, hv.platform);
    const vms = await Promise.all(group.vmIds.map((id) => this.options.hypervisor.getVm(id)));
    const sender = new GroupSender(this, group, vms);
    this.senders.set(group.groupId, sender);
    await sender.start();
    return sender;
  }

  group(groupId: string): GroupSender | undefined {
    return this.senders.get(groupId);
  }

  get bufferedBytes(): number {
    let n = 0;
    for (const s of this.senders.values()) n += s.bufferedBytes;
    return n;
  }

  /**
   * Makes room for `bytes` in the shared buffer: past 90 %, the lowest-priority group holding buffer
   * falls back to its bitmap first. Returns false when `requester` itself had to fall back.
   */
  makeRoom(requester: GroupSender, bytes: number): boolean {
    const limit = SEND_FILL * this.bufferBytes;
    while (this.bufferedBytes + bytes > limit) {
      const victims = [...this.senders.values()].filter((s) => s.bufferedBytes > 0 && s.streamingData);
      if (victims.length === 0) break;
      victims.sort((a, b) => a.priority - b.priority || b.bufferedBytes - a.bufferedBytes);
      const victim = victims[0];
      victim.congested();
      if (victim === requester) return false;
    }
    return this.bufferedBytes + bytes <= limit || requester.bufferedBytes === 0;
  }

  async stop(): Promise<void> {
    for (const s of this.senders.values()) await s.stop();
  }

  /** Stops every group at once, as a kill -9 would (crash tests): views stay on the platform, links drop. */
  async kill(): Promise<void> {
    for (const s of this.senders.values()) await s.kill();
  }
}

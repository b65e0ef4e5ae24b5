// Which capture mode a group runs in: the splitter where the platform has one (every write, true CDP),
// change tracking where it has only that (a cycle of frozen views; RPO = the cycle). The choice follows
// the platform; a group asks for one only where the platform offers both. Mixing modes in one group is
// refused: its checkpoints could not mean the same thing on every VM.
import { OpenCdpError, ValidationError } from '../errors.js';
import type { ChangeTracking } from '../ports/change-tracking.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';

export type CaptureMode = 'splitter' | 'change-tracking';

export const CAPTURE_MODES: readonly CaptureMode[] = ['splitter', 'change-tracking'];

/** A group cannot run in the capture mode asked for (or its parts run in different ones). */
export class CaptureModeError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('CAPTURE_MODE', message, hint);
  }
}

/** The mode `hypervisor` gives a group: `wanted` when it offers that, else the splitter if it has one, else change tracking. */
export function captureModeOf(hypervisor: HypervisorAdapter, wanted?: CaptureMode): CaptureMode {
  const offers: CaptureMode[] = [];
  if (hypervisor.openTap) offers.push('splitter');
  if (hypervisor.changeTracking) offers.push('change-tracking');
  if (wanted !== undefined && !CAPTURE_MODES.includes(wanted)) throw new ValidationError(`unknown capture mode '${String(wanted)}'`, 'capture', `use ${CAPTURE_MODES.join(' or ')}`);
  if (offers.length === 0) throw new CaptureModeError(`platform '${hypervisor.platform}' offers neither a write splitter nor change tracking`, 'the adapter must implement openTap or changeTracking');
  if (wanted && !offers.includes(wanted)) {
    throw new CaptureModeError(`platform '${hypervisor.platform}' offers no ${wanted === 'splitter' ? 'write splitter' : 'change tracking'}`, `protect the group in ${offers.join(' or ')} mode`);
  }
  return wanted ?? offers[0];
}

/** Refuses a cycle shorter than the platform supports, naming its minimum; changes nothing. */
export function checkCycleInterval(tracking: ChangeTracking, intervalMs: number, platform: string): void {
  if (intervalMs < tracking.minIntervalMs) {
    throw new ValidationError(
      `checkpointIntervalMs ${intervalMs} is below the ${tracking.minIntervalMs} ms minimum of platform '${platform}' in change-tracking mode (one view per cycle)`,
      'checkpointIntervalMs', `set checkpointIntervalMs to ${tracking.minIntervalMs} or more`,
    );
  }
}

/** Refuses a group whose parts (e.g. the senders of several appliances) capture in different modes. */
export function checkOneMode(groupId: string, parts: readonly { mode: CaptureMode; where: string }[]): CaptureMode | undefined {
  const modes = new Set(parts.map((p) => p.mode));
  if (modes.size <= 1) return parts[0]?.mode;
  throw new CaptureModeError(
    `group '${groupId}' mixes capture modes: ${parts.map((p) => `${p.where} runs ${p.mode}`).join(', ')}`,
    'protect a group\'s VMs on platforms of one capture mode, or split the group',
  );
}

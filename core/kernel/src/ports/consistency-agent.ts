// Application consistency (the anchor's VSS agent): quiesce the guest's applications, cut a checkpoint
// while they are quiet, thaw. Plugins implement it with fsfreeze, Windows VSS or a user's scripts.
import type { VmId } from '../model.js';

export const ConsistencyAgent = Symbol('ConsistencyAgent');

export interface QuiesceToken {
  vmId: VmId;
  /** Agent-specific handle passed back to `thaw`. */
  handle: string;
}

export interface ConsistencyAgent {
  readonly name: string;
  /** True when this agent can quiesce the VM. */
  handles(vmId: VmId): boolean;
  quiesce(vmId: VmId): Promise<QuiesceToken>;
  thaw(token: QuiesceToken): Promise<void>;
}

/** Contribution point: every registered agent (an empty list, never undefined). */
export const ConsistencyAgentProvider = Symbol('ConsistencyAgentProvider');
export interface ConsistencyAgentProvider {
  getAgents(): ConsistencyAgent[];
}

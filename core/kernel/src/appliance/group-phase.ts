// The state machine of a protected group's replication on one appliance: its phase (which the status
// engine maps to the anchor's sub-status), the sync trigger, a recovery-side storage failure, and whether
// a sync may cost the journal its history. Every change of phase goes through here, so the rules below
// are the one place that says what a group does next.
//
//   creating ─► initial-sync | delta-sync ──────────────► streaming ◄──────────────────────┐
//      any ─► recording (link down, congestion, receiver fallback, VM removed; trigger says why)
//      recording ─► bitmap-sync | delta-sync | volume-initial-sync (link back, retry) ──────┘
//      any ─► paused-user (pause) ─► recording (resume, ConfigurationChanged) ─► a sync
//      any ─► paused-system (journal-full) ─► recording (pause over, trigger kept) ─► the sync again
//      streaming ─► delta-sync (tap closed, force sync, token lost) | volume-initial-sync (VM or volume added)
//
// Entering a pause hands every unacknowledged write back to the capture path (`onPause`) before the
// change is announced, so a paused group never sends.
import type { ReplicationPhase, SyncTrigger } from '../status/group-status.js';

/** Phases in which new writes are sent as they come (not recorded for a later sync). */
const SENDING: readonly ReplicationPhase[] = ['initial-sync', 'delta-sync', 'bitmap-sync', 'streaming', 'volume-initial-sync'];

export interface GroupPhaseHooks {
  /** The group entered a pause: unacknowledged writes must leave the stream. */
  onPause(): void;
  /** Phase or trigger changed (also called by `announce`). */
  onChange(): void;
}

export class GroupPhase {
  private phaseValue: ReplicationPhase = 'creating';
  private triggerValue?: SyncTrigger;
  private causeValue?: string;
  /** The recovery site reported a failed journal or replica; cleared by a successful probe. */
  storageError?: 'journal' | 'recovery';
  /** After a system pause (S6) the sync may cost the journal its history; until it completes. */
  historyLossAllowed = false;

  constructor(private readonly hooks: GroupPhaseHooks) {}

  get phase(): ReplicationPhase {
    return this.phaseValue;
  }

  get trigger(): SyncTrigger | undefined {
    return this.triggerValue;
  }

  /** Changes the trigger the next sync reports, without announcing it (a force sync asked for). */
  set trigger(trigger: SyncTrigger | undefined) {
    this.triggerValue = trigger;
  }

  /** Why the group is in this phase, in words, when a trigger alone does not say (e.g. a lost change-tracking token). */
  get cause(): string | undefined {
    return this.causeValue;
  }

  get paused(): boolean {
    return this.phaseValue === 'paused-user' || this.phaseValue === 'paused-system';
  }

  /** New writes are sent as they come (the link and storage permitting). */
  get sending(): boolean {
    return SENDING.includes(this.phaseValue);
  }

  /** A sync under way must stop: the group records changes or is paused. */
  get interruptsSync(): boolean {
    return this.phaseValue === 'recording' || this.paused;
  }

  /** Moves to `phase` with `trigger` (and `cause`); announces the change (if any) after a pause spilled the stream. */
  set(phase: ReplicationPhase, trigger: SyncTrigger | undefined, cause?: string): void {
    const changed = phase !== this.phaseValue || trigger !== this.triggerValue || cause !== this.causeValue;
    this.phaseValue = phase;
    this.triggerValue = trigger;
    this.causeValue = cause;
    if (this.paused) this.hooks.onPause();
    if (changed) this.hooks.onChange();
  }

  /** Stops sending and records changes for a later sync, for `trigger`'s reason. */
  fallBack(trigger: SyncTrigger | undefined, cause?: string): void {
    this.set('recording', trigger, cause);
  }

  /** Every sync is done: new writes stream and checkpoints may be cut. */
  streaming(): void {
    this.historyLossAllowed = false;
    this.set('streaming', undefined);
  }

  /** Announces the current state again (the link state changed while the phase did not). */
  announce(): void {
    this.hooks.onChange();
  }
}

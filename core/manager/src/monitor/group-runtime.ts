// The figures of one group from the monitor's latest poll, read by the REST views and the metrics. Not
// stored: a restarted manager recomputes them from the appliances' counters.
import type { GroupFacts, RecoveryKind } from '@opencdp/core';

export interface GroupRuntime {
  at: number;
  actualRpoMs?: number;
  iops: number;
  throughputBytesPerSec: number;
  wanBytesPerSec: number;
  wanBytes: number;
  writtenBytes: number;
  bitmapBytes: number;
  journalUsedBytes: number;
  journalHardLimitBytes: number;
  journalWarningBytes: number;
  historyMs: number;
  earliestCheckpointAt?: number;
  historyStatus: 'ok' | 'warning' | 'error';
  journals: NonNullable<GroupFacts['journals']>;
  activeOperation?: { kind: RecoveryKind; phase: string };
  prev?: { at: number; writes: number; writtenBytes: number; wireBytes: number };
}

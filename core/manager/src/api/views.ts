// How the manager's records look on the REST API: field names after the anchor's /v1 (vpgIdentifier,
// actualRPO, historyStatusApi, …), enum codes as numbers, times as ISO-8601 strings.
import { PRIORITY_CODES } from '@opencdp/core';
import type { Checkpoint, RecoveryReport } from '@opencdp/core';
import type { ManagerParts } from '../manager-parts.js';
import type { AlertRow, EventRow, GroupRow, SiteRow, TaskRow } from '../store.js';
import { TaskState } from '../store.js';

const MB = 1024 * 1024;
export const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** `alertStatus`: preloaded for a list (one query for all groups instead of one per group). */
export function groupView({ monitor, alerts }: Pick<ManagerParts, 'monitor' | 'alerts'>, g: GroupRow, alertStatus?: Map<string, number>): Record<string, unknown> {
  const rt = monitor.runtimeOf(g.id);
  const state = g.state;
  return {
    vpgIdentifier: g.id,
    vpgName: g.name,
    vmsCount: g.vmIds.length,
    vmIdentifiers: g.vmIds,
    priority: PRIORITY_CODES[g.settings.priority],
    status: state?.statusCode ?? 0,
    subStatus: state?.subStatusCode ?? 2,
    statusName: state?.status ?? 'Initializing',
    subStatusName: state?.subStatus ?? 'Creating',
    statusReason: state?.reason ?? 'not evaluated yet',
    syncTrigger: state?.trigger ?? null,
    health: state?.health ?? 'orange',
    lifecycle: g.lifecycle,
    actualRPO: rt?.actualRpoMs !== undefined ? Math.round(rt.actualRpoMs / 1000) : -1,
    configuredRpoSeconds: g.settings.rpoTargetSeconds,
    checkpointIntervalMs: g.settings.checkpointIntervalMs,
    historyStatusApi: {
      actualHistoryInMinutes: rt ? Math.floor(rt.historyMs / 60_000) : 0,
      configuredHistoryInMinutes: Math.round(g.settings.journalHistoryHours * 60),
      earliestCheckpoint: iso(rt?.earliestCheckpointAt),
      status: rt?.historyStatus ?? 'ok',
    },
    ioPs: round(rt?.iops ?? 0),
    throughputInMB: round((rt?.throughputBytesPerSec ?? 0) / MB, 3),
    wanThroughputInMB: round((rt?.wanBytesPerSec ?? 0) / MB, 3),
    wanBytes: rt?.wanBytes ?? 0,
    bitmapBytes: rt?.bitmapBytes ?? 0,
    provisionedStorageInMB: round(g.provisionedBytes / MB),
    usedStorageInMB: round((rt?.journalUsedBytes ?? 0) / MB),
    lastTest: g.lastTest ? { time: iso(g.lastTest.at), success: g.lastTest.success, summary: g.lastTest.summary ?? null } : null,
    alertStatus: alertStatus ? alertStatus.get(g.id) ?? 0 : alerts.status(g.id),
    activeOperation: rt?.activeOperation ?? null,
    protectedSiteIdentifier: g.protectedSiteId,
    recoverySiteIdentifier: g.recoverySiteId,
    createdAt: iso(g.createdAt),
    settings: g.settings,
    recoveryPlan: g.plan,
  };
}

const CSV_COLUMNS = [
  'vpgName', 'vpgIdentifier', 'statusName', 'subStatusName', 'health', 'protectedSiteIdentifier', 'recoverySiteIdentifier', 'priority', 'vmsCount',
  'actualRPO', 'configuredRpoSeconds', 'ioPs', 'throughputInMB', 'wanThroughputInMB', 'provisionedStorageInMB', 'usedStorageInMB', 'alertStatus',
] as const;

/** RFC 4180 CSV of the groups (the VPGs tab's EXPORT). */
export function groupsCsv(rows: Record<string, unknown>[]): string {
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}

const TASK_STATE_NAMES = Object.fromEntries(Object.entries(TaskState).map(([k, v]) => [v, k]));

export function taskView(t: TaskRow, isCancellable = false): Record<string, unknown> {
  return {
    taskIdentifier: t.id, type: t.type, vpgIdentifier: t.groupId ?? null,
    status: { state: t.state, stateName: TASK_STATE_NAMES[t.state], progress: t.progress, step: t.step },
    started: iso(t.startedAt), completed: iso(t.completedAt), error: t.error ?? null, initiatedBy: t.user ?? null, isCancellable, result: t.result ?? null,
  };
}

export function eventView(e: EventRow): Record<string, unknown> {
  return { eventIdentifier: String(e.id), occurredOn: iso(e.at), eventType: e.type, vpgIdentifier: e.groupId ?? null, description: e.description, user: e.user ?? null };
}

export function alertView(a: AlertRow): Record<string, unknown> {
  return {
    alertIdentifier: a.id, vpgIdentifier: a.groupId || null, siteIdentifier: a.siteId ?? null, type: a.type, level: a.level, description: a.description,
    turnedOn: iso(a.raisedAt), isDismissed: a.dismissed, cleared: iso(a.clearedAt),
  };
}

export function checkpointView(c: Checkpoint): Record<string, unknown> {
  return { checkpointIdentifier: c.id, timeStamp: iso(c.timestamp), tag: c.tag ?? null, type: c.kind, seq: c.seq };
}

export function siteView(s: SiteRow): Record<string, unknown> {
  return { siteIdentifier: s.id, siteName: s.name, role: s.role, hostName: s.address || null, pairedAt: iso(s.pairedAt), certificateFingerprint: s.tlsFingerprint ?? null };
}

export function reportView(r: RecoveryReport): Record<string, unknown> {
  return {
    reportIdentifier: r.id, vpgIdentifier: r.groupId, vpgName: r.groupName, recoveryType: r.kind, state: r.result,
    checkpointIdentifier: r.checkpoint.id, checkpointTimeStamp: iso(r.checkpoint.timestamp), startTime: iso(r.startedAt), endTime: iso(r.endedAt),
    summary: r.summary ?? null,
    steps: r.steps.map((s) => ({ name: s.name, startTime: iso(s.startedAt), endTime: iso(s.endedAt), result: s.result, detail: s.detail ?? null })),
    vms: r.vms.map((v) => ({ sourceVmIdentifier: v.sourceVmId, recoveredVmIdentifier: v.recoveredVmId, name: v.name, networkIdentifiers: v.networkIds, bootGroup: v.bootGroup ?? null, poweredOnAt: iso(v.poweredOnAt) })),
  };
}

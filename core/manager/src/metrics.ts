// Prometheus figures of the manager (prom-client, one registry per manager so two managers in one
// process do not mix): per-group RPO, IOPS, throughput, WAN bytes, journal use and history, bitmap size,
// and task counts per state. Values are read at scrape time from the monitor's latest poll.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ManagerParts } from './manager-parts.js';
import { TaskState } from './store.js';

export class ManagerMetrics {
  readonly registry = new Registry();

  constructor(parts: Pick<ManagerParts, 'store' | 'monitor'> & Partial<Pick<ManagerParts, 'scheduler'>>, options: { defaultMetrics?: boolean } = {}) {
    const { store, monitor, scheduler } = parts;
    const labelNames = ['vpg', 'vpg_name'] as const;
    const perGroup = (name: string, help: string, pick: (id: string) => number | undefined): void => {
      new Gauge({
        name, help, labelNames, registers: [this.registry],
        collect() {
          this.reset();
          for (const g of store.listGroups()) {
            const v = pick(g.id);
            if (v !== undefined && Number.isFinite(v)) this.set({ vpg: g.id, vpg_name: g.name }, v);
          }
        },
      });
    };
    const rt = (id: string) => monitor.runtimeOf(id);
    perGroup('opencdp_vpg_rpo_seconds', 'Time since the latest checkpoint reached the journal', (id) => (rt(id)?.actualRpoMs !== undefined ? rt(id)!.actualRpoMs! / 1000 : undefined));
    perGroup('opencdp_vpg_iops', 'Guest writes per second sent by the protected appliance', (id) => rt(id)?.iops);
    perGroup('opencdp_vpg_throughput_bytes_per_second', 'Guest bytes written per second', (id) => rt(id)?.throughputBytesPerSec);
    perGroup('opencdp_vpg_wan_bytes_per_second', 'Bytes per second on the site link (after compression)', (id) => rt(id)?.wanBytesPerSec);
    // A counter (it only grows while the protected appliance runs; a restart starts it again, which rate() handles).
    new Counter({
      name: 'opencdp_vpg_wan_bytes_total', help: 'Bytes sent on the site link since the protected appliance started the group (after compression)', labelNames, registers: [this.registry],
      collect() {
        this.reset();
        for (const g of store.listGroups()) {
          const v = rt(g.id)?.wanBytes;
          if (v !== undefined && Number.isFinite(v) && v >= 0) this.inc({ vpg: g.id, vpg_name: g.name }, v);
        }
      },
    });
    perGroup('opencdp_vpg_journal_used_bytes', 'Journal bytes used at the recovery site, all VMs', (id) => rt(id)?.journalUsedBytes);
    perGroup('opencdp_vpg_journal_hard_limit_bytes', 'Journal hard limit, all VMs', (id) => rt(id)?.journalHardLimitBytes);
    perGroup('opencdp_vpg_journal_history_seconds', 'Span of retained checkpoints (shortest VM)', (id) => (rt(id) ? rt(id)!.historyMs / 1000 : undefined));
    perGroup('opencdp_vpg_configured_history_seconds', 'Configured journal history', (id) => store.getGroup(id)!.settings.journalHistoryHours * 3600);
    perGroup('opencdp_vpg_bitmap_bytes', 'Memory of the dirty-region bitmap at the protected appliance', (id) => rt(id)?.bitmapBytes);
    perGroup('opencdp_vpg_status', 'Status code (0 Initializing … 8 Recovered)', (id) => store.getGroup(id)?.state?.statusCode);
    new Gauge({
      name: 'opencdp_tasks', help: 'Tasks per state', labelNames: ['state'] as const, registers: [this.registry],
      collect() {
        this.reset();
        const counts = store.taskCountsByState();
        for (const [name, code] of Object.entries(TaskState)) this.set({ state: name }, counts[code] ?? 0);
      },
    });
    if (scheduler) {
      // Checkpoint rounds (the barrier across appliances): how long they take and how many cut, skipped or aborted.
      new Gauge({
        name: 'opencdp_checkpoint_round_seconds', help: 'Duration of the latest checkpoint rounds (first call to last answer), by quantile', labelNames: ['quantile'] as const, registers: [this.registry],
        collect() {
          this.reset();
          const sorted = [...scheduler.roundFigures().recentRoundMs].sort((a, b) => a - b);
          for (const q of [0.5, 0.9, 0.99, 1]) if (sorted.length > 0) this.set({ quantile: String(q) }, sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000);
        },
      });
      new Gauge({
        name: 'opencdp_checkpoint_round_lateness_seconds', help: 'How late after its due time a group\'s auto checkpoint round started, by quantile', labelNames: ['quantile'] as const, registers: [this.registry],
        collect() {
          this.reset();
          const sorted = [...scheduler.roundFigures().recentLatenessMs].sort((a, b) => a - b);
          for (const q of [0.5, 0.99, 1]) if (sorted.length > 0) this.set({ quantile: String(q) }, sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000);
        },
      });
      new Gauge({
        name: 'opencdp_checkpoint_group_rounds', help: 'Group entries of checkpoint rounds so far, by outcome', labelNames: ['outcome'] as const, registers: [this.registry],
        collect() {
          this.reset();
          const f = scheduler.roundFigures();
          this.set({ outcome: 'cut' }, f.cut);
          this.set({ outcome: 'skipped' }, f.skipped);
          this.set({ outcome: 'aborted' }, f.aborted);
          this.set({ outcome: 'rounds' }, f.rounds);
        },
      });
    }
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'opencdp_manager_' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

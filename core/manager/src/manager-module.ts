// Dependency-injection entry point of @opencdp/manager (named in package.json's `opencdp` field) and the
// manager's composition root: managerModule binds every part of a manager (each to its class, built
// from the parts below it; docs/manager.md draws the graph), the REST API behind the ManagerHttpServer
// port, the Manager facade that owns their lifecycle, and a ManagerFactory for hosts. One container
// holds one manager: startManager (and the factory) build a fresh container per start, so a restart
// gets fresh parts on the same data dir.
import { Container, ContainerModule, type ResolutionContext, type ServiceIdentifier } from 'inversify';
import { Clock, SystemClock, ValidationError } from '@opencdp/core';
import { pino, type Logger } from 'pino';
import { Accounts } from './accounts/accounts.js';
import { defined } from './defined.js';
import { RestServer } from './api/server.js';
import { ApplianceRegistry } from './appliances/appliance-registry.js';
import { MemberProtection } from './groups/member-protection.js';
import { ProtectionGroups } from './groups/protection-groups.js';
import { SettingsDrafts } from './groups/settings-drafts.js';
import { ManagerLifecycle } from './lifecycle.js';
import { Manager } from './manager.js';
import { ManagerHttpServer } from './manager-http-server.js';
import type { ManagerOptions } from './manager-options.js';
import { ManagerParts } from './manager-parts.js';
import { ManagerMetrics } from './metrics.js';
import { Alerts } from './monitor/alerts.js';
import { Monitor } from './monitor/monitor.js';
import { FileRestores } from './recovery/file-restores.js';
import { CheckpointImages } from './images/checkpoint-images.js';
import { RecoveryGuard } from './recovery/recovery-guard.js';
import { RecoveryReports } from './recovery/recovery-reports.js';
import { RecoveryTasks } from './recovery/recovery-tasks.js';
import { CheckpointScheduler } from './scheduler/checkpoint-scheduler.js';
import { Peering } from './sites/peering.js';
import { PeerWatch } from './sites/peer-watch.js';
import { SecretBox } from './sites/secret-box.js';
import { Sites } from './sites/sites.js';
import { Store } from './store.js';
import { EventLog } from './tasks/event-log.js';
import { TaskRunner } from './tasks/task-runner.js';

/** Binding key of the `ManagerOptions` (manager-options.ts) a manager starts with. */
export const ManagerOptionsKey = Symbol('ManagerOptions');
/** Binding key of the manager's clock: `options.clock`, else the host's bound `Clock`, else the system clock. */
export const ManagerClock = Symbol('ManagerClock');
/** Binding key of the manager's pino logger: `options.logger`, else a new one named `opencdp-manager`. */
export const ManagerLogger = Symbol('ManagerLogger');
export const ManagerFactory = Symbol('ManagerFactory');
/** Starts the manager with the bound options (and the bound Clock unless the options name one). */
export interface ManagerFactory {
  start(): Promise<Manager>;
}

export const managerModule = new ContainerModule(({ bind }) => {
  // Every part is one instance per container (per manager), built from the parts it names.
  const part = <T>(id: ServiceIdentifier<T>, make: (ctx: ResolutionContext, options: ManagerOptions) => T): void => {
    bind<T>(id).toDynamicValue((ctx) => make(ctx, ctx.get<ManagerOptions>(ManagerOptionsKey))).inSingletonScope();
  };
  part<Clock>(ManagerClock, (ctx, o) => o.clock ?? ctx.get<Clock>(Clock, { optional: true }) ?? new SystemClock());
  part<Logger>(ManagerLogger, (_ctx, o) => o.logger ?? pino({ name: 'opencdp-manager' }));
  part(Store, (_ctx, o) => Store.open(o.dataDir));
  part(ManagerLifecycle, () => new ManagerLifecycle());
  // After the store: the store makes the data dir (0700) the key file goes in.
  part(SecretBox, (ctx, o) => (ctx.get(Store), SecretBox.open(o.dataDir)));
  const clock = (ctx: ResolutionContext): Clock => ctx.get<Clock>(ManagerClock);
  const log = (ctx: ResolutionContext): Logger => ctx.get<Logger>(ManagerLogger);

  part(EventLog, (ctx) => new EventLog(ctx.get(Store), clock(ctx), log(ctx), ctx.get(ManagerLifecycle)));
  part(TaskRunner, (ctx) => new TaskRunner(ctx.get(Store), clock(ctx), log(ctx), ctx.get(EventLog), ctx.get(ManagerLifecycle)));
  part(Accounts, (ctx, o) => new Accounts(ctx.get(Store), clock(ctx), log(ctx), ctx.get(EventLog), ctx.get(Alerts), o));
  part(ApplianceRegistry, (ctx, o) => new ApplianceRegistry(o.appliances, log(ctx), o.recoveryAddresses, clock(ctx)));
  part(Sites, (ctx, o) => new Sites(ctx.get(Store), o.siteId, ctx.get(ApplianceRegistry)));
  part(CheckpointScheduler, (ctx, o) => new CheckpointScheduler(
    ctx.get(Store), clock(ctx), log(ctx), ctx.get(ManagerLifecycle), ctx.get(Sites), ctx.get(ApplianceRegistry), ctx.get(EventLog), ctx.get(TaskRunner),
    defined({ barrierHoldMs: o.barrierHoldMs, coalesceMs: o.checkpointCoalesceMs }),
  ));
  part(MemberProtection, (ctx) => new MemberProtection(log(ctx), ctx.get(ManagerLifecycle), ctx.get(ApplianceRegistry), ctx.get(EventLog)));
  part(Peering, (ctx, o) => new Peering(
    ctx.get(Store), clock(ctx), log(ctx), ctx.get(ManagerLifecycle), ctx.get(Sites), ctx.get(EventLog), ctx.get(TaskRunner), ctx.get(CheckpointScheduler),
    ctx.get(SecretBox), o,
  ));
  part(PeerWatch, (ctx, o) => new PeerWatch(
    clock(ctx), log(ctx), ctx.get(ManagerLifecycle), ctx.get(Sites), ctx.get(Alerts), ctx.get(EventLog), ctx.get(Peering),
    defined({ peerHeartbeatMs: o.peerHeartbeatMs, peerDownAfterMs: o.peerDownAfterMs, peerHeartbeatTransport: o.peerHeartbeatTransport }),
  ));
  part(RecoveryGuard, (ctx) => new RecoveryGuard(ctx.get(ApplianceRegistry)));
  part(RecoveryReports, (ctx) => new RecoveryReports(ctx.get(Store), ctx.get(EventLog), ctx.get(ManagerLifecycle)));
  part(Alerts, (ctx) => new Alerts(ctx.get(Store), clock(ctx), ctx.get(EventLog)));
  part(Monitor, (ctx, o) => new Monitor(
    ctx.get(Store), clock(ctx), log(ctx), ctx.get(ManagerLifecycle), ctx.get(ApplianceRegistry), ctx.get(RecoveryGuard), ctx.get(RecoveryReports),
    ctx.get(Alerts), ctx.get(EventLog), ctx.get(TaskRunner), ctx.get(Sites), ctx.get(MemberProtection), o.pollIntervalMs,
  ));
  part(ProtectionGroups, (ctx) => new ProtectionGroups(
    ctx.get(Store), clock(ctx), ctx.get(Sites), ctx.get(ApplianceRegistry), ctx.get(EventLog), ctx.get(TaskRunner), ctx.get(Peering),
    ctx.get(CheckpointScheduler), ctx.get(RecoveryGuard), ctx.get(Monitor), ctx.get(MemberProtection),
  ));
  part(SettingsDrafts, (ctx) => new SettingsDrafts(ctx.get(Store), clock(ctx), ctx.get(ProtectionGroups), ctx.get(ApplianceRegistry), ctx.get(Sites)));
  part(RecoveryTasks, (ctx) => new RecoveryTasks(
    ctx.get(Store), ctx.get(ApplianceRegistry), ctx.get(RecoveryGuard), ctx.get(RecoveryReports), ctx.get(EventLog), ctx.get(TaskRunner),
    ctx.get(Peering), ctx.get(CheckpointScheduler),
  ));
  part(FileRestores, (ctx) => new FileRestores(ctx.get(Store), ctx.get(ApplianceRegistry), ctx.get(EventLog), ctx.get(TaskRunner)));
  part(CheckpointImages, (ctx) => new CheckpointImages(ctx.get(Store), ctx.get(ApplianceRegistry), ctx.get(EventLog), ctx.get(TaskRunner)));
  part<ManagerParts>(ManagerParts, (ctx) => ({
    store: ctx.get(Store), clock: clock(ctx), log: log(ctx), lifecycle: ctx.get(ManagerLifecycle), accounts: ctx.get(Accounts), sites: ctx.get(Sites),
    peering: ctx.get(Peering), peerWatch: ctx.get(PeerWatch), appliances: ctx.get(ApplianceRegistry), groups: ctx.get(ProtectionGroups), drafts: ctx.get(SettingsDrafts),
    scheduler: ctx.get(CheckpointScheduler), recovery: ctx.get(RecoveryTasks), fileRestores: ctx.get(FileRestores), images: ctx.get(CheckpointImages), reports: ctx.get(RecoveryReports),
    monitor: ctx.get(Monitor), alerts: ctx.get(Alerts), tasks: ctx.get(TaskRunner), events: ctx.get(EventLog),
  }));

  // The HTTP layer, above the parts.
  part(ManagerMetrics, (ctx) => new ManagerMetrics(ctx.get<ManagerParts>(ManagerParts)));
  part<ManagerHttpServer>(ManagerHttpServer, (ctx, o) => new RestServer(ctx.get<ManagerParts>(ManagerParts), ctx.get(ManagerMetrics), defined({ tls: o.tls, insecureHttp: o.insecureHttp, metricsToken: o.metricsToken })));

  part(Manager, (ctx, o) => new Manager(o, ctx.get<ManagerParts>(ManagerParts), ctx.get<ManagerHttpServer>(ManagerHttpServer)));
  bind<ManagerFactory>(ManagerFactory).toDynamicValue((ctx) => ({
    start: () => {
      const options = ctx.get<ManagerOptions>(ManagerOptionsKey);
      const clock = options.clock ?? ctx.get<Clock>(Clock, { optional: true });
      return startManager({ ...options, ...(clock ? { clock } : {}) });
    },
  }));
});

/** Opens the store, seeds the local site and the first admin, serves the REST API when `listen` is given, and starts the scheduler and the monitor. */
export async function startManager(options: ManagerOptions): Promise<Manager> {
  if (!options.siteId) throw new ValidationError('a manager needs a site id', 'siteId');
  const container = new Container();
  container.bind<ManagerOptions>(ManagerOptionsKey).toConstantValue(options);
  container.load(managerModule);
  const manager = container.get(Manager);
  try {
    await manager.start();
  } catch (e) {
    await manager.stop();
    throw e;
  }
  return manager;
}

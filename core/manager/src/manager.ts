// The manager of one site (Zerto's ZVM), as a thin owner of its parts' lifecycle: start seeds the sites
// and the first admin, notes a return from an outage (J8), serves the REST API when asked, and starts the
// scheduler, the monitor and the peer sync; stop ends them in order and waits (bounded) for running work.
// It is never on the data path: stopped, nothing cuts checkpoints and the appliances keep replicating.
// Given appliances of both sites, it recovers with the other site's manager down (R8). The parts and who
// uses whom: docs/manager.md; the wiring: manager-module.ts (startManager).
import { certificateFingerprint, InvalidStateError } from '@opencdp/core';
import type { Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import type { ManagerHttpServer } from './manager-http-server.js';
import { parseListen, type ManagerOptions } from './manager-options.js';
import type { ManagerParts } from './manager-parts.js';
import type { GroupRow, SiteRow, Store } from './store.js';

/** How long `stop` waits for the poll under way and for running tasks' bookkeeping. */
const STOP_GRACE_MS = 5000;

export type { ManagerOptions };

export class Manager {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly siteId: string;

  constructor(readonly options: ManagerOptions, readonly parts: ManagerParts, private readonly http: ManagerHttpServer) {
    this.store = parts.store;
    this.clock = parts.clock;
    this.log = parts.log;
    this.siteId = options.siteId;
  }

  /** Seeds the local site and the first admin, serves the REST API when `listen` is given, and starts the scheduler, the monitor and the peer sync. */
  async start(): Promise<void> {
    const { store, sites, accounts, events, scheduler, monitor, peering, peerWatch, lifecycle } = this.parts;
    const now = this.clock.now();
    const previousRun = store.getMeta('lastStartedAt');
    store.setMeta('lastStartedAt', String(now));
    sites.seed(now, this.options);
    this.parts.peering.protectStoredSecrets();
    await accounts.seedAdmin();
    if (previousRun) {
      // J8: back after an outage; appliances replicated meanwhile; checkpoints resume from now, the gap shows.
      const stoppedAt = store.getMeta('lastStoppedAt');
      const since = stoppedAt ? `down for ${Math.round((now - Number(stoppedAt)) / 1000)} s` : `stopped without a clean shutdown after ${new Date(Number(previousRun)).toISOString()}`;
      events.record('SiteSynchronization', `synchronizing with site ${this.siteId}: the manager was ${since}; checkpoints resume now`);
    }
    store.deleteMeta('lastStoppedAt');
    if (this.options.listen !== undefined) {
      const listen = typeof this.options.listen === 'string' ? parseListen(this.options.listen) : this.options.listen;
      if (this.options.tls) lifecycle.tlsFingerprint = certificateFingerprint(this.options.tls.certPem);
      lifecycle.address = await this.http.listen(listen.host, listen.port);
      this.log.info({ url: lifecycle.address, siteId: this.siteId, ...(lifecycle.tlsFingerprint ? { tlsFingerprintSha256: lifecycle.tlsFingerprint } : {}) }, 'manager listening');
    }
    scheduler.start();
    monitor.start();
    peering.syncAll();
    peerWatch.start();
  }

  /** Stops the scheduler, the monitor and the HTTP server, waits for running tasks' bookkeeping, and closes the store. */
  async stop(): Promise<void> {
    const { lifecycle, scheduler, monitor, peerWatch, store } = this.parts;
    if (lifecycle.stopped) return;
    lifecycle.markStopped();
    scheduler.stop();
    peerWatch.stop();
    const polled = monitor.stop();
    await this.http.close();
    // Bounded: an appliance that never answers must not keep the manager from stopping.
    const grace = (): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([polled, grace()]);
    await Promise.race([lifecycle.whenIdle(), grace()]);
    if (store.db.open) store.setMeta('lastStoppedAt', String(this.clock.now()));
    store.close();
    this.log.info({ siteId: this.siteId }, 'manager stopped');
  }

  /** Resolves when no task started so far is still running. */
  whenIdle(): Promise<void> {
    return this.parts.lifecycle.whenIdle();
  }

  /** `http://host:port` of the REST API (when listening). */
  get url(): string {
    const address = this.parts.lifecycle.address;
    if (!address) throw new InvalidStateError('the manager does not serve HTTP (start it with `listen`)');
    return address;
  }

  /** `METHOD url` of every REST route (for tests that compare them with the OpenAPI document). */
  registeredRoutes(): string[] {
    return this.http.routes();
  }

  // Shortcuts to what hosts and tests ask most.

  localSite(): SiteRow {
    return this.parts.sites.localSite();
  }

  groups(): GroupRow[] {
    return this.parts.groups.list();
  }

  group(id: string): GroupRow {
    return this.parts.groups.get(id);
  }
}

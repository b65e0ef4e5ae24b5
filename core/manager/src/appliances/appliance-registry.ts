// The appliances a manager drives, and which of them serves a group: the protected site's appliance
// protects its VMs and cuts its checkpoints, the recovery site's keeps its journals and recovers it.
// Today a site has one appliance that matters per role; this is the one place that knows how a group
// maps to appliances, so several appliances per site (and a barrier across them) change only here and
// in the scheduler's cut.
import type { ApplianceControl, Inventory, RecoveryOperations } from '@opencdp/core';
import type { Logger } from 'pino';
import { ApplianceUnavailableError } from '../errors.js';
import type { GroupRow } from '../store.js';

type GroupSites = Pick<GroupRow, 'name' | 'protectedSiteId' | 'recoverySiteId'>;

export class ApplianceRegistry {
  constructor(
    private readonly appliances: ApplianceControl[], private readonly log: Logger,
    private readonly recoveryAddresses: Record<string, string> = {},
  ) {}

  list(): ApplianceControl[] {
    return this.appliances;
  }

  /** The appliance of a site (the first one given), when this manager reaches it. */
  ofSite(siteId: string): ApplianceControl | undefined {
    return this.appliances.find((a) => a.siteId === siteId);
  }

  reaches(siteId: string): boolean {
    return this.ofSite(siteId) !== undefined;
  }

  /** The appliance that protects a group's VMs, when this manager reaches it. */
  protectedAppliance(g: GroupSites): ApplianceControl | undefined {
    return this.ofSite(g.protectedSiteId);
  }

  /** The appliance that keeps a group's journals and runs its recovery, when this manager reaches it. */
  recoveryAppliance(g: GroupSites): ApplianceControl | undefined {
    const ofSite = this.appliances.filter((a) => a.siteId === g.recoverySiteId);
    return ofSite.find((a) => a.recovery) ?? ofSite[0];
  }

  /** The protected appliance, or ApplianceUnavailableError. */
  protectedOf(g: GroupSites): ApplianceControl {
    const a = this.protectedAppliance(g);
    if (!a) throw new ApplianceUnavailableError(`this manager reaches no appliance of site '${g.protectedSiteId}', which protects group '${g.name}'`);
    return a;
  }

  /** The recovery operations of the group's recovery appliance, or ApplianceUnavailableError. */
  recoveryOf(g: GroupSites): RecoveryOperations {
    const r = this.recoveryAppliance(g)?.recovery;
    if (!r) throw new ApplianceUnavailableError(`this manager reaches no recovery appliance of site '${g.recoverySiteId}' for group '${g.name}'`);
    return r;
  }

  /** Site-link address of a site's recovery appliance, handed to protected appliances. */
  recoveryAddress(siteId: string): string {
    return this.recoveryAddresses[siteId] ?? `site:${siteId}`;
  }

  /** The inventories of every site this manager reaches (unreachable appliances are skipped). */
  async inventories(): Promise<Map<string, Inventory>> {
    const out = new Map<string, Inventory>();
    for (const a of this.appliances) {
      if (out.has(a.siteId)) continue;
      try {
        out.set(a.siteId, await a.inventory());
      } catch (e) {
        this.log.warn({ err: e, siteId: a.siteId }, 'inventory failed');
      }
    }
    return out;
  }
}

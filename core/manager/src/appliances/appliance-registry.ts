// The appliances a manager drives, and which of them serve a group. A site runs one protected appliance
// per host: a group's VMs are split by the appliance of the host each VM runs on (its members), and one
// recovery appliance of the recovery site keeps all of the group's journals (docs/control-plane.md says
// why one). The placement is chosen when a group is made and stored with it; groups stored before
// placements existed are served as before, by the first appliance of each site.
import type { ApplianceControl, ApplianceDescription, Inventory, RecoveryOperations, VmInfo } from '@opencdp/core';
import { ValidationError } from '@opencdp/core';
import type { Logger } from 'pino';
import { ApplianceUnavailableError } from '../errors.js';
import type { GroupPlacement, GroupRow } from '../store.js';

type GroupSites = Pick<GroupRow, 'name' | 'protectedSiteId' | 'recoverySiteId'> & { vmIds?: string[]; placement?: GroupPlacement };

/** One appliance as the registry knows it. */
export interface RegisteredAppliance {
  /** Unique among this manager's appliances: the appliance's own id, else `<site>#<n>`. */
  id: string;
  control: ApplianceControl;
  /** What it said about itself (hosts, roles, link address); absent until it answered `describe`. */
  description?: ApplianceDescription;
}

/** A protected member of a group: an appliance and the group's VMs it splits. */
export interface GroupMember {
  id: string;
  control: ApplianceControl;
  vmIds: string[];
}

export class ApplianceRegistry {
  private readonly entries: RegisteredAppliance[];
  private readonly down = new Map<ApplianceControl, string>();
  /** Inventories read in the last moments: creating many groups in a row asks each appliance once, not once per group. */
  private readonly inventoryCache = new Map<string, { at: number; inventory: Promise<Inventory> }>();
  /** How long an inventory read is reused, ms (the platform's view changes seldom; groups are made in bursts). */
  static readonly INVENTORY_TTL_MS = 2000;

  constructor(
    private readonly appliances: ApplianceControl[], private readonly log: Logger,
    private readonly recoveryAddresses: Record<string, string> = {},
    private readonly clock: { now(): number } = { now: () => Date.now() },
  ) {
    const perSite = new Map<string, number>();
    const used = new Set<string>();
    this.entries = appliances.map((control) => {
      const n = perSite.get(control.siteId) ?? 0;
      perSite.set(control.siteId, n + 1);
      let id = control.applianceId ?? `${control.siteId}#${n}`;
      while (used.has(id)) id = `${id}'`;
      used.add(id);
      return { id, control };
    });
  }

  list(): ApplianceControl[] {
    return this.appliances;
  }

  registered(): RegisteredAppliance[] {
    return this.entries;
  }

  byId(id: string): RegisteredAppliance | undefined {
    return this.entries.find((e) => e.id === id);
  }

  idOf(control: ApplianceControl): string {
    return this.entries.find((e) => e.control === control)?.id ?? control.siteId;
  }

  /** How events and statuses name an appliance. */
  nameOf(control: ApplianceControl): string {
    const e = this.entries.find((x) => x.control === control);
    return `appliance ${e?.id ?? '?'} of site ${control.siteId}`;
  }

  /** Notes whether the latest poll reached an appliance (`reason` says why not); rounds skip groups of one that is down. */
  markReachable(control: ApplianceControl, reason: string | undefined): void {
    if (reason === undefined) this.down.delete(control);
    else this.down.set(control, reason);
  }

  /** Why the latest poll could not reach the appliance, or undefined when it could. */
  downReason(control: ApplianceControl): string | undefined {
    return this.down.get(control);
  }

  /** Asks every appliance what it serves (hosts, roles, link address); one that does not answer keeps what it said before. */
  async describeAll(): Promise<void> {
    await Promise.all(this.entries.map(async (e) => {
      if (!e.control.describe) return;
      try {
        e.description = await e.control.describe();
      } catch (err) {
        this.log.warn({ err, appliance: e.id }, 'describe failed');
      }
    }));
  }

  /** The appliance of a site (the first one given), when this manager reaches it. */
  ofSite(siteId: string): ApplianceControl | undefined {
    return this.appliances.find((a) => a.siteId === siteId);
  }

  reaches(siteId: string): boolean {
    return this.ofSite(siteId) !== undefined;
  }

  /** The protected appliances of a group with the VMs each splits (those this manager reaches). */
  protectedMembers(g: GroupSites): GroupMember[] {
    if (g.placement && g.placement.members.length > 0) {
      return g.placement.members.flatMap((m) => {
        const e = this.byId(m.applianceId);
        return e ? [{ id: e.id, control: e.control, vmIds: [...m.vmIds] }] : [];
      });
    }
    const a = this.ofSite(g.protectedSiteId);
    return a ? [{ id: this.idOf(a), control: a, vmIds: [...(g.vmIds ?? [])] }] : [];
  }

  /** Members the placement names that this manager does not reach (their appliance is not in its configuration). */
  unknownMembers(g: GroupSites): string[] {
    return (g.placement?.members ?? []).filter((m) => !this.byId(m.applianceId)).map((m) => m.applianceId);
  }

  /** The first protected appliance of a group (groups on one appliance; older callers). */
  protectedAppliance(g: GroupSites): ApplianceControl | undefined {
    return this.protectedMembers(g)[0]?.control;
  }

  /** The appliance that keeps a group's journals and runs its recovery, when this manager reaches it. */
  recoveryAppliance(g: GroupSites): ApplianceControl | undefined {
    const ofSite = this.entries.filter((e) => e.control.siteId === g.recoverySiteId);
    const placed = g.placement?.recovery;
    if (placed) {
      const e = ofSite.find((x) => x.id === placed.applianceId) ?? ofSite.find((x) => x.description?.linkAddress === placed.linkAddress);
      if (e) return e.control;
    }
    return (ofSite.find((e) => e.control.recovery) ?? ofSite[0])?.control;
  }

  /** The protected appliances, or ApplianceUnavailableError naming what is missing. */
  membersOf(g: GroupSites): GroupMember[] {
    const members = this.protectedMembers(g);
    const unknown = this.unknownMembers(g);
    if (members.length === 0 || unknown.length > 0) {
      throw new ApplianceUnavailableError(`this manager reaches no appliance ${unknown.length > 0 ? `'${unknown.join("', '")}'` : ''} of site '${g.protectedSiteId}', which protects group '${g.name}'`);
    }
    return members;
  }

  /** The protected appliance, or ApplianceUnavailableError. */
  protectedOf(g: GroupSites): ApplianceControl {
    return this.membersOf(g)[0].control;
  }

  /** The recovery operations of the group's recovery appliance, or ApplianceUnavailableError. */
  recoveryOf(g: GroupSites): RecoveryOperations {
    const r = this.recoveryAppliance(g)?.recovery;
    if (!r) throw new ApplianceUnavailableError(`this manager reaches no recovery appliance of site '${g.recoverySiteId}' for group '${g.name}'`);
    return r;
  }

  /** Site-link address of a site's recovery appliance, handed to protected appliances (configured, else `site:<id>`). */
  recoveryAddress(siteId: string): string {
    return this.recoveryAddresses[siteId] ?? `site:${siteId}`;
  }

  /** The site-link address a group's protected appliances send to. */
  recoveryAddressOf(g: GroupSites): string {
    return g.placement?.recovery?.linkAddress ?? this.recoveryAddress(g.recoverySiteId);
  }

  /**
   * Places a group's VMs: each on the protected appliance of the host it runs on (an appliance that names
   * no hosts serves every VM its inventory lists), and its journals on the recovery appliance of the
   * recovery site holding the fewest groups (`load`), so groups spread while each recovers from one place.
   * Throws ValidationError naming a VM no appliance serves, ApplianceUnavailableError when an appliance of
   * the site that did not answer may serve it; nothing is changed.
   */
  async place(protectedSiteId: string, recoverySiteId: string, vmIds: string[], load: (applianceId: string) => number): Promise<GroupPlacement> {
    const candidates = this.entries.filter((e) => e.control.siteId === protectedSiteId && e.description?.protectedRole !== false);
    if (candidates.some((e) => !e.description)) await this.describeAll();
    const failures = new Map<string, string>();
    const inventories = await this.inventoriesOf(candidates, failures);
    const silent = candidates.filter((e) => !inventories.has(e.id)).map((e) => `${e.id} (${failures.get(e.id) ?? 'no answer'})`);
    const members = new Map<string, string[]>();
    for (const vmId of vmIds) {
      const serving = candidates.find((e) => {
        const vm = inventories.get(e.id)?.vms.find((v) => v.id === vmId);
        return vm !== undefined && (e.description?.hostIds === undefined || e.description.hostIds.includes(vm.hostId));
      });
      // An appliance that did not answer may be the one serving it (seen at 800 groups on a loaded machine): say so, try again later.
      if (!serving && silent.length > 0) throw new ApplianceUnavailableError(`no appliance of site '${protectedSiteId}' that answered serves VM '${vmId}'; appliance ${silent.join(', ')} did not answer`);
      if (!serving) throw new ValidationError(`no appliance of site '${protectedSiteId}' serves VM '${vmId}' (not in any appliance's inventory, or on a host no appliance serves)`, 'vmIdentifiers');
      members.set(serving.id, [...(members.get(serving.id) ?? []), vmId]);
    }
    const placement: GroupPlacement = { members: [...members].map(([applianceId, ids]) => ({ applianceId, vmIds: ids })) };
    const recovery = this.entries.filter((e) => e.control.siteId === recoverySiteId && (e.description?.recoveryRole ?? e.control.recovery !== undefined));
    const withAddress = recovery.filter((e) => e.description?.linkAddress);
    if (withAddress.length > 0) {
      const chosen = [...withAddress].sort((a, b) => load(a.id) - load(b.id) || a.id.localeCompare(b.id))[0];
      placement.recovery = { applianceId: chosen.id, linkAddress: chosen.description!.linkAddress! };
    } else if (recovery.length > 0) {
      placement.recovery = { applianceId: recovery[0].id, linkAddress: this.recoveryAddress(recoverySiteId) };
    }
    return placement;
  }

  /** One inventory per site: the union of what its appliances list (unreachable appliances are skipped). */
  async inventories(): Promise<Map<string, Inventory>> {
    const per = await this.inventoriesOf(this.entries);
    const out = new Map<string, Inventory>();
    for (const e of this.entries) {
      const inv = per.get(e.id);
      if (!inv) continue;
      const site = out.get(e.control.siteId);
      out.set(e.control.siteId, site ? merge(site, inv) : inv);
    }
    return out;
  }

  /** The VMs of a site as its appliances list them (by id), and the appliances that did not answer. */
  async siteVms(siteId: string): Promise<{ vms: Map<string, VmInfo>; silent: string[] }> {
    const ofSite = this.entries.filter((e) => e.control.siteId === siteId);
    const failures = new Map<string, string>();
    const inv = await this.inventoriesOf(ofSite, failures);
    const vms = new Map<string, VmInfo>();
    for (const i of inv.values()) for (const vm of i.vms) if (!vms.has(vm.id)) vms.set(vm.id, vm);
    return { vms, silent: ofSite.filter((e) => !inv.has(e.id)).map((e) => `${e.id} (${failures.get(e.id) ?? 'no answer'})`) };
  }

  private async inventoriesOf(entries: RegisteredAppliance[], failures?: Map<string, string>): Promise<Map<string, Inventory>> {
    const out = new Map<string, Inventory>();
    // Several appliances of a site that share one platform list the same inventory: ask each appliance
    // anyway, because with a platform per host (the fake data centre per process) each lists only its own.
    const now = this.clock.now();
    await Promise.all(entries.map(async (e) => {
      let cached = this.inventoryCache.get(e.id);
      if (!cached || now - cached.at > ApplianceRegistry.INVENTORY_TTL_MS) {
        cached = { at: now, inventory: e.control.inventory() };
        this.inventoryCache.set(e.id, cached);
      }
      try {
        out.set(e.id, structuredClone(await cached.inventory));
      } catch (err) {
        if (this.inventoryCache.get(e.id) === cached) this.inventoryCache.delete(e.id);
        failures?.set(e.id, (err as Error).message);
        this.log.warn({ err, siteId: e.control.siteId, appliance: e.id }, 'inventory failed');
      }
    }));
    return out;
  }
}

/** The union of two inventories of one site (by id; the first wins). */
function merge(a: Inventory, b: Inventory): Inventory {
  const union = <T extends { id: string }>(x: T[], y: T[]): T[] => {
    const ids = new Set(x.map((i) => i.id));
    return [...x, ...y.filter((i) => !ids.has(i.id))];
  };
  return { hosts: union(a.hosts, b.hosts), vms: union(a.vms, b.vms), networks: union(a.networks, b.networks), datastores: union(a.datastores, b.datastores) };
}

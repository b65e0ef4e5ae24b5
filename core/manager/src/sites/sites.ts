// The sites a manager knows: its own (local) and the peers it is paired with, as stored. The scheduler
// asks it which sites have a manager of their own; groups ask it which sites a group may name.
import { ValidationError } from '@opencdp/core';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import type { SiteRow, Store } from '../store.js';

export interface SitesOptions {
  siteName?: string;
  /** A peer known without pairing (e.g. from the config file). */
  peer?: { siteId: string; name?: string; url?: string };
}

export class Sites {
  constructor(private readonly store: Store, readonly siteId: string, private readonly appliances: ApplianceRegistry) {}

  /** Records the local site (refusing a data dir of another site) and the configured peer, keeping what pairing stored. */
  seed(now: number, options: SitesOptions): void {
    const local = this.store.listSites().find((s) => s.role === 'local');
    if (local && local.id !== this.siteId) throw new ValidationError(`data dir belongs to site '${local.id}', not '${this.siteId}'`, 'siteId');
    this.store.putSite({ id: this.siteId, name: options.siteName ?? local?.name ?? this.siteId, role: 'local', address: '', pairedAt: local?.pairedAt ?? now });
    if (options.peer) {
      const p = options.peer;
      // A restart must not forget what pairing with this site exchanged (its secrets).
      const known = this.store.listSites().find((s) => s.id === p.siteId);
      this.store.putSite({ ...known, id: p.siteId, name: p.name ?? known?.name ?? p.siteId, role: 'peer', address: p.url ?? known?.address ?? '', pairedAt: known?.pairedAt ?? now });
    }
  }

  localSite(): SiteRow {
    return this.store.listSites().find((s) => s.role === 'local')!;
  }

  peerSites(): SiteRow[] {
    return this.store.listSites().filter((s) => s.role === 'peer');
  }

  peer(siteId: string): SiteRow | undefined {
    return this.peerSites().find((s) => s.id === siteId);
  }

  /** This site, a paired one, or one whose appliance this manager reaches. */
  knows(siteId: string): boolean {
    return siteId === this.siteId || this.peerSites().some((s) => s.id === siteId) || this.appliances.reaches(siteId);
  }
}

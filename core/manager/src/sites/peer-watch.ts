// Whether this manager is connected to each paired manager (seed 000): every second it asks each peer
// "are you there?" with the pairing secret. A peer silent for a few seconds raises the site alert "The
// manager is not connected to site X" (and an event); when it answers again the alert clears, the event
// "synchronizing with site X" is recorded and the group definitions are sent again. Either site notices
// the other's outage; the protected site's own return is also noted by Manager.start (J8).
import type { Clock, TimerHandle } from '@opencdp/core';
import type { Logger } from 'pino';
import { AuthenticationError } from '../errors.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { Alerts } from '../monitor/alerts.js';
import type { EventLog } from '../tasks/event-log.js';
import { httpPeerHeartbeatTransport, type PeerHeartbeatTransport } from './peer-transports.js';
import type { Peering } from './peering.js';
import type { Sites } from './sites.js';
import type { SiteRow } from '../store.js';

export const PEER_ALERT = 'PeerSiteNotConnected';

export interface PeerWatchOptions {
  /** How often each peer is asked, ms (default 1000). */
  peerHeartbeatMs?: number;
  /** Silence after which a peer counts as not connected, ms (default 3000). */
  peerDownAfterMs?: number;
  peerHeartbeatTransport?: PeerHeartbeatTransport;
}

interface PeerState {
  /** Last answer, or when watching started. */
  lastOkAt: number;
  connected?: boolean;
  asking: boolean;
}

export class PeerWatch {
  private readonly peers = new Map<string, PeerState>();
  private timer?: TimerHandle;

  constructor(
    private readonly clock: Clock, private readonly log: Logger, private readonly lifecycle: ManagerLifecycle, private readonly sites: Sites,
    private readonly alerts: Alerts, private readonly events: EventLog, private readonly peering: Peering, private readonly options: PeerWatchOptions = {},
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** The receiving side: paired site `caller` (authenticated by its secret before the body was read) asks whether this one is there. */
  acceptHeartbeat(caller: SiteRow, siteId: string): { siteIdentifier: string; at: number } {
    if (caller.id !== siteId) throw new AuthenticationError(`the secret presented belongs to site '${caller.id}', not to '${siteId}'`);
    return { siteIdentifier: this.sites.siteId, at: this.clock.now() };
  }

  /** Each paired site and whether its manager answers now (undefined: not asked yet). */
  connections(): { siteIdentifier: string; connected: boolean | null; lastAnswerAt: string | null }[] {
    return this.sites.peerSites().map((p) => {
      const s = this.peers.get(p.id);
      return { siteIdentifier: p.id, connected: s?.connected ?? null, lastAnswerAt: s?.connected === undefined ? null : new Date(s.lastOkAt).toISOString() };
    });
  }

  /** One beat: asks every peer (tests call it directly). */
  async beat(): Promise<void> {
    const now = this.clock.now();
    const transport = this.options.peerHeartbeatTransport ?? httpPeerHeartbeatTransport;
    const downAfter = this.options.peerDownAfterMs ?? 3000;
    await Promise.all(this.sites.peerSites().map(async (peer) => {
      const credentials = this.peering.outboundCredentials(peer);
      if (!credentials) return;
      let state = this.peers.get(peer.id);
      if (!state) this.peers.set(peer.id, (state = { lastOkAt: now, asking: false }));
      if (state.asking) return;
      state.asking = true;
      try {
        await transport(peer.address!, credentials.secret, { siteIdentifier: this.sites.siteId }, credentials.trust);
        state.lastOkAt = this.clock.now();
        if (state.connected !== true) this.connected(peer.id, peer.name, state);
      } catch (e) {
        if (state.connected !== false && this.clock.now() - state.lastOkAt >= downAfter) this.disconnected(peer.id, peer.name, state, e as Error);
      } finally {
        state.asking = false;
      }
    }));
  }

  private connected(siteId: string, name: string, state: PeerState): void {
    const wasDown = state.connected === false;
    state.connected = true;
    if (this.lifecycle.stopped) return;
    // Also after this manager restarted while the peer was away: the standing alert says so.
    const cleared = this.alerts.setSite(siteId, PEER_ALERT, undefined, '');
    if (wasDown || cleared) {
      this.events.record('SiteSynchronization', `synchronizing with site ${name}: its manager is connected again`);
      this.peering.syncPeer(siteId);
    }
  }

  private disconnected(siteId: string, name: string, state: PeerState, error: Error): void {
    state.connected = false;
    if (this.lifecycle.stopped) return;
    this.log.warn({ err: error, peer: siteId }, 'peer manager not connected');
    if (this.alerts.setSite(siteId, PEER_ALERT, 'error', `The manager is not connected to site ${name}`)) {
      this.events.record('PeerSiteDisconnected', `the manager of site ${name} does not answer (${error.message}); replication goes on, checkpoints of groups it drives stop until it returns`);
    }
  }

  private schedule(): void {
    if (this.lifecycle.stopped) return;
    this.timer = this.clock.setTimer(this.options.peerHeartbeatMs ?? 1000, () => {
      // Not tracked as running work: a beat only records events, and stop must not wait on a silent peer.
      void this.beat().catch((e: Error) => this.log.warn({ err: e }, 'peer heartbeat failed')).finally(() => this.schedule());
    });
  }
}

// The protected role of `opencdp appliance start`: a fake data centre on the system clock is the hypervisor,
// a ProtectedAppliance ships a seeded workload's writes over the mutual-TLS link, and every few seconds the
// workload pauses for a tagged checkpoint with no write in flight, whose volume hashes go to the status file.
import {
  CheckpointScheduler, ProtectedAppliance, SystemClock, TlsNetwork, ValidationError,
  type GroupSender, type ReplicationPhase, type VmInfo,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor, Workload } from '@opencdp/adapter-fake';
import type { ProtectedConfig } from './appliance-config.js';
import { FileBackedVolumes } from './file-backed-volumes.js';
import { readIdentityFile, readTrustedPeersFile } from './identity-files.js';
import type { JsonLog } from './json-log.js';
import { hashVolumes, StatusWriter, type ProtectedStatus, type VerifiedCheckpoint } from './status-file.js';

export interface RunningProtected {
  sender: GroupSender;
  /** Rejects if the workload or the verification loop fails (the process should then stop, exit 1). */
  failed: Promise<never>;
  /** Stops the workload, lets the link drain, stops the appliance and writes the final status. */
  stop(): Promise<void>;
}

const DEFAULT_VERIFY_EVERY_MS = 3000;
const KEEP_VERIFIED = 50;
/** How long a stop waits for buffered writes to be acknowledged before giving up on them. */
const DRAIN_LIMIT_MS = 5000;
/**
 * After the buffer drained, time for the last checkpoint marker's acknowledgement: GroupSender exposes
 * no acknowledged sequence number, so a marker sent after the last write ack cannot be observed directly.
 */
const MARKER_GRACE_MS = 750;

export async function startProtected(config: ProtectedConfig, log: JsonLog): Promise<RunningProtected> {
  const startedAt = Date.now();
  const identity = await readIdentityFile(config.identityFile);
  if (identity.siteId !== config.siteId) {
    throw new ValidationError(`identity file '${config.identityFile}' is site '${identity.siteId}', the configuration says '${config.siteId}'`, 'siteId');
  }
  const trustedPeers = await readTrustedPeersFile(config.trustedPeersFile);
  const clock = new SystemClock();
  const { groupId, settings } = config.group;

  // Ids in the fake data centre follow creation order, so the same configuration gives the same VM and
  // volume ids after a restart — which is what keys the recovery site's journals.
  const dc = new FakeDataCenter({ clock, seed: 1 });
  const site = dc.addSite(config.siteId);
  const host = dc.addHost(site.id, 'host-1');
  const named = config.vms.map((spec) => ({
    name: spec.name,
    vm: dc.createVm({ name: spec.name, hostId: host.id, volumes: spec.volumes.map((v, i) => ({ name: `${spec.name}-disk${i}`, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize ?? 512 })) }),
  }));
  const vms: VmInfo[] = named.map((n) => n.vm);
  const volumes = config.volumeDir ? await FileBackedVolumes.attach(dc, config.volumeDir, named) : undefined;
  if (volumes) log('volumes-loaded', { volumeDir: config.volumeDir, restoredBytes: volumes.restoredBytes });

  const network = new TlsNetwork({ identity, trustedPeers, clock, log: (event, fields) => log(event, fields) });
  const appliance = new ProtectedAppliance({
    siteId: config.siteId, hypervisor: new FakeHypervisor(dc, site.id), network, clock,
    ...(config.bufferBytes !== undefined ? { bufferBytes: config.bufferBytes } : {}),
    ...(config.bitmapBudgetBytes !== undefined ? { bitmapBudgetBytes: config.bitmapBudgetBytes } : {}),
    log: (event, fields) => log(event, fields),
  });

  const phasesSeen: ReplicationPhase[] = [];
  const verified: VerifiedCheckpoint[] = [];
  const status = new StatusWriter(config.statusFile, (e) => log('status-write-failed', { file: config.statusFile, message: e.message }));
  let sender: GroupSender | undefined;
  let stoppedCleanly = false;
  const snapshot = (): ProtectedStatus => ({
    pid: process.pid, siteId: config.siteId, groupId, startedAt, updatedAt: Date.now(), stopped: stoppedCleanly, restoredBytes: volumes?.restoredBytes ?? 0,
    vms: named.map(({ name, vm }) => ({ name, vmId: vm.id, volumes: vm.volumes.map((v) => ({ volumeId: v.id, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize })) })),
    sender: sender ? { ...sender.state, stats: sender.currentStats() } : { phase: 'creating', connected: false, stats: { seq: 0, bufferedBytes: 0, bitmapBytes: 0, bitmapDirtyBytes: 0, writesSent: 0, rawBytesSent: 0, wireBytesSent: 0, syncBytesSent: 0 } },
    phasesSeen: [...phasesSeen],
    verified: [...verified],
    ...(verified.length > 0 ? { lastVerified: verified[verified.length - 1] } : {}),
  });

  const s = await appliance.protect({ groupId, settings, vmIds: vms.map((v) => v.id), recoveryAddress: config.recoveryAddress, preseeded: config.group.preseeded ?? false });
  sender = s;
  const notePhase = (phase: ReplicationPhase): void => {
    if (phasesSeen[phasesSeen.length - 1] !== phase) phasesSeen.push(phase);
  };
  notePhase(s.state.phase);
  s.on('state', (state) => {
    notePhase(state.phase);
    log('state', { groupId, ...state });
    void status.write(snapshot());
  });
  log('protecting', { groupId, recoveryAddress: config.recoveryAddress, vms: named.map(({ name, vm }) => ({ name, vmId: vm.id, volumes: vm.volumes.map((v) => v.id) })) });

  // Checkpoint ids must never repeat in a journal, also across restarts of this process.
  let cpNo = 0;
  const scheduler = new CheckpointScheduler({ clock, senders: [s], intervalMs: settings.checkpointIntervalMs, newId: () => `${groupId}-${startedAt.toString(36)}-${++cpNo}` });
  scheduler.on('checkpoint', (cp) => log('checkpoint', { ...cp }));
  scheduler.on('skipped', (e) => log('checkpoint-skipped', e));
  scheduler.start();

  const workload = new Workload(dc, { seed: config.workload.seed, vms: vms.map((v) => v.id), writeSizes: config.workload.writeSizes, ...(config.workload.hotFraction !== undefined ? { hotFraction: config.workload.hotFraction } : {}) });
  const verifyEveryMs = config.verifyEveryMs ?? DEFAULT_VERIFY_EVERY_MS;
  let stopping = false;
  let verifyNo = 0;

  /** Cuts a tagged checkpoint while no write is in flight and records the volumes' hashes at it. */
  const verify = async (): Promise<void> => {
    const cp = scheduler.cut('tagged', `verify-${++verifyNo}`);
    if (!cp) {
      log('verify-skipped', { reason: scheduler.blockedBy() ?? 'unknown' });
      return;
    }
    // Still no write in flight: the workload is paused until this resolves, so these are the image's bytes.
    const v: VerifiedCheckpoint = { id: cp.id, seq: cp.seq, timestamp: cp.timestamp, ...(cp.tag !== undefined ? { tag: cp.tag } : {}), volumeSha256: await hashVolumes(dc, vms) };
    verified.push(v);
    if (verified.length > KEEP_VERIFIED) verified.shift();
    log('checkpoint-verified', { ...v });
  };

  const loop = (async (): Promise<void> => {
    while (!stopping) {
      // run() resolves only after its last write completed: the pause below has nothing in flight.
      const r = await workload.run({ durationMs: verifyEveryMs, ratePerSecond: config.workload.ratePerSecond });
      if (r.failed > 0) log('workload-errors', { failed: r.failed, message: (r.firstError as Error | undefined)?.message });
      if (stopping) break;
      await verify();
      await status.write(snapshot());
    }
  })();
  // Keeps the event loop alive: the system clock's timers are unref'd.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const failed = loop.then(() => new Promise<never>(() => undefined));

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= (async () => {
    log('stopping', { groupId });
    stopping = true;
    workload.stop();
    await loop.catch(() => undefined);
    scheduler.stop();
    const drainStart = Date.now();
    while (s.connected && s.currentStats().bufferedBytes > 0 && Date.now() - drainStart < DRAIN_LIMIT_MS) await clock.sleep(25);
    if (s.connected && s.state.phase === 'streaming') await clock.sleep(MARKER_GRACE_MS);
    const unacknowledged = s.currentStats().bufferedBytes;
    await appliance.stop();
    await volumes?.close();
    dc.dispose();
    stoppedCleanly = true;
    await status.write(snapshot());
    await status.flushed();
    clearInterval(keepAlive);
    log('stopped', { groupId, unacknowledgedBytes: unacknowledged, verified: verified.length });
  })());
  return { sender: s, failed, stop };
}

// The protected role of `opencdp appliance start`: a ProtectedAppliance on the platform the config names
// ships the group's writes over the mutual-TLS link and cuts its checkpoints. On the embedded default (a
// fake data centre on the system clock) it also plays the guests: a seeded workload that pauses every few
// seconds for a tagged checkpoint with no write in flight, whose volume hashes go to the status file.
import path from 'node:path';
import {
  CheckpointScheduler, ProtectedAppliance, startPlatform, SystemClock, TlsNetwork, ValidationError,
  type GroupSender, type ReplicationPhase, type VmInfo,
} from '@opencdp/core';
import { FakeHypervisor, Workload } from '@opencdp/adapter-fake';
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

  // The embedded default: the fake data centre without an id prefix. Its ids follow creation order, so the
  // same configuration gives the same VM and volume ids after a restart — which is what keys the recovery
  // site's journals.
  const platform = await startPlatform(config.platform ?? { name: 'fake', config: { idPrefix: '', vms: config.vms ?? [] } },
    { roles: ['protected'], siteId: config.siteId, clock, log: (e, f) => log(`platform.${e}`, f), applianceDataDir: config.dataDir ?? path.dirname(config.statusFile) });
  const hypervisor = platform.instance.hypervisor;
  // The simulated guests (workload, verification) exist only without a platform section.
  const dc = !config.platform && hypervisor instanceof FakeHypervisor ? hypervisor.dataCenter : undefined;
  let named: { name: string; vm: VmInfo }[];
  let volumes: FileBackedVolumes | undefined;
  let network: TlsNetwork;
  let appliance: ProtectedAppliance;
  try {
    const inventory = await hypervisor.inventory();
    const names = config.platform ? config.vmNames ?? [] : (config.vms ?? []).map((v) => v.name);
    named = names.map((name, i) => {
      const vm = inventory.vms.find((v) => v.name === name);
      if (!vm) throw new ValidationError(`platform '${platform.provider.platform}' has no VM named '${name}' (it has ${inventory.vms.map((v) => `'${v.name}'`).join(', ') || 'none'})`, `vmNames.${i}`);
      return { name, vm };
    });
    volumes = dc && config.volumeDir ? await FileBackedVolumes.attach(dc, config.volumeDir, named) : undefined;
    if (volumes) log('volumes-loaded', { volumeDir: config.volumeDir, restoredBytes: volumes.restoredBytes });
    network = new TlsNetwork({ identity, trustedPeers, clock, log: (event, fields) => log(event, fields) });
    appliance = new ProtectedAppliance({
      siteId: config.siteId, hypervisor, network, clock,
      ...(config.bufferBytes !== undefined ? { bufferBytes: config.bufferBytes } : {}),
      ...(config.bitmapBudgetBytes !== undefined ? { bitmapBudgetBytes: config.bitmapBudgetBytes } : {}),
      log: (event, fields) => log(event, fields),
    });
  } catch (e) {
    await volumes?.close();
    await platform.instance.dispose();
    throw e;
  }
  const vms: VmInfo[] = named.map((n) => n.vm);

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

  let s: GroupSender;
  try {
    s = await appliance.protect({ groupId, settings, vmIds: vms.map((v) => v.id), recoveryAddress: config.recoveryAddress, preseeded: config.group.preseeded ?? false });
  } catch (e) {
    await appliance.stop().catch(() => undefined);
    await volumes?.close();
    await platform.instance.dispose();
    throw e;
  }
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

  const w = config.workload;
  const workload = dc && w ? new Workload(dc, { seed: w.seed, vms: vms.map((v) => v.id), writeSizes: w.writeSizes, ...(w.hotFraction !== undefined ? { hotFraction: w.hotFraction } : {}) }) : undefined;
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
    const v: VerifiedCheckpoint = { id: cp.id, seq: cp.seq, timestamp: cp.timestamp, ...(cp.tag !== undefined ? { tag: cp.tag } : {}), volumeSha256: await hashVolumes(dc!, vms) };
    verified.push(v);
    if (verified.length > KEEP_VERIFIED) verified.shift();
    log('checkpoint-verified', { ...v });
  };

  let wake: () => void = () => undefined;
  const loop = (async (): Promise<void> => {
    // On a platform the guests write by themselves: nothing to play, only the status to keep fresh.
    if (!workload || !w) {
      while (!stopping) {
        await status.write(snapshot());
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, verifyEveryMs).unref();
        });
      }
      return;
    }
    while (!stopping) {
      // run() resolves only after its last write completed: the pause below has nothing in flight.
      const r = await workload.run({ durationMs: verifyEveryMs, ratePerSecond: w.ratePerSecond });
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
    workload?.stop();
    wake();
    await loop.catch(() => undefined);
    scheduler.stop();
    const drainStart = Date.now();
    while (s.connected && s.currentStats().bufferedBytes > 0 && Date.now() - drainStart < DRAIN_LIMIT_MS) await clock.sleep(25);
    if (s.connected && s.state.phase === 'streaming') await clock.sleep(MARKER_GRACE_MS);
    const unacknowledged = s.currentStats().bufferedBytes;
    await appliance.stop();
    await volumes?.close();
    await platform.instance.dispose();
    stoppedCleanly = true;
    await status.write(snapshot());
    await status.flushed();
    clearInterval(keepAlive);
    log('stopped', { groupId, unacknowledgedBytes: unacknowledged, verified: verified.length });
  })());
  return { sender: s, failed, stop };
}

// `opencdp appliance serve`: an appliance a manager drives over the control link. On the embedded default
// its platform is a fake data centre on the system clock holding this site's VMs (and, in the recovery
// role, the VMs recovered here); it protects what the manager tells it to, keeps journals for groups
// protected elsewhere when it has a link listener, and runs the recovery operations beside them.
// For demos and tests it also plays the guests: a workload, quiescing, volume hashes, a ransomware-like
// overwrite (the `guest.*` control methods), none of which a real platform's appliance would offer.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import {
  ApplianceService, LocalFileStorage, LocalScriptRunner, parseLinkAddress, ProtectedAppliance, RecoveryAppliance, serveControl, SystemClock, TlsNetwork, ValidationError,
  type ControlServer, type VmId, type VolumeId,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor, Workload } from '@opencdp/adapter-fake';
import { readIdentityFile, readTrustedPeersFile } from '../appliance/identity-files.js';
import type { JsonLog } from '../appliance/json-log.js';
import { hashVolumes } from '../appliance/status-file.js';
import { startSiteRecovery } from './site-recovery.js';

export interface SiteApplianceConfig {
  siteId: string;
  identityFile: string;
  trustedPeersFile: string;
  /** Journals and replica volumes (recovery role). */
  dataDir: string;
  /** The control link a manager drives this appliance over: mutual TLS from the site identity, plus this token. */
  control: { listen: string; token: string };
  /** Executables the recovery role may run as pre- and post-recovery scripts (by file name); none when absent. */
  scriptsDir?: string;
  /** Site-link listener: present when this appliance keeps journals (recovery role). */
  linkListen?: string;
  /**
   * The control link of the protected site's appliance, for failovers and moves that shut its VMs down;
   * `linkAddress` is its site-link listener (when it has the recovery role): reverse protection sends there.
   */
  protectedPeer?: { siteId: string; controlUrl: string; token: string; linkAddress?: string };
  /** This site's protected VMs (names are unique; ids follow creation order, so they are stable across runs). */
  vms?: { name: string; volumes: { sizeBytes: number; sectorSize?: number }[] }[];
  workload?: { seed: number; ratePerSecond: number; writeSizes: number[] };
  bufferBytes?: number;
  bitmapBudgetBytes?: number;
}

export interface RunningSiteAppliance {
  controlUrl: string;
  linkAddress?: string;
  service: ApplianceService;
  stop(): Promise<void>;
}

const HOST_PORT = /^(.+):(\d+)$/;

function hostPort(value: string, field: string): { host: string; port: number } {
  const m = HOST_PORT.exec(value);
  if (!m) throw new ValidationError(`'${value}' is not host:port`, field);
  return { host: m[1], port: Number(m[2]) };
}

export async function startSiteAppliance(config: SiteApplianceConfig, log: JsonLog): Promise<RunningSiteAppliance> {
  const identity = await readIdentityFile(config.identityFile);
  if (identity.siteId !== config.siteId) throw new ValidationError(`identity file is site '${identity.siteId}', the configuration says '${config.siteId}'`, 'siteId');
  if (config.protectedPeer?.linkAddress) {
    try {
      parseLinkAddress(config.protectedPeer.linkAddress);
    } catch (e) {
      throw new ValidationError((e as Error).message, 'protectedPeer.linkAddress', "write it as host:port, e.g. '127.0.0.1:7200'");
    }
  }
  const trustedPeers = await readTrustedPeersFile(config.trustedPeersFile);
  // Journals and replica volumes are copies of guest disks: the folder is the owner's only.
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await fs.chmod(config.dataDir, 0o700);
  const clock = new SystemClock();
  const dc = new FakeDataCenter({ clock, seed: 1, idPrefix: config.siteId });
  const site = dc.addSite(config.siteId);
  const host = dc.addHost(site.id, 'host-1');
  const vms = (config.vms ?? []).map((spec) => dc.createVm({
    name: spec.name, hostId: host.id,
    volumes: spec.volumes.map((v, i) => ({ name: `${spec.name}-disk${i}`, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize ?? 512 })),
  }));
  const hypervisor = new FakeHypervisor(dc, site.id);
  const network = new TlsNetwork({ identity, trustedPeers, clock, log: (event, fields) => log(event, fields) });
  const protectedAppliance = new ProtectedAppliance({
    siteId: config.siteId, hypervisor, network, clock, log: (e, f) => log(e, f),
    ...(config.bufferBytes !== undefined ? { bufferBytes: config.bufferBytes } : {}),
    ...(config.bitmapBudgetBytes !== undefined ? { bitmapBudgetBytes: config.bitmapBudgetBytes } : {}),
  });
  let recoveryAppliance: RecoveryAppliance | undefined;
  let linkAddress: string | undefined;
  const service = new ApplianceService({ siteId: config.siteId, clock, hypervisor, protectedAppliance });
  if (config.linkListen) {
    const storage = new LocalFileStorage(config.dataDir);
    recoveryAppliance = new RecoveryAppliance({ siteId: config.siteId, storage, clock, network, journalRoot: 'journals', log: (e, f) => log(e, f) });
    const { orchestrator, directory } = await startSiteRecovery({
      clock, hypervisor, recoveryAppliance, storage, dataDir: config.dataDir, log, local: service, controlTls: { identity, trustedPeers },
      ...(config.protectedPeer ? { protectedPeer: config.protectedPeer } : {}), ...(config.scriptsDir ? { scripts: new LocalScriptRunner({ scriptsDir: config.scriptsDir }) } : {}),
    });
    service.setRecovery(orchestrator, directory, recoveryAppliance, { storage, journalRoot: 'journals' });
    linkAddress = await recoveryAppliance.listen(config.linkListen);
  }

  // The guests' side, for demos: a workload, quiescing (as a VSS agent would), hashes, an attack.
  let workloadRun: Promise<unknown> | undefined;
  let workload: Workload | undefined;
  const releases: (() => void)[] = [];
  const guest = {
    startWorkload: async (): Promise<void> => {
      if (!config.workload || workloadRun) return;
      workload = new Workload(dc, { seed: config.workload.seed, vms: vms.map((v) => v.id), writeSizes: config.workload.writeSizes });
      workloadRun = workload.run({ durationMs: 24 * 3600_000, ratePerSecond: config.workload.ratePerSecond }).catch((e: Error) => log('workload-failed', { message: e.message }));
    },
    stopWorkload: async (): Promise<void> => {
      workload?.stop();
      await workloadRun;
      workloadRun = undefined;
    },
    /** Holds new guest writes of these VMs (completed ones stay): a crash- and write-order-consistent pause. */
    quiesce: async (vmIds: VmId[]): Promise<void> => {
      for (const id of vmIds) releases.push(dc.holdWrites(id));
    },
    thaw: async (): Promise<void> => {
      for (const release of releases.splice(0)) release();
    },
    /** One guest write (data as base64), e.g. into a recovered VM. */
    write: async (vmId: VmId, volumeId: VolumeId, offset: number, base64: string): Promise<void> => {
      await dc.guestWrite(vmId, volumeId, offset, Buffer.from(base64, 'base64'));
    },
    /** Reads as the guest would (base64), e.g. to look at what an attack left. */
    read: async (vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<string> => (await dc.guestRead(vmId, volumeId, offset, length)).toString('base64'),
    /** sha256 of every volume of these VMs, keyed by volume id. */
    hashVolumes: (vmIds: VmId[]): Promise<Record<string, string>> => hashVolumes(dc, vmIds.map((id) => dc.getVm(id))),
    /** Overwrites the first `bytes` of every volume of a VM with an "encrypted" pattern, as ransomware would. */
    ransomware: async (vmId: VmId, bytes: number): Promise<number> => {
      const vm = dc.getVm(vmId);
      let written = 0;
      for (const v of vm.volumes) {
        const block = Buffer.alloc(64 * 1024);
        for (let at = 0; at < Math.min(bytes, v.sizeBytes); at += block.length) {
          for (let i = 0; i < block.length; i += 32) createHash('sha256').update(`locked:${v.id}:${at + i}`).digest().copy(block, i);
          await dc.guestWrite(vmId, v.id, at, block.subarray(0, Math.min(block.length, v.sizeBytes - at)));
          written += block.length;
        }
      }
      return written;
    },
    vms: async (): Promise<{ id: VmId; name: string }[]> => dc.inventory(site.id).vms.map((v) => ({ id: v.id, name: v.name })),
  };
  // Mutual TLS from the site identity: managers of this site and of paired sites only, the token as a second factor.
  const control: ControlServer = await serveControl(service, hostPort(config.control.listen, 'control.listen'), {
    token: config.control.token, tls: { identity, trustedPeers }, extra: guest as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>, log: (e, f) => log(e, f),
  });
  // Keeps the event loop alive: the system clock's timers are unref'd.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  log('ready', { siteId: config.siteId, controlUrl: control.url, ...(linkAddress ? { linkAddress } : {}), vms: vms.map((v) => ({ id: v.id, name: v.name, volumes: v.volumes.map((x) => x.id) })) });

  let stopping: Promise<void> | undefined;
  return {
    controlUrl: control.url,
    ...(linkAddress ? { linkAddress } : {}),
    service,
    stop: () => (stopping ??= (async () => {
      await guest.thaw();
      await guest.stopWorkload();
      await control.close();
      await protectedAppliance.stop();
      await recoveryAppliance?.stop();
      dc.dispose();
      clearInterval(keepAlive);
      log('stopped', {});
    })()),
  };
}

// `opencdp appliance serve`: an appliance a manager drives over the control link. Its platform comes from
// the config's `platform` section through the loader (default: the embedded fake data centre holding this
// site's `vms`); it protects what the manager tells it to, keeps journals for groups protected elsewhere
// when it has a link listener (on the platform's recovery storage, else local files), and runs the
// recovery operations beside them on the same platform. For demos and tests it also offers the guests'
// side (the `guest.*` control methods, see demo-guests.ts), which a production appliance never needs.
// A site may run one such appliance per host (`applianceId`): it splits the VMs of its own host only.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VhdxImageWriter } from '@opencdp/adapter-hyperv/vhdx';
import {
  ApplianceService, ImageService, LocalFileStorage, LocalScriptRunner, MemoryStorage, parseLinkAddress, ProtectedAppliance, QemuImgWriter, RawWriter, RecoveryAppliance, serveControl,
  startPlatform, SystemClock, TlsNetwork, ValidationError, type ControlServer, type PlatformRole, type PlatformSelection,
} from '@opencdp/core';
import { FakeHypervisor } from '@opencdp/adapter-fake';
import { FileBackedVolumes } from '../appliance/file-backed-volumes.js';
import { readIdentityFile, readTrustedPeersFile } from '../appliance/identity-files.js';
import type { JsonLog } from '../appliance/json-log.js';
import { demoGuestsFor, type DemoWorkload } from './demo-guests.js';
import { platformGuests } from './platform-guests.js';
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
  /** This appliance's name within its site (a site may run one appliance per host); it also prefixes the ids of the VMs it hosts. */
  applianceId?: string;
  /** The name of the embedded fake data centre's host whose VMs this appliance splits (default `host-1`). */
  hostName?: string;
  /** Embedded fake data centre: keeps the VMs' volumes in files here, so a process killed with -9 finds its disks after a restart. */
  volumeDir?: string;
  /** Journals in memory instead of the platform's recovery storage or files under dataDir (benchmarks of the control plane only). */
  recoveryStorage?: 'files' | 'memory';
  /** The platform of this site (loaded by package, its section checked by its schema); default: the fake data centre with `vms`. */
  platform?: PlatformSelection;
  /** Without `platform`: the fake data centre's VMs (names are unique; ids follow creation order, so they are stable across runs). */
  vms?: { name: string; volumes: { sizeBytes: number; sectorSize?: number }[] }[];
  /** The fake guests' writes (fake platform only), started by the `startWorkload` control method. */
  workload?: DemoWorkload;
  bufferBytes?: number;
  bitmapBudgetBytes?: number;
  /**
   * Checkpoint images (recovery role): exports land in `exportDir` (default `<dataDir>/exports`, one folder
   * per export, 0700, files 0600) and are downloaded through the manager; live NBD sessions listen on UNIX
   * sockets in `socketDir` (default `<dataDir>/nbd`; keep it short) and end after `idleTimeoutSec` idle.
   */
  images?: { exportDir?: string; socketDir?: string; idleTimeoutSec?: number };
  /**
   * How the platform captures writes: `splitter` (a write tap) or `change-tracking` (frozen views and
   * changed regions, as vSphere, Hyper-V or EBS offer). Default: both offered, the kernel splits.
   */
  capture?: 'splitter' | 'change-tracking';
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
  const roles: PlatformRole[] = config.linkListen ? ['protected', 'recovery'] : ['protected'];
  // One fake data centre per process: with several appliances per site each holds its own host, so the
  // appliance id joins the prefix that keeps VM and volume ids unique across processes.
  const fakeDefault = {
    vms: config.vms ?? [], ...(config.applianceId ? { idPrefix: `${config.siteId}.${config.applianceId}` } : {}), ...(config.hostName ? { hostName: config.hostName } : {}),
    ...(config.capture ? { capture: config.capture } : {}),
  };
  const platform = await startPlatform(config.platform ?? { name: 'fake', config: fakeDefault },
    { roles, siteId: config.siteId, clock, log: (e, f) => log(`platform.${e}`, f), applianceDataDir: config.dataDir });
  const hypervisor = platform.instance.hypervisor;
  let guest: ReturnType<typeof demoGuestsFor>;
  let volumes: FileBackedVolumes | undefined;
  let inventory: Awaited<ReturnType<typeof hypervisor.inventory>>;
  try {
    guest = demoGuestsFor(hypervisor, config.workload, log, platformGuests(hypervisor));
    inventory = await hypervisor.inventory();
    const dc = !config.platform && hypervisor instanceof FakeHypervisor ? hypervisor.dataCenter : undefined;
    if (dc && config.volumeDir) {
      const named = (config.vms ?? []).map((spec, i) => {
        const vm = inventory.vms.find((v) => v.name === spec.name);
        if (!vm) throw new ValidationError(`the fake data centre has no VM named '${spec.name}'`, `vms.${i}.name`);
        return { name: spec.name, vm };
      });
      volumes = await FileBackedVolumes.attach(dc, config.volumeDir, named);
      log('volumes-loaded', { volumeDir: config.volumeDir, restoredBytes: volumes.restoredBytes });
    }
  } catch (e) {
    await platform.instance.dispose();
    throw e;
  }
  const network = new TlsNetwork({ identity, trustedPeers, clock, log: (event, fields) => log(event, fields) });
  const protectedAppliance = new ProtectedAppliance({
    siteId: config.siteId, hypervisor, network, clock, log: (e, f) => log(e, f),
    // Change-tracking groups keep their acknowledged tokens here (0600 files), so a restart resumes from them.
    stateDir: config.dataDir,
    ...(config.bufferBytes !== undefined ? { bufferBytes: config.bufferBytes } : {}),
    ...(config.bitmapBudgetBytes !== undefined ? { bitmapBudgetBytes: config.bitmapBudgetBytes } : {}),
  });
  let recoveryAppliance: RecoveryAppliance | undefined;
  let images: ImageService | undefined;
  let linkAddress: string | undefined;
  const service = new ApplianceService({
    siteId: config.siteId, clock, hypervisor, protectedAppliance, log: (e, f) => log(e, f),
    // One appliance per host: it answers for its platform's hosts only (the manager places VMs by host).
    ...(config.applianceId ? { applianceId: config.applianceId, hostIds: inventory.hosts.map((h) => h.id) } : {}),
  });
  let control: ControlServer;
  try {
    if (config.linkListen) {
      const storage = config.recoveryStorage === 'memory' ? new MemoryStorage() : platform.instance.recoveryStorage ?? new LocalFileStorage(config.dataDir);
      recoveryAppliance = new RecoveryAppliance({ siteId: config.siteId, storage, clock, network, journalRoot: 'journals', log: (e, f) => log(e, f) });
      const { orchestrator, directory } = await startSiteRecovery({
        clock, hypervisor, recoveryAppliance, storage, dataDir: config.dataDir, log, local: service, controlTls: { identity, trustedPeers },
        ...(config.protectedPeer ? { protectedPeer: config.protectedPeer } : {}), ...(config.scriptsDir ? { scripts: new LocalScriptRunner({ scriptsDir: config.scriptsDir }) } : {}),
      });
      service.setRecovery(orchestrator, directory, recoveryAppliance, { storage, journalRoot: 'journals' });
      // qemu-img writes every format it can; our VHDX writer takes 4096-byte sectors; raw needs no tool at all.
      images = await ImageService.open({
        clock, journals: recoveryAppliance, groups: directory, log: (e, f) => log(e, f),
        exportDir: config.images?.exportDir ?? path.join(config.dataDir, 'exports'), socketDir: config.images?.socketDir ?? path.join(config.dataDir, 'nbd'),
        writers: [new QemuImgWriter(), new VhdxImageWriter(), new RawWriter()],
        ...(config.images?.idleTimeoutSec !== undefined ? { defaultIdleTimeoutSec: config.images.idleTimeoutSec } : {}),
      });
      service.setImages(images);
      linkAddress = await recoveryAppliance.listen(config.linkListen);
      service.setLinkAddress(linkAddress);
    }
    // Mutual TLS from the site identity: managers of this site and of paired sites only, the token as a second factor.
    control = await serveControl(service, hostPort(config.control.listen, 'control.listen'), {
      // How long barrier rounds held guest writes here: figures for tests and benchmarks, beside the guests' controls.
      token: config.control.token, tls: { identity, trustedPeers }, extra: { ...guest, barrierFigures: async () => service.barrierFigures() } as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>,
      log: (e, f) => log(e, f),
    });
  } catch (e) {
    await images?.close().catch(() => undefined);
    await recoveryAppliance?.stop().catch(() => undefined);
    await volumes?.close();
    await platform.instance.dispose();
    throw e;
  }
  // Keeps the event loop alive: the system clock's timers are unref'd.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const vms = (await hypervisor.inventory()).vms;
  log('ready', {
    siteId: config.siteId, ...(config.applianceId ? { applianceId: config.applianceId } : {}), platform: platform.provider.platform, package: platform.packageName, controlUrl: control.url, ...(linkAddress ? { linkAddress } : {}),
    vms: vms.map((v) => ({ id: v.id, name: v.name, volumes: v.volumes.map((x) => x.id) })),
  });

  let stopping: Promise<void> | undefined;
  return {
    controlUrl: control.url,
    ...(linkAddress ? { linkAddress } : {}),
    service,
    stop: () => (stopping ??= (async () => {
      await guest.close();
      service.stopBarrier();
      await control.close();
      await protectedAppliance.stop();
      await images?.close();
      await recoveryAppliance?.stop();
      await volumes?.close();
      await platform.instance.dispose();
      clearInterval(keepAlive);
      log('stopped', {});
    })()),
  };
}

// Two sites on loopback in four processes, for the demo and for end-to-end specs: at each site an
// appliance (`opencdp appliance serve`) and a manager (`opencdp manager start`). Site A protects, site B
// recovers (its appliance listens on the mutual-TLS site link). On the embedded default site A's
// appliance runs the VMs (a fake data centre) and, when asked, a seeded workload; on `qemu` the lab plays
// the KVM host's operator: it boots real Linux guests under qemu-system-x86_64, site A's appliance adopts
// them through their QMP sockets, and site B's boots recovered VMs as qemu-system processes. On `vsphere` each
// site's appliance loads the vSphere platform on a vCenter the caller runs (specs: vcsim), capturing by CBT;
// with `recoverOn: 'vsphere'` only site B does, recovering the fake data centre's VMs as vSphere VMs. The
// password goes to a 0600 file, never into a config or a log, and the certificate is pinned. Everything is
// as an operator would set it up securely: the control links are mutual TLS from the site identities, the
// managers serve HTTPS with their self-signed certificates, whose fingerprints (as each manager printed
// them) the clients and the pairing pin, and every file is the owner's only. Identities and trust, free
// ports, configurations, start-up until every process answers, control and REST handles, restarting a
// manager, and teardown live here so that callers only drive the sites.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildGuestInitramfs, findGuestKernel, LinuxGuest, prepareGuestKernel } from '@opencdp/adapter-qemu';
import { VSPHERE_LIVE_PORTGROUP, VSPHERE_TEST_PORTGROUP, type VcsimFixture } from '@opencdp/adapter-vsphere/testing';
import { RemoteApplianceControl, TrustedPeers, ValidationError, type VmId } from '@opencdp/core';
import { createIdentityFile, trustPeer } from '../appliance/identity-files.js';
import { ManagerClient } from '../client/manager-client.js';
import { CliProcess } from './cli-process.js';

export type LabSite = 'site-a' | 'site-b';

/** A VM of site A, as the appliance configuration takes it. */
export interface LabVmSpec {
  name: string;
  volumes: { sizeBytes: number; sectorSize?: number }[];
}

export interface LabWorkload {
  seed: number;
  ratePerSecond: number;
  writeSizes: number[];
  hotFraction?: number;
}

export interface TwoSiteLabOptions {
  /** Where both sites keep their files (default: a temporary folder, removed by `stop()` unless `keep`). */
  dir?: string;
  keep?: boolean;
  /** Site A's VMs (on `vsphere` they are the ones site A's vCenter has: pass none). */
  vms: LabVmSpec[];
  /** Site A's guest workload; it runs once a caller sends `controlA.extra('startWorkload')`. */
  workload?: LabWorkload;
  /** How often the managers poll the appliances (default 500 ms). */
  pollIntervalMs?: number;
  /** How long each process may take to become ready (default 60 s: a busy machine starts Node slowly). */
  startTimeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /**
   * `fake` (default): the embedded fake data centre at both sites. `qemu`: each VM of `vms` is a real guest
   * (one ext4 disk of its first volume's size, writing fsynced files) that site A adopts; site B boots
   * recovered VMs from their disks (read-only check mode).
   */
  platform?: 'fake' | 'qemu' | 'vsphere';
  /**
   * Cross-platform recovery: site B runs this platform instead of `platform` (which must then be `fake`):
   * `vsphere` recovers site A's fake VMs as vSphere VMs on `vsphere['site-b']`.
   */
  recoverOn?: 'vsphere';
  /** On `vsphere`: the vCenter of each site (the protected VMs already exist at site A's); with `recoverOn: 'vsphere'`, site B's only. */
  vsphere?: Partial<Record<LabSite, VsphereLabEndpoint>>;
  /** The fake platforms' capture mode (default: both offered, the kernel splits). */
  capture?: 'splitter' | 'change-tracking';
}

/** A vCenter a lab site's appliance logs into (its `vsphere` platform section, less the password's place). */
export interface VsphereLabEndpoint {
  url: string;
  user: string;
  /** Written to a 0600 file of the lab (the config names the file). */
  password: string;
  /** SHA-256 thumbprint of vCenter's certificate, pinned. */
  thumbprint: string;
  datacenter: string;
  livePortgroup?: string;
  testPortgroups?: string[];
  minIntervalSeconds?: number;
  cbtGranularityBytes?: number;
}

/** A vcsim as a lab site's vCenter: its datacenter, its first portgroup live, its second the test network. */
export function vcsimLabEndpoint(v: VcsimFixture): VsphereLabEndpoint {
  return { url: v.url, user: v.user, password: v.password, thumbprint: v.thumbprint, datacenter: 'DC0', livePortgroup: VSPHERE_LIVE_PORTGROUP, testPortgroups: [VSPHERE_TEST_PORTGROUP] };
}

/** Refuses a cross-platform lab the lab cannot build (callers check before they start anything). */
export function checkRecoverOn(platform: TwoSiteLabOptions['platform'], recoverOn: string | undefined): void {
  if (recoverOn === undefined) return;
  if ((platform ?? 'fake') !== 'fake') throw new ValidationError(`recovering on another platform starts from the embedded fake data centre at site A, not from '${platform}'`, 'recoverOn');
  if (recoverOn !== 'vsphere') throw new ValidationError(`the lab recovers on 'vsphere' only, not '${recoverOn}'`, 'recoverOn');
}

/** A VM of site A as its appliance reported it when ready. */
export interface LabVm {
  id: VmId;
  name: string;
  volumes: string[];
}

export interface TwoSiteLab {
  dir: string;
  admin: { user: string; password: string };
  controlA: RemoteApplianceControl;
  controlB: RemoteApplianceControl;
  /** REST clients of the two managers, logged in as the admin, pinning each manager's certificate. */
  apiA: ManagerClient;
  apiB: ManagerClient;
  managerUrlA: string;
  managerUrlB: string;
  /** SHA-256 fingerprints of the managers' certificates, as each printed it at start. */
  fingerprints: Record<LabSite, string>;
  vms: LabVm[];
  /** On `qemu`: the guests the lab runs, by VM name (their consoles, command ports and monitors). */
  guests: Map<string, LinuxGuest>;
  /** The four processes (a manager's entry changes when it restarts). */
  processes: { applianceA: CliProcess; applianceB: CliProcess; managerA?: CliProcess; managerB?: CliProcess };
  managerUrl(site: LabSite): string;
  /** Terminates a site's manager (the appliances keep replicating); SIGKILL after `graceMs` (default 10 s). */
  stopManager(site: LabSite, graceMs?: number): Promise<void>;
  /** Starts a site's manager again (same data folder and port) and waits until it answers. */
  startManager(site: LabSite): Promise<CliProcess>;
  restartManager(site: LabSite): Promise<CliProcess>;
  /** Terminates every process and removes the folder (unless it was given or `keep`). Safe to call twice. */
  stop(): Promise<void>;
}

/** A port the kernel just handed out and released (racy, as any such helper; good enough on loopback). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Probes until it returns a value (errors count as "not yet"); fails naming `what` after `limitMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export async function startTwoSiteLab(options: TwoSiteLabOptions): Promise<TwoSiteLab> {
  const log = options.log ?? (() => undefined);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-lab-')));
  // The lab's folder holds identities, configs, journals and the managers' databases: made owner-only (a
  // folder the caller already has keeps its mode; mkdtemp's is 0700).
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const f = (name: string): string => path.join(dir, name);
  const all: CliProcess[] = [];
  const spawn = (name: string, args: string[]): CliProcess => {
    const p = new CliProcess(name, args);
    all.push(p);
    return p;
  };
  // If the caller dies without stop() (an uncaught error, process.exit), the children must not outlive it.
  const killAll = (): void => {
    for (const p of all) p.kill('SIGKILL');
  };
  process.once('exit', killAll);
  let stopping: Promise<void> | undefined;
  const guests = new Map<string, LinuxGuest>();
  const stop = (): Promise<void> => (stopping ??= (async () => {
    await Promise.all(all.map((p) => p.terminate(10_000)));
    await Promise.all([...guests.values()].map((g) => g.kill()));
    process.off('exit', killAll);
    if (ownDir && !options.keep) await fs.rm(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  })());

  try {
    const [idA, idB] = await Promise.all([createIdentityFile('site-a', f('site-a.identity.json')), createIdentityFile('site-b', f('site-b.identity.json'))]);
    await trustPeer(idA, { siteId: idB.siteId, caCertPem: idB.caCertPem }, f('site-a.peers.json'));
    await trustPeer(idB, { siteId: idA.siteId, caCertPem: idA.caCertPem }, f('site-b.peers.json'));
    const token = randomBytes(24).toString('hex');
    const admin = { user: 'admin', password: randomBytes(12).toString('hex') };
    const [ctlA, ctlB, linkB, mgrA, mgrB] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const url = (port: number): string => `https://127.0.0.1:${port}`;
    const writeJson = async (name: string, value: unknown): Promise<string> => {
      // Configs hold the admin password and the control token: the owner's only.
      await fs.writeFile(f(name), JSON.stringify(value, null, 2), { mode: 0o600 });
      return f(name);
    };
    const capture = options.capture ? { capture: options.capture } : {};
    let platformA: Record<string, unknown> = { vms: options.vms, ...(options.workload ? { workload: options.workload } : {}), ...capture };
    let platformB: Record<string, unknown> = { ...capture };
    if (options.platform === 'qemu') {
      if (options.capture) throw new ValidationError('--capture applies to the fake platform; the qemu lab uses the splitter', 'capture');
      // The operator's side of a KVM host: guests running before any appliance, each with a monitor for OpenCDP.
      const kernel = await findGuestKernel();
      if (!kernel) throw new ValidationError('the qemu lab needs a Debian kernel in /boot (linux-image-amd64)', 'platform');
      const [initrd, bootKernel] = await Promise.all([buildGuestInitramfs(dir, kernel), prepareGuestKernel(dir, kernel)]);
      for (const vm of options.vms) {
        if (vm.volumes.length !== 1) throw new ValidationError(`guest '${vm.name}' of the qemu lab has one disk, not ${vm.volumes.length}`, 'vms');
        guests.set(vm.name, await LinuxGuest.start({ dir: f(`guests/${vm.name}`), name: vm.name, initrd, kernel, bootKernel, diskBytes: vm.volumes[0].sizeBytes, pace: 0.1 }));
      }
      log(`   ${guests.size} guests started under qemu-system-x86_64 (${[...guests.values()][0]?.accel ?? '?'}), site-a adopts them through their QMP sockets`);
      platformA = { platform: { name: 'qemu', config: { guests: [...guests.entries()].map(([name, g]) => ({ name, qmp: g.qmpSocket })) } } };
      platformB = { platform: { name: 'qemu', config: { recovery: { vmProcess: { kernel: bootKernel, initrd, append: 'console=ttyS0 quiet panic=-1 opencdp.mode=verify', memoryMiB: 192 } } } } };
    }
    const vsphereSection = async (site: LabSite): Promise<Record<string, unknown>> => {
      const given = options.vsphere?.[site];
      if (!given) throw new ValidationError(`the lab runs vSphere at ${site} but has no vCenter for it (vsphere.${site})`, 'vsphere');
      const { password, ...endpoint } = given;
      const passwordFile = f(`${site}.vsphere-password`);
      await fs.writeFile(passwordFile, password, { mode: 0o600 });
      return { platform: { name: 'vsphere', config: { ...endpoint, passwordFile } } };
    };
    if (options.platform === 'vsphere') {
      if (options.capture || options.workload) throw new ValidationError('the vsphere lab captures by CBT and its guests are the caller\'s', options.capture ? 'capture' : 'workload');
      if (options.vms.length > 0) throw new ValidationError('the vsphere lab protects the VMs site A\'s vCenter has; create them there and pass no vms', 'vms');
      [platformA, platformB] = [await vsphereSection('site-a'), await vsphereSection('site-b')];
    }
    checkRecoverOn(options.platform, options.recoverOn);
    if (options.recoverOn === 'vsphere') platformB = await vsphereSection('site-b');
    const applianceA = await writeJson('site-a.appliance.json', {
      siteId: 'site-a', identityFile: 'site-a.identity.json', trustedPeersFile: 'site-a.peers.json', dataDir: 'site-a-data',
      control: { listen: `127.0.0.1:${ctlA}`, token }, ...platformA,
    });
    const applianceB = await writeJson('site-b.appliance.json', {
      siteId: 'site-b', identityFile: 'site-b.identity.json', trustedPeersFile: 'site-b.peers.json', dataDir: 'site-b-data',
      control: { listen: `127.0.0.1:${ctlB}`, token }, linkListen: `127.0.0.1:${linkB}`,
      protectedPeer: { siteId: 'site-a', controlUrl: url(ctlA), token }, ...platformB,
    });
    const appliances = [{ siteId: 'site-a', url: url(ctlA), token }, { siteId: 'site-b', url: url(ctlB), token }];
    // Each manager drives both appliances over mutual TLS with its own site's identity (the sites trust each other).
    const managerConfig = (site: LabSite): Promise<string> => writeJson(`${site}.manager.json`, {
      siteId: site, admin, identityFile: `${site}.identity.json`, trustedPeersFile: `${site}.peers.json`, appliances, recoveryAddresses: { 'site-b': `127.0.0.1:${linkB}` },
      pollIntervalMs: options.pollIntervalMs ?? 500,
    });
    const managers: Record<LabSite, { port: number; config: string }> = {
      'site-a': { port: mgrA, config: await managerConfig('site-a') },
      'site-b': { port: mgrB, config: await managerConfig('site-b') },
    };

    const appA = spawn('appliance site-a', ['appliance', 'serve', '--config', applianceA]);
    const appB = spawn('appliance site-b', ['appliance', 'serve', '--config', applianceB]);
    const [readyA] = await Promise.all([
      appA.waitFor('appliance site-a ready', (l) => l.event === 'ready', startTimeoutMs),
      appB.waitFor('appliance site-b ready', (l) => l.event === 'ready', startTimeoutMs),
    ]);
    const processes: TwoSiteLab['processes'] = { applianceA: appA, applianceB: appB };
    const key = (site: LabSite): 'managerA' | 'managerB' => (site === 'site-a' ? 'managerA' : 'managerB');
    const fingerprints: Record<LabSite, string> = { 'site-a': '', 'site-b': '' };
    const startManager = async (site: LabSite): Promise<CliProcess> => {
      if (processes[key(site)]?.running) throw new Error(`the ${site} manager runs already`);
      const { port, config } = managers[site];
      const p = spawn(`manager ${site}`, ['manager', 'start', '--data-dir', f(`${site}-manager`), '--listen', `127.0.0.1:${port}`, '--config', config, '--strict']);
      processes[key(site)] = p;
      // The manager prints its address and its certificate's fingerprint once it listens: what an operator pins.
      const listening = await p.waitFor(`the ${site} manager to listen`, (l) => (l as { msg?: string }).msg === 'manager listening', startTimeoutMs);
      const fingerprint = (listening as { tlsFingerprintSha256?: string }).tlsFingerprintSha256;
      if (!fingerprint || (fingerprints[site] && fingerprints[site] !== fingerprint)) throw new Error(`the ${site} manager printed no or another certificate fingerprint; ${p.tail()}`);
      fingerprints[site] = fingerprint;
      return p;
    };
    const stopManager = async (site: LabSite, graceMs = 10_000): Promise<void> => {
      await processes[key(site)]?.terminate(graceMs);
    };
    await Promise.all([startManager('site-a'), startManager('site-b')]);
    // Pair the managers as an operator would (a one-time token from B, presented at A): they then share the
    // definitions of the groups between the sites, so either can recover them.
    const apiA = new ManagerClient({ url: url(mgrA), ...admin, fingerprint: fingerprints['site-a'] });
    const apiB = new ManagerClient({ url: url(mgrB), ...admin, fingerprint: fingerprints['site-b'] });
    const { token: pairingToken } = await apiB.call(apiB.api.POST('/v1/peersites/generatetoken', { body: {} }));
    await apiA.call(apiA.api.POST('/v1/peersites', { body: { hostName: '127.0.0.1', port: mgrB, token: pairingToken, certificateFingerprint: fingerprints['site-b'] } }));
    log(`   4 processes: appliance site-a (pid ${appA.pid}), appliance site-b (pid ${appB.pid}), managers at ${url(mgrA)} and ${url(mgrB)}`);

    // The lab drives the appliances as site A's manager would: with site A's identity (site B trusts it).
    const controlTls = { identity: idA, trustedPeers: new TrustedPeers([idB.asTrustedPeer()]) };
    return {
      dir, admin,
      controlA: new RemoteApplianceControl('site-a', url(ctlA), token, { tls: controlTls }),
      controlB: new RemoteApplianceControl('site-b', url(ctlB), token, { tls: controlTls }),
      apiA,
      apiB,
      managerUrlA: url(mgrA),
      managerUrlB: url(mgrB),
      fingerprints,
      vms: readyA.vms as LabVm[],
      guests,
      processes,
      managerUrl: (site) => url(managers[site].port),
      stopManager,
      startManager,
      restartManager: async (site) => {
        await stopManager(site);
        return startManager(site);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

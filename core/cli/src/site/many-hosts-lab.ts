// A protected site with many hosts, as processes: one `opencdp appliance serve` per host (each on its own
// network-namespace host, or loopback address where namespaces cannot be made; see host-network.ts), one
// recovery appliance at the recovery site, and the protected site's manager driving all of them over the
// control link. Used by the cross-host J2 and kill specs and by the `scale` benchmark; callers drive the
// site through the REST API and the appliances' control links.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RemoteApplianceControl, TrustedPeers } from '@opencdp/core';
import { createIdentityFile, trustPeer } from '../appliance/identity-files.js';
import { ManagerClient } from '../client/manager-client.js';
import { CliProcess } from './cli-process.js';
import { createHostNetwork, type HostNetwork } from './host-network.js';
import { freePort, type LabVm, type LabVmSpec, type LabWorkload } from './two-site-lab.js';

export interface ManyHostsLabOptions {
  hosts: number;
  /** The VMs of host `i` (0-based). */
  vmsOf: (host: number) => LabVmSpec[];
  workload?: LabWorkload;
  /** Keep host volumes in files, so a host killed with -9 finds its disks when restarted (default true). */
  volumeFiles?: boolean;
  recoveryStorage?: 'files' | 'memory';
  network?: 'netns' | 'loopback';
  pollIntervalMs?: number;
  barrierHoldMs?: number;
  /** Per host appliance: its dirty-bitmap budget per group and its replication buffer (defaults of `serve` otherwise). */
  bitmapBudgetBytes?: number;
  bufferBytes?: number;
  startTimeoutMs?: number;
  dir?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface LabHost {
  applianceId: string;
  address: string;
  controlUrl: string;
  control: RemoteApplianceControl;
  vms: LabVm[];
  process: CliProcess;
  /** kill -9 of the host's appliance process. */
  kill(): void;
  /** Starts the host's appliance again (same configuration, address and port; its memory is gone). */
  restart(): Promise<void>;
}

export interface ManyHostsLab {
  dir: string;
  network: HostNetwork;
  hosts: LabHost[];
  recovery: { control: RemoteApplianceControl; process: CliProcess; dataDir: string };
  manager: CliProcess;
  api: ManagerClient;
  managerUrl: string;
  /** Stops the manager (the appliances keep replicating; no checkpoints are cut). */
  stopManager(): Promise<void>;
  /** Starts the manager again on its data folder and port. */
  startManager(): Promise<void>;
  /** Stops the recovery appliance cleanly (its journals can then be opened from `dataDir`). */
  stopRecovery(): Promise<void>;
  stop(): Promise<void>;
}

export async function startManyHostsLab(options: ManyHostsLabOptions): Promise<ManyHostsLab> {
  const log = options.log ?? (() => undefined);
  const timeout = options.startTimeoutMs ?? 60_000;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-hosts-')));
  const f = (name: string): string => path.join(dir, name);
  const network = await createHostNetwork(options.hosts, options.network ?? 'netns');
  log(`   hosts: ${network.mode}${network.fallbackReason ? ` (${network.fallbackReason})` : ''}`);
  const all: CliProcess[] = [];
  const spawn = (name: string, args: string[], prefix: string[] = []): CliProcess => {
    const p = new CliProcess(name, args, prefix);
    all.push(p);
    return p;
  };
  const killAll = (): void => {
    for (const p of all) p.kill('SIGKILL');
  };
  process.once('exit', killAll);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    await Promise.all(all.map((p) => p.terminate(10_000)));
    process.off('exit', killAll);
    await network.dispose();
    if (ownDir && !options.keep) await fs.rm(dir, { recursive: true, force: true });
    else if (options.keep) log(`kept ${dir}`);
  })());

  try {
    const [idA, idB] = await Promise.all([createIdentityFile('site-a', f('site-a.identity.json')), createIdentityFile('site-b', f('site-b.identity.json'))]);
    await trustPeer(idA, { siteId: idB.siteId, caCertPem: idB.caCertPem }, f('site-a.peers.json'));
    await trustPeer(idB, { siteId: idA.siteId, caCertPem: idA.caCertPem }, f('site-b.peers.json'));
    const token = randomBytes(24).toString('hex');
    // The control links are mutual TLS from the site identities, as an operator sets them up.
    const controlTls = { identity: idA, trustedPeers: new TrustedPeers([idB.asTrustedPeer()]) };
    const writeJson = async (name: string, value: unknown): Promise<string> => {
      await fs.writeFile(f(name), JSON.stringify(value, null, 2), { mode: 0o600 });
      return f(name);
    };
    const root = network.rootAddress;

    // The recovery site's appliance, on this machine (the hosts reach it at the root address).
    const recoveryConfig = await writeJson('recovery.appliance.json', {
      siteId: 'site-b', applianceId: 'recovery-1', identityFile: 'site-b.identity.json', trustedPeersFile: 'site-b.peers.json', dataDir: 'recovery-data',
      control: { listen: `${root}:0`, token }, linkListen: `${root}:0`, ...(options.recoveryStorage ? { recoveryStorage: options.recoveryStorage } : {}),
    });
    const recoveryProcess = spawn('recovery appliance', ['appliance', 'serve', '--config', recoveryConfig]);

    // One appliance per host, each on its host's address.
    const hostConfig = async (i: number, port: number): Promise<string> => writeJson(`host-${i + 1}.appliance.json`, {
      siteId: 'site-a', applianceId: `host-${i + 1}`, hostName: `host-${i + 1}`, identityFile: 'site-a.identity.json', trustedPeersFile: 'site-a.peers.json',
      dataDir: `host-${i + 1}-data`, control: { listen: `${network.hosts[i].address}:${port}`, token }, vms: options.vmsOf(i),
      ...(options.volumeFiles !== false ? { volumeDir: `host-${i + 1}-volumes` } : {}), ...(options.workload ? { workload: { ...options.workload, seed: options.workload.seed + i } } : {}),
      ...(options.bitmapBudgetBytes ? { bitmapBudgetBytes: options.bitmapBudgetBytes } : {}), ...(options.bufferBytes ? { bufferBytes: options.bufferBytes } : {}),
    });
    const startHost = async (i: number, port: number): Promise<{ process: CliProcess; ready: Record<string, unknown> }> => {
      const p = spawn(`appliance host-${i + 1}`, ['appliance', 'serve', '--config', await hostConfig(i, port)], network.hosts[i].prefix);
      const ready = await p.waitFor(`appliance host-${i + 1} ready`, (l) => l.event === 'ready', timeout);
      return { process: p, ready };
    };
    const started = await Promise.all(network.hosts.map((_, i) => startHost(i, 0)));
    const recoveryReady = await recoveryProcess.waitFor('recovery appliance ready', (l) => l.event === 'ready', timeout);
    const hosts: LabHost[] = started.map((s, i) => {
      const url = String(s.ready.controlUrl);
      const port = Number(new URL(url).port);
      const control = new RemoteApplianceControl('site-a', url, token, { tls: controlTls });
      control.applianceId = `host-${i + 1}`;
      const host: LabHost = {
        applianceId: `host-${i + 1}`, address: network.hosts[i].address, controlUrl: url, control, vms: s.ready.vms as LabVm[], process: s.process,
        kill: () => host.process.kill('SIGKILL'),
        restart: async () => {
          host.process = (await startHost(i, port)).process;
        },
      };
      return host;
    });
    const recoveryControl = new RemoteApplianceControl('site-b', String(recoveryReady.controlUrl), token, { tls: controlTls });
    recoveryControl.applianceId = 'recovery-1';

    const admin = { user: 'admin', password: randomBytes(12).toString('hex') };
    const managerPort = await freePort();
    const managerConfig = await writeJson('site-a.manager.json', {
      siteId: 'site-a', admin, identityFile: 'site-a.identity.json', trustedPeersFile: 'site-a.peers.json',
      appliances: [...hosts.map((h) => ({ siteId: 'site-a', id: h.applianceId, url: h.controlUrl, token })),
        { siteId: 'site-b', id: 'recovery-1', url: String(recoveryReady.controlUrl), token }],
      pollIntervalMs: options.pollIntervalMs ?? 1000, ...(options.barrierHoldMs ? { barrierHoldMs: options.barrierHoldMs } : {}),
    });
    const managerUrl = `https://127.0.0.1:${managerPort}`;
    let fingerprint = '';
    const startManager = async (): Promise<CliProcess> => {
      const m = spawn('manager site-a', ['manager', 'start', '--data-dir', f('site-a-manager'), '--listen', `127.0.0.1:${managerPort}`, '--config', managerConfig]);
      // The manager prints its address and its certificate's fingerprint once it listens: what an operator pins.
      const listening = await m.waitFor('the manager to listen', (l) => (l as { msg?: string }).msg === 'manager listening', timeout);
      const printed = (listening as { tlsFingerprintSha256?: string }).tlsFingerprintSha256;
      if (!printed || (fingerprint && printed !== fingerprint)) throw new Error(`the manager printed no or another certificate fingerprint; ${m.tail()}`);
      fingerprint = printed;
      return m;
    };
    const manager = await startManager();
    const api = new ManagerClient({ url: managerUrl, ...admin, fingerprint });
    log(`   ${hosts.length} host appliances (${hosts.map((h) => h.address).join(', ')}), a recovery appliance and a manager at ${managerUrl}`);
    const lab: ManyHostsLab = {
      dir, network, hosts, manager, api, managerUrl,
      stopManager: async () => {
        await lab.manager.terminate(15_000);
      },
      startManager: async () => {
        lab.manager = await startManager();
      },
      recovery: { control: recoveryControl, process: recoveryProcess, dataDir: f('recovery-data') },
      stopRecovery: async () => {
        await recoveryProcess.terminate(15_000);
      },
      stop,
    };
    return lab;
  } catch (error) {
    await stop();
    throw error;
  }
}

// Starts the vcsim test fixture (fixture/vcsim: govmomi's vSphere API simulator plus the project's CBT and
// snapshot-data SIMULATION, see simulation.go) on loopback with TLS, and drives the fixture's control
// endpoints (the simulated guest's writes, fault injection). The Go binary is built once from Debian's
// govmomi and cached in adapters/vsphere/.cache (gitignored), keyed by the fixture's source and Go version.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InvalidStateError, OpenCdpError } from '@opencdp/core';
import { VimHttp } from '../vim-http.js';

const execFileAsync = promisify(execFile);
const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_DIR = path.join(PACKAGE_DIR, 'fixture', 'vcsim');
const CACHE_DIR = path.join(PACKAGE_DIR, '.cache', 'vcsim');
const GOPATH = '/usr/share/gocode';
const GOVMOMI = path.join(GOPATH, 'src/github.com/vmware/govmomi/simulator');

/** The fixture's distributed portgroups (`-portgroups 2`) as the harnesses and labs use them: the live network, and the isolated test network. */
export const VSPHERE_LIVE_PORTGROUP = 'DC0_DVPG0';
export const VSPHERE_TEST_PORTGROUP = 'DC0_DVPG1';

/** What is missing to build the fixture: Debian's golang-go and golang-github-vmware-govmomi-dev. */
export function missingVcsimTools(): string[] {
  const missing: string[] = [];
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    missing.push('golang-go');
  }
  if (!existsSync(GOVMOMI)) missing.push('golang-github-vmware-govmomi-dev');
  return missing;
}

/** Skips the calling test loudly when Go or govmomi is missing; under CI=true that is a failure. */
export function requireVcsimOrSkip(ctx: Mocha.Context): void {
  const missing = missingVcsimTools();
  if (missing.length === 0) return;
  const reason = `vcsim fixture needs Debian packages: ${missing.join(', ')} (apt-get install ${missing.join(' ')})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; .ci/run installs them`);
  process.stderr.write(`\n  SKIPPED LOCALLY: ${reason}\n`);
  ctx.skip();
}

let building: Promise<string> | undefined;

/** The fixture binary, built with GOPATH=/usr/share/gocode GO111MODULE=off on first use (≈ 2 min cold). */
export function buildVcsimFixture(): Promise<string> {
  building ??= (async () => {
    const sources = (await fs.readdir(SOURCE_DIR)).filter((f) => f.endsWith('.go')).sort();
    const hash = createHash('sha256');
    for (const f of sources) hash.update(f).update(await fs.readFile(path.join(SOURCE_DIR, f)));
    hash.update((await execFileAsync('go', ['version'])).stdout);
    const binary = path.join(CACHE_DIR, `vcsim-fixture-${hash.digest('hex').slice(0, 16)}`);
    if (existsSync(binary)) return binary;
    await fs.mkdir(CACHE_DIR, { recursive: true });
    const partial = `${binary}.${process.pid}.tmp`;
    await execFileAsync('go', ['build', '-o', partial, '.'], {
      cwd: SOURCE_DIR,
      env: { ...process.env, GOPATH, GO111MODULE: 'off', GOFLAGS: '' },
      maxBuffer: 16 * 1024 * 1024,
    });
    // Concurrent builders (other test processes) race harmlessly: each rename installs a complete binary.
    await fs.rename(partial, binary);
    return binary;
  })();
  building.catch(() => { building = undefined; });
  return building;
}

export interface VcsimModel {
  clusters?: number;
  clusterHosts?: number;
  standaloneHosts?: number;
  /** VMs the model creates per resource pool (inventory tests). */
  vms?: number;
  datastores?: number;
  portgroups?: number;
  /** SIMULATED CBT: bytes one QueryChangedDiskAreas answer covers (default 256 MiB). */
  cbtWindowBytes?: number;
  /** SIMULATED CBT: granularity of recorded changes (default 64 KiB). */
  cbtBlockBytes?: number;
  /** Objects made after start-up are numbered from here (`vm-100001`…): two fixtures standing for two vCenters then never share an id. */
  refOffset?: number;
}

/** A control endpoint of the fixture answered an HTTP error (the endpoint's own text in `detail`). */
export class VcsimFixtureError extends OpenCdpError {
  constructor(readonly endpoint: string, readonly httpStatus: number, readonly detail: string) {
    super('VCSIM_FIXTURE', `vcsim fixture ${endpoint}: HTTP ${httpStatus} ${detail}`, 'see the fixture\'s control endpoints in fixture/vcsim/control.go');
  }
}

/** A fault the fixture injects on a SOAP method (see simulation.go). */
export interface FixtureFault {
  method: string;
  kind: 'soap-fault' | 'task-error' | 'task-hang' | 'truncate' | 'malformed' | 'overlap' | 'out-of-range';
  /** vim25 fault name for soap-fault and task-error. */
  fault?: string;
  /** How many calls it applies to; -1 until cleared. */
  count: number;
  /** Only calls on this object (its moref value). */
  this?: string;
}

export interface FixtureStats {
  snapshotsFrozen: number;
  freezeBytes: number;
  freezeMs: number;
  qcdaCalls: number;
  guestWrites: number;
}

export interface VcsimFixture {
  /** `https://127.0.0.1:<port>/sdk` */
  readonly url: string;
  readonly thumbprint: string;
  readonly thumbprintSha1: string;
  readonly user: string;
  readonly password: string;
  readonly datastores: readonly { name: string; path: string }[];
  /** The fixture's own folder (its datastores live below it). */
  readonly dir: string;
  /** The simulated guest writes into a powered-on VM's disk (and the fixture records it for CBT). */
  guestWrite(vm: string, deviceKey: number, offset: number, data: Buffer): Promise<void>;
  armFault(fault: FixtureFault): Promise<void>;
  clearFaults(): Promise<void>;
  setCbt(options: { windowBytes?: number; blockBytes?: number }): Promise<void>;
  stats(): Promise<FixtureStats>;
  stop(): Promise<void>;
}

/** Starts a fresh vcsim (its own inventory and datastore folders) and resolves once it serves. */
export async function startVcsim(model: VcsimModel = {}, parentDir = os.tmpdir()): Promise<VcsimFixture> {
  const binary = await buildVcsimFixture();
  const dir = await fs.mkdtemp(path.join(parentDir, 'ocvcsim-'));
  const user = 'opencdp-test';
  const password = randomBytes(12).toString('hex');
  const token = randomBytes(16).toString('hex');
  const args = [
    '-listen', '127.0.0.1:0', '-tls=true',
    '-clusters', String(model.clusters ?? 1), '-cluster-hosts', String(model.clusterHosts ?? 2),
    '-standalone-hosts', String(model.standaloneHosts ?? 1), '-vms', String(model.vms ?? 0),
    '-datastores', String(model.datastores ?? 2), '-portgroups', String(model.portgroups ?? 2),
    '-cbt-window', String(model.cbtWindowBytes ?? 256 * 1024 * 1024), '-cbt-block', String(model.cbtBlockBytes ?? 64 * 1024),
    '-ref-offset', String(model.refOffset ?? 0),
  ];
  const child: ChildProcess = spawn(binary, args, {
    env: { PATH: process.env.PATH ?? '', TMPDIR: dir, VCSIM_USERNAME: user, VCSIM_PASSWORD: password, VCSIM_CONTROL_TOKEN: token },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ready: { url: string; thumbprintSha1: string; thumbprintSha256: string; datastores: { name: string; path: string }[] };
  try {
    ready = await new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const timer = setTimeout(() => reject(new Error(`vcsim did not start within 30 s: ${stderr}`)), 30_000);
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error(`vcsim printed no ready line: ${line} ${stderr}`));
        }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`vcsim exited with ${code}: ${stderr}`)); });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
  const base = new URL(ready.url);
  const control = new VimHttp({ url: base, trust: { kind: 'thumbprint', thumbprint: ready.thumbprintSha256 } });
  const call = async (method: string, p: string, body?: Buffer | string, query: Record<string, string | number> = {}): Promise<string> => {
    const u = new URL(`/opencdp-sim/${p}`, base);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v));
    const res = await control.request(method, u, { headers: { 'X-Opencdp-Sim-Token': token, 'Content-Type': 'application/octet-stream' }, ...(body !== undefined ? { body } : {}) });
    if (res.status >= 300) throw new VcsimFixtureError(p, res.status, res.body.toString().trim());
    return res.body.toString();
  };
  let stopped = false;
  return {
    url: ready.url,
    thumbprint: ready.thumbprintSha256,
    thumbprintSha1: ready.thumbprintSha1,
    user,
    password,
    datastores: ready.datastores,
    dir,
    async guestWrite(vm, deviceKey, offset, data) {
      try {
        await call('POST', 'guest-write', data, { vm, disk: deviceKey, offset });
      } catch (error) {
        // 409: the VM is not running, so there is no guest to write (the fixture checks vcsim's power state).
        if (error instanceof VcsimFixtureError && error.httpStatus === 409) throw new InvalidStateError(`VM '${vm}' cannot take guest writes: ${error.detail}`, 'power the VM on first');
        throw error;
      }
    },
    async armFault(fault) {
      await call('POST', 'faults', JSON.stringify(fault));
    },
    async clearFaults() {
      await call('DELETE', 'faults');
    },
    async setCbt(o) {
      await call('POST', 'cbt', undefined, { ...(o.windowBytes ? { window: o.windowBytes } : {}), ...(o.blockBytes ? { block: o.blockBytes } : {}) });
    },
    async stats() {
      return JSON.parse(await call('GET', 'stats')) as FixtureStats;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      control.close();
      child.stdin!.end();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Reads a file of the fixture's datastore directly (tests compare it with what the adapter reads). */
export function datastoreFile(fixture: VcsimFixture, datastorePath: string): string {
  const m = /^\[([^\]]+)\]\s*(.*)$/.exec(datastorePath);
  const ds = m && fixture.datastores.find((d) => d.name === m[1]);
  if (!m || !ds) throw new Error(`not a path on the fixture's datastores: ${datastorePath}`);
  return path.join(ds.path, m[2]);
}

export function readDatastoreFile(fixture: VcsimFixture, datastorePath: string): Buffer {
  return readFileSync(datastoreFile(fixture, datastorePath));
}

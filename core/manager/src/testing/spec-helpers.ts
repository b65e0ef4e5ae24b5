// Helpers of the manager's tests: a manager on a virtual clock with two recording appliances (site-a
// protects, site-b recovers), a temp data dir, and a small HTTP client that logs in over real loopback HTTP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSelfSignedCertificate, VirtualClock } from '@opencdp/core';
import type { ApplianceControl, Checkpoint, SelfSignedCertificate } from '@opencdp/core';
import { pino } from 'pino';
import type { Manager } from '../manager.js';
import { startManager } from '../manager-module.js';
import type { ManagerOptions } from '../manager-options.js';
import type { ManagerParts } from '../manager-parts.js';
import { trustingFetch, type FetchFn, type TlsTrust } from '../tls-pinning.js';
import { RecordingAppliance } from './recording-appliance.js';
import { checkResponse } from './response-checker.js';

export const ADMIN = { user: 'admin', password: 'harbour-lantern-42' };

/** Called inside a describe: each test gets a fresh folder under the OS temp dir, removed after it. */
export function tempDirEach(prefix: string): { readonly path: string } {
  const current = { path: '' };
  beforeEach(() => {
    current.path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => {
    rmSync(current.path, { recursive: true, force: true });
  });
  return current;
}

/** A manager on a virtual clock with two recording appliances, without HTTP: its parts are called directly. */
export interface Site {
  manager: Manager;
  clock: VirtualClock;
  dir: string;
  siteA: RecordingAppliance;
  siteB: RecordingAppliance;
  close(): Promise<void>;
}

/** The same manager serving its REST API on loopback, with a client. */
export interface World extends Site {
  http: HttpClient;
}

export async function startSite(overrides: Partial<ManagerOptions> & { appliances?: ApplianceControl[] } = {}): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'opencdp-manager-'));
  const clock = (overrides.clock as VirtualClock | undefined) ?? new VirtualClock();
  const checkpoints = new Map<string, Checkpoint[]>();
  const siteA = new RecordingAppliance('site-a', undefined, { recovery: false, checkpoints });
  const siteB = new RecordingAppliance('site-b', undefined, { checkpoints });
  const manager = await startManager({
    dataDir: dir, siteId: 'site-a', clock, appliances: [siteA, siteB], admin: ADMIN,
    logger: pino({ level: 'silent' }), pollIntervalMs: 1000, passwordCost: 1024, ...overrides,
  });
  return {
    manager, clock, dir, siteA, siteB,
    async close() {
      await manager.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Called inside a describe: each test gets a manager from `startSite` (no HTTP), stopped after it. */
export function siteEach(overrides: Partial<ManagerOptions> = {}): { readonly site: Site; readonly parts: ManagerParts } {
  let current: Site | undefined;
  beforeEach(async () => {
    current = await startSite(overrides);
  });
  afterEach(async () => {
    await current?.close();
  });
  return {
    get site(): Site {
      return current!;
    },
    get parts(): ManagerParts {
      return current!.manager.parts;
    },
  };
}

/** Creates a group through the groups part and waits for its task; returns its id. */
export async function addGroup(site: Site, name = 'app', vmIds = ['site-a-vm-1'], settings: Record<string, unknown> = {}): Promise<string> {
  const r = await site.manager.parts.groups.create({ settings: { name, checkpointIntervalMs: 1000, rpoTargetSeconds: 30, ...settings }, vmIds, recoverySiteId: 'site-b' });
  await site.manager.whenIdle();
  return r.groupId;
}

let certificate: SelfSignedCertificate | undefined;
/** One self-signed certificate for every HTTPS manager of the test run (RSA key generation is slow on a busy machine). */
export function testCertificate(): SelfSignedCertificate {
  certificate ??= createSelfSignedCertificate({ commonName: 'OpenCDP manager (tests)', hosts: ['127.0.0.1', 'localhost'] });
  return certificate;
}

/** The manager serving its REST API on loopback; `https: true` serves HTTPS with the test certificate, pinned by the client. */
export async function startWorld(overrides: Partial<ManagerOptions> & { appliances?: ApplianceControl[]; https?: boolean } = {}): Promise<World> {
  const { https, ...rest } = overrides;
  const cert = https ? testCertificate() : undefined;
  const site = await startSite({ listen: '127.0.0.1:0', ...(cert ? { tls: { certPem: cert.certPem, keyPem: cert.keyPem } } : {}), ...rest });
  return Object.assign(site, { http: new HttpClient(site.manager.url, cert ? { fingerprint: cert.fingerprintSha256 } : {}) });
}

export interface HttpAnswer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any route; tests assert on its shape
  text: string;
  headers: Headers;
}

/**
 * A small client of the REST API for tests. Every answer is checked against the OpenAPI document the
 * manager serves (status documented, body matching its schema): a route that answers something it does
 * not document fails the test that called it.
 */
export class HttpClient {
  token?: string;
  private readonly fetch: FetchFn;

  constructor(readonly base: string, trust: TlsTrust = {}, private readonly checkAnswers = true) {
    this.fetch = trustingFetch(trust);
  }

  async login(user = ADMIN.user, password = ADMIN.password): Promise<string> {
    const r = await this.request('POST', '/v1/session/add', undefined, { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    this.token = r.headers.get('x-zerto-session') ?? undefined;
    return this.token!;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const h: Record<string, string> = { ...headers };
    if (this.token && !h.authorization && !h['x-zerto-session']) h['x-zerto-session'] = this.token;
    if (body !== undefined) h['content-type'] = 'application/json';
    return this.send(method, path, { headers: h, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  }

  /** Sends as given (raw body, any headers: for malformed requests), and checks the answer against the document. */
  async send(method: string, path: string, init: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<HttpAnswer> {
    const res = await this.fetch(this.base + path, { method, headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (CSV, metrics, files)
    }
    const answer = { status: res.status, body: parsed, text, headers: res.headers };
    if (this.checkAnswers) await checkResponse(this.base, method, path, answer, this.fetch);
    return answer;
  }

  get(path: string): Promise<HttpAnswer> {
    return this.request('GET', path);
  }

  post(path: string, body: unknown = {}): Promise<HttpAnswer> {
    return this.request('POST', path, body);
  }

  put(path: string, body: unknown): Promise<HttpAnswer> {
    return this.request('PUT', path, body);
  }

  delete(path: string, body?: unknown): Promise<HttpAnswer> {
    return this.request('DELETE', path, body);
  }
}

/** Polls a task until it leaves InProgress (the manager's work is in-process; a few event-loop turns suffice). */
export async function waitTask(w: World, taskId: string): Promise<{ state: number; progress: number; error?: string; [k: string]: unknown }> {
  await w.manager.whenIdle();
  const r = await w.http.get(`/v1/tasks/${taskId}`);
  return { ...r.body.status, error: r.body.error, result: r.body.result };
}

/** Creates a group over REST and lets it finish its initial sync and get one checkpoint. */
export async function createSyncedGroup(w: World, name = 'app', vms = ['site-a-vm-1', 'site-a-vm-2'], settings: Record<string, unknown> = {}): Promise<string> {
  const r = await w.http.post('/v1/vpgs', { settings: { name, checkpointIntervalMs: 1000, rpoTargetSeconds: 30, ...settings }, vmIdentifiers: vms, recoverySiteIdentifier: 'site-b' });
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
  await waitTask(w, r.body.taskIdentifier);
  const id = r.body.vpgIdentifier as string;
  w.siteA.facts.set(id, { groupId: id, phase: 'streaming', connected: true, writes: 0, writtenBytes: 0, wireBytes: 0, bitmapBytes: 0 });
  await w.clock.advance(1000);
  await w.manager.whenIdle();
  return id;
}

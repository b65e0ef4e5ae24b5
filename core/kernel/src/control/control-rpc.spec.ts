import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Checkpoint } from '../model.js';
import type { RecoveryOperations, RecoveryReport } from '../recovery/recovery-api.js';
import type { ApplianceControl, CheckpointCutRequest } from './appliance-control.js';
import { ControlUnreachableError, RemoteApplianceControl, serveControl, type ControlServer } from './control-rpc.js';
import { PeerNotTrustedError } from '../link/link-errors.js';
import { SiteIdentity } from '../link/site-identity.js';

/** Records calls and answers from a script: the transport under test is the only real part. */
function recordingAppliance(calls: unknown[][]): ApplianceControl {
  const cp: Checkpoint = { id: 'c1', groupId: 'g1', seq: 7, timestamp: 1000, kind: 'tagged', tag: 't' };
  const report = { id: 'r1', groupId: 'g1', result: 'Success' } as RecoveryReport;
  const recovery = {
    listCheckpoints: async (g: string) => (calls.push(['listCheckpoints', g]), [cp]),
    active: async () => undefined,
    stopFailoverTest: async (r: unknown, progress?: (p: number, s: string) => void) => {
      calls.push(['stopFailoverTest', r]);
      progress?.(50, 'discarding scratch');
      progress?.(100, 'done');
      return report;
    },
    failover: async () => {
      throw new ConflictError("group 'g1' already runs a FailoverTest");
    },
    extractFile: async () => Buffer.from([0, 1, 2, 255]),
  } as unknown as RecoveryOperations;
  return {
    siteId: 'site-b',
    recovery,
    inventory: async () => ({ hosts: [], vms: [], networks: [], datastores: [] }),
    protectGroup: async (spec) => void calls.push(['protectGroup', spec]),
    unprotectGroup: async () => undefined,
    pause: async (g) => {
      throw new NotFoundError('protected group', g);
    },
    resume: async () => undefined,
    forceSync: async () => undefined,
    cutCheckpoints: async (r: CheckpointCutRequest) => (calls.push(['cutCheckpoints', r]), r.groupIds.map((g, i) => (i === 0 ? { ...cp, groupId: g } : undefined))),
    finalCheckpoint: async () => cp,
    shutdownVms: async (_g, _v, policy) => {
      throw new ValidationError(`bad policy ${policy}`, 'policy');
    },
    powerOnVms: async () => undefined,
    groupFacts: async (g) => ({ groupId: g, phase: 'streaming', connected: true }),
  };
}

describe('control link (HTTP + NDJSON) with a recording appliance', () => {
  let server: ControlServer;
  const calls: unknown[][] = [];
  beforeEach(async () => {
    calls.length = 0;
    server = await serveControl(recordingAppliance(calls), { host: '127.0.0.1', port: 0 }, { token: 'secret', extra: { twice: async (n) => (n as number) * 2, hang: () => new Promise(() => undefined) } });
  });
  afterEach(() => server.close());

  it('carries calls, results and undefined entries across', async () => {
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret');
    const cps = await remote.cutCheckpoints({ groupIds: ['g1', 'g2'], kind: 'tagged', tag: 't', timestamp: 1000, ids: { g1: 'c1', g2: 'c2' } });
    assert.equal(cps[0]?.groupId, 'g1');
    assert.equal(cps[1], undefined);
    assert.deepEqual(calls[0][0], 'cutCheckpoints');
    assert.deepEqual((await remote.groupFacts('g9')).phase, 'streaming');
    assert.deepEqual((await remote.recovery.listCheckpoints('g1')).map((c) => c.seq), [7]);
    assert.equal(await remote.recovery.active('g1'), undefined);
  });

  it('streams progress of long recovery calls, then the result', async () => {
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret');
    const seen: [number, string][] = [];
    const report = await remote.recovery.stopFailoverTest({ groupId: 'g1', success: true }, (p, s) => seen.push([p, s]));
    assert.equal(report.id, 'r1');
    assert.deepEqual(seen, [[50, 'discarding scratch'], [100, 'done']]);
    assert.deepEqual(calls[0], ['stopFailoverTest', { groupId: 'g1', success: true }]);
  });

  it('revives typed errors with their code and field', async () => {
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret');
    await assert.rejects(remote.pause('gx'), (e: unknown) => e instanceof NotFoundError && e.id === 'gx');
    await assert.rejects(remote.shutdownVms('g1', [], 'none'), (e: unknown) => e instanceof ValidationError && e.field === 'policy');
    await assert.rejects(remote.recovery.failover({} as never), (e: unknown) => e instanceof ConflictError);
  });

  it('serves extra methods by name only', async () => {
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret');
    assert.equal(await remote.extra<number>('twice', 21), 42);
    await assert.rejects(remote.extra('toString'), /unknown control method 'extra.toString'/);
  });

  it('gives up on an appliance that never answers, saying which call', async () => {
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret', 200);
    const started = Date.now();
    await assert.rejects(remote.extra('hang'), (e: unknown) => e instanceof ControlUnreachableError && /no answer to 'extra.hang' within 200 ms/.test(e.message));
    assert.ok(Date.now() - started < 5000);
  });

  it('carries file bytes exactly', async () => {
    const remote = new RemoteApplianceControl('site-b', server.url, 'secret');
    assert.deepEqual(await remote.recovery.extractFile('s', '/x'), Buffer.from([0, 1, 2, 255]));
  });

  it('refuses a wrong token and unknown methods, and says when nobody listens', async () => {
    const wrong = new RemoteApplianceControl('site-b', server.url, 'guess');
    await assert.rejects(wrong.inventory(), /wrong control token/);
    assert.equal(calls.length, 0);
    const res = await fetch(`${server.url}/control/v1/constructor`, { method: 'POST', headers: { authorization: 'Bearer secret' }, body: '{"args":[]}' });
    assert.equal(res.status, 404);
    const bad = await fetch(`${server.url}/control/v1/pause`, { method: 'POST', headers: { authorization: 'Bearer secret' }, body: '{"args":' });
    assert.equal(bad.status, 400);
    await server.close();
    await assert.rejects(new RemoteApplianceControl('site-b', server.url, 'secret').inventory(), ControlUnreachableError);
  });

  it('sends a read-only call once more when the server closes the connection under it, never a call that changes something', async () => {
    // A server that drops the socket of the first request of each method without answering, as one whose
    // keep-alive timer fired just as the client reused the connection.
    const seen = new Map<string, number>();
    const flaky = createServer((req, res) => {
      const method = String(req.url).split('/').pop()!;
      seen.set(method, (seen.get(method) ?? 0) + 1);
      if (seen.get(method) === 1) {
        req.socket.destroy();
        return;
      }
      res.end(`${JSON.stringify({ result: method === 'inventory' ? { hosts: [], vms: [], networks: [], datastores: [] } : null })}\n`);
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      const remote = new RemoteApplianceControl('site-b', `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`, 'secret');
      assert.deepEqual(await remote.inventory(), { hosts: [], vms: [], networks: [], datastores: [] });
      assert.equal(seen.get('inventory'), 2, 'the read was sent again');
      await assert.rejects(remote.pause('g1'), ControlUnreachableError);
      assert.equal(seen.get('pause'), 1, 'a call that changes something is not repeated');
    } finally {
      flaky.closeAllConnections();
      await new Promise<void>((resolve) => flaky.close(() => resolve()));
    }
  });
});

describe('control link over mutual TLS from the site identities', function () {
  this.timeout(30_000);
  // site-b's appliance; site-a's manager (paired), site-b's own manager, and site-z (not paired with site-b).
  const a = SiteIdentity.create('site-a');
  const b = SiteIdentity.create('site-b');
  const z = SiteIdentity.create('site-z');
  const pairedB = SiteIdentity.fromJSON({ ...b.toJSON(), trustedPeers: [a.asTrustedPeer()] });
  const pairedA = SiteIdentity.fromJSON({ ...a.toJSON(), trustedPeers: [b.asTrustedPeer()] });
  const calls: unknown[][] = [];
  let server: ControlServer;
  beforeEach(async () => {
    calls.length = 0;
    server = await serveControl(recordingAppliance(calls), { host: '127.0.0.1', port: 0 }, { token: 'secret', tls: { identity: pairedB } });
  });
  afterEach(() => server.close());

  it('serves https and carries calls for the own site and a paired site, the token still required', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const fromPeer = new RemoteApplianceControl('site-b', server.url, 'secret', { tls: { identity: pairedA } });
    assert.equal((await fromPeer.groupFacts('g9')).phase, 'streaming');
    const fromOwnSite = new RemoteApplianceControl('site-b', server.url, 'secret', { tls: { identity: b } });
    assert.deepEqual((await fromOwnSite.recovery.listCheckpoints('g1')).map((c) => c.seq), [7]);
    await assert.rejects(new RemoteApplianceControl('site-b', server.url, 'guess', { tls: { identity: pairedA } }).inventory(), /wrong control token/);
    assert.deepEqual(calls.map((c) => c[0]), ['listCheckpoints']);
  });

  it('refuses a client whose certificate no trusted CA issued, before any call runs', async () => {
    const stranger = SiteIdentity.fromJSON({ ...z.toJSON(), trustedPeers: [b.asTrustedPeer()] });
    await assert.rejects(new RemoteApplianceControl('site-b', server.url, 'secret', { tls: { identity: stranger } }).protectGroup({} as never), PeerNotTrustedError);
    // A client with no certificate at all (plain fetch over https) never reaches the method table.
    await assert.rejects(fetch(`${server.url}/control/v1/inventory`, { method: 'POST', headers: { authorization: 'Bearer secret' }, body: '{"args":[]}' }));
    assert.equal(calls.length, 0);
  });

  it('refuses an appliance that is not the site the client expects, without sending the token', async () => {
    // The manager believes it talks to site-z's appliance; site-b answers (a paired but different site).
    const confused = SiteIdentity.fromJSON({ ...a.toJSON(), trustedPeers: [b.asTrustedPeer(), z.asTrustedPeer()] });
    await assert.rejects(new RemoteApplianceControl('site-z', server.url, 'secret', { tls: { identity: confused } }).inventory(),
      (e: unknown) => e instanceof PeerNotTrustedError && /it is site 'site-b', not 'site-z'/.test(e.message));
    // An unpaired client does not trust site-b's certificate at all.
    await assert.rejects(new RemoteApplianceControl('site-b', server.url, 'secret', { tls: { identity: z } }).inventory(), PeerNotTrustedError);
    assert.equal(calls.length, 0);
  });

  it('refuses plain HTTP beyond loopback on both ends unless insisted on, and an https URL without an identity', async () => {
    await assert.rejects(serveControl(recordingAppliance(calls), { host: '0.0.0.0', port: 0 }, { token: 'secret' }), (e: unknown) => e instanceof ValidationError && e.field === 'control.listen');
    await assert.rejects(new RemoteApplianceControl('site-b', 'http://192.0.2.1:9', 'secret').inventory(), (e: unknown) => e instanceof ValidationError && e.field === 'url');
    await assert.rejects(new RemoteApplianceControl('site-b', server.url, 'secret').inventory(), (e: unknown) => e instanceof ValidationError && e.field === 'tls');
    assert.equal(calls.length, 0);
  });
});

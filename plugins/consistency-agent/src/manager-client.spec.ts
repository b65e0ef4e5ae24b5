// The manager client on its own: turning the CLI's host and port arguments into URLs, and asking one
// manager once when both sites share it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CheckpointRequestError, UsageError } from './errors.js';
import { ManagerClient, managerUrl } from './manager-client.js';
import { startStubManager, tempDir } from './spec-helpers.js';

describe('manager client', () => {
  it('builds a base URL from a host, an IP, an IPv6 address or a URL and the port argument', () => {
    assert.equal(managerUrl('10.0.0.2', 9080), 'http://10.0.0.2:9080');
    assert.equal(managerUrl('zvm.example.com', 9080), 'http://zvm.example.com:9080');
    assert.equal(managerUrl('fe80::1', 9080), 'http://[fe80::1]:9080');
    assert.equal(managerUrl('https://zvm.example.com/api/', 443), 'https://zvm.example.com/api');
    assert.equal(managerUrl('https://zvm.example.com:8443', 9443), 'https://zvm.example.com:9443');
    assert.throws(() => managerUrl('ftp://x', 21), UsageError);
    assert.throws(() => managerUrl('bad host', 80), UsageError);
  });

  it('asks a manager that serves both sites only once', async () => {
    const { dir, cleanup } = await tempDir();
    const stub = await startStubManager(join(dir, 'log'), () => ({ status: 503, body: { error: { message: 'starting' } } }));
    try {
      const client = new ManagerClient([{ role: 'local', url: stub.url }, { role: 'remote', url: stub.url }]);
      await assert.rejects(client.requestVssCheckpoint('g', { checkpointName: 'c', kind: 'vss', vmId: 'v' }, { timeoutMs: 2000 }), (e: unknown) =>
        e instanceof CheckpointRequestError && e.attempts.length === 1 && e.attempts[0]!.error === 'HTTP 503: starting');
      assert.equal(stub.requests.length, 1);
    } finally {
      await stub.close();
      await cleanup();
    }
  });
});

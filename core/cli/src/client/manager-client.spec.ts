// ManagerClient.download against a SIMULATED manager: a small HTTP server on loopback (it answers the login and one file
// route like the manager, and can cut a download short, which a real manager cannot be made to do on cue):
// the file is created 0600 and never overwritten, its hash is computed on the way, and a failed download
// leaves no partial file.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiError, ManagerClient } from './manager-client.js';

const FILE = randomBytes(3 * 1024 * 1024 + 17);
const SHA = createHash('sha256').update(FILE).digest('hex');

describe('ManagerClient.download against a simulated manager (loopback HTTP server: login and one file route)', () => {
  let server: Server;
  let dir: string;
  let client: ManagerClient;
  let requests: string[];

  before(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.url === '/v1/session/add') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-zerto-session': 'token-1' });
        res.end(JSON.stringify({ sessionToken: 'token-1', user: 'admin', role: 'admin', expiresAt: new Date().toISOString() }));
        return;
      }
      if (req.headers.authorization !== 'Bearer token-1') {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'UNAUTHENTICATED', message: 'no session', field: null }));
        return;
      }
      const name = req.url?.split('/').pop();
      if (name === 'whole.img' || name === 'cut.img') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(FILE.length), 'x-opencdp-sha256': SHA });
        if (name === 'whole.img') {
          res.end(FILE);
        } else {
          // Half the file, then the connection drops (an appliance lost mid-download).
          res.write(FILE.subarray(0, FILE.length / 2), () => res.destroy());
        }
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'NOT_FOUND', message: `image export 'gone' does not exist`, field: null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new ManagerClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, user: 'admin', password: 'harbour-lantern-42' });
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(async () => {
    requests = [];
    dir = await fs.mkdtemp(path.join(tmpdir(), 'opencdp-download-'));
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const fetchFile = (name: string) => () => client.api.GET('/v1/images/exports/{exportIdentifier}/files/{fileName}', {
    params: { path: { exportIdentifier: 'exp-1', fileName: name } }, parseAs: 'stream',
  });

  it('streams the whole file into a 0600 file and reports its bytes and SHA-256 with the one the manager announced', async () => {
    const file = path.join(dir, 'whole.img');
    const got = await client.download(file, fetchFile('whole.img'));
    assert.deepEqual(got, { bytes: FILE.length, sha256: SHA, expectedSha256: SHA });
    assert.equal(createHash('sha256').update(await fs.readFile(file)).digest('hex'), SHA);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  });

  it('removes the partial file when the connection drops mid-download', async () => {
    const file = path.join(dir, 'cut.img');
    await assert.rejects(client.download(file, fetchFile('cut.img')));
    assert.ok(requests.includes('GET /v1/images/exports/exp-1/files/cut.img'), requests.join(', '));
    assert.deepEqual(await fs.readdir(dir), []);
  });

  it('turns an error answer into an ApiError and leaves no file', async () => {
    const file = path.join(dir, 'gone.img');
    await assert.rejects(client.download(file, fetchFile('gone.img')), (e: unknown) => e instanceof ApiError && e.status === 404 && /does not exist/.test(e.message));
    assert.deepEqual(await fs.readdir(dir), []);
  });

  it('never overwrites an existing file, and asks the manager nothing then', async () => {
    const file = path.join(dir, 'whole.img');
    await fs.writeFile(file, 'mine');
    await assert.rejects(client.download(file, fetchFile('whole.img')), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
    assert.equal(await fs.readFile(file, 'utf8'), 'mine');
    assert.deepEqual(requests, []);
  });
});

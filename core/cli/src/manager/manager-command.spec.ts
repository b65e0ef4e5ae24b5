import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trustingFetch } from '@opencdp/manager';

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

describe('opencdp manager start', () => {
  it('serves the REST API over HTTPS with pino JSON logs, prints the certificate fingerprint clients pin, and stops on SIGTERM', async function () {
    this.timeout(30_000);
    const dir = mkdtempSync(join(tmpdir(), 'opencdp-cli-manager-'));
    const config = join(dir, 'manager.json');
    writeFileSync(config, JSON.stringify({ siteId: 'site-a', admin: { user: 'admin', password: 'harbour-lantern-42' } }), { mode: 0o600 });
    const child = spawn(process.execPath, [MAIN, 'manager', 'start', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const { url, fingerprint } = await new Promise<{ url: string; fingerprint: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'manager listening' line: ${out} ${err}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          for (const line of out.split('\n')) {
            if (!line.startsWith('{')) continue;
            const entry = JSON.parse(line) as { msg?: string; url?: string; tlsFingerprintSha256?: string };
            if (entry.msg === 'manager listening' && entry.url && entry.tlsFingerprintSha256) {
              clearTimeout(timer);
              resolve({ url: entry.url, fingerprint: entry.tlsFingerprintSha256 });
            }
          }
        });
        child.on('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
      });
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(err, new RegExp(`certificate SHA-256 fingerprint ${fingerprint}`), 'the fingerprint is printed for the operator too');
      const pinned = trustingFetch({ fingerprint });
      const login = await pinned(`${url}/v1/session/add`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('admin:harbour-lantern-42').toString('base64')}` } });
      assert.equal(login.status, 200);
      const token = login.headers.get('x-zerto-session')!;
      const site = (await (await pinned(`${url}/v1/localsite`, { headers: { 'x-zerto-session': token } })).json()) as { siteIdentifier: string; certificateFingerprint: string };
      assert.deepEqual([site.siteIdentifier, site.certificateFingerprint], ['site-a', fingerprint]);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

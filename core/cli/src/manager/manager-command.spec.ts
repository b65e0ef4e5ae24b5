import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

describe('opencdp manager start', () => {
  it('serves the REST API with pino JSON logs, and stops on SIGTERM', async function () {
    this.timeout(30_000);
    const dir = mkdtempSync(join(tmpdir(), 'opencdp-cli-manager-'));
    const config = join(dir, 'manager.json');
    writeFileSync(config, JSON.stringify({ siteId: 'site-a', admin: { user: 'admin', password: 'admin-password' } }));
    const child = spawn(process.execPath, [MAIN, 'manager', 'start', '--data-dir', join(dir, 'data'), '--listen', '127.0.0.1:0', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'manager listening' line: ${out} ${err}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          for (const line of out.split('\n')) {
            if (!line.startsWith('{')) continue;
            const entry = JSON.parse(line) as { msg?: string; url?: string };
            if (entry.msg === 'manager listening' && entry.url) {
              clearTimeout(timer);
              resolve(entry.url);
            }
          }
        });
        child.on('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
      });
      const login = await fetch(`${url}/v1/session/add`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('admin:admin-password').toString('base64')}` } });
      assert.equal(login.status, 200);
      const token = login.headers.get('x-zerto-session')!;
      const site = (await (await fetch(`${url}/v1/localsite`, { headers: { 'x-zerto-session': token } })).json()) as { siteIdentifier: string };
      assert.equal(site.siteIdentifier, 'site-a');
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

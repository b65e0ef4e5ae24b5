// The appliance processes check the files they read secrets from (the config holds the control token, the
// identity the private keys): a real `opencdp appliance` process warns in its log and starts, or, with
// --strict, refuses to start and creates nothing.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplianceProcess, ProcessPool, writeJson } from './testing/appliance-processes.js';
import { createIdentityFile, trustPeer } from './identity-files.js';

describe('appliance processes and the permissions of their secret files', function () {
  this.timeout(60_000);
  const pool = new ProcessPool();
  let dir = '';
  const f = (name: string): string => path.join(dir, name);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-appliance-perms-'));
    const rec = await createIdentityFile('rec-site', f('rec.identity.json'));
    const prot = await createIdentityFile('prot-site', f('prot.identity.json'));
    await trustPeer(rec, prot.asTrustedPeer(), f('rec.peers.json'));
  });

  after(() => pool.release(dir));

  it('`appliance serve --strict` refuses a config and an identity others can read, naming both, and creates nothing', async () => {
    const config = await writeJson(f('serve.json'), {
      siteId: 'rec-site', identityFile: 'rec.identity.json', trustedPeersFile: 'rec.peers.json', dataDir: 'serve-data',
      control: { listen: '127.0.0.1:0', token: 'control-token-for-tests-0123456789' },
    });
    await fs.chmod(config, 0o644);
    await fs.chmod(f('rec.identity.json'), 0o640);
    try {
      const p = new ApplianceProcess('strict serve', ['appliance', 'serve', '--config', config, '--strict']);
      const { code } = await p.exited;
      assert.equal(code, 1, p.stderr);
      assert.match(p.stderr, /serve\.json' \(mode 644\) is open to its group and other users/);
      assert.match(p.stderr, /rec\.identity\.json' \(mode 640\) is open to its group \(/);
      assert.match(p.stderr, /chmod 600/, 'the hint says what to do');
      assert.deepEqual(p.lines.filter((l) => l.event === 'listening' || l.event === 'control-listening'), [], 'nothing listened');
      await assert.rejects(fs.stat(f('serve-data')), { code: 'ENOENT' }, 'no data dir was created');
    } finally {
      await fs.chmod(f('rec.identity.json'), 0o600);
    }
  });

  it('`appliance start` without --strict logs a warning naming the loose config, and starts all the same', async () => {
    const config = await writeJson(f('recovery.json'), {
      role: 'recovery', siteId: 'rec-site', dataDir: 'rec-data', listen: '127.0.0.1:0', identityFile: 'rec.identity.json', trustedPeersFile: 'rec.peers.json',
    });
    await fs.chmod(config, 0o604);
    const p = pool.start('warned recovery', 'recovery', config);
    const warning = await p.waitFor('the permission warning', (l) => l.event === 'file-permissions');
    assert.match(String(warning.message), /recovery\.json' \(mode 604\) is open to other users: it holds secrets/);
    await p.waitFor('the listening line', (l) => l.event === 'listening');
    assert.equal(p.events('file-permissions').length, 1, 'the identity (0600) is not warned about');
    // The clean stop on SIGTERM is the process specs' concern; this one only needs it gone.
    p.kill('SIGTERM');
    await p.exited;
  });
});

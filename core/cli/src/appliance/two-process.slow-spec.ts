// Two OS processes over real TCP + mutual TLS: a recovery appliance and a protected appliance started
// with `opencdp appliance start`, trust set up with the `identity` and `trust` commands. After a few
// seconds of replication both stop, and the journals on disk must recover what the protected side hashed.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProtectionGroupSettings } from '@opencdp/core';
import { ApplianceProcess, ProcessPool, checkJournals, readStatus, runCli, writeJson } from './testing/appliance-processes.js';

const MiB = 1024 * 1024;
const SETTINGS_INPUT = { name: 'two-process', checkpointIntervalMs: 1000, journal: { hardLimit: { mb: 512 }, warningThreshold: { mb: 384 } } };

describe('appliance processes over TCP + TLS (slow)', function () {
  this.timeout(120_000);
  const pool = new ProcessPool();
  let dir = '';

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-appliance-'));
  });

  after(() => pool.release(dir));

  it('refuses to start on an invalid configuration, naming the field', async () => {
    const file = await writeJson(path.join(dir, 'bad.json'), { role: 'recovery', siteId: 'Bad_Site', dataDir: 'd', listen: '127.0.0.1:0', identityFile: 'x', trustedPeersFile: 'y' });
    const p = new ApplianceProcess('bad recovery', ['appliance', 'start', '--role', 'recovery', '--config', file]);
    const { code } = await p.exited;
    assert.equal(code, 1);
    assert.match(p.stderr, /siteId/);
    const mismatch = new ApplianceProcess('role mismatch', ['appliance', 'start', '--role', 'protected', '--config', file]);
    assert.equal((await mismatch.exited).code, 1);
    assert.match(mismatch.stderr, /role/);
  });

  it('replicates between two processes; the last verified checkpoint is listed and recovers the recorded hashes; an unpaired site is refused', async () => {
    const f = (name: string): string => path.join(dir, name);
    // Trust through the CLI: the recovery site trusts the protected site; the rogue trusts the recovery
    // site (so it does connect) but the recovery site has never heard of it.
    await Promise.all([
      runCli(['appliance', 'identity', '--site', 'recovery-site', '--out', f('recovery.identity.json')]),
      runCli(['appliance', 'identity', '--site', 'protected-site', '--out', f('protected.identity.json')]),
      runCli(['appliance', 'identity', '--site', 'rogue-site', '--out', f('rogue.identity.json')]),
    ]);
    await runCli(['appliance', 'trust', '--identity', f('recovery.identity.json'), '--peer', f('protected.identity.json'), '--out', f('recovery.peers.json')]);
    await runCli(['appliance', 'trust', '--identity', f('protected.identity.json'), '--peer', f('recovery.identity.json'), '--out', f('protected.peers.json')]);
    await runCli(['appliance', 'export-ca', '--identity', f('recovery.identity.json'), '--out', f('recovery.ca.json')]);
    await runCli(['appliance', 'trust', '--identity', f('rogue.identity.json'), '--peer', f('recovery.ca.json'), '--out', f('rogue.peers.json')]);

    const dataDir = f('recovery-data');
    const recovery = pool.start('recovery', 'recovery', await writeJson(f('recovery.json'), {
      role: 'recovery', siteId: 'recovery-site', dataDir, listen: '127.0.0.1:0', identityFile: 'recovery.identity.json', trustedPeersFile: 'recovery.peers.json',
    }));
    const address = (await recovery.waitFor('the listening line', (l) => l.event === 'listening')).address as string;
    assert.match(address, /^127\.0\.0\.1:\d+$/);

    const protectedConfig = (site: string, groupId: string, statusFile: string): Record<string, unknown> => ({
      role: 'protected', siteId: site, identityFile: `${site.replace('-site', '')}.identity.json`, trustedPeersFile: `${site.replace('-site', '')}.peers.json`,
      recoveryAddress: address, group: { groupId, settings: SETTINGS_INPUT },
      vms: [{ name: 'web', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: 4096 }] }, { name: 'db', volumes: [{ sizeBytes: 8 * MiB }] }],
      workload: { seed: 11, ratePerSecond: 150, writeSizes: [4096, 16384, 65536], hotFraction: 0.3 },
      statusFile, verifyEveryMs: 1000,
    });
    const prot = pool.start('protected', 'protected', await writeJson(f('protected.json'), protectedConfig('protected-site', 'pg-1', 'protected.status.json')));
    const rogue = pool.start('rogue', 'protected', await writeJson(f('rogue.json'), protectedConfig('rogue-site', 'rogue-group', 'rogue.status.json')));

    const first = await prot.waitFor('a first verified checkpoint', (l) => l.event === 'checkpoint-verified', 20_000);
    // Replicate for a while after the first verified checkpoint (several verified checkpoints follow).
    await new Promise((r) => setTimeout(r, 6000));
    await recovery.waitFor('the recovery site to log the protected site connecting', (l) => l.event === 'sender-connected' && l.peerSiteId === 'protected-site');
    await rogue.waitFor('the rogue site to be refused', (l) => l.event === 'link.connect-failed');
    await recovery.waitFor('the recovery site to log refusing the rogue', (l) => l.event === 'sender-refused');

    // The protected side first, so that it drains its link; then the recovery side closes its journals.
    const protEnd = await prot.terminate();
    const rogueEnd = await rogue.terminate();
    const recoveryEnd = await recovery.terminate();
    assert.deepEqual(protEnd, { code: 0, signal: null }, prot.tail());
    assert.deepEqual(rogueEnd, { code: 0, signal: null }, rogue.tail());
    assert.deepEqual(recoveryEnd, { code: 0, signal: null }, recovery.tail());
    assert.ok(recovery.events('stopped').length === 1, 'the recovery appliance logs a clean stop');
    assert.ok(recovery.events('sender-disconnected').length >= 1, 'the recovery appliance logs the sender disconnecting');

    const status = await readStatus(f('protected.status.json'));
    assert.equal(status.pid, prot.pid);
    assert.equal(status.stopped, true, 'the last snapshot is written after a clean stop');
    assert.ok(status.lastVerified, 'the status file names a verified checkpoint');
    assert.ok(status.verified.length >= 4, `several verified checkpoints in ~7 s (got ${status.verified.length})`);
    assert.ok(status.verified.some((v) => v.id === first.id));
    assert.deepEqual(status.phasesSeen.filter((p) => p === 'initial-sync' || p === 'streaming').slice(0, 2), ['initial-sync', 'streaming']);
    assert.ok(status.sender.stats.writesSent > 500, `writes were streamed (${status.sender.stats.writesSent})`);

    const settings = parseProtectionGroupSettings(SETTINGS_INPUT);
    const check = await checkJournals(dataDir, status, settings, status.verified, [status.lastVerified.id]);
    assert.ok(check.compared.includes(status.lastVerified.id));
    assert.ok(check.compared.length >= status.verified.length - 1, `verified checkpoints compared: ${check.compared.length} of ${status.verified.length}`);
    assert.ok(check.listed.length > check.compared.length, 'auto checkpoints are listed too');

    // The rogue never got a session: nothing of its group reached the recovery site.
    await assert.rejects(fs.access(path.join(dataDir, 'journals', 'rogue-group')), { code: 'ENOENT' });
    const refusal = rogue.events('link.connect-failed')[0];
    assert.match(String(refusal.reason), /trust|paired|refus/i, `the rogue's log says why: ${JSON.stringify(refusal)}`);
    assert.equal(rogue.events('state').filter((s) => s.connected === true).length, 0, 'the rogue never connected');
    const rogueStatus = await readStatus(f('rogue.status.json'));
    assert.equal(rogueStatus.verified.length, 0);
    assert.equal(rogueStatus.sender.stats.writesSent, 0);
  });
});

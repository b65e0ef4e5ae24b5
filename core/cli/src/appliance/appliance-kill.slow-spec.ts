// kill -9 on either side of a live site link between two OS processes (S5): a recovery appliance restarted
// on the same data folder and port must cost a bitmap sync, a protected one restarted on its persisted
// volumes a delta sync; either way later verified checkpoints recover exactly the bytes that were hashed.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProtectionGroupSettings, type ReplicationPhase } from '@opencdp/core';
import { createIdentityFile, trustPeer } from './identity-files.js';
import type { VerifiedCheckpoint } from './status-file.js';
import { ProcessPool, checkJournals, readStatus, verifiedFrom, writeJson, type ApplianceProcess, type LogLine } from './testing/appliance-processes.js';

const MiB = 1024 * 1024;
/** Kill rounds (one recovery kill and one protected kill each, ~8 s a round); at most 3, so the spec stays within 60 s. */
const ROUNDS = Math.min(3, Math.max(1, Number(process.env.OPENCDP_APPLIANCE_KILLS ?? 2)));
const SETTINGS_INPUT = { name: 'kill-test', checkpointIntervalMs: 1000, journal: { hardLimit: { mb: 512 }, warningThreshold: { mb: 384 } } };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const loggedSince = (since: number) => (l: LogLine): boolean => Date.parse(l.time) >= since;
const state = (phase: ReplicationPhase, since: number) => (l: LogLine): boolean => l.event === 'state' && l.phase === phase && loggedSince(since)(l);
const verifiedAfter = (since: number) => (l: LogLine): boolean => l.event === 'checkpoint-verified' && loggedSince(since)(l);

describe('appliance processes under kill -9 (slow)', function () {
  this.timeout(60_000);
  const pool = new ProcessPool();
  let dir = '';

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-appliance-kill-'));
  });

  afterEach(() => pool.release(dir));

  it(`S5: ${ROUNDS} × (kill -9 recovery → bitmap sync, kill -9 protected → delta sync); verified checkpoints afterwards recover the hashed bytes`, async () => {
    const f = (name: string): string => path.join(dir, name);
    const [recoveryId, protectedId] = await Promise.all([createIdentityFile('recovery-site', f('recovery.identity.json')), createIdentityFile('protected-site', f('protected.identity.json'))]);
    await trustPeer(recoveryId, protectedId.asTrustedPeer(), f('recovery.peers.json'));
    await trustPeer(protectedId, recoveryId.asTrustedPeer(), f('protected.peers.json'));

    const dataDir = f('recovery-data');
    const recoveryConfig = { role: 'recovery', siteId: 'recovery-site', dataDir, listen: '127.0.0.1:0', identityFile: 'recovery.identity.json', trustedPeersFile: 'recovery.peers.json' };
    let recovery = pool.start('recovery', 'recovery', await writeJson(f('recovery.json'), recoveryConfig));
    const address = (await recovery.waitFor('the listening line', (l) => l.event === 'listening')).address as string;
    // Restarts listen on the same port, so the protected side finds the new process where the old one was.
    const restartConfig = await writeJson(f('recovery-restart.json'), { ...recoveryConfig, listen: address });

    const protectedConfig = await writeJson(f('protected.json'), {
      role: 'protected', siteId: 'protected-site', identityFile: 'protected.identity.json', trustedPeersFile: 'protected.peers.json',
      recoveryAddress: address, group: { groupId: 'pg-kill', settings: SETTINGS_INPUT },
      vms: [{ name: 'app', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: 4096 }] }, { name: 'db', volumes: [{ sizeBytes: 4 * MiB }] }],
      workload: { seed: 23, ratePerSecond: 150, writeSizes: [4096, 16384, 65536] },
      statusFile: 'protected.status.json', volumeDir: 'protected-volumes', verifyEveryMs: 800,
    });
    let prot = pool.start('protected', 'protected', protectedConfig);
    await prot.waitFor('a first verified checkpoint', (l) => l.event === 'checkpoint-verified', 20_000);

    const verified: VerifiedCheckpoint[] = [];
    const mustBeListed: string[] = [];
    /** Waits for a verified checkpoint after `since`, then for the next one, by which time the first one's marker was long acknowledged. */
    const settledVerified = async (p: ApplianceProcess, since: number, what: string): Promise<string> => {
      const a = await p.waitFor(`a verified checkpoint ${what}`, verifiedAfter(since));
      await p.waitFor(`the verified checkpoint after ${a.id as string}`, (l) => verifiedAfter(since)(l) && l.id !== a.id && Date.parse(l.time) > Date.parse(a.time));
      return a.id as string;
    };

    for (let round = 1; round <= ROUNDS; round++) {
      // ---- the recovery appliance dies mid-stream and comes back on the same data folder and port
      await sleep(300);
      // Taken before the kill: the sender may log the lost link before this process sees the child exit.
      const killedAt = Date.now();
      recovery.kill('SIGKILL');
      assert.equal((await recovery.exited).signal, 'SIGKILL');
      await prot.waitFor('the sender to notice the lost link', (l) => l.event === 'state' && l.connected === false && loggedSince(killedAt)(l));
      await sleep(700); // writes meanwhile go into the dirty-region bitmap
      recovery = pool.start(`recovery-r${round}`, 'recovery', restartConfig);
      const listening = await recovery.waitFor('the restarted recovery to listen', (l) => l.event === 'listening');
      assert.equal(listening.address, address);
      // The child's own timestamp: the sender may reconnect before this process reads the line.
      const restartedAt = Date.parse(listening.time);
      await prot.waitFor('a bitmap sync after the recovery restart', state('bitmap-sync', restartedAt));
      await prot.waitFor('streaming after the bitmap sync', state('streaming', restartedAt));
      const phasesAfter = prot.events('state', killedAt).map((l) => l.phase);
      assert.ok(!phasesAfter.includes('delta-sync') && !phasesAfter.includes('initial-sync'), `a recovery restart needs only a bitmap sync, saw ${phasesAfter.join(' → ')}`);
      assert.equal(prot.events('state', restartedAt).find((l) => l.phase === 'bitmap-sync')?.trigger, 'RecoveryApplianceCommunicationProblem');
      mustBeListed.push(await settledVerified(prot, restartedAt, 'after the recovery restart'));

      // ---- the protected appliance dies mid-stream and comes back on its persisted volumes
      prot.kill('SIGKILL');
      assert.equal((await prot.exited).signal, 'SIGKILL');
      verified.push(...verifiedFrom(prot));
      prot = pool.start(`protected-r${round}`, 'protected', protectedConfig);
      const loaded = await prot.waitFor('the volumes to be loaded from files', (l) => l.event === 'volumes-loaded');
      assert.ok((loaded.restoredBytes as number) > 0, 'the restarted protected appliance found its volumes');
      await prot.waitFor('a delta sync after the protected restart', state('delta-sync', 0));
      await prot.waitFor('streaming after the delta sync', state('streaming', 0));
      assert.ok(!prot.events('state').some((l) => l.phase === 'initial-sync'), 'a protected restart compares instead of copying everything again');
      mustBeListed.push(await settledVerified(prot, 0, 'after the protected restart'));
    }

    // A clean stop on both sides: the protected side drains first, then the journals close.
    assert.deepEqual(await prot.terminate(), { code: 0, signal: null }, prot.tail());
    assert.deepEqual(await recovery.terminate(), { code: 0, signal: null }, recovery.tail());
    verified.push(...verifiedFrom(prot));
    const status = await readStatus(f('protected.status.json'));
    assert.equal(status.pid, prot.pid, 'the status file is the last protected process\'s');
    assert.ok(status.lastVerified);
    assert.ok(status.phasesSeen.includes('delta-sync'));
    mustBeListed.push(status.lastVerified.id);

    const check = await checkJournals(dataDir, status, parseProtectionGroupSettings(SETTINGS_INPUT), verified, mustBeListed);
    for (const id of mustBeListed) assert.ok(check.compared.includes(id), `checkpoint ${id} was compared`);
  });
});

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TlsNetwork, ValidationError, type FramedConnection, type SiteIdentity } from '@opencdp/core';
import { createIdentityFile, readIdentityFile, readPeerCa, readTrustedPeersFile, trustPeer, writeFileAtomic } from './identity-files.js';
import { jsonLog } from './json-log.js';
import { issuePairing, redeemPairing } from './pairing-commands.js';

describe('appliance trust files', function () {
  this.timeout(30_000); // RSA key generation
  let dir = '';
  let a: SiteIdentity;
  let b: SiteIdentity;
  const f = (name: string): string => path.join(dir, name);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-trust-'));
    a = await createIdentityFile('site-a', f('a.identity.json'));
    b = await createIdentityFile('site-b', f('b.identity.json'));
  });

  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores an identity owner-readable only and reads it back', async () => {
    const mode = (await fs.stat(f('a.identity.json'))).mode & 0o777;
    assert.equal(mode, 0o600);
    const back = await readIdentityFile(f('a.identity.json'));
    assert.equal(back.siteId, 'site-a');
    assert.equal(back.caFingerprintSha256, a.caFingerprintSha256);
  });

  it('trusts a peer from its identity file or its CA export, and never itself', async () => {
    assert.equal((await readTrustedPeersFile(f('none.json'))).size, 0, 'a missing file trusts nobody');
    await trustPeer(a, await readPeerCa(f('b.identity.json')), f('a.peers.json'));
    await writeFileAtomic(f('a.ca.json'), JSON.stringify(a.asTrustedPeer()));
    await trustPeer(b, await readPeerCa(f('a.ca.json')), f('b.peers.json'));
    assert.deepEqual((await readTrustedPeersFile(f('a.peers.json'))).list().map((p) => p.siteId), ['site-b']);
    assert.equal((await readTrustedPeersFile(f('b.peers.json'))).get('site-a')?.caFingerprintSha256, a.caFingerprintSha256);
    await assert.rejects(trustPeer(a, a.asTrustedPeer(), f('a.peers.json')), (e: ValidationError) => e.field === 'peer');
    await fs.writeFile(f('bad.peers.json'), JSON.stringify([{ siteId: 'x' }]));
    await assert.rejects(readTrustedPeersFile(f('bad.peers.json')), ValidationError);
  });

  it('gives two TLS networks built from the files a working mutual-TLS link', async () => {
    const server = new TlsNetwork({ identity: await readIdentityFile(f('a.identity.json')), trustedPeers: await readTrustedPeersFile(f('a.peers.json')) });
    const client = new TlsNetwork({ identity: await readIdentityFile(f('b.identity.json')), trustedPeers: await readTrustedPeersFile(f('b.peers.json')) });
    const listener = await server.listen('127.0.0.1:0');
    try {
      const accepted = new Promise<string | undefined>((resolve) => listener.onConnection((c) => resolve((c as FramedConnection).peerSiteId)));
      const connection = await client.connect(listener.address);
      assert.equal(await accepted, 'site-b');
      await connection.close();
    } finally {
      await listener.close();
    }
  });

  it('pairs two sites with a one-time token (pair-issue / pair-redeem)', async () => {
    const c = await createIdentityFile('site-c', f('c.identity.json'));
    const lines: Record<string, unknown>[] = [];
    let tokenSeen: (t: string) => void = () => undefined;
    const token = new Promise<string>((resolve) => (tokenSeen = resolve));
    const log = jsonLog((line) => {
      const l = JSON.parse(line) as Record<string, unknown>;
      lines.push(l);
      if (l.event === 'pairing-token') tokenSeen(l.token as string);
    });
    const issued = issuePairing({ identityFile: f('a.identity.json'), trustedPeersFile: f('a.peers.json'), ttlMs: 20_000, log });
    const redeemed = await redeemPairing({ identityFile: f('c.identity.json'), trustedPeersFile: f('c.peers.json'), token: await token, log });
    assert.equal(redeemed.siteId, 'site-a');
    assert.equal((await issued).siteId, 'site-c');
    assert.equal((await readTrustedPeersFile(f('a.peers.json'))).get('site-c')?.caFingerprintSha256, c.caFingerprintSha256);
    assert.ok((await readTrustedPeersFile(f('a.peers.json'))).get('site-b'), 'pairing adds to the peers already trusted');
    assert.equal((await readTrustedPeersFile(f('c.peers.json'))).get('site-a')?.caFingerprintSha256, a.caFingerprintSha256);
    assert.equal(lines.filter((l) => l.event === 'paired').length, 2);
  });

  it('a pairing token nobody redeems expires', async () => {
    await assert.rejects(issuePairing({ identityFile: f('b.identity.json'), trustedPeersFile: f('b.peers.json'), ttlMs: 200, log: () => undefined }), /nobody redeemed/);
  });
});

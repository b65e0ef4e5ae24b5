import { strict as assert } from 'node:assert';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from './store.js';
import { tempDirEach } from './testing/spec-helpers.js';

describe('manager store', () => {
  const tmp = tempDirEach('opencdp-manager-store-');

  it('migrates the schema once and keeps data across reopen', () => {
    const s = Store.open(tmp.path);
    assert.equal(s.schemaVersion, 4);
    s.setMeta('k', 'v');
    assert.equal(s.nextCounter('x'), 1);
    s.close();
    const again = Store.open(tmp.path);
    assert.equal(again.schemaVersion, 4);
    assert.equal(again.getMeta('k'), 'v');
    assert.equal(again.nextCounter('x'), 2);
    again.close();
  });

  it('upgrades a schema-2 store that kept sessions, pairing tokens and peer secrets in clear: sessions and tokens are dropped, peer rows kept', () => {
    const old = Store.open(tmp.path);
    // Back to schema 2 as an older version left it: tokens in clear.
    old.db.exec(`DROP TABLE sessions; CREATE TABLE sessions (token TEXT PRIMARY KEY, user TEXT NOT NULL, role TEXT NOT NULL, expires_at INTEGER NOT NULL);
      DROP TABLE pairing_tokens; CREATE TABLE pairing_tokens (token TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
      ALTER TABLE sites DROP COLUMN tls_fingerprint; ALTER TABLE groups DROP COLUMN placement; ALTER TABLE alerts DROP COLUMN site_id; PRAGMA user_version = 2;
      INSERT INTO sessions VALUES ('live-token-in-clear', 'admin', 'admin', 99999999999999);
      INSERT INTO pairing_tokens VALUES ('pairing-token-in-clear', 99999999999999, 0);
      INSERT INTO sites (id, name, role, address, paired_at, outbound_secret, inbound_secret) VALUES ('peer-1', 'Peer', 'peer', 'http://peer', 1, 'o', 'i');`);
    old.close();
    const upgraded = Store.open(tmp.path);
    assert.equal(upgraded.schemaVersion, 4);
    const dump = JSON.stringify([upgraded.db.prepare('SELECT * FROM sessions').all(), upgraded.db.prepare('SELECT * FROM pairing_tokens').all()]);
    assert.doesNotMatch(dump, /in-clear/);
    // Peer secrets are sealed and hashed by Peering at start (see the peering spec); the row itself survives.
    assert.deepEqual(upgraded.listSites().find((x) => x.id === 'peer-1'), { id: 'peer-1', name: 'Peer', role: 'peer', address: 'http://peer', pairedAt: 1, outboundSecretSealed: 'o', inboundSecretHash: 'i' });
    upgraded.close();
  });

  it('keeps its folder 0700 and its database files 0600, narrowing what an older version made wider', () => {
    const s = Store.open(tmp.path);
    s.setMeta('k', 'v');
    const modes = (): string[] => ['', 'manager.db', 'manager.db-wal', 'manager.db-shm'].map((f) => (statSync(join(tmp.path, f)).mode & 0o777).toString(8));
    assert.deepEqual(modes(), ['700', '600', '600', '600']);
    s.close();
  });
});

import { strict as assert } from 'node:assert';
import { Store } from './store.js';
import { tempDirEach } from './testing/spec-helpers.js';

describe('manager store', () => {
  const tmp = tempDirEach('opencdp-manager-store-');

  it('migrates the schema once and keeps data across reopen', () => {
    const s = Store.open(tmp.path);
    assert.equal(s.schemaVersion, 3);
    s.setMeta('k', 'v');
    assert.equal(s.nextCounter('x'), 1);
    s.close();
    const again = Store.open(tmp.path);
    assert.equal(again.schemaVersion, 3);
    assert.equal(again.getMeta('k'), 'v');
    assert.equal(again.nextCounter('x'), 2);
    // A store of schema 1 (before pairing secrets) is upgraded in place, keeping its rows.
    again.putSite({ id: 'peer-1', name: 'Peer', role: 'peer', address: 'http://peer', pairedAt: 1 });
    again.db.exec(`ALTER TABLE sites DROP COLUMN outbound_secret; ALTER TABLE sites DROP COLUMN inbound_secret;
      ALTER TABLE groups DROP COLUMN placement; ALTER TABLE alerts DROP COLUMN site_id; PRAGMA user_version = 1;`);
    again.close();
    const upgraded = Store.open(tmp.path);
    assert.equal(upgraded.schemaVersion, 3);
    upgraded.putSite({ id: 'peer-1', name: 'Peer', role: 'peer', address: 'http://peer', pairedAt: 1, outboundSecret: 'o', inboundSecret: 'i' });
    assert.deepEqual(upgraded.listSites().find((x) => x.id === 'peer-1'), { id: 'peer-1', name: 'Peer', role: 'peer', address: 'http://peer', pairedAt: 1, outboundSecret: 'o', inboundSecret: 'i' });
    upgraded.close();
  });
});

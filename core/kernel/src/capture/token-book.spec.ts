import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TokenBook } from './token-book.js';

describe('TokenBook (acknowledged change-tracking tokens)', () => {
  let dir: string;
  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-tokens-')); });
  afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('keeps tokens in a 0600 file in a 0700 folder and reads them back after a restart', async () => {
    const file = path.join(dir, 'state', 'change-tracking', 'g1.json');
    const book = await TokenBook.open('g1', file);
    assert.equal(book.commit('vm-1', 'vol-1', 't1', 10), undefined);
    assert.equal(book.commit('vm-1', 'vol-1', 't2', 12), 't1', 'the replaced token is returned, to retire');
    book.commit('vm-2', 'vol-3', 'u1', 7);
    await book.save();
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.dirname(file))).mode & 0o777, 0o700);
    const again = await TokenBook.open('g1', file);
    assert.equal(again.get('vm-1', 'vol-1'), 't2');
    assert.equal(again.seqOf('vm-1'), 12);
    assert.deepEqual(again.vmIds.sort(), ['vm-1', 'vm-2']);
    again.forgetVm('vm-2');
    await again.save();
    assert.deepEqual((await TokenBook.open('g1', file)).vmIds, ['vm-1']);
  });

  it('discards a damaged, foreign or malformed file (saying why) and starts empty', async () => {
    const file = path.join(dir, 'g1.json');
    const why: string[] = [];
    for (const content of ['{not json', JSON.stringify({ version: 1, groupId: 'g2', vms: {} }), JSON.stringify({ version: 1, groupId: 'g1', vms: { 'vm-1': { seq: -1, volumes: {} } } })]) {
      await fs.writeFile(file, content);
      const book = await TokenBook.open('g1', file, (w) => why.push(w));
      assert.deepEqual(book.vmIds, []);
    }
    assert.equal(why.length, 3);
    assert.match(why[1], /belongs to group 'g2'/);
    assert.deepEqual((await TokenBook.open('g1', path.join(dir, 'missing.json'), (w) => why.push(w))).vmIds, []);
    assert.equal(why.length, 3, 'a missing file is simply a new book');
  });
});

import { strict as assert } from 'node:assert';
import { hashPassword, verifyPassword } from './passwords.js';

describe('manager passwords', () => {
  it('hashes passwords with scrypt and a salt', async () => {
    const a = await hashPassword('correct horse');
    assert.match(a, /^scrypt\$16384\$8\$1\$/);
    assert.notEqual(a, await hashPassword('correct horse'));
    assert.equal(await verifyPassword('correct horse', a), true);
    assert.equal(await verifyPassword('wrong horse', a), false);
    assert.equal(await verifyPassword('x', 'garbage'), false);
  });
});

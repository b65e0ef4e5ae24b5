import { strict as assert } from 'node:assert';
import { CheckpointNotFoundError, NotFoundError, ValidationError } from '@opencdp/core';
import { addGroup, siteEach } from '../testing/spec-helpers.js';
import { checkRestorePath } from './file-restores.js';

describe('manager file restore', () => {
  const s = siteEach();

  it('takes only absolute paths inside the volume', () => {
    for (const good of ['/', '/etc/hosts', '/a/b..c/.hidden']) assert.equal(checkRestorePath(good), good);
    for (const bad of ['etc/hosts', '', '/etc/../../x', '/a/..', '/a\\b', '/a\0b']) {
      assert.throws(() => checkRestorePath(bad), (e: ValidationError) => e instanceof ValidationError && e.field === 'path', JSON.stringify(bad));
    }
  });

  it('opens a checkpoint of the group\'s VM, lists and extracts files through the recovery appliance, and forgets a closed session', async () => {
    const { fileRestores } = s.parts;
    const id = await addGroup(s.site);
    await s.site.clock.advance(1000);
    const [cp] = s.site.siteB.checkpointsOf.get(id)!;
    const volume = { vmId: 'site-a-vm-1', volumeId: 'site-a-vm-1-disk-0' };
    await assert.rejects(fileRestores.open(id, { checkpointId: 'site-a-cp-999', ...volume }), CheckpointNotFoundError);
    await assert.rejects(fileRestores.open(id, { checkpointId: cp.id, vmId: 'site-a-vm-2', volumeId: 'x' }), ValidationError);
    const { sessionId } = await fileRestores.open(id, { checkpointId: cp.id, ...volume });
    assert.deepEqual(await fileRestores.listFiles(sessionId, '/etc'), [{ path: '/etc/hosts', type: 'file', sizeBytes: 20 }]);
    assert.equal((await fileRestores.extractFile(sessionId, '/etc/hosts')).toString(), '127.0.0.1 localhost\n');
    assert.throws(() => fileRestores.listFiles(sessionId, '/etc/../..'), ValidationError);
    assert.equal(s.site.siteB.callsOf('recovery.listFiles').length, 1, 'an escaping path never reaches the appliance');
    await fileRestores.close(sessionId);
    assert.throws(() => fileRestores.listFiles(sessionId, '/'), NotFoundError);
    assert.deepEqual(s.site.siteB.callsOf('recovery.closeFileRestore'), [[sessionId]]);
  });
});

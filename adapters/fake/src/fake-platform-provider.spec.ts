// The fake platform as an appliance loads it: by name through the platform loader (this package's
// ContainerModule), created from a config section, errors naming the field.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolvePlatform, startPlatform, SystemClock, ValidationError } from '@opencdp/core';
import { FakeHypervisor } from './fake-hypervisor.js';
import { FakePlatformProvider } from './fake-platform-provider.js';

describe('fake platform provider', () => {
  let dir = '';
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-fakeplat-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const context = { roles: ['protected' as const], siteId: 'site-a', clock: new SystemClock(), log: (): void => undefined, applianceDataDir: '' };

  it('is what the loader finds for platform "fake" (also when the section is absent) and creates the configured VMs', async () => {
    const r = await resolvePlatform(undefined);
    assert.ok(r.provider instanceof FakePlatformProvider);
    assert.equal(r.packageName, '@opencdp/adapter-fake');
    const started = await startPlatform({ name: 'fake', config: { vms: [{ name: 'web', volumes: [{ sizeBytes: 1 << 20 }] }, { name: 'db', volumes: [{ sizeBytes: 1 << 20 }, { sizeBytes: 1 << 20, sectorSize: 4096 }] }] } },
      { ...context, applianceDataDir: dir });
    try {
      const hv = started.instance.hypervisor;
      assert.ok(hv instanceof FakeHypervisor);
      const inv = await hv.inventory();
      assert.deepEqual(inv.vms.map((v) => [v.id, v.name, v.volumes.map((x) => x.sectorSize)]), [['site-a.vm-1', 'web', [512]], ['site-a.vm-2', 'db', [512, 4096]]]);
      // The VMs are real fake VMs: writes land and read back.
      const db = inv.vms[1];
      await hv.dataCenter.guestWrite(db.id, db.volumes[1].id, 4096, Buffer.alloc(4096, 9));
      assert.ok((await hv.readVolume(db.id, db.volumes[1].id, 4096, 4096)).equals(Buffer.alloc(4096, 9)));
    } finally {
      await started.instance.dispose();
    }
  });

  it('keeps historical ids with idPrefix "" and names the field of every bad value', async () => {
    const plain = await startPlatform({ name: 'fake', config: { idPrefix: '', vms: [{ name: 'a', volumes: [{ sizeBytes: 4096 }] }] } }, { ...context, applianceDataDir: dir });
    assert.deepEqual((await plain.instance.hypervisor.inventory()).vms.map((v) => v.id), ['vm-1']);
    await plain.instance.dispose();
    const bad = async (config: unknown, field: string): Promise<void> => {
      await assert.rejects(startPlatform({ name: 'fake', config }, { ...context, applianceDataDir: dir }),
        (e: unknown) => e instanceof ValidationError && e.field === field, `expected an error naming ${field}`);
    };
    await bad({ vms: [{ name: 'a', volumes: [{ sizeBytes: 4096 }] }, { name: 'a', volumes: [{ sizeBytes: 4096 }] }] }, 'platform.config.vms.1.name');
    await bad({ vms: [{ name: 'a', volumes: [{ sizeBytes: 1000 }] }] }, 'platform.config.vms.0.volumes.0.sizeBytes');
    await bad({ vms: [{ name: 'a', volumes: [{ sizeBytes: 4096, sectorSize: 100 }] }] }, 'platform.config.vms.0.volumes.0.sectorSize');
    await bad({ vms: [{ name: '../x', volumes: [{ sizeBytes: 4096 }] }] }, 'platform.config.vms.0.name');
    await bad({ disks: [] }, 'platform.config.disks');
  });
});

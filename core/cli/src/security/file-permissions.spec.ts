// No state file readable by others: a manager data dir (database, WAL, secret key, TLS key), two managed
// appliances' data dirs with journals and replica volumes of a replicated group, and the identity files
// are scanned after real work ran in them, and every file must be 0600 and every folder 0700. The demo's
// own folder is scanned by the demo's spec (two-site-demo.slow-spec.ts).
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseProtectionGroupSettings, RemoteApplianceControl } from '@opencdp/core';
import { startManagerCommand } from '@opencdp/manager';
import { pino } from 'pino';
import { startSiteAppliance } from '../site/site-appliance.js';
import { pairedIdentities, siteApplianceFixture } from '../site/testing/paired-sites.js';
import { until } from '../site/two-site-lab.js';
import { looseEntries } from './loose-entries.js';

const MiB = 1024 * 1024;
const TOKEN = 'control-token-for-tests-0123456789';

describe('state files are the owner\'s only', function () {
  this.timeout(90_000);
  const fixture = siteApplianceFixture('ocdp-perms-');

  it('a manager data dir, two appliances\' data dirs with journals and replicas, and the identity files: every file 0600, every folder 0700', async () => {
    const f = (name: string): string => path.join(fixture.dir(), name);
    const previous = process.umask(0o022); // as a careless service manager would start it
    try {
      const ids = await pairedIdentities(fixture.dir());
      const siteB = await startSiteAppliance({ siteId: 'site-b', ...ids.b, dataDir: f('b-data'), control: { listen: '127.0.0.1:0', token: TOKEN }, linkListen: '127.0.0.1:0' }, () => undefined);
      fixture.running.push(siteB);
      const siteA = await startSiteAppliance({
        siteId: 'site-a', ...ids.a, dataDir: f('a-data'), control: { listen: '127.0.0.1:0', token: TOKEN },
        vms: [{ name: 'web', volumes: [{ sizeBytes: 2 * MiB }] }], workload: { seed: 3, ratePerSecond: 200, writeSizes: [4096] },
      }, () => undefined);
      fixture.running.push(siteA);
      const controlA = new RemoteApplianceControl('site-a', siteA.controlUrl, TOKEN, { tls: ids.controlTls });
      const controlB = new RemoteApplianceControl('site-b', siteB.controlUrl, TOKEN, { tls: ids.controlTls });
      const vms = (await controlA.inventory()).vms.map((v) => v.id);
      await controlA.protectGroup({ groupId: 'g-perm', settings: parseProtectionGroupSettings({ name: 'perm', checkpointIntervalMs: 1000, journal: { hardLimit: { mb: 64 }, warningThreshold: { mb: 48 } } }), vmIds: vms, recoveryAddress: siteB.linkAddress! });
      await controlA.extra('startWorkload');
      await until('the initial sync to end', async () => ((await controlA.groupFacts('g-perm')).phase === 'streaming' ? true : undefined), 30_000);
      await controlA.cutCheckpoints({ groupIds: ['g-perm'], kind: 'tagged', tag: 't', timestamp: Date.now(), ids: { 'g-perm': 'cp-1' } });
      await until('the checkpoint in the journal', async () => ((await controlB.recovery.listCheckpoints('g-perm')).some((c) => c.id === 'cp-1') ? true : undefined), 30_000);

      // A manager that served HTTPS (self-signed certificate made in its data dir), took logins and sealed a secret.
      const manager = await startManagerCommand({ dataDir: f('manager-data'), listen: '127.0.0.1:0', siteId: 'site-a' }, { overrides: { logger: pino({ level: 'silent' }), admin: { user: 'admin', password: 'harbour-lantern-42' } }, warn: () => undefined });
      manager.parts.peering.generatePairingToken('admin');
      await manager.stop();
    } finally {
      process.umask(previous);
    }
    for (const r of fixture.running.splice(0)) await r.stop();
    const scanned = await looseEntries(fixture.dir());
    assert.ok(scanned.checked >= 18, `only ${scanned.checked} entries scanned: ${scanned.paths.join(", ")}`);
    for (const must of ['manager-data/manager.db', 'manager-data/secret.key', 'manager-data/tls/manager.key', 'a.identity.json', 'b-data/journals']) {
      assert.ok(scanned.paths.some((p) => p.startsWith(must)), `${must} was scanned`);
    }
    assert.ok(scanned.paths.some((p) => /^b-data\/journals\/.+\.img$/.test(p) || /^b-data\/journals\/.+\/replica\//.test(p)), `a replica volume was scanned: ${scanned.paths.filter((p) => p.startsWith('b-data')).join(', ')}`);
    assert.deepEqual(scanned.loose, [], 'files or folders open to group or others');
  });
});

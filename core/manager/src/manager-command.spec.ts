import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@opencdp/core';
import { readManagerConfig, startManagerCommand } from './manager-command.js';
import { parseListen } from './manager-options.js';
import { HttpClient } from './testing/spec-helpers.js';
import { RecordingAppliance } from './testing/recording-appliance.js';

describe('manager start command', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'opencdp-manager-cmd-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts from a config file, connects the configured appliances, and serves the API', async () => {
    const config = join(dir, 'manager.json');
    writeFileSync(config, JSON.stringify({ siteId: 'site-a', siteName: 'Prod', admin: { user: 'root', password: 'granite-orchard-5' }, appliances: [{ siteId: 'site-b', url: 'http://127.0.0.1:1', token: 't' }] }));
    const connected: string[] = [];
    const m = await startManagerCommand({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', config }, {
      connectAppliance: (spec) => (connected.push(spec.siteId), new RecordingAppliance(spec.siteId)),
      overrides: { logger: (await import('pino')).pino({ level: 'silent' }) },
    });
    try {
      assert.deepEqual(connected, ['site-b']);
      const http = new HttpClient(m.url);
      await http.login('root', 'granite-orchard-5');
      const site = await http.get('/v1/localsite');
      assert.deepEqual([site.body.siteIdentifier, site.body.siteName], ['site-a', 'Prod']);
      assert.equal((await http.get('/v1/vras')).body[0].siteIdentifier, 'site-b');
    } finally {
      await m.stop();
    }
  });

  it('names the bad field of a config file or a listen address', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ siteId: 'a', colour: 'red' }));
    assert.throws(() => readManagerConfig(bad), (e: ValidationError) => e.field === 'colour');
    writeFileSync(bad, JSON.stringify({ appliances: [{ siteId: 'b' }] }));
    assert.throws(() => readManagerConfig(bad), (e: ValidationError) => e.field === 'appliances.0');
    assert.throws(() => readManagerConfig(join(dir, 'missing.json')), (e: ValidationError) => e.field === 'config');
    assert.throws(() => parseListen('nohost'), (e: ValidationError) => e.field === 'listen');
    assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseListen('0.0.0.0:9080'), { host: '0.0.0.0', port: 9080 });
  });

  it('refuses to start without a site id or on a data dir of another site', async () => {
    await assert.rejects(startManagerCommand({ dataDir: dir, listen: '127.0.0.1:0' }), (e: ValidationError) => e.field === 'siteId' || /site/.test(e.message));
    const { startManager } = await import('./manager-module.js');
    const { pino } = await import('pino');
    const m = await startManager({ dataDir: dir, siteId: 'site-a', appliances: [], logger: pino({ level: 'silent' }) });
    await m.stop();
    await assert.rejects(startManager({ dataDir: dir, siteId: 'site-b', appliances: [], logger: pino({ level: 'silent' }) }), /belongs to site 'site-a'/);
  });
});

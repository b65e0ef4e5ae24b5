// The adapter's config section: errors name the field, the password comes from an environment variable or
// a 0600 file (never the config), and a thumbprint or a CA file decides how vCenter is trusted.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { ValidationError } from '@opencdp/core';
import { parseVsphereConfig, readVspherePassword, vsphereConfigSchema } from './vsphere-config.js';
import { tempDir } from './testing/spec-helpers.js';

const valid = { url: 'https://vc.example.com/sdk', user: 'svc-opencdp@vsphere.local', passwordEnv: 'OPENCDP_VSPHERE_PASSWORD', thumbprint: 'AB:'.repeat(31) + 'CD', datacenter: 'DC0' };

function field(input: unknown): string | undefined {
  try {
    parseVsphereConfig(input);
  } catch (e) {
    assert.ok(e instanceof ValidationError, `a ValidationError, got ${(e as Error).message}`);
    return e.field;
  }
  return undefined;
}

describe('vsphere config', () => {
  it('accepts a complete config and compiles under a strict ajv, as an appliance loading the provider does', () => {
    assert.equal(parseVsphereConfig(valid).datacenter, 'DC0');
    const full = { ...valid, datastore: 'ds1', folder: 'Recovered', cluster: 'C0', livePortgroup: 'prod', testPortgroups: ['bubble'], quiesce: true, minIntervalSeconds: 300, macPolicy: 'generate', subnetMask: '255.255.0.0' };
    assert.deepEqual(parseVsphereConfig(full), full);
    const validate = new Ajv({ strict: true, allErrors: true }).compile(vsphereConfigSchema);
    assert.ok(validate(full));
  });

  it('refuses bad input naming the field, and changes nothing', () => {
    const { url: _u, ...noUrl } = valid;
    assert.equal(field(noUrl), 'url');
    assert.equal(field({ ...valid, url: 'http://vc/sdk' }), 'url', 'plain http is refused: the password would cross in clear');
    assert.equal(field({ ...valid, thumbprint: 'AB:CD' }), 'thumbprint');
    assert.equal(field({ ...valid, password: 'secret' }), 'password', 'a password in the config is an unknown field');
    assert.equal(field({ ...valid, testPortgroups: 'bubble' }), 'testPortgroups');
    assert.equal(field({ ...valid, macPolicy: 'random' }), 'macPolicy');
    assert.equal(field({ ...valid, minIntervalSeconds: 0 }), 'minIntervalSeconds');
    const { passwordEnv: _p, ...noPassword } = valid;
    assert.equal(field(noPassword), 'passwordEnv');
    assert.throws(() => parseVsphereConfig({ ...valid, passwordFile: '/etc/x' }), /not both/);
    assert.throws(() => parseVsphereConfig({ ...valid, caFile: '/etc/ca.pem' }), (e: unknown) => e instanceof ValidationError && e.field === 'thumbprint' && /not both/.test(e.message));
  });

  it('reads the password from the named environment variable, refusing an unset one', async () => {
    const config = parseVsphereConfig(valid);
    assert.equal(await readVspherePassword(config, { OPENCDP_VSPHERE_PASSWORD: 'pa55' }), 'pa55');
    await assert.rejects(readVspherePassword(config, {}), (e: unknown) => e instanceof ValidationError && e.field === 'passwordEnv');
  });

  it('reads the password from a 0600 file and refuses one others can read', async () => {
    const dir = await tempDir();
    try {
      const file = path.join(dir, 'pw');
      await fs.writeFile(file, 'from-file\n', { mode: 0o600 });
      const { passwordEnv: _p, ...rest } = valid;
      const config = parseVsphereConfig({ ...rest, passwordFile: file });
      assert.equal(await readVspherePassword(config), 'from-file');
      await fs.chmod(file, 0o644);
      await assert.rejects(readVspherePassword(config), (e: unknown) => e instanceof ValidationError && e.field === 'passwordFile' && /chmod 600/.test(e.hint ?? ''));
      await assert.rejects(readVspherePassword(parseVsphereConfig({ ...rest, passwordFile: path.join(dir, 'none') })), (e: unknown) => e instanceof ValidationError && e.field === 'passwordFile');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

// The platform loader on vendor packages written to a temporary folder (their node_modules link to this
// repository's, so they import inversify and @opencdp/core as an installed adapter would): loading by
// folder and by file, choosing among providers, config errors that name the field, and every way a
// package can fail to be a platform — each a typed error naming `platform.*`.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SystemClock } from '../clock.js';
import { ValidationError } from '../errors.js';
import {
  checkPlatformConfig, loadPlatformPackage, PlatformLoadError, platformDataDir, resolvePlatform, startPlatform,
} from './platform-loader.js';

const REPO_NODE_MODULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../node_modules');

const PROVIDER = (platform: string, extra = ''): string => `{
  platform: '${platform}',
  configSchema: { type: 'object', additionalProperties: false, required: ['endpoint'], properties: {
    endpoint: { type: 'string', pattern: '^https://' }, hosts: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 2 } } } } } },
  create: async (config, context) => {
    ${extra}
    return { hypervisor: { platform: '${platform}', config, dataDir: context.dataDir, siteId: context.siteId }, dispose: async () => undefined };
  },
}`;

describe('platform loader', function () {
  this.timeout(30_000);
  let dir = '';

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-loader-'));
    await fs.symlink(REPO_NODE_MODULES, path.join(dir, 'node_modules'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Writes a package folder `name` with `index.js` and a package.json (`opencdp.containerModule` = `exportName` unless null). */
  const vendor = async (name: string, source: string, exportName: string | null = 'acmeModule', extraJson: Record<string, unknown> = {}): Promise<string> => {
    const pkg = path.join(dir, name);
    await fs.mkdir(pkg, { recursive: true });
    await fs.writeFile(path.join(pkg, 'package.json'), JSON.stringify({
      name: `@acme/${name}`, type: 'module', exports: { '.': { import: './index.js' } }, ...(exportName !== null ? { opencdp: { containerModule: exportName } } : {}), ...extraJson,
    }));
    await fs.writeFile(path.join(pkg, 'index.js'), source);
    return pkg;
  };
  const header = "import { ContainerModule } from 'inversify';\nimport { PlatformProvider } from '@opencdp/core';\n";

  it('loads a vendor package from its folder, relative to the config, and validates its section', async () => {
    await vendor('one', `${header}export const acmeModule = new ContainerModule(({ bind }) => { bind(PlatformProvider).toConstantValue(${PROVIDER('acme')}); });\n`);
    const pkg = await loadPlatformPackage('./one', { baseDir: dir });
    assert.equal(pkg.name, '@acme/one');
    assert.deepEqual(pkg.providers.map((p) => p.platform), ['acme']);

    const r = await resolvePlatform({ package: './one', config: { endpoint: 'https://vc.example' } }, { baseDir: dir });
    assert.equal(r.provider.platform, 'acme');
    assert.deepEqual(r.config, { endpoint: 'https://vc.example' });
    // The same section with a wrong field: the error names the field in the whole file.
    await assert.rejects(resolvePlatform({ package: './one', config: { endpoint: 'http://plain' } }, { baseDir: dir }),
      (e: unknown) => e instanceof ValidationError && e.field === 'platform.config.endpoint' && /must match pattern/.test(e.message));
    await assert.rejects(resolvePlatform({ package: './one', config: { endpoint: 'https://x', hosts: [{ name: 'a' }] } }, { baseDir: dir }),
      (e: unknown) => e instanceof ValidationError && e.field === 'platform.config.hosts.0.name');
    await assert.rejects(resolvePlatform({ package: './one', config: { endpoint: 'https://x', extra: 1 } }, { baseDir: dir }),
      (e: unknown) => e instanceof ValidationError && e.field === 'platform.config.extra' && /unknown field/.test(e.message));
    await assert.rejects(resolvePlatform({ package: './one' }, { baseDir: dir }),
      (e: unknown) => e instanceof ValidationError && e.field === 'platform.config.endpoint' && /missing field/.test(e.message));
  });

  it('loads a module file by path (its package.json names the module) and creates the platform in a 0700 folder', async () => {
    const pkg = await vendor('two', `${header}export const acmeModule = new ContainerModule(({ bind }) => { bind(PlatformProvider).toConstantValue(${PROVIDER('acme2')}); });\n`);
    await fs.rename(path.join(pkg, 'index.js'), path.join(pkg, 'lib.js'));
    const started = await startPlatform({ package: path.join(pkg, 'lib.js'), config: { endpoint: 'https://h' } }, {
      roles: ['protected'], siteId: 'site-x', clock: new SystemClock(), log: () => undefined, applianceDataDir: path.join(dir, 'appliance-data'),
    });
    const hv = started.instance.hypervisor as unknown as { platform: string; dataDir: string; siteId: string; config: unknown };
    assert.equal(hv.platform, 'acme2');
    assert.equal(hv.siteId, 'site-x');
    assert.equal(hv.dataDir, path.join(dir, 'appliance-data', 'platform-acme2'));
    assert.equal((await fs.stat(hv.dataDir)).mode & 0o777, 0o700);
    await started.instance.dispose();
  });

  it('chooses among several providers by name and refuses to guess', async () => {
    await vendor('many', `${header}export const acmeModule = new ContainerModule(({ bind }) => {
      bind(PlatformProvider).toConstantValue(${PROVIDER('north')});
      bind(PlatformProvider).toConstantValue(${PROVIDER('south')});
    });\n`);
    const south = await resolvePlatform({ package: './many', name: 'south', config: { endpoint: 'https://s' } }, { baseDir: dir });
    assert.equal(south.provider.platform, 'south');
    await assert.rejects(resolvePlatform({ package: './many', config: { endpoint: 'https://s' } }, { baseDir: dir }),
      (e: unknown) => e instanceof ValidationError && e.field === 'platform.name' && /several platforms \(north, south\)/.test(e.message));
    await assert.rejects(resolvePlatform({ package: './many', name: 'east' }, { baseDir: dir }),
      (e: unknown) => e instanceof ValidationError && e.field === 'platform.name' && /no platform 'east'/.test(e.message));
  });

  it('refuses what is not a platform package, with a typed error naming platform.package', async () => {
    const isLoadError = (pattern: RegExp) => (e: unknown): boolean => e instanceof PlatformLoadError && e.field === 'platform.package' && pattern.test(e.message);
    const isBadInput = (pattern: RegExp) => (e: unknown): boolean => e instanceof ValidationError && e.field === 'platform.package' && pattern.test(e.message);
    await vendor('no-field', `${header}export const acmeModule = 1;\n`, null);
    await assert.rejects(loadPlatformPackage('./no-field', { baseDir: dir }), isLoadError(/declares no "opencdp"/));
    await vendor('no-export', `${header}export const other = 1;\n`);
    await assert.rejects(loadPlatformPackage('./no-export', { baseDir: dir }), isLoadError(/exports no such module/));
    await vendor('no-provider', `${header}export const acmeModule = new ContainerModule(({ bind }) => { bind('x').toConstantValue(1); });\n`);
    await assert.rejects(loadPlatformPackage('./no-provider', { baseDir: dir }), isLoadError(/binds no PlatformProvider/));
    await vendor('throws', `throw new Error('vendor bug at import');\n`);
    await assert.rejects(loadPlatformPackage('./throws', { baseDir: dir }), isLoadError(/failed to load .*vendor bug at import/));
    await vendor('bad-shape', `${header}export const acmeModule = new ContainerModule(({ bind }) => { bind(PlatformProvider).toConstantValue({ platform: 'x' }); });\n`);
    await assert.rejects(loadPlatformPackage('./bad-shape', { baseDir: dir }), isLoadError(/without platform, configSchema and create/));
    await assert.rejects(loadPlatformPackage('./missing-folder', { baseDir: dir }), isBadInput(/does not exist/));
    await fs.mkdir(path.join(dir, 'empty'), { recursive: true });
    await assert.rejects(loadPlatformPackage('./empty', { baseDir: dir }), isBadInput(/no package.json/));
    await assert.rejects(loadPlatformPackage('@opencdp/adapter-does-not-exist'), isBadInput(/no package '@opencdp\/adapter-does-not-exist' is installed/));
    await assert.rejects(resolvePlatform({ name: 'vmware-typo' }), (e: unknown) => e instanceof ValidationError && e.field === 'platform.name' && /unknown platform 'vmware-typo'/.test(e.message));
  });

  it('prefixes the fields of a provider\'s own ValidationErrors and reports a schema that does not compile as the adapter\'s fault', async () => {
    await vendor('picky', `${header}import { ValidationError } from '@opencdp/core';
class HostUnreachableError extends ValidationError {}
export const acmeModule = new ContainerModule(({ bind }) => { bind(PlatformProvider).toConstantValue(${PROVIDER('picky', "throw new HostUnreachableError('host a is unreachable', 'hosts.0.name', 'check the name');")}); });\n`);
    await assert.rejects(startPlatform({ package: './picky', config: { endpoint: 'https://p', hosts: [{ name: 'aa' }] } }, {
      roles: ['recovery'], siteId: 's', clock: new SystemClock(), log: () => undefined, applianceDataDir: path.join(dir, 'picky-data'),
    }, { baseDir: dir }), (e: unknown) => e instanceof ValidationError && e.field === 'platform.config.hosts.0.name' && e.constructor.name === 'HostUnreachableError'
      && e.message === 'host a is unreachable (check the name)' && e.hint === 'check the name');
    const broken = { platform: 'broken', configSchema: { type: 'no-such-type' }, create: async () => { throw new Error('never'); } };
    assert.throws(() => checkPlatformConfig(broken as never, {}), PlatformLoadError);
  });

  it('tightens an existing platform folder to 0700', async () => {
    const appliance = path.join(dir, 'loose');
    await fs.mkdir(path.join(appliance, 'platform-fake'), { recursive: true, mode: 0o755 });
    const d = await platformDataDir(appliance, 'fake');
    assert.equal((await fs.stat(d)).mode & 0o777, 0o700);
  });
});

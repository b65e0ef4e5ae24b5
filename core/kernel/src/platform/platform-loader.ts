// Loads a platform by package, the design's plugin rule: a package name (resolved as an import from the
// kernel) or a path to a vendor's package folder → its package.json `opencdp.containerModule` → that
// ContainerModule loaded into a fresh inversify container → the `PlatformProvider`s it binds. The
// appliance config's `platform.config` is checked against the chosen provider's own schema, errors naming
// the field, before the provider sees it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Container, type ContainerModule } from 'inversify';
import { OpenCdpError, ValidationError } from '../errors.js';
import { schemaError } from '../settings.js';
import { PlatformProvider, type PlatformContext, type PlatformInstance } from '../ports/platform-provider.js';

/** Platform names an appliance config may use without naming a package. */
export const BUILTIN_PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  fake: '@opencdp/adapter-fake',
  qemu: '@opencdp/adapter-qemu',
  vsphere: '@opencdp/adapter-vsphere',
  hyperv: '@opencdp/adapter-hyperv',
  aws: '@opencdp/adapter-aws',
};

/** The appliance config's `platform` section. */
export interface PlatformSelection {
  /** The provider's `platform`; alone, a built-in name (see BUILTIN_PLATFORM_PACKAGES). */
  name?: string;
  /** A package name, or a path (absolute, or relative to the config file) to a vendor's package folder. */
  package?: string;
  /** The adapter's own section, checked against the provider's `configSchema`. */
  config?: unknown;
}

/** JSON Schema of the `platform` section itself (the adapter's section is checked separately). */
export const PLATFORM_SELECTION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$' },
    package: { type: 'string', minLength: 1, maxLength: 1000 },
    config: { type: 'object' },
  },
} as const;

/** A package was found but cannot serve as a platform (no container module, no provider, it failed to load). */
export class PlatformLoadError extends OpenCdpError {
  constructor(message: string, readonly field: string, hint?: string) {
    super('PLATFORM_LOAD', message, hint);
  }
}

export interface PlatformPackage {
  /** The package's `name` from its package.json. */
  name: string;
  dir: string;
  providers: PlatformProvider[];
}

export interface LoadOptions {
  /** Where relative paths resolve from (the config file's folder); default the working folder. */
  baseDir?: string;
  /** The config field being loaded, for errors (default `platform`). */
  field?: string;
}

/**
 * Loads a package (name or path) and returns the PlatformProviders its ContainerModule binds. Throws
 * ValidationError when nothing is found under that name or path, PlatformLoadError when what is found is
 * not a platform package.
 */
export async function loadPlatformPackage(spec: string, options: LoadOptions = {}): Promise<PlatformPackage> {
  const field = `${options.field ?? 'platform'}.package`;
  const located = isPath(spec) ? await locateByPath(spec, options.baseDir ?? process.cwd(), field) : await locateByName(spec, field);
  const exportName = (located.json.opencdp as { containerModule?: unknown } | undefined)?.containerModule;
  if (typeof exportName !== 'string' || exportName === '') {
    throw new PlatformLoadError(`package '${located.name}' (${located.dir}) declares no "opencdp": {"containerModule": …} in its package.json`, field,
      'an adapter names the export of its inversify ContainerModule there');
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(located.entry).href)) as Record<string, unknown>;
  } catch (e) {
    throw new PlatformLoadError(`package '${located.name}' failed to load from ${located.entry}: ${(e as Error).message}`, field);
  }
  const module = mod[exportName] as ContainerModule | undefined;
  if (typeof (module as { load?: unknown } | undefined)?.load !== 'function') {
    throw new PlatformLoadError(`package '${located.name}' names '${exportName}' as its ContainerModule, but its entry ${located.entry} exports no such module`, field);
  }
  const container = new Container();
  try {
    await container.loadAsync(module!);
  } catch (e) {
    throw new PlatformLoadError(`the ContainerModule '${exportName}' of package '${located.name}' failed to load: ${(e as Error).message}`, field);
  }
  const providers = container.isBound(PlatformProvider) ? await container.getAllAsync<PlatformProvider>(PlatformProvider) : [];
  if (providers.length === 0) {
    throw new PlatformLoadError(`package '${located.name}' binds no PlatformProvider in its ContainerModule '${exportName}'`, field,
      'bind one under the PlatformProvider symbol of @opencdp/core');
  }
  for (const p of providers) {
    if (typeof p?.platform !== 'string' || typeof p.create !== 'function' || typeof p.configSchema !== 'object' || p.configSchema === null) {
      throw new PlatformLoadError(`package '${located.name}' binds a PlatformProvider without platform, configSchema and create()`, field);
    }
  }
  return { name: located.name, dir: located.dir, providers };
}

export interface ResolvedPlatform {
  provider: PlatformProvider;
  /** The adapter's section, checked against the provider's schema (a copy; `{}` when absent). */
  config: unknown;
  packageName: string;
}

/**
 * The `platform` section → the provider and its checked config. No section: `defaultName` (default `fake`).
 * Every error names the field (`platform.name`, `platform.package`, `platform.config.<path>`).
 */
export async function resolvePlatform(selection: PlatformSelection | undefined, options: LoadOptions & { defaultName?: string } = {}): Promise<ResolvedPlatform> {
  const field = options.field ?? 'platform';
  const s = selection ?? { name: options.defaultName ?? 'fake' };
  let spec = s.package;
  if (spec === undefined) {
    const name = s.name ?? options.defaultName ?? 'fake';
    spec = BUILTIN_PLATFORM_PACKAGES[name];
    if (!spec) {
      throw new ValidationError(`unknown platform '${name}'`, `${field}.name`,
        `use one of ${Object.keys(BUILTIN_PLATFORM_PACKAGES).join(', ')}, or name the adapter's package in ${field}.package`);
    }
  }
  const pkg = await loadPlatformPackage(spec, { ...options, field });
  let provider: PlatformProvider | undefined;
  if (s.name !== undefined) {
    provider = pkg.providers.find((p) => p.platform === s.name);
    if (!provider) throw new ValidationError(`package '${pkg.name}' offers no platform '${s.name}' (it offers ${pkg.providers.map((p) => `'${p.platform}'`).join(', ')})`, `${field}.name`);
  } else if (pkg.providers.length === 1) {
    provider = pkg.providers[0];
  } else {
    throw new ValidationError(`package '${pkg.name}' offers several platforms (${pkg.providers.map((p) => p.platform).join(', ')})`, `${field}.name`, 'say which one in platform.name');
  }
  return { provider, config: checkPlatformConfig(provider, s.config, `${field}.config`), packageName: pkg.name };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new WeakMap<PlatformProvider, ValidateFunction>();

/** Checks an adapter's section against its provider's schema; returns a copy. Throws ValidationError naming the field. */
export function checkPlatformConfig(provider: PlatformProvider, config: unknown, field = 'platform.config'): unknown {
  let validate = validators.get(provider);
  if (!validate) {
    try {
      validate = ajv.compile(provider.configSchema);
    } catch (e) {
      throw new PlatformLoadError(`the config schema of platform '${provider.platform}' does not compile: ${(e as Error).message}`, field, 'a fault of the adapter, not of this configuration');
    }
    validators.set(provider, validate);
  }
  const copy: unknown = structuredClone(config ?? {});
  if (!validate(copy)) throw schemaError(`configuration of platform '${provider.platform}'`, validate.errors ?? [], field);
  return copy;
}

/**
 * The folder a platform instance keeps its state in: `<applianceDataDir>/platform-<name>`, created 0700
 * (and tightened to 0700 if it existed looser).
 */
export async function platformDataDir(applianceDataDir: string, platform: string): Promise<string> {
  const dir = path.join(applianceDataDir, `platform-${platform}`);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  return dir;
}

export interface StartedPlatform {
  provider: PlatformProvider;
  packageName: string;
  instance: PlatformInstance;
}

/** Resolves the section, then creates the platform with a context whose `dataDir` is made by `platformDataDir`. */
export async function startPlatform(selection: PlatformSelection | undefined, context: Omit<PlatformContext, 'dataDir'> & { applianceDataDir: string }, options: LoadOptions & { defaultName?: string } = {}): Promise<StartedPlatform> {
  const { provider, config, packageName } = await resolvePlatform(selection, options);
  const dataDir = await platformDataDir(context.applianceDataDir, provider.platform);
  const field = `${options.field ?? 'platform'}.config`;
  try {
    const instance = await provider.create(config, { roles: context.roles, siteId: context.siteId, clock: context.clock, log: context.log, dataDir });
    return { provider, packageName, instance };
  } catch (e) {
    // A provider names fields relative to its own section; the operator reads them in the whole file.
    if (e instanceof ValidationError) throw withFieldPrefix(e, field);
    throw e;
  }
}

/** The same error (same class, message and hint) with its field placed under `prefix`. */
function withFieldPrefix(e: ValidationError, prefix: string): ValidationError {
  const copy = Object.create(Object.getPrototypeOf(e) as object) as ValidationError;
  Object.assign(copy, e);
  Object.defineProperties(copy, {
    field: { value: e.field ? `${prefix}.${e.field}` : prefix, enumerable: true },
    message: { value: e.message, writable: true, configurable: true },
    stack: { value: e.stack, writable: true, configurable: true },
  });
  return copy;
}

// ---- locating packages -----------------------------------------------------------------------------

interface LocatedPackage {
  name: string;
  dir: string;
  json: Record<string, unknown>;
  entry: string;
}

function isPath(spec: string): boolean {
  return spec.startsWith('.') || path.isAbsolute(spec);
}

async function readPackageJson(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new PlatformLoadError(`${file} is not JSON: ${(e as Error).message}`, 'platform.package');
  }
}

/** A name resolves as an import from this module would (the appliance's own node_modules, then upwards). */
async function locateByName(spec: string, field: string): Promise<LocatedPackage> {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(spec));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new ValidationError(`no package '${spec}' is installed`, field, `install it beside OpenCDP (npm install ${spec}), or give the path to its folder`);
    }
    throw new PlatformLoadError(`package '${spec}' cannot be resolved: ${(e as Error).message}`, field);
  }
  for (let dir = path.dirname(entry); ; dir = path.dirname(dir)) {
    const json = await readPackageJson(path.join(dir, 'package.json'));
    if (json?.name === spec) return { name: spec, dir, json, entry };
    if (path.dirname(dir) === dir) throw new PlatformLoadError(`package '${spec}' resolved to ${entry}, but no package.json named '${spec}' is above it`, field);
  }
}

/** A path names a package folder (with package.json) or a module file inside one. */
async function locateByPath(spec: string, baseDir: string, field: string): Promise<LocatedPackage> {
  const target = path.resolve(baseDir, spec);
  const stat = await fs.stat(target).catch(() => undefined);
  if (!stat) throw new ValidationError(`'${target}' does not exist`, field, 'give the folder of the adapter package (the one holding its package.json)');
  if (stat.isDirectory()) {
    const json = await readPackageJson(path.join(target, 'package.json'));
    if (!json) throw new ValidationError(`'${target}' holds no package.json`, field, 'give the folder of the adapter package');
    return { name: typeof json.name === 'string' ? json.name : path.basename(target), dir: target, json, entry: path.resolve(target, entryOf(json, target, field)) };
  }
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const json = await readPackageJson(path.join(dir, 'package.json'));
    if (json) return { name: typeof json.name === 'string' ? json.name : path.basename(dir), dir, json, entry: target };
    if (path.dirname(dir) === dir) throw new ValidationError(`no package.json above '${target}'`, field, 'an adapter module belongs to a package that declares its ContainerModule');
  }
}

/** The package's main entry for `import` (exports "." with the import/node/default conditions, else main). */
function entryOf(json: Record<string, unknown>, dir: string, field: string): string {
  const pick = (target: unknown): string | undefined => {
    if (typeof target === 'string') return target;
    if (Array.isArray(target)) return target.map(pick).find((t) => t !== undefined);
    if (target && typeof target === 'object') {
      const t = target as Record<string, unknown>;
      for (const c of ['import', 'node', 'default']) if (c in t) return pick(t[c]);
    }
    return undefined;
  };
  const exp = json.exports;
  const root = exp && typeof exp === 'object' && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.'))
    ? (exp as Record<string, unknown>)['.']
    : exp;
  const entry = pick(root) ?? (typeof json.main === 'string' ? json.main : 'index.js');
  if (!entry) throw new PlatformLoadError(`package in ${dir} has no entry point for import`, field);
  return entry;
}

// The guest's config file (JSON), shared by the guest agent service and the opencdp-vss-agent CLI: the
// ordered hooks, the mounts to freeze, the freeze bound, and who this guest is. Validated strictly —
// a misspelt key would otherwise silently skip a database's backup-mode hook.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { AgentConfigError } from './errors.js';

/** Where the CLI and the service look when no --config is given. */
export const DEFAULT_CONFIG_PATH = '/etc/opencdp/guest-agent.json';
export const DEFAULT_MAX_FREEZE_MS = 10_000;
/** Upper limit for maxFreezeMs: applications time out their own I/O long before this. */
export const MAX_MAX_FREEZE_MS = 300_000;
export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
export const DEFAULT_LISTEN_PORT = 9480;
const MIN_TOKEN_LENGTH = 16;

/** A shell command line (run by the platform shell) or an executable with its arguments (no shell). */
export type CommandSpec = string | string[];

export interface HookConfig {
  name: string;
  /** Runs before the filesystems freeze, in list order (e.g. put a database into hot-backup mode). */
  preFreeze?: CommandSpec;
  /** Runs after the filesystems thaw, in reverse list order (e.g. take the database out of backup mode). */
  postThaw?: CommandSpec;
  /** A hook still running after this long is killed and counts as failed. */
  timeoutMs: number;
}

export interface AgentConfig {
  /** The config file's folder: hooks run there and relative paths resolve against it. */
  dir: string;
  file?: string;
  vmId?: string;
  groupId?: string;
  maxFreezeMs: number;
  mounts: string[];
  /** The freeze command before `--freeze <mount>` / `--unfreeze <mount>`; absent means `fsfreeze` on PATH. */
  freezeCommand?: string[];
  hooks: HookConfig[];
  listen: { host: string; port: number };
  /** Bearer token clients of the guest agent service must present. */
  authToken?: string;
  /** Bearer token the CLI presents to the manager's REST API. */
  managerToken?: string;
}

type Json = Record<string, unknown>;

const TOP_KEYS = ['vmId', 'groupId', 'maxFreezeMs', 'mounts', 'freezeCommand', 'hooks', 'listen', 'authToken', 'authTokenFile', 'managerToken'];
const HOOK_KEYS = ['name', 'preFreeze', 'postThaw', 'timeoutMs'];
const LISTEN_KEYS = ['host', 'port'];

/** Reads and validates a config file. Throws AgentConfigError naming the file and the field. */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AgentConfigError(`cannot read the config file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, path);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AgentConfigError(`not valid JSON: ${(error as Error).message}`, path);
  }
  const config = parseAgentConfig(raw, { dir: dirname(path), file: path });
  const tokenFile = (raw as Json).authTokenFile;
  if (tokenFile !== undefined) {
    if (config.authToken !== undefined) throw new AgentConfigError('give authToken or authTokenFile, not both', path, 'authTokenFile');
    const tokenPath = resolve(config.dir, str(tokenFile, 'authTokenFile', path));
    let token: string;
    try {
      token = (await readFile(tokenPath, 'utf8')).trim();
    } catch (error) {
      throw new AgentConfigError(`cannot read authTokenFile ${tokenPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, path, 'authTokenFile');
    }
    config.authToken = checkToken(token, 'authTokenFile', path);
  }
  return config;
}

/** Validates a parsed config object (authTokenFile is left to `loadAgentConfig`, which can read files). */
export function parseAgentConfig(raw: unknown, where: { dir: string; file?: string }): AgentConfig {
  const file = where.file;
  const top = obj(raw, '(top level)', file);
  onlyKeys(top, TOP_KEYS, '', file);
  const config: AgentConfig = {
    dir: where.dir,
    ...(file !== undefined ? { file } : {}),
    maxFreezeMs: top.maxFreezeMs === undefined ? DEFAULT_MAX_FREEZE_MS : int(top.maxFreezeMs, 'maxFreezeMs', 1, MAX_MAX_FREEZE_MS, file),
    mounts: [],
    hooks: [],
    listen: { host: DEFAULT_LISTEN_HOST, port: DEFAULT_LISTEN_PORT },
  };
  if (top.vmId !== undefined) config.vmId = str(top.vmId, 'vmId', file);
  if (top.groupId !== undefined) config.groupId = str(top.groupId, 'groupId', file);
  if (top.managerToken !== undefined) config.managerToken = str(top.managerToken, 'managerToken', file);
  if (top.authToken !== undefined) config.authToken = checkToken(top.authToken, 'authToken', file);

  if (top.mounts !== undefined) {
    if (!Array.isArray(top.mounts)) throw new AgentConfigError('must be a list of absolute paths', file, 'mounts');
    top.mounts.forEach((m, i) => {
      const mount = str(m, `mounts[${i}]`, file);
      if (!isAbsolute(mount)) throw new AgentConfigError(`'${mount}' is not an absolute path`, file, `mounts[${i}]`);
      if (config.mounts.includes(mount)) throw new AgentConfigError(`'${mount}' is listed twice`, file, `mounts[${i}]`);
      config.mounts.push(mount);
    });
  }
  if (top.freezeCommand !== undefined) config.freezeCommand = argv(top.freezeCommand, 'freezeCommand', file);

  if (top.hooks !== undefined) {
    if (!Array.isArray(top.hooks)) throw new AgentConfigError('must be a list of hooks', file, 'hooks');
    top.hooks.forEach((h, i) => {
      const field = `hooks[${i}]`;
      const hook = obj(h, field, file);
      onlyKeys(hook, HOOK_KEYS, `${field}.`, file);
      const name = hook.name === undefined ? `hook-${i + 1}` : str(hook.name, `${field}.name`, file);
      if (config.hooks.some((other) => other.name === name)) throw new AgentConfigError(`hook name '${name}' is used twice`, file, `${field}.name`);
      const parsed: HookConfig = {
        name,
        timeoutMs: hook.timeoutMs === undefined ? DEFAULT_HOOK_TIMEOUT_MS : int(hook.timeoutMs, `${field}.timeoutMs`, 1, 3_600_000, file),
      };
      if (hook.preFreeze !== undefined) parsed.preFreeze = command(hook.preFreeze, `${field}.preFreeze`, file);
      if (hook.postThaw !== undefined) parsed.postThaw = command(hook.postThaw, `${field}.postThaw`, file);
      if (!parsed.preFreeze && !parsed.postThaw) throw new AgentConfigError('a hook needs preFreeze, postThaw or both', file, field);
      config.hooks.push(parsed);
    });
  }

  if (top.listen !== undefined) {
    const listen = obj(top.listen, 'listen', file);
    onlyKeys(listen, LISTEN_KEYS, 'listen.', file);
    if (listen.host !== undefined) config.listen.host = str(listen.host, 'listen.host', file);
    if (listen.port !== undefined) config.listen.port = int(listen.port, 'listen.port', 0, 65535, file);
  }
  return config;
}

function obj(value: unknown, field: string, file: string | undefined): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AgentConfigError('must be an object', file, field);
  return value as Json;
}

function onlyKeys(value: Json, allowed: readonly string[], prefix: string, file: string | undefined): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new AgentConfigError(`unknown key '${prefix}${key}' (known: ${allowed.join(', ')})`, file, `${prefix}${key}`);
  }
}

function str(value: unknown, field: string, file: string | undefined): string {
  if (typeof value !== 'string' || value.trim() === '') throw new AgentConfigError('must be a non-empty string', file, field);
  return value;
}

function int(value: unknown, field: string, min: number, max: number, file: string | undefined): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AgentConfigError(`must be a whole number from ${min} to ${max}`, file, field);
  }
  return value;
}

function argv(value: unknown, field: string, file: string | undefined): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new AgentConfigError('must be a non-empty list: the executable, then its arguments', file, field);
  return value.map((v, i) => str(v, `${field}[${i}]`, file));
}

function command(value: unknown, field: string, file: string | undefined): CommandSpec {
  return typeof value === 'string' ? str(value, field, file) : argv(value, field, file);
}

function checkToken(value: unknown, field: string, file: string | undefined): string {
  const token = str(value, field, file);
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new AgentConfigError(`the token must have at least ${MIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`, file, field);
  }
  return token;
}

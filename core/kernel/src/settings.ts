// Protection-group settings: one JSON Schema is the contract for the REST API, the CLI and the kernel.
// Field names follow the anchor's vpgSettings (basic + journal) where one exists, so automation ports.
import { Ajv, type ErrorObject } from 'ajv';
import { ValidationError } from './errors.js';

export type Priority = 'Low' | 'Medium' | 'High';
export const PRIORITY_CODES: Record<Priority, number> = { Low: 0, Medium: 1, High: 2 };

/** A size given either absolutely or as a share of the VM's provisioned storage. */
export type JournalSize = { mb: number } | { percent: number };

export interface ProtectionGroupSettings {
  name: string;
  /** Auto checkpoint cadence; the anchor cuts one every few seconds. */
  checkpointIntervalMs: number;
  journalHistoryHours: number;
  rpoTargetSeconds: number;
  priority: Priority;
  useWanCompression: boolean;
  /** How long replication pauses when a sync would leave under ten minutes of checkpoints (S6). */
  replicationPauseTimeMinutes: number;
  journal: {
    hardLimit: JournalSize;
    warningThreshold: JournalSize;
  };
}

/** Input shape: everything but the name may be left out and takes its default. */
export type ProtectionGroupSettingsInput = Partial<Omit<ProtectionGroupSettings, 'journal'>> & {
  name: string;
  journal?: Partial<ProtectionGroupSettings['journal']>;
};

const journalSize = {
  description: 'either {"mb": number > 0} or {"percent": number in (0, 100]}',
  type: 'object',
  additionalProperties: false,
  oneOf: [
    { required: ['mb'], properties: { mb: { type: 'number', exclusiveMinimum: 0 } } },
    { required: ['percent'], properties: { percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 } } },
  ],
  properties: { mb: { type: 'number' }, percent: { type: 'number' } },
} as const;

export const protectionGroupSettingsSchema = {
  $id: 'https://opencdp.dev/schemas/protection-group-settings.json',
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 80, pattern: '^[^\\x00-\\x1f]+$' },
    checkpointIntervalMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 5000 },
    journalHistoryHours: { type: 'number', exclusiveMinimum: 0, maximum: 720, default: 24 },
    rpoTargetSeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 300 },
    priority: { enum: ['Low', 'Medium', 'High'], default: 'Medium' },
    useWanCompression: { type: 'boolean', default: true },
    replicationPauseTimeMinutes: { type: 'number', minimum: 0, maximum: 1440, default: 10 },
    journal: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // The anchor's defaults: 150 GB hard limit; warning at 75 % of it.
        hardLimit: { ...journalSize, default: { mb: 153_600 } },
        warningThreshold: { ...journalSize, default: { mb: 115_200 } },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
const validate = ajv.compile(protectionGroupSettingsSchema);

/**
 * Validates settings and fills defaults. Returns a new object; the input is left untouched.
 * Throws a ValidationError naming every offending field.
 */
export function parseProtectionGroupSettings(input: unknown): ProtectionGroupSettings {
  const copy: unknown = structuredClone(input);
  if (!validate(copy)) throw schemaError('protection group settings', validate.errors ?? []);
  const settings = copy as ProtectionGroupSettings;
  const hard = settings.journal.hardLimit;
  const warn = settings.journal.warningThreshold;
  if ('mb' in hard && 'mb' in warn && warn.mb > hard.mb) {
    throw new ValidationError(`journal.warningThreshold (${warn.mb} MB) is above journal.hardLimit (${hard.mb} MB)`, 'journal.warningThreshold');
  }
  if ('percent' in hard && 'percent' in warn && warn.percent > hard.percent) {
    throw new ValidationError(`journal.warningThreshold (${warn.percent} %) is above journal.hardLimit (${hard.percent} %)`, 'journal.warningThreshold');
  }
  return settings;
}

/** Turns a configured journal size into bytes, given the VM's provisioned storage. */
export function journalSizeBytes(size: JournalSize, provisionedBytes: number): number {
  return 'mb' in size ? Math.floor(size.mb * 1024 * 1024) : Math.floor((size.percent / 100) * provisionedBytes);
}

/**
 * One readable ValidationError from ajv's list, naming the first field. `prefix` places the validated
 * document inside a larger one (e.g. `platform.config`), so messages and the field name the whole path.
 */
export function schemaError(what: string, errors: ErrorObject[], prefix?: string): ValidationError {
  // A failed `oneOf` also reports every branch's complaint; say once what the field must be instead.
  const choices = errors.filter((e) => e.keyword === 'oneOf');
  const inChoice = (e: ErrorObject): boolean => choices.some((c) => e !== c && e.instancePath.startsWith(c.instancePath) && e.schemaPath.startsWith(c.schemaPath));
  const fieldOf = (e: ErrorObject): string => [prefix, relativeFieldOf(e)].filter(Boolean).join('.');
  const describe = (e: ErrorObject): string => {
    const field = fieldOf(e);
    if (e.keyword === 'additionalProperties') return `unknown field '${field}'`;
    if (e.keyword === 'required') return `missing field '${field}'`;
    if (e.keyword === 'oneOf') return `'${field}' must be ${(e.parentSchema as { description?: string } | undefined)?.description ?? 'one of its allowed forms'}`;
    return `'${field || '(root)'}' ${e.message ?? 'is invalid'}`;
  };
  const relevant = errors.filter((e) => !inChoice(e) && e.keyword !== 'if');
  const first = relevant[0] ?? errors[0];
  const lines = [...new Set(relevant.map(describe))];
  return new ValidationError(`invalid ${what}: ${lines.join('; ') || 'does not match the schema'}`, first ? fieldOf(first) || undefined : undefined);
}

function relativeFieldOf(e: ErrorObject): string {
  const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra = e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty
    : e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : '';
  return [base, extra].filter(Boolean).join('.');
}

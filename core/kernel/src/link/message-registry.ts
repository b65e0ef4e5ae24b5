// Typed messages on top of frames: each message has a frame type byte, a name, a JSON Schema for its meta
// and a payload rule. A MessageCodec validates both directions with ajv, so a bad peer (or a bug here)
// surfaces as a ProtocolError naming the message and the field, never as a half-parsed object.
import { Ajv, type ValidateFunction } from 'ajv';
import { ValidationError } from '../errors.js';
import { schemaError } from '../settings.js';
import { DEFAULT_FRAME_LIMITS, decodeFrame, encodeFrame, encodeFrameParts, frameLimits, type Frame, type FrameLimits } from './frame-codec.js';
import { ProtocolError } from './link-errors.js';
import { SITE_ID_PATTERN } from './site-id.js';

/** Whether a message carries payload bytes: never, maybe, or always (at least one byte). */
export type PayloadRule = 'none' | 'optional' | 'required';

export interface MessageDefinition<Name extends string = string, Meta = unknown> {
  /** Frame type byte, 1–255. Types 1–15 are the link's own control messages. */
  readonly type: number;
  readonly name: Name;
  /** JSON Schema of the meta object, compiled by ajv in strict mode. */
  readonly metaSchema: object;
  readonly payload: PayloadRule;
  /** Type-level only: the shape of the meta. Never present at run time. */
  readonly metaType?: Meta;
}

/** Frame types the link reserves for its own control messages (handshake, pairing, keep-alive). */
export const LINK_CONTROL_TYPES: Readonly<{ first: number; last: number }> = Object.freeze({ first: 1, last: 15 });

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Declares a message. Give the meta type as the second type argument to get typed `encode` / `decode`:
 * `defineMessage<'write', WriteMeta>({ type: 16, name: 'write', metaSchema, payload: 'required' })`.
 */
export function defineMessage<const Name extends string, Meta = Record<string, unknown>>(definition: {
  type: number;
  name: Name;
  metaSchema: object;
  payload: PayloadRule;
}): MessageDefinition<Name, Meta> {
  const { type, name, metaSchema, payload } = definition;
  if (!Number.isInteger(type) || type < 1 || type > 255) throw new ValidationError(`message '${name}': type must be an integer in [1, 255], got ${type}`, 'type');
  if (!NAME_PATTERN.test(name)) throw new ValidationError(`message name ${JSON.stringify(name)} must be lowercase letters, digits and dashes`, 'name');
  if (payload !== 'none' && payload !== 'optional' && payload !== 'required') throw new ValidationError(`message '${name}': payload must be none, optional or required`, 'payload');
  return Object.freeze({ type, name, metaSchema, payload });
}

/** The meta type of message `N` among the definitions `D`. */
export type MetaOf<D, N extends string> = D extends MessageDefinition<N, infer M> ? M : never;

/** A decoded, validated message: a union over the codec's definitions, discriminated by `name`. */
export type DecodedMessage<D> = D extends MessageDefinition<infer N, infer M>
  ? { readonly type: number; readonly name: N; readonly meta: M; readonly payload: Buffer | undefined }
  : never;

interface Compiled {
  definition: MessageDefinition;
  validate: ValidateFunction;
}

export interface MessageCodecOptions {
  limits?: Partial<FrameLimits>;
}

/** Encodes and decodes one set of messages; immutable, so one codec can serve every connection. */
export class MessageCodec<D extends MessageDefinition = MessageDefinition> {
  readonly limits: FrameLimits;
  private readonly byType = new Map<number, Compiled>();
  private readonly byName = new Map<string, Compiled>();
  private readonly list: readonly D[];

  constructor(definitions: readonly D[], options: MessageCodecOptions = {}) {
    this.limits = options.limits ? frameLimits(options.limits) : DEFAULT_FRAME_LIMITS;
    this.list = [...definitions];
    // One ajv per codec: codecs stay independent, and schemas may reuse `$id`s across codecs.
    const ajv = new Ajv({ allErrors: true, strict: true });
    for (const definition of definitions) {
      const clash = this.byType.get(definition.type) ?? this.byName.get(definition.name);
      if (clash) {
        throw new ValidationError(`messages '${clash.definition.name}' (type ${clash.definition.type}) and '${definition.name}' (type ${definition.type}) clash`,
          'type', 'give every message its own name and type byte');
      }
      let validate: ValidateFunction;
      try {
        validate = ajv.compile(definition.metaSchema);
      } catch (e) {
        throw new ValidationError(`message '${definition.name}' has an invalid meta schema: ${(e as Error).message}`, 'metaSchema');
      }
      const compiled = { definition, validate };
      this.byType.set(definition.type, compiled);
      this.byName.set(definition.name, compiled);
    }
  }

  /** The definitions this codec knows. */
  get definitions(): readonly D[] {
    return this.list;
  }

  /** A codec that knows these messages and `more` (e.g. the handshake messages plus an application's). */
  with<E extends MessageDefinition>(more: readonly E[]): MessageCodec<D | E> {
    return new MessageCodec<D | E>([...this.list, ...more], { limits: this.limits });
  }

  /**
   * Encodes a message as frame parts (the payload is not copied). Throws ProtocolError if the meta
   * breaks the schema or the payload rule: a sender bug is caught before it reaches the peer.
   */
  encode<N extends D['name']>(name: N, meta: MetaOf<D, N>, payload?: Buffer): Buffer[] {
    const compiled = this.byName.get(name);
    if (!compiled) throw new ProtocolError(`no message named '${name}' in this codec`, undefined, 'define the message and add it to the codec');
    this.check(compiled, meta, payload?.length ?? 0, 'this is a bug in the sender: fix the meta before sending');
    return encodeFrame(compiled.definition.type, meta, payload, this.limits);
  }

  /** As `encode`, with the payload as parts that are sent back to back without being concatenated. */
  encodeParts<N extends D['name']>(name: N, meta: MetaOf<D, N>, payload: readonly Buffer[]): Buffer[] {
    const compiled = this.byName.get(name);
    if (!compiled) throw new ProtocolError(`no message named '${name}' in this codec`, undefined, 'define the message and add it to the codec');
    this.check(compiled, meta, payload.reduce((n, p) => n + p.length, 0), 'this is a bug in the sender: fix the meta before sending');
    return encodeFrameParts(compiled.definition.type, meta, payload, this.limits);
  }

  /** Decodes and validates one frame (a decoded Frame, or a Buffer holding exactly one frame). */
  decode(frame: Frame | Buffer): DecodedMessage<D> {
    const f = Buffer.isBuffer(frame) ? decodeFrame(frame, this.limits) : frame;
    const compiled = this.byType.get(f.type);
    if (!compiled) {
      throw new ProtocolError(`unknown message type ${f.type}`, undefined,
        'the peer sent a message this side does not know; check both sites run compatible OpenCDP versions');
    }
    this.check(compiled, f.meta, f.payload.length, undefined);
    const message = { type: f.type, name: compiled.definition.name, meta: f.meta, payload: f.payload.length > 0 ? f.payload : undefined };
    // The schema just proved the meta has the declared shape, which is what the union type states.
    return message as DecodedMessage<D>;
  }

  /** Validates meta against the schema and the payload against the payload rule. */
  private check(compiled: Compiled, meta: unknown, payloadLength: number, hint: string | undefined): void {
    const { definition, validate } = compiled;
    let valid: boolean;
    try {
      valid = validate(meta) as boolean;
    } catch (e) {
      throw new ProtocolError(`'${definition.name}' message meta could not be validated: ${(e as Error).message}`, undefined, hint);
    }
    if (!valid) {
      const error = schemaError(`'${definition.name}' message meta`, validate.errors ?? []);
      throw new ProtocolError(error.message, error.field, hint);
    }
    if (definition.payload === 'none' && payloadLength > 0) {
      throw new ProtocolError(`'${definition.name}' message takes no payload but carries ${payloadLength} bytes`, 'payload', hint);
    }
    if (definition.payload === 'required' && payloadLength === 0) {
      throw new ProtocolError(`'${definition.name}' message needs a payload but has none`, 'payload', hint);
    }
  }
}

// Handshake messages. Their schemas allow extra fields on purpose: a newer minor version may add
// fields to `hello`, and an older peer of the same major version must still accept it.
const protocolVersionSchema = { type: 'string', pattern: '^[0-9]{1,6}\\.[0-9]{1,6}\\.[0-9]{1,6}$' } as const;
const siteIdSchema = { type: 'string', pattern: SITE_ID_PATTERN } as const;

export interface HelloMeta {
  protocolVersion: string;
  siteId: string;
  /** What the connecting side is: e.g. `appliance`, `manager`, `pairing`. */
  role: string;
}

export interface WelcomeMeta {
  protocolVersion: string;
  siteId: string;
}

export interface RefuseMeta {
  reason: string;
  /** The error code behind the refusal (e.g. `PROTOCOL_VERSION`), so the other side can type it. */
  code?: string;
  /** The refusing side's protocol version. */
  protocolVersion?: string;
}

export interface PingMeta {
  n: number;
}

export const helloMessage = defineMessage<'hello', HelloMeta>({
  type: 1,
  name: 'hello',
  payload: 'none',
  metaSchema: {
    type: 'object',
    required: ['protocolVersion', 'siteId', 'role'],
    properties: { protocolVersion: protocolVersionSchema, siteId: siteIdSchema, role: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$' } },
  },
});

export const welcomeMessage = defineMessage<'welcome', WelcomeMeta>({
  type: 2,
  name: 'welcome',
  payload: 'none',
  metaSchema: {
    type: 'object',
    required: ['protocolVersion', 'siteId'],
    properties: { protocolVersion: protocolVersionSchema, siteId: siteIdSchema },
  },
});

export const refuseMessage = defineMessage<'refuse', RefuseMeta>({
  type: 3,
  name: 'refuse',
  payload: 'none',
  metaSchema: {
    type: 'object',
    required: ['reason'],
    properties: {
      reason: { type: 'string', maxLength: 2000 },
      code: { type: 'string', maxLength: 64 },
      protocolVersion: protocolVersionSchema,
    },
  },
});

const pingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['n'],
  properties: { n: { type: 'integer', minimum: 0 } },
} as const;

export const pingMessage = defineMessage<'ping', PingMeta>({ type: 4, name: 'ping', payload: 'none', metaSchema: pingSchema });
export const pongMessage = defineMessage<'pong', PingMeta>({ type: 5, name: 'pong', payload: 'none', metaSchema: pingSchema });

export const handshakeMessages = [helloMessage, welcomeMessage, refuseMessage, pingMessage, pongMessage] as const;
export type HandshakeMessage = (typeof handshakeMessages)[number];

/** A codec for the handshake messages alone; extend it with `.with([...])` for an application protocol. */
export const handshakeCodec: MessageCodec<HandshakeMessage> = new MessageCodec(handshakeMessages);

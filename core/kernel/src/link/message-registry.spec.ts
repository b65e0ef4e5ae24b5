import assert from 'node:assert/strict';
import { ValidationError } from '../errors.js';
import { encodeFrame } from './frame-codec.js';
import { ProtocolError } from './link-errors.js';
import { defineMessage, handshakeCodec, MessageCodec } from './message-registry.js';

interface WriteMeta {
  volumeId: string;
  offset: number;
}

const write = defineMessage<'write', WriteMeta>({
  type: 16,
  name: 'write',
  payload: 'required',
  metaSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['volumeId', 'offset'],
    properties: { volumeId: { type: 'string', minLength: 1 }, offset: { type: 'integer', minimum: 0 } },
  },
});
const note = defineMessage({ type: 17, name: 'note', payload: 'optional', metaSchema: { type: 'object' } });

function protocolError(fn: () => unknown, pattern: RegExp, field?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
    assert.match(e.message, pattern);
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

describe('message registry', () => {
  const codec = handshakeCodec.with([write, note]);

  it('round-trips typed messages through frames and raw buffers', () => {
    const payload = Buffer.from('data');
    const parts = codec.encode('write', { volumeId: 'v1', offset: 512 }, payload);
    assert.equal(parts[1], payload);
    const decoded = codec.decode(Buffer.concat(parts));
    assert.equal(decoded.name, 'write');
    if (decoded.name === 'write') {
      assert.equal(decoded.meta.offset, 512); // typed through the discriminated union
      assert.deepEqual(decoded.payload, payload);
    }
    const hello = codec.decode(Buffer.concat(codec.encode('hello', { protocolVersion: '1.2.3', siteId: 'site-a', role: 'appliance' })));
    assert.deepEqual(hello, { type: 1, name: 'hello', meta: { protocolVersion: '1.2.3', siteId: 'site-a', role: 'appliance' }, payload: undefined });
  });

  it('refuses an unknown message type', () => {
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(99, {}))), /unknown message type 99/);
  });

  it('names the message and the field when meta breaks the schema', () => {
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(16, { volumeId: 'v', offset: -1 }, Buffer.from('x')))), /'write' message meta.*'offset'/, 'offset');
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(16, { offset: 0 }, Buffer.from('x')))), /'write' message meta: missing field 'volumeId'/, 'volumeId');
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(16, { volumeId: 'v', offset: 0, extra: 1 }, Buffer.from('x')))), /unknown field 'extra'/, 'extra');
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(1, { protocolVersion: 'one', siteId: 'a', role: 'x' }))), /'hello' message meta.*protocolVersion/, 'protocolVersion');
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(1, [1, 2]))), /'hello' message meta/);
  });

  it('enforces the payload rule', () => {
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(16, { volumeId: 'v', offset: 0 }))), /'write' message needs a payload/, 'payload');
    protocolError(() => codec.decode(Buffer.concat(encodeFrame(4, { n: 1 }, Buffer.from('x')))), /'ping' message takes no payload but carries 1 bytes/, 'payload');
    assert.equal(codec.decode(Buffer.concat(codec.encode('note', {}))).payload, undefined);
    assert.equal(codec.decode(Buffer.concat(codec.encode('note', {}, Buffer.from('y')))).payload?.toString(), 'y');
  });

  it('validates on encode too, so a sender bug never reaches the wire', () => {
    // @ts-expect-error offset must be a number
    protocolError(() => codec.encode('write', { volumeId: 'v', offset: 'zero' }, Buffer.from('x')), /'write' message meta/, 'offset');
    protocolError(() => codec.encode('write', { volumeId: 'v', offset: 0 }), /needs a payload/);
    // @ts-expect-error no such message
    protocolError(() => codec.encode('nope', {}), /no message named 'nope'/);
  });

  it('refuses clashing or invalid definitions', () => {
    assert.throws(() => new MessageCodec([write, defineMessage({ type: 16, name: 'other', payload: 'none', metaSchema: {} })]), ValidationError);
    assert.throws(() => new MessageCodec([write, defineMessage({ type: 30, name: 'write', payload: 'none', metaSchema: {} })]), /clash/);
    assert.throws(() => new MessageCodec([defineMessage({ type: 30, name: 'bad', payload: 'none', metaSchema: { type: 'objekt' } })]), /invalid meta schema/);
    assert.throws(() => defineMessage({ type: 0, name: 'zero', payload: 'none', metaSchema: {} }), /\[1, 255\]/);
    assert.throws(() => defineMessage({ type: 20, name: 'Bad Name', payload: 'none', metaSchema: {} }), /lowercase/);
  });
});

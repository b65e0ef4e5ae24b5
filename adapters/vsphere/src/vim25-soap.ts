// The one module that knows SOAP. It drives strong-soap with the project's own subset WSDL/XSD
// (wsdl/vim25-subset.*), sends every request through VimHttp (pinned TLS, session cookie), turns the
// adapter's plain values into strong-soap's wire shapes (type attributes on references, xsi:type on
// polymorphic objects) and back, and turns SOAP faults, HTTP errors and unreadable answers into typed errors.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MoRef, isObject, type VimObject, type VimValue } from './vim-types.js';
import type { VimHttp } from './vim-http.js';
import { SoapResponseError, ThumbprintMismatchError, VimFaultError, VsphereConnectionError } from './vsphere-errors.js';

const require = createRequire(import.meta.url);

/** The operations of wsdl/vim25-subset.wsdl (a spec checks the two agree). */
export const VIM25_OPERATIONS = [
  'RetrieveServiceContent', 'CurrentTime', 'Login', 'Logout', 'TerminateSession', 'RetrievePropertiesEx',
  'ContinueRetrievePropertiesEx', 'CancelRetrievePropertiesEx', 'CreateContainerView', 'DestroyView',
  'CreateSnapshot_Task', 'RemoveSnapshot_Task', 'ReconfigVM_Task', 'CreateVM_Task', 'PowerOnVM_Task',
  'PowerOffVM_Task', 'Destroy_Task', 'CustomizeVM_Task', 'DeleteDatastoreFile_Task', 'CancelTask',
  'ShutdownGuest', 'QueryChangedDiskAreas', 'MakeDirectory',
] as const;
export type Vim25Operation = (typeof VIM25_OPERATIONS)[number];

export const WSDL_PATH = fileURLToPath(new URL('../wsdl/vim25-subset.wsdl', import.meta.url));
const VIM25_NS = 'urn:vim25';
const XSD_NS = 'http://www.w3.org/2001/XMLSchema';

// strong-soap ships no types; these are the parts used here.
type Callback = (error: Error | null, response?: { statusCode: number; headers: Record<string, unknown> }, body?: string) => void;
interface RequestOptions {
  uri: { href?: string; protocol: string; host: string; path: string };
  method: string;
  headers: Record<string, string | number>;
  body?: string;
}
interface StrongSoapClient {
  [operation: string]: unknown;
  setSOAPAction(action: string): void;
  lastRequest?: string;
  lastMessage?: string;
}
interface StrongSoapError extends Error {
  root?: { Envelope?: { Body?: { Fault?: Record<string, unknown> } } };
}
interface StrongSoap {
  soap: { createClient(wsdl: string, options: Record<string, unknown>, cb: (e: Error | null, c: StrongSoapClient) => void): void };
}
interface Debug {
  disable(): string;
  enable(namespaces: string): void;
}
interface SaxParser {
  onerror: (e: Error) => void;
  onopentag: (node: { name: string }) => void;
  onclosetag: (name: string) => void;
  write(xml: string): SaxParser;
  close(): void;
}
interface Sax {
  parser(strict: boolean): SaxParser;
}

/**
 * strong-soap's parser lets a truncated or ill-formed answer through as a partial object (sax reports the
 * error to a handler strong-soap does not set): a partial inventory must never pass for a whole one, so
 * every answer is checked here first — well-formed, one `Envelope` root, closed.
 */
export function checkEnvelope(xml: string): string | undefined {
  const sax = require('sax') as Sax;
  const p = sax.parser(true);
  let problem: string | undefined;
  let depth = 0;
  let root = '';
  let closedRoot = false;
  p.onerror = (e) => { problem ??= e.message.split('\n')[0]; throw e; };
  p.onopentag = (node) => {
    if (depth === 0) root = node.name.replace(/^[^:]*:/, '');
    depth++;
  };
  p.onclosetag = () => {
    depth--;
    if (depth === 0) closedRoot = true;
  };
  try {
    p.write(xml).close();
  } catch {
    return problem ?? 'not well-formed XML';
  }
  if (problem) return problem;
  if (root !== 'Envelope') return root ? `the root element is ${root}, not a SOAP Envelope` : 'empty answer';
  if (!closedRoot) return 'the answer ends before its Envelope is closed (truncated)';
  return undefined;
}

/** A non-SOAP HTTP answer; turned into SoapResponseError naming the method by `call`. */
class HttpStatusError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`HTTP ${status}`);
  }
}

/** An answer that is not a whole SOAP envelope; turned into SoapResponseError naming the method by `call`. */
class MalformedAnswerError extends Error {}

export class Vim25Soap {
  private constructor(private readonly client: StrongSoapClient, private readonly http: VimHttp) {}

  /** A client on the subset WSDL whose requests go to `http.options.url`. */
  static async open(http: VimHttp): Promise<Vim25Soap> {
    const { soap } = require('strong-soap') as StrongSoap;
    const request = (options: RequestOptions, callback: Callback): void => {
      const { Connection: _connection, ...headers } = options.headers;
      http.request(options.method, http.options.url, { headers, body: options.body })
        .then((res) => {
          http.takeCookie(res.headers);
          const body = res.body.toString('utf8');
          // vim25 answers faults with HTTP 500 and a SOAP body; anything else that is not 200 is not SOAP.
          if (res.status !== 200 && !(res.status === 500 && body.includes('Fault>'))) return callback(new HttpStatusError(res.status, body.slice(0, 200)));
          const problem = checkEnvelope(body);
          if (problem) return callback(new MalformedAnswerError(problem));
          callback(null, { statusCode: res.status, headers: res.headers }, body);
        }, (error: Error) => callback(error));
    };
    const client = await new Promise<StrongSoapClient>((resolve, reject) => {
      soap.createClient(WSDL_PATH, { endpoint: http.options.url.href, request, prettyPrint: false }, (e, c) => (e ? reject(e) : resolve(c)));
    });
    return new Vim25Soap(client, http);
  }

  /** vCenter picks the API version of a call from its SOAPAction (`urn:vim25/<version>`). */
  setApiVersion(version: string): void {
    this.client.setSOAPAction(`${VIM25_NS}/${version}`);
  }

  /** Calls `operation` with plain arguments; resolves to its `returnval` (plain values, MoRefs for references). */
  async call(operation: Vim25Operation, args: Record<string, VimValue>): Promise<VimValue> {
    const fn = this.client[operation] as ((args: unknown) => Promise<{ result?: { returnval?: unknown } }>) | undefined;
    if (typeof fn !== 'function') throw new SoapResponseError(operation, 'the operation is not in the subset WSDL');
    let answer: { result?: { returnval?: unknown } };
    try {
      answer = await fn.call(this.client, toWire(args));
    } catch (error) {
      throw toTypedError(operation, error);
    }
    return fromWire(answer?.result?.returnval);
  }

  /**
   * Like `call`, for arguments that hold a secret (Login): strong-soap's debug logging is off while the
   * request is built and sent, and the client forgets the request text afterwards.
   */
  async callSecret(operation: Vim25Operation, args: Record<string, VimValue>): Promise<VimValue> {
    let debug: Debug | undefined;
    try {
      debug = createRequire(require.resolve('strong-soap'))('debug') as Debug;
    } catch {
      debug = undefined;
    }
    const saved = debug?.disable();
    let pending: Promise<VimValue>;
    try {
      // strong-soap builds, logs and sends the envelope synchronously inside this call.
      pending = this.call(operation, args);
    } finally {
      if (debug && saved) debug.enable(saved);
    }
    try {
      return await pending;
    } finally {
      this.client.lastRequest = undefined;
      this.client.lastMessage = undefined;
    }
  }
}

function toTypedError(operation: string, error: unknown): Error {
  if (error instanceof ThumbprintMismatchError || error instanceof VsphereConnectionError) return error;
  if (error instanceof HttpStatusError) return new SoapResponseError(operation, `not a SOAP answer: ${JSON.stringify(error.body)}`, error.status);
  if (error instanceof MalformedAnswerError) return new SoapResponseError(operation, error.message);
  const e = error as StrongSoapError;
  const fault = e?.root?.Envelope?.Body?.Fault;
  if (fault) return faultError(operation, fault);
  return new SoapResponseError(operation, (e as Error)?.message ?? String(error));
}

/** A vim25 fault from a SOAP Fault element: `<detail><XFault xsi:type="X">fields</XFault></detail>`. */
function faultError(operation: string, fault: Record<string, unknown>): VimFaultError {
  const faultString = typeof fault.faultstring === 'string' ? fault.faultstring : '';
  const detail = fault.detail;
  let name = 'SystemError';
  let fields: Record<string, string> = {};
  if (detail && typeof detail === 'object') {
    const [key, body] = Object.entries(detail as Record<string, unknown>)[0] ?? [];
    if (key) {
      const plain = fromWire(body);
      name = isObject(plain) && typeof plain._type === 'string' ? plain._type : key.replace(/Fault$/, '');
      fields = flatFields(plain);
    }
  }
  return new VimFaultError(name, faultString, operation, fields);
}

/** The simple fields of a fault (strings, numbers, references by value) for messages and checks. */
export function flatFields(v: VimValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, x] of Object.entries(v)) {
    if (k === '_type') continue;
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else if (x instanceof MoRef) out[k] = x.value;
  }
  return out;
}

// ---- plain values <-> strong-soap wire shapes ----------------------------------------------------------

/** Plain → wire: MoRef → `{$attributes: {type}, $value}`, `_type` → `$attributes.$xsiType`. */
export function toWire(v: VimValue): unknown {
  if (v instanceof MoRef) return { $attributes: { type: v.type }, $value: v.value };
  if (Array.isArray(v)) return v.map(toWire);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '_type' || x === undefined) continue;
      out[k] = toWire(x);
    }
    if (typeof v._type === 'string') out.$attributes = { $xsiType: { type: v._type, xmlns: VIM25_NS } };
    return out;
  }
  return v;
}

const NUMERIC_XSD = new Set(['int', 'long', 'short', 'byte', 'float', 'double', 'decimal', 'integer']);

/**
 * Wire → plain: references become MoRefs, xsi:type becomes `_type`, `ArrayOfX` wrappers become lists and
 * typed primitives (`xsi:type="xsd:long"`) become numbers or booleans.
 */
export function fromWire(v: unknown): VimValue {
  if (v === undefined || v === null) return v as undefined | null;
  if (Array.isArray(v)) return v.map(fromWire);
  if (typeof v !== 'object') return v as string | number | boolean;
  const o = v as Record<string, unknown>;
  const attrs = (o.$attributes ?? {}) as Record<string, unknown>;
  const xsi = attrs.$xsiType as { type?: string; xmlns?: string | null } | undefined;
  const keys = Object.keys(o).filter((k) => k !== '$attributes');
  if ('$value' in o && keys.length === 1) {
    const value = o.$value;
    if (typeof attrs.type === 'string' && !xsi) return new MoRef(attrs.type, String(value));
    if (xsi?.type) {
      if (xsi.type === 'ManagedObjectReference' && typeof attrs.type === 'string') return new MoRef(attrs.type, String(value));
      if (xsi.xmlns === XSD_NS || !xsi.xmlns) {
        if (NUMERIC_XSD.has(xsi.type)) return Number(value);
        if (xsi.type === 'boolean') return value === true || value === 'true';
      }
    }
    return value as string | number | boolean;
  }
  const out: VimObject = {};
  for (const k of keys) out[k] = fromWire(o[k]);
  if (xsi?.type) {
    if (xsi.type.startsWith('ArrayOf')) {
      // <val xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="VirtualDisk">…</VirtualDevice>…</val>
      const inner = keys.length === 1 ? out[keys[0]] : undefined;
      return inner === undefined ? [] : Array.isArray(inner) ? inner : [inner];
    }
    out._type = xsi.type;
  }
  return out;
}

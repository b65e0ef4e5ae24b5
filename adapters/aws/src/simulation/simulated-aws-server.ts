// SIMULATION of the AWS endpoints for EBS direct APIs and EC2, served over HTTP on loopback, so tests
// point the real @aws-sdk/client-ebs and @aws-sdk/client-ec2 at it (endpoint override) and their request
// signing and serialisation are the ones used against AWS. Every request's SigV4 signature is checked
// (unknown key, wrong signature, expired session, clock skew are refused as AWS refuses them), the
// signing scope's service picks the protocol, and injected faults (throttling, 5xx) answer before the
// operation runs. No EBS-direct or EC2 emulator is reachable here; this is the stand-in, named so.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { ebsOperationOf, handleEbs, type SimHttpRequest, type SimHttpResponse } from './simulated-ebs-api.js';
import { ec2ErrorXml, handleEc2, parseEc2Params } from './simulated-ec2-api.js';
import { SimulatedAwsError, SimulatedAwsState, type SimService, type SimulatedAwsOptions, type SimulatedFault } from './simulated-aws-state.js';

export interface SimulatedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SimulatedAwsServerOptions extends SimulatedAwsOptions {
  /** Credentials the simulated account accepts (default one pair, `SIMULATED_CREDENTIALS`). */
  credentials?: SimulatedCredentials[];
}

/** The credentials the simulation accepts unless told otherwise (not a secret: a test fixture). */
export const SIMULATED_CREDENTIALS: SimulatedCredentials = { accessKeyId: 'AKIASIMULATEDEBSEC2', secretAccessKey: 'simulated-secret-not-a-real-key' };

/** The SigV4 signer wants a hash class with this shape. */
class NodeHash {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

const MAX_SKEW_MS = 15 * 60_000;

export class SimulatedAwsServer {
  readonly state: SimulatedAwsState;
  private readonly credentials: SimulatedCredentials[];
  private server?: http.Server;
  private endpointValue = '';

  private constructor(options: SimulatedAwsServerOptions) {
    this.state = new SimulatedAwsState(options);
    this.credentials = options.credentials ?? [SIMULATED_CREDENTIALS];
  }

  /** Starts the simulation on an ephemeral loopback port. */
  static async start(options: SimulatedAwsServerOptions): Promise<SimulatedAwsServer> {
    const sim = new SimulatedAwsServer(options);
    const server = http.createServer((req, res) => { void sim.serve(req, res); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    sim.server = server;
    sim.endpointValue = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return sim;
  }

  /** `http://127.0.0.1:<port>`: the endpoint override for both the EBS and the EC2 client. */
  get endpoint(): string {
    return this.endpointValue;
  }

  inject(fault: SimulatedFault): void {
    this.state.inject(fault);
  }

  clearFaults(): void {
    this.state.clearFaults();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://simulation');
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : v;
    const request: SimHttpRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers, body };
    const requestId = randomUUID();
    const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(headers.authorization ?? '');
    const service: SimService = auth?.[4] === 'ec2' || (!auth && request.method === 'POST' && request.path === '/') ? 'ec2' : 'ebs';
    let response: SimHttpResponse;
    try {
      await this.authenticate(request, auth, service);
      const ec2Params = service === 'ec2' ? parseEc2Params(body) : undefined;
      const operation = service === 'ec2' ? ec2Params!.get('Action') ?? '' : ebsOperationOf(request) ?? '';
      this.state.calls.push(`${service}:${operation}`);
      if (this.state.takeFault('throttle', service, operation)) {
        throw service === 'ebs'
          ? new SimulatedAwsError('RequestThrottledException', 400, 'The request was throttled (simulated fault).', 'ACCOUNT_THROTTLED')
          : new SimulatedAwsError('RequestLimitExceeded', 503, 'Request limit exceeded (simulated fault).');
      }
      if (this.state.takeFault('server-error', service, operation)) {
        throw service === 'ebs'
          ? new SimulatedAwsError('InternalServerException', 500, 'An internal error occurred (simulated fault).')
          : new SimulatedAwsError('InternalError', 500, 'An internal error has occurred (simulated fault).');
      }
      response = service === 'ec2' ? handleEc2(this.state, operation, ec2Params!, requestId) : handleEbs(this.state, request);
    } catch (error) {
      const e = error instanceof SimulatedAwsError ? error : new SimulatedAwsError(service === 'ebs' ? 'InternalServerException' : 'InternalError', 500, `simulation failure: ${(error as Error).message}`);
      response = service === 'ec2'
        ? { status: e.status, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: ec2ErrorXml(e.code, e.message, requestId) }
        : { status: e.status, headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': e.code }, body: JSON.stringify({ Message: e.message, ...(e.reason ? { Reason: e.reason } : {}) }) };
    }
    res.writeHead(response.status, { ...response.headers, 'x-amzn-RequestId': requestId });
    res.end(response.body);
  }

  /** Refuses a request whose SigV4 signature does not check out against a known key, as AWS would. */
  private async authenticate(req: SimHttpRequest, auth: RegExpExecArray | null, service: SimService): Promise<void> {
    const refuse = (ebsCode: string, ec2Code: string, status: number, message: string): SimulatedAwsError =>
      new SimulatedAwsError(service === 'ebs' ? ebsCode : ec2Code, status, message);
    if (!auth) throw refuse('MissingAuthenticationTokenException', 'AuthFailure', 403, 'Missing Authentication Token');
    const [, keyId, , region, , signedHeaders, signature] = auth;
    const creds = this.credentials.find((c) => c.accessKeyId === keyId);
    if (!creds) throw refuse('UnrecognizedClientException', 'AuthFailure', service === 'ebs' ? 403 : 401, 'The security token included in the request is invalid.');
    if (region !== this.state.region) throw refuse('InvalidSignatureException', 'AuthFailure', 403, `Credential should be scoped to a valid region, not '${region}'.`);
    const token = req.headers['x-amz-security-token'];
    if (creds.sessionToken !== undefined && token !== creds.sessionToken) throw refuse('UnrecognizedClientException', 'AuthFailure', 403, 'The security token included in the request is invalid.');
    const amzDate = req.headers['x-amz-date'] ?? '';
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    if (creds.sessionToken !== undefined && this.state.sessionsExpiredAt > Number.NEGATIVE_INFINITY) {
      throw refuse('ExpiredTokenException', 'RequestExpired', 400, 'The security token included in the request is expired');
    }
    if (!Number.isFinite(signingDate.getTime()) || Math.abs(signingDate.getTime() - Date.now()) > MAX_SKEW_MS) {
      throw refuse('InvalidSignatureException', 'RequestExpired', 400, `Signature expired: ${amzDate} is not within 15 minutes of the server time.`);
    }
    const bodyHash = createHash('sha256').update(req.body).digest('hex');
    const declared = req.headers['x-amz-content-sha256'];
    if (declared !== undefined && declared !== bodyHash && declared !== 'UNSIGNED-PAYLOAD') {
      throw refuse('InvalidSignatureException', 'SignatureDoesNotMatch', 403, 'The provided x-amz-content-sha256 header does not match what was computed.');
    }
    const names = signedHeaders.split(';');
    const headers: Record<string, string> = {};
    for (const n of names) headers[n] = req.headers[n] ?? '';
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of req.query) {
      const known = query[k];
      query[k] = known === undefined ? v : Array.isArray(known) ? [...known, v] : [known, v];
    }
    const [hostname, port] = (req.headers.host ?? '').split(':');
    const signer = new SignatureV4({ credentials: creds, region, service, sha256: NodeHash });
    const signed = await signer.sign(
      { method: req.method, protocol: 'http:', hostname, ...(port ? { port: Number(port) } : {}), path: req.path, query, headers, body: req.body },
      { signingDate },
    );
    const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? signed.headers.Authorization))?.[1];
    if (expected !== signature) {
      throw refuse('InvalidSignatureException', 'SignatureDoesNotMatch', 403, 'The request signature we calculated does not match the signature you provided.');
    }
  }
}

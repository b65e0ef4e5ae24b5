// Datastore files over vCenter's HTTP file interface (`/folder/<path>?dcPath=<datacenter>&dsName=<datastore>`):
// ranged reads, whole-file uploads (streamed, hashed on the way) and streamed hashing for read-back checks.
// It rides on the SOAP session's cookie and the same pinned TLS connections.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { VimHttp } from './vim-http.js';
import { DatastoreTransferError } from './vsphere-errors.js';

export interface DatastorePath {
  datastore: string;
  /** Path inside the datastore, '/'-separated, no leading '/'. */
  path: string;
}

/** Parses `[datastore] dir/file.vmdk`. */
export function parseDatastorePath(value: string): DatastorePath | undefined {
  const m = /^\[([^\]]+)\]\s*(.*)$/.exec(value.trim());
  if (!m) return undefined;
  return { datastore: m[1], path: m[2].replace(/^\/+/, '') };
}

export function formatDatastorePath(p: DatastorePath): string {
  return `[${p.datastore}] ${p.path}`;
}

const CHUNK = 4 * 1024 * 1024;

export class DatastoreFiles {
  constructor(private readonly http: VimHttp, private readonly datacenterPath: string) {}

  url(p: DatastorePath): URL {
    const base = this.http.options.url;
    const encoded = p.path.split('/').filter((s) => s !== '').map(encodeURIComponent).join('/');
    const u = new URL(`/folder/${encoded}`, base);
    u.searchParams.set('dcPath', this.datacenterPath);
    u.searchParams.set('dsName', p.datastore);
    return u;
  }

  /**
   * Reads `[offset, offset + length)`; bytes past the end of the file read as zeros (a thin or short
   * extent, as vcsim's own empty disk files are).
   */
  async read(p: DatastorePath, offset: number, length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const res = await this.http.request('GET', this.url(p), { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    if (res.status === 206 && res.body.length === length) return res.body;
    const out = Buffer.alloc(length);
    if (res.status === 206) {
      res.body.copy(out, 0, 0, Math.min(length, res.body.length));
      return out;
    }
    if (res.status === 200) {
      // A server that ignores Range answers the whole file.
      if (offset < res.body.length) res.body.copy(out, 0, offset, Math.min(res.body.length, offset + length));
      return out;
    }
    if (res.status === 416) return out;
    throw new DatastoreTransferError(formatDatastorePath(p), 'read', res.status === 404 ? 'no such file' : res.body.toString('utf8').slice(0, 200), res.status);
  }

  /** Reads a whole small file (a descriptor); undefined when it does not exist. */
  async readSmall(p: DatastorePath): Promise<Buffer | undefined> {
    const res = await this.http.request('GET', this.url(p));
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new DatastoreTransferError(formatDatastorePath(p), 'read', res.body.toString('utf8').slice(0, 200), res.status);
    return res.body;
  }

  /** Uploads a file (PUT, replaces it); resolves to the SHA-256 of what was sent. */
  async write(p: DatastorePath, body: Buffer | AsyncIterable<Buffer>, length: number): Promise<string> {
    const hash = createHash('sha256');
    let sent = 0;
    const source = Buffer.isBuffer(body) ? [body] : body;
    const stream = Readable.from((async function* () {
      for await (const chunk of source) {
        hash.update(chunk);
        sent += chunk.length;
        yield chunk;
      }
    })());
    const res = await this.http.request('PUT', this.url(p), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': length },
      body: stream,
      timeoutMs: Math.max(120_000, Math.ceil(length / (1024 * 1024)) * 1000),
    });
    if (res.status !== 200 && res.status !== 201 && res.status !== 204) {
      throw new DatastoreTransferError(formatDatastorePath(p), 'write', res.body.toString('utf8').slice(0, 200), res.status);
    }
    if (sent !== length) throw new DatastoreTransferError(formatDatastorePath(p), 'write', `sent ${sent} of ${length} bytes`);
    return hash.digest('hex');
  }

  /** SHA-256 of the first `length` bytes of a file, read back in chunks (short files hash as zero-padded). */
  async sha256(p: DatastorePath, length: number): Promise<string> {
    const hash = createHash('sha256');
    for (let at = 0; at < length; at += CHUNK) hash.update(await this.read(p, at, Math.min(CHUNK, length - at)));
    return hash.digest('hex');
  }
}

// Helpers shared by this package's specs: hooks that log to a file (real child processes), the fake
// fsfreeze command, guest agents and stub managers on 127.0.0.1, and a port nobody listens on.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandSpec } from './config.js';

export const FAKE_FSFREEZE = fileURLToPath(new URL('./testing/fake-fsfreeze.js', import.meta.url));
export const AUTH_TOKEN = 'test-token-0123456789abcdef';

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ocdp-consistency-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

// `{reason}` in the line becomes the thaw reason the agent passes to post-thaw hooks.
const APPEND = "require('fs').appendFileSync(process.argv[1], process.argv[2].replace('{reason}', process.env.OPENCDP_THAW_REASON ?? '') + '\\n')";

/** A hook step (an executable with arguments) that appends `line` to `log`. */
export function appendStep(log: string, line: string): CommandSpec {
  return [process.execPath, '-e', APPEND, log, line];
}

/** A hook step that appends `line`, prints `message` on stderr and exits with `code`. */
export function failingStep(log: string, line: string, code: number, message: string): CommandSpec {
  return [process.execPath, '-e', `${APPEND}; process.stderr.write(process.argv[3]); process.exit(${code})`, log, line, message];
}

/** A hook step that sleeps `ms`, then appends `line`. */
export function slowStep(log: string, line: string, ms: number): CommandSpec {
  return [process.execPath, '-e', `setTimeout(() => { ${APPEND}; }, ${ms})`, log, line];
}

/** The fake fsfreeze, logging to `log`. */
export function fakeFreezeCommand(log: string): string[] {
  return [process.execPath, FAKE_FSFREEZE, log];
}

/** Lines appended so far (hooks and fake fsfreeze share one log, so their order shows). */
export function readLog(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

/** Mounts the fake fsfreeze holds frozen right now. */
export function frozenMounts(log: string): string[] {
  const state = `${log}.frozen.json`;
  return existsSync(state) ? (JSON.parse(readFileSync(state, 'utf8')) as string[]) : [];
}

export async function writeJson(path: string, value: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(value, null, 2));
  return path;
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization?: string;
  body: unknown;
  /** The shared log's lines at the moment the request arrived. */
  logAtArrival: string[];
}

export interface StubManager {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type StubAnswer = { status: number; body?: unknown } | 'hang';

/**
 * A stand-in for the manager's REST API (which arrives with the manager issue): records each request
 * with what the guest's log said at that moment, and answers with `answer`'s choice.
 */
export async function startStubManager(log: string, answer: (req: RecordedRequest) => StubAnswer): Promise<StubManager> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: req.method ?? '', url: req.url ?? '', body: text ? (JSON.parse(text) as unknown) : undefined, logAtArrival: readLog(log),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      };
      requests.push(recorded);
      const reply = answer(recorded);
      if (reply === 'hang') return;
      const out = reply.body === undefined ? '' : JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'Content-Type': 'application/json' });
      res.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A loopback port with nothing listening (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

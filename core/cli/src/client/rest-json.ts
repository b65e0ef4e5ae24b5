// Calls on concrete paths (query string included) for the demo's checks, the benchmarks and specs, whose
// answers are read as T. The CLI's verbs use the typed paths of the generated client (opencdp-api.ts).
import type { ManagerClient } from './manager-client.js';

type Untyped = (path: string, init: { body?: unknown }) => Promise<never>;

/** GET `path` through the client (session, TLS pinning, typed failures); the answer is trusted to be T. */
export function restGet<T>(client: ManagerClient, path: string): Promise<T> {
  return client.call<T>((client.api.GET as unknown as Untyped)(path, {}));
}

/** POST `body` to `path` through the client; the answer is trusted to be T. */
export function restPost<T>(client: ManagerClient, path: string, body: unknown = {}): Promise<T> {
  return client.call<T>((client.api.POST as unknown as Untyped)(path, { body }));
}

/** DELETE `path` (with `body`) through the client; the answer is trusted to be T. */
export function restDelete<T>(client: ManagerClient, path: string, body: unknown = {}): Promise<T> {
  return client.call<T>((client.api.DELETE as unknown as Untyped)(path, { body }));
}

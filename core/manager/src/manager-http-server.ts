// The port through which the manager's lifecycle serves its REST API without knowing it: managerModule
// binds it to api/server.ts. Keeping this interface outside api/ is what lets manager.ts start and stop
// HTTP while the HTTP layer depends on the parts, and not the other way round.
export const ManagerHttpServer = Symbol('ManagerHttpServer');
export interface ManagerHttpServer {
  /** Builds the routes and listens (port 0 picks one); resolves to `https://host:port` (or `http://` without TLS). */
  listen(host: string, port: number): Promise<string>;
  /** Stops listening (nothing when it never listened). */
  close(): Promise<void>;
  /** `METHOD url` of every route registered so far (empty before `listen`). */
  routes(): string[];
}

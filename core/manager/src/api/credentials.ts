// Where a request carries its credentials: a session token in x-zerto-session or as a Bearer token, and
// user and password as Basic authentication on the login route only.
import type { FastifyRequest } from 'fastify';
import { AuthenticationError } from '../errors.js';

export const SESSION_HEADER = 'x-zerto-session';

/** The session token of a request, if it has one. */
export function tokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers[SESSION_HEADER];
  if (typeof header === 'string' && header) return header;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return undefined;
}

/** Parses `Authorization: Basic …` into user and password. */
export function basicCredentials(req: FastifyRequest): { user: string; password: string } {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Basic ')) throw new AuthenticationError('POST /v1/session/add needs Basic authentication');
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw new AuthenticationError('malformed Basic credentials');
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

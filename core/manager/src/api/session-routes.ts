// /v1 routes of sessions and users.
import type { ManagerParts } from '../manager-parts.js';
import { ROLES, type Role } from '../store.js';
import { basicCredentials, SESSION_HEADER } from './credentials.js';
import { body, id, obj, params, userOf, type RouteSpec } from './route-spec.js';
import { iso } from './views.js';

export function sessionRoutes({ accounts }: Pick<ManagerParts, 'accounts'>): RouteSpec[] {
  return [
    {
      method: 'POST', url: '/v1/session/add', role: 'public', tags: ['session'], summary: 'Log in with Basic auth; the token comes back in the x-zerto-session header',
      body: obj({}),
      handler: async (req, reply) => {
        const { user: name, password } = basicCredentials(req);
        const s = await accounts.login(name, password);
        void reply.header(SESSION_HEADER, s.token);
        return { sessionToken: s.token, user: s.user, role: s.role, expiresAt: iso(s.expiresAt) };
      },
    },
    {
      method: 'DELETE', url: '/v1/session', role: 'viewer', tags: ['session'], summary: 'Log out (ends this session)',
      handler: async (req, reply) => {
        accounts.logout(req.session!.token);
        return reply.status(204).send();
      },
    },
    { method: 'GET', url: '/v1/users', role: 'admin', tags: ['users'], summary: 'List users', handler: async () => accounts.listUsers().map((u) => ({ name: u.name, role: u.role, createdAt: iso(u.createdAt) })) },
    {
      method: 'POST', url: '/v1/users', role: 'admin', tags: ['users'], summary: 'Add a user',
      body: obj({ name: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 8, maxLength: 200 }, role: { enum: [...ROLES] } }, ['name', 'password', 'role']),
      handler: async (req, reply) => {
        const b = body(req);
        await accounts.addUser(String(b.name), String(b.password), b.role as Role, userOf(req));
        return reply.status(201).send({ name: b.name, role: b.role });
      },
    },
    {
      method: 'DELETE', url: '/v1/users/:name', role: 'admin', tags: ['users'], summary: 'Delete a user and their sessions', params: obj({ name: id }, ['name']),
      handler: async (req, reply) => {
        accounts.deleteUser(params(req).name, userOf(req));
        return reply.status(204).send();
      },
    },
  ];
}

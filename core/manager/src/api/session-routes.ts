// /v1 routes of sessions and users: log in (Basic auth; the token is shown once), whose session it is, log
// out, change one's own password; users and their roles (administrators).
import type { ManagerParts } from '../manager-parts.js';
import { ROLES, type Role } from '../store.js';
import { basicCredentials, SESSION_HEADER } from './credentials.js';
import { body, id, json, listOf, noContent, obj, params, userOf, type RouteSpec } from './route-spec.js';
import { iso } from './views.js';

const password = { type: 'string', minLength: 1, maxLength: 200 } as const;

export function sessionRoutes({ accounts }: Pick<ManagerParts, 'accounts'>): RouteSpec[] {
  const userView = (u: { name: string; role: Role; createdAt: number }): Record<string, unknown> => ({ name: u.name, role: u.role, createdAt: iso(u.createdAt) });
  const nameParams = obj({ name: id }, ['name']);
  return [
    {
      method: 'POST', url: '/v1/session/add', role: 'public', operationId: 'login', tags: ['session'],
      summary: 'Log in with Basic auth; the token comes back in the x-zerto-session header and the body (shown once). Failed logins back off per user and address',
      responses: { 200: json('the new session', 'Session') }, errors: [401, 429], security: [{ basic: [] }],
      handler: async (req, reply) => {
        const { user: name, password: pw } = basicCredentials(req);
        const { token, session } = await accounts.login(name, pw, req.ip);
        void reply.header(SESSION_HEADER, token);
        return { sessionToken: token, user: session.user, role: session.role, expiresAt: iso(session.expiresAt) };
      },
    },
    {
      method: 'GET', url: '/v1/session', role: 'viewer', operationId: 'getSession', tags: ['session'], summary: 'Whose session this token is: user, role, expiry',
      responses: { 200: json('the session', 'SessionInfo') },
      handler: async (req) => {
        const s = req.session!;
        return { user: s.user, role: s.role, createdAt: iso(s.createdAt), expiresAt: iso(s.expiresAt) };
      },
    },
    {
      method: 'DELETE', url: '/v1/session', role: 'viewer', operationId: 'logout', tags: ['session'], summary: 'Log out (ends this session)',
      responses: { 204: noContent('logged out') },
      handler: async (req, reply) => {
        accounts.logout(req.session!);
        return reply.status(204).send();
      },
    },
    {
      method: 'PUT', url: '/v1/session/password', role: 'viewer', operationId: 'changeOwnPassword', tags: ['session'],
      summary: 'Change the password of this session\'s user (the current one is checked; the user\'s other sessions end)',
      body: obj({ currentPassword: password, newPassword: password }, ['currentPassword', 'newPassword']),
      responses: { 204: noContent('changed') }, errors: [429],
      handler: async (req, reply) => {
        const b = body(req);
        await accounts.changeOwnPassword(req.session!, String(b.currentPassword), String(b.newPassword), req.ip);
        return reply.status(204).send();
      },
    },
    {
      method: 'GET', url: '/v1/users', role: 'admin', operationId: 'listUsers', tags: ['users'], summary: 'List users',
      responses: { 200: listOf('the users', 'User') },
      handler: async () => accounts.listUsers().map(userView),
    },
    {
      method: 'POST', url: '/v1/users', role: 'admin', operationId: 'addUser', tags: ['users'],
      summary: 'Add a user (passwords: at least 12 characters, not containing the user name, not a common password)',
      body: obj({ name: { type: 'string', minLength: 1, maxLength: 64 }, password, role: { enum: [...ROLES] } }, ['name', 'password', 'role']),
      responses: { 201: json('the user was added', 'User') }, errors: [409],
      handler: async (req, reply) => {
        const b = body(req);
        await accounts.addUser(String(b.name), String(b.password), b.role as Role, userOf(req));
        return reply.status(201).send(userView(accounts.getUser(String(b.name))));
      },
    },
    {
      method: 'DELETE', url: '/v1/users/:name', role: 'admin', operationId: 'deleteUser', tags: ['users'], summary: 'Delete a user and their sessions', params: nameParams,
      responses: { 204: noContent('deleted') }, errors: [404, 409],
      handler: async (req, reply) => {
        accounts.deleteUser(params(req).name, userOf(req));
        return reply.status(204).send();
      },
    },
    {
      method: 'PUT', url: '/v1/users/:name/role', role: 'admin', operationId: 'setUserRole', tags: ['users'],
      summary: 'Change a user\'s role (their live sessions take it at once; the last administrator stays one)', params: nameParams, body: obj({ role: { enum: [...ROLES] } }, ['role']),
      responses: { 200: json('the user with the new role', 'User') }, errors: [404, 409],
      handler: async (req) => userView(accounts.setRole(params(req).name, body(req).role as Role, userOf(req))),
    },
    {
      method: 'PUT', url: '/v1/users/:name/password', role: 'admin', operationId: 'setUserPassword', tags: ['users'],
      summary: 'Set a user\'s password (e.g. after a lock-out); their sessions end', params: nameParams, body: obj({ newPassword: password }, ['newPassword']),
      responses: { 204: noContent('set') }, errors: [404],
      handler: async (req, reply) => {
        await accounts.setPassword(params(req).name, String(body(req).newPassword), userOf(req));
        return reply.status(204).send();
      },
    },
  ];
}

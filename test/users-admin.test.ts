import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { projectRoot } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { applyMigrations } from '../src/db/migrator.ts';
import { createLogger } from '../src/lib/logger.ts';
import { grantPlatformAdminFromCommandLine } from '../src/modules/users/users.service.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

let t: TestApp;
const people: Record<string, { id: string; email: string; token: string }> = {};
let organizationId: string;

const USERS = /* GraphQL */ `query($search: String, $disabled: Boolean, $first: Int, $after: String) {
  users(search: $search, disabled: $disabled, first: $first, after: $after) { totalCount edges { node { id email name roles disabledAt } } pageInfo { hasNextPage endCursor } }
}`;
const GRANT = 'mutation($input: PlatformRoleChangeInput!) { grantPlatformRole(input: $input) { id roles } }';
const REVOKE = 'mutation($input: PlatformRoleChangeInput!) { revokePlatformRole(input: $input) { id roles } }';
const DISABLE = 'mutation($id: ID!) { disableUser(id: $id) { id disabledAt } }';
const ENABLE = 'mutation($id: ID!) { enableUser(id: $id) { id disabledAt } }';
const ME = '{ me { id roles } }';

type Result = { status: number; body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
const as = (who: string, query: string, variables: Record<string, unknown> = {}) => t.graphql(query, variables, { token: people[who]!.token }) as Promise<Result>;
const code = (r: Result) => r.body.errors?.[0]?.extensions?.code ?? 'OK';

beforeAll(async () => {
  // A long timer: a disabled account's socket can close in time only through the immediate check.
  t = await startTestApp({ env: { WS_SESSION_CHECK_MS: '300000' } });
  const db = t.db.prisma;
  const org = await createOrganization(db);
  organizationId = org.organization.id;
  const other = await createOrganization(db);
  const make = async (name: string, roles: Array<'ADMIN' | 'MANAGER' | 'SIGNER'>, email?: string) => {
    const user = await createUser(db, { roles, name, email });
    people[name] = { id: user.id, email: user.email, token: (await signInAs(t.app.services, user.id)).token };
    return user;
  };
  await make('admin', ['ADMIN'], 'root.admin@example.test');
  await make('admin2', ['ADMIN']);
  const member = await make('member', [], 'quinn.member@example.test');
  const outsideManager = await make('outsideManager', ['MANAGER']);
  await addMember(db, { userId: member.id, organizationId, roleId: org.role.id, isOwner: true });
  await addMember(db, { userId: outsideManager.id, organizationId: other.organization.id, roleId: other.role.id });
});
afterAll(async () => {
  await t?.close();
});

describe('listing and searching accounts', () => {
  it('a platform admin lists every account and searches by email or name, any case', async () => {
    const all = await as('admin', USERS, { first: 2 });
    expect(all.body.data?.users.totalCount).toBe(4);
    expect(all.body.data?.users.edges).toHaveLength(2);
    expect(all.body.data?.users.pageInfo.hasNextPage).toBe(true);
    const rest = await as('admin', USERS, { first: 10, after: all.body.data?.users.pageInfo.endCursor });
    expect(rest.body.data?.users.edges).toHaveLength(2);
    expect((await as('admin', USERS, { search: 'QUINN.MEMBER' })).body.data?.users.edges.map((e: any) => e.node.id)).toEqual([people.member!.id]);
    expect((await as('admin', USERS, { search: 'outsideman' })).body.data?.users.edges.map((e: any) => e.node.id)).toEqual([people.outsideManager!.id]);
    expect((await as('admin', USERS, { disabled: true })).body.data?.users.totalCount).toBe(0);
  });

  it('anyone else gets 403, and no session 401', async () => {
    for (const who of ['member', 'outsideManager']) expect(code(await as(who, USERS))).toBe('FORBIDDEN');
    expect((await t.graphql(USERS, {})).status).toBe(401);
  });

  it('disabledAt is for platform admins: a member reading it on their own account is refused', async () => {
    const own = await as('member', '{ me { id disabledAt } }');
    expect(own.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('granting and revoking platform roles', () => {
  it('a platform admin grants MANAGER to a member, audited with who did it; granting it again changes nothing', async () => {
    const granted = await as('admin', GRANT, { input: { userId: people.member!.id, role: 'MANAGER' } });
    expect(granted.body.data?.grantPlatformRole.roles).toEqual(['MANAGER']);
    await as('admin', GRANT, { input: { userId: people.member!.id, role: 'MANAGER' } });
    const rows = await t.db.prisma.activity.findMany({ where: { type: 'user.role_granted', subjectUserId: people.member!.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorUserId: people.admin!.id, data: { role: 'MANAGER' } });
    const revoked = await as('admin', REVOKE, { input: { userId: people.member!.id, role: 'MANAGER' } });
    expect(revoked.body.data?.revokePlatformRole.roles).toEqual([]);
    expect(await t.db.prisma.activity.count({ where: { type: 'user.role_revoked', subjectUserId: people.member!.id, actorUserId: people.admin!.id } })).toBe(1);
  });

  it('a member, even an organization owner, cannot grant themselves a platform role', async () => {
    for (const role of ['ADMIN', 'MANAGER', 'SIGNER']) {
      expect(code(await as('member', GRANT, { input: { userId: people.member!.id, role } }))).toBe('FORBIDDEN');
    }
    expect((await t.db.prisma.user.findUniqueOrThrow({ where: { id: people.member!.id } })).roles).toEqual([]);
  });

  it('a manager of another organization can neither grant nor revoke', async () => {
    expect(code(await as('outsideManager', GRANT, { input: { userId: people.member!.id, role: 'MANAGER' } }))).toBe('FORBIDDEN');
    expect(code(await as('outsideManager', REVOKE, { input: { userId: people.admin!.id, role: 'ADMIN' } }))).toBe('FORBIDDEN');
  });

  it('never leaves the platform without an enabled admin: the last one keeps ADMIN (CONFLICT)', async () => {
    const db = t.db.prisma;
    const spare = await createUser(db, { roles: ['ADMIN'] });
    const spareToken = (await signInAs(t.app.services, spare.id)).token;
    // A disabled admin does not count.
    await db.user.update({ where: { id: people.admin2!.id }, data: { disabledAt: new Date() } });
    try {
      expect((await as('admin', REVOKE, { input: { userId: spare.id, role: 'ADMIN' } })).body.data?.revokePlatformRole.roles).toEqual([]);
      const last = await as('admin', REVOKE, { input: { userId: people.admin!.id, role: 'ADMIN' } });
      expect(last.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LAST_ADMIN' });
      expect((await as('admin', ME)).body.data?.me.roles).toEqual(['ADMIN']);
      // Revoked, the spare admin's session is a plain one now.
      expect(code((await t.graphql(USERS, {}, { token: spareToken })) as Result)).toBe('FORBIDDEN');
    } finally {
      await db.user.update({ where: { id: people.admin2!.id }, data: { disabledAt: null } });
    }
  });

  it('two admins revoking each other at once: one succeeds, the other is refused', async () => {
    const db = t.db.prisma;
    const a = await createUser(db, { roles: ['ADMIN'] });
    const b = await createUser(db, { roles: ['ADMIN'] });
    const [tokenA, tokenB] = [(await signInAs(t.app.services, a.id)).token, (await signInAs(t.app.services, b.id)).token];
    const others = await otherAdmins([a.id, b.id]);
    await db.user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabledAt: new Date() } });
    try {
      const results = (await Promise.all([
        t.graphql(REVOKE, { input: { userId: b.id, role: 'ADMIN' } }, { token: tokenA }),
        t.graphql(REVOKE, { input: { userId: a.id, role: 'ADMIN' } }, { token: tokenB }),
      ])) as Result[];
      // Refused as the last admin (CONFLICT), or, when the other's revocation committed before this request was
      // authenticated, as no admin any more (FORBIDDEN).
      expect(results.map(code).filter((c) => c === 'OK')).toHaveLength(1);
      expect(results.map(code).find((c) => c !== 'OK')).toMatch(/^(CONFLICT|FORBIDDEN)$/);
      const after = await db.user.findMany({ where: { id: { in: [a.id, b.id] } } });
      expect(after.filter((u) => u.roles.includes('ADMIN'))).toHaveLength(1);
    } finally {
      await db.user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabledAt: null } });
    }
  });
});

describe('disabling and enabling accounts', () => {
  it("disabling ends the account's sessions and closes its open WebSocket at once; enabling lets it sign in anew", async () => {
    const db = t.db.prisma;
    const target = await createUser(db, { name: 'To disable' });
    const org = await db.organizationRole.findFirstOrThrow({ where: { organizationId } });
    await addMember(db, { userId: target.id, organizationId, roleId: org.id });
    const { token } = await signInAs(t.app.services, target.id);
    const second = await signInAs(t.app.services, target.id);

    let closed: { code: number; reason: string } | undefined;
    const client = createClient({
      url: `${t.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: { closed: (event) => void (closed = event as { code: number; reason: string }) },
    });
    const errors: unknown[] = [];
    client.subscribe({ query: 'subscription($org: ID!) { activity(organizationId: $org) { type } }', variables: { org: organizationId } }, { next: () => {}, error: (e) => errors.push(e), complete: () => {} });
    await until(() => t.app.services.events.listeners() > 0);

    // Denied first: a member, and a manager of another organization, cannot disable anyone.
    expect(code(await as('member', DISABLE, { id: target.id }))).toBe('FORBIDDEN');
    expect(code(await as('outsideManager', DISABLE, { id: target.id }))).toBe('FORBIDDEN');
    expect(closed).toBeUndefined();

    const disabled = await as('admin', DISABLE, { id: target.id });
    expect(disabled.body.data?.disableUser.disabledAt).toEqual(expect.any(String));
    // The guard's timer is five minutes: only the check run on the disabling closes the socket this soon.
    await until(() => closed !== undefined, 3000);
    expect(closed?.code).toBe(4401);
    expect(await db.loginSession.count({ where: { userId: target.id, revokedAt: null } })).toBe(0);
    const me = await t.graphql(ME, {}, { token: second.token });
    expect(me.status).toBe(401);
    const audit = await db.activity.findFirstOrThrow({ where: { type: 'user.disabled', subjectUserId: target.id } });
    expect(audit).toMatchObject({ actorUserId: people.admin!.id, data: { sessionsRevoked: 2 } });

    const enabled = await as('admin', ENABLE, { id: target.id });
    expect(enabled.body.data?.enableUser.disabledAt).toBeNull();
    expect((await t.graphql(ME, {}, { token })).status).toBe(401);
    const fresh = await signInAs(t.app.services, target.id);
    expect(((await t.graphql(ME, {}, { token: fresh.token })) as Result).body.data?.me.id).toBe(target.id);
    expect(await db.activity.count({ where: { type: 'user.enabled', subjectUserId: target.id, actorUserId: people.admin!.id } })).toBe(1);
    await client.dispose();
  });

  it('an admin cannot disable their own account; disabling another admin leaves them one', async () => {
    const self = await as('admin', DISABLE, { id: people.admin!.id });
    expect(self.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_DISABLE' });
    expect(code(await as('admin', DISABLE, { id: people.admin2!.id }))).toBe('OK');
    expect(code(await as('admin2', ME))).toBe('UNAUTHENTICATED');
    expect(code(await as('admin', ENABLE, { id: people.admin2!.id }))).toBe('OK');
    people.admin2!.token = (await signInAs(t.app.services, people.admin2!.id)).token;
  });
});

describe('npm run admin:grant', () => {
  it('makes an account a platform admin, audited as done from the command line; an unknown email is refused', async () => {
    const db = t.db.prisma;
    const user = await createUser(db);
    expect(await grantPlatformAdminFromCommandLine(db, { email: user.email.toUpperCase() })).toEqual({ userId: user.id, granted: true, disabled: false });
    expect(await grantPlatformAdminFromCommandLine(db, { email: user.email })).toMatchObject({ granted: false });
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).roles).toEqual(['ADMIN']);
    const rows = await db.activity.findMany({ where: { type: 'user.role_granted', subjectUserId: user.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorUserId: null, data: { role: 'ADMIN', via: 'command-line' } });
    await expect(grantPlatformAdminFromCommandLine(db, { email: 'nobody@example.test' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('runs as a process against the configured database (the embedded one when DATABASE_URL is unset)', async () => {
    const email = 'first.admin@example.test';
    let env: Record<string, string>;
    let cleanup = async () => {};
    let read: () => Promise<string[]>;
    if (t.db.url) {
      await createUser(t.db.prisma, { email });
      env = { DATABASE_URL: t.db.url };
      read = async () => (await t.db.prisma.user.findUniqueOrThrow({ where: { email } })).roles;
    } else {
      // The embedded database is one process's: prepare it, close it, let the command open it, then read it again.
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'safeclose-admin-grant-'));
      const config = { kind: 'pglite' as const, dataDir: path.join(dataDir, 'pglite') };
      const logger = createLogger({ level: 'silent' });
      const prepare = await openDatabase(config, { logger });
      await applyMigrations(prepare.migrationTarget);
      await createUser(prepare.prisma, { email });
      await prepare.close();
      env = { DATA_DIR: dataDir };
      read = async () => {
        const after = await openDatabase(config, { logger });
        try {
          return (await after.prisma.user.findUniqueOrThrow({ where: { email } })).roles;
        } finally {
          await after.close();
        }
      };
      cleanup = async () => fs.rmSync(dataDir, { recursive: true, force: true });
    }
    try {
      const ran = await runCli([email], env);
      expect(ran).toMatchObject({ code: 0, stdout: `${email} is now a platform admin.\n` });
      expect(await read()).toEqual(['ADMIN']);
    } finally {
      await cleanup();
    }
  }, 180_000);
});

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsx = path.join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const child = spawn(process.execPath, [tsx, path.join(projectRoot, 'src', 'modules', 'users', 'grant-admin.cli.ts'), ...args], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Enabled platform admins but these (read in JS: the embedded database's adapter cannot filter enum arrays). */
async function otherAdmins(but: string[]) {
  const users = await t.db.prisma.user.findMany({ where: { disabledAt: null, id: { notIn: but } } });
  return users.filter((u) => u.roles.includes('ADMIN'));
}

async function until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InviteMemberDocument } from './generated/graphql.ts';
import { ManualClock, startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

// Small limits so a handful of invitations reach them: 3 per sender and 4 per organization per hour.
const PER_SENDER = 3;
const PER_ORGANIZATION = 4;

let t: TestApp;
let smtp: TestSmtpServer;
const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
const orgs: Record<'crowded' | 'quiet' | 'busy', { id: string; roleId: string }> = {} as never;
const tokens: Record<'first' | 'second' | 'eager' | 'colleague', string> = {} as never;
const userIds: Partial<Record<keyof typeof tokens, string>> = {};

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({
    clock,
    env: { SMTP_URL: smtp.url, INVITATIONS_PER_SENDER: String(PER_SENDER), INVITATIONS_PER_ORGANIZATION: String(PER_ORGANIZATION), INVITATION_WINDOW_SECONDS: '3600' },
  });
  const db = t.db.prisma;
  for (const name of ['crowded', 'quiet', 'busy'] as const) {
    const { organization, role } = await createOrganization(db, { name: `Invite ${name}`, permissions: ['members'] });
    orgs[name] = { id: organization.id, roleId: role.id };
  }
  const memberships: Record<keyof typeof tokens, Array<keyof typeof orgs>> = { first: ['crowded'], second: ['crowded', 'quiet'], eager: ['busy'], colleague: ['busy'] };
  for (const [person, memberOf] of Object.entries(memberships) as Array<[keyof typeof tokens, Array<keyof typeof orgs>]>) {
    const user = await createUser(db);
    for (const org of memberOf) await addMember(db, { userId: user.id, organizationId: orgs[org].id, roleId: orgs[org].roleId, isOwner: true });
    userIds[person] = user.id;
    tokens[person] = (await signInAs(t.app.services, user.id)).token;
  }
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

let invitees = 0;
let accepted = 0;
async function invite(as: keyof typeof tokens, org: keyof typeof orgs) {
  const { status, headers, body } = await t.graphql(InviteMemberDocument, { input: { organizationId: orgs[org].id, email: `invitee-${++invitees}@invites.test`, roleId: orgs[org].roleId } }, { token: tokens[as] });
  if (body.data?.inviteMember) accepted++;
  return { status, retryAfterHeader: headers.get('retry-after'), error: body.errors?.[0]?.extensions, invited: body.data?.inviteMember ?? null };
}

const pending = (org: keyof typeof orgs) => t.db.prisma.invitation.count({ where: { organizationId: orgs[org].id } });

describe('invitation limits', () => {
  it(`one sender may send ${PER_SENDER} per window; the next is RATE_LIMITED with retryAfter, another sender is unaffected`, async () => {
    for (let i = 0; i < PER_SENDER; i++) expect((await invite('eager', 'busy')).invited).not.toBeNull();
    const refused = await invite('eager', 'busy');
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({ code: 'RATE_LIMITED', reason: 'TOO_MANY_INVITATIONS', retryAfter: 3600 });
    expect(refused.retryAfterHeader).toBe('3600');
    expect(await pending('busy')).toBe(PER_SENDER);
    // Another sender in the same organization: the refused invitation did not count against the organization.
    expect((await invite('colleague', 'busy')).invited).not.toBeNull();
  });

  it(`one organization may receive ${PER_ORGANIZATION} per window from all its senders; another organization is unaffected`, async () => {
    expect((await invite('first', 'crowded')).invited).not.toBeNull();
    expect((await invite('first', 'crowded')).invited).not.toBeNull();
    expect((await invite('second', 'crowded')).invited).not.toBeNull();
    expect((await invite('second', 'crowded')).invited).not.toBeNull();
    // `second` has sent two of its three, but the organization is at its limit.
    const refused = await invite('second', 'crowded');
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({ code: 'RATE_LIMITED', reason: 'TOO_MANY_INVITATIONS' });
    expect(await pending('crowded')).toBe(PER_ORGANIZATION);
    // The same sender in another organization still has its third invitation.
    expect((await invite('second', 'quiet')).invited).not.toBeNull();
    expect((await invite('second', 'quiet')).error).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('sends no mail for a refused invitation, and the next window allows again', async () => {
    // Mails go out after the answer: wait for every accepted invitation's mail, then for a refused one's.
    await smtp.waitFor(() => smtp.messages.length === accepted);
    expect((await invite('eager', 'busy')).error).toMatchObject({ code: 'RATE_LIMITED' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.messages.length).toBe(accepted);
    clock.advance(3600_000);
    // Access tokens live ten minutes: sign in again in the new hour.
    for (const person of ['eager', 'first'] as const) tokens[person] = (await signInAs(t.app.services, userIds[person]!)).token;
    expect((await invite('eager', 'busy')).invited).not.toBeNull();
    expect((await invite('first', 'crowded')).invited).not.toBeNull();
  });
});

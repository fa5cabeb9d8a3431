import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangePasswordDocument,
  CreateOrganizationDocument,
  CreateUserAuthenticationTokenDocument,
  ExchangeAuthenticationTokenDocument,
  InviteMemberDocument,
  RefreshSessionDocument,
  RegisterChattelDocument,
  RequestPasswordResetDocument,
  RevokeInvitationDocument,
  SignInDocument,
  SignOutDocument,
  UpdateOrganizationSettingsDocument,
} from './generated/graphql.ts';
import { verifyChain } from '../src/modules/activity/audit-chain.ts';
import { signUpVerified, verificationTokenFor } from './support/accounts.ts';
import { startTestApp, type TestApp } from './support/app.ts';

// The main account, organization and record flows, driven over GraphQL; then every activity row they wrote is
// scanned for the secrets and personal data that went through them. Rows hold ids and codes only.
let t: TestApp;
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a second long passphrase';
const owner = { email: `audit-owner-${Date.now()}@example.test`, name: 'Orla Auditwright', password: PASSWORD };
const invitee = { email: `audit-invitee-${Date.now()}@example.test` };
const unknownEmail = `nobody-${Date.now()}@example.test`;
const secrets: string[] = [PASSWORD, NEW_PASSWORD, 'wrong password attempt'];
const personal: string[] = [owner.email, owner.name, invitee.email, unknownEmail, 'Dana Whitfield', 'dana.whitfield@example.test'];

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('what activity rows hold', () => {
  it('holds no secret and no personal data after the main flows', async () => {
    const started = await signUpVerified(t, owner);
    secrets.push(started.accessToken, started.refreshToken);
    const verification = await verificationTokenFor(t, owner.email);
    secrets.push(verification);
    let token = started.accessToken;

    const failed = await t.graphql(SignInDocument, { input: { email: owner.email, password: 'wrong password attempt' } });
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await t.graphql(SignInDocument, { input: { email: unknownEmail, password: 'wrong password attempt' } });
    const signedIn = (await t.graphql(SignInDocument, { input: { email: owner.email, password: PASSWORD } })).body.data!.signIn!;
    secrets.push(signedIn.accessToken, signedIn.refreshToken);
    token = signedIn.accessToken;
    const refreshed = (await t.graphql(RefreshSessionDocument, { refreshToken: signedIn.refreshToken })).body.data!.refreshSession!;
    secrets.push(refreshed.accessToken, refreshed.refreshToken);
    token = refreshed.accessToken;

    expect((await t.graphql(RequestPasswordResetDocument, { email: owner.email })).status).toBe(200);
    expect((await t.graphql(RequestPasswordResetDocument, { email: unknownEmail })).status).toBe(200);
    expect((await t.graphql(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, { token })).body.errors).toBeUndefined();
    const again = (await t.graphql(SignInDocument, { input: { email: owner.email, password: NEW_PASSWORD } })).body.data!.signIn!;
    secrets.push(again.accessToken, again.refreshToken);
    token = again.accessToken;

    const organization = (await t.graphql(CreateOrganizationDocument, { input: { name: 'Audit Scan Lending' } }, { token })).body.data!.createOrganization;
    const roles = await t.db.prisma.organizationRole.findMany({ where: { organizationId: organization.id } });
    const invitation = await t.graphql(InviteMemberDocument, { input: { organizationId: organization.id, email: invitee.email, roleId: roles[0]!.id } }, { token });
    expect(invitation.body.errors).toBeUndefined();
    expect((await t.graphql(RevokeInvitationDocument, { id: invitation.body.data!.inviteMember.id }, { token })).body.errors).toBeUndefined();
    expect((await t.graphql(UpdateOrganizationSettingsDocument, { input: { organizationId: organization.id, name: 'Audit Scan Lending 2' } }, { token })).body.errors).toBeUndefined();
    const registered = await t.graphql(
      RegisterChattelDocument,
      { input: { organizationId: organization.id, manufacturer: 'Clayton', serialNumber: 'SCAN-1', ownerName: 'Dana Whitfield', ownerEmail: 'dana.whitfield@example.test', addressLine1: '12 Pine Lane', city: 'Athens', state: 'GA', postalCode: '30601' } },
      { token },
    );
    expect(registered.body.errors).toBeUndefined();

    const issued = (await t.graphql(CreateUserAuthenticationTokenDocument, {}, { token })).body.data!.createUserAuthenticationToken;
    secrets.push(issued.value);
    const exchanged = (await t.graphql(ExchangeAuthenticationTokenDocument, { value: issued.value })).body.data!.exchangeAuthenticationToken;
    secrets.push(exchanged.accessToken, exchanged.refreshToken!);
    expect((await t.graphql(SignOutDocument, {}, { token })).status).toBe(200);

    const rows = await t.db.prisma.activity.findMany({ orderBy: { seq: 'asc' } });
    const types = new Set(rows.map((r) => r.type));
    for (const type of ['auth.sign_in.failure', 'auth.password_reset.requested', 'auth.password.changed', 'invitation.revoked', 'document.registered', 'auth.sign_out']) {
      expect(types, type).toContain(type);
    }
    expect(rows.length).toBeGreaterThan(10);
    const text = JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)).toLowerCase();
    for (const secret of secrets) expect(text, 'a secret in an activity row').not.toContain(secret.toLowerCase());
    for (const value of personal) expect(text, `personal data in an activity row: ${value}`).not.toContain(value.toLowerCase());
    // Every token-shaped string (JWT, or a long random value) would show up here too.
    expect(text).not.toMatch(/eyj[a-z0-9_-]{10,}\.[a-z0-9_-]{10,}/);
    for (const chain of new Set(rows.map((r) => r.organizationId ?? 'platform'))) expect((await verifyChain(t.db.prisma, chain)).ok).toBe(true);
  }, 120_000);
});

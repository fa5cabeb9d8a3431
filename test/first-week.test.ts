import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { extractLinks, startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

/**
 * A new customer's first week on a fresh install, through the API alone: no seed, no SQL, no platform operator.
 * Every step is a GraphQL request a client could send; mail goes over real SMTP and links are followed from it.
 */
let t: TestApp;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

type Body = { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
async function call(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Record<string, any>> {
  const { body } = (await t.graphql(query, variables, token ? { token } : {})) as { body: Body };
  if (body.errors?.length) throw new Error(`${body.errors[0]!.message} (${JSON.stringify(body.errors[0]!.extensions)})`);
  return body.data!;
}
async function refused(query: string, variables: Record<string, unknown>, token: string): Promise<unknown> {
  const { body } = (await t.graphql(query, variables, { token })) as { body: Body };
  return body.errors?.[0]?.extensions?.code;
}

/** The link in the next mail to `email` (arrived after `after` messages) that starts with `prefix`, as its token. */
async function mailedToken(email: string, prefix: string, after: number): Promise<string> {
  const mail = await smtp.waitFor((m) => m.to.includes(email) && smtp.messages.indexOf(m) >= after, 10_000);
  const link = extractLinks(mail.text).find((l) => l.startsWith(`http://safeclose.test/${prefix}?token=`));
  expect(link, `a ${prefix} link in the mail to ${email}`).toBeDefined();
  return new URL(link!).searchParams.get('token')!;
}

/** Signs up, follows the verification link mailed to the address, and answers the session it starts. */
async function signUp(email: string, name: string): Promise<string> {
  const before = smtp.messages.length;
  const accepted = await call('mutation($input: SignUpInput!) { signUp(input: $input) { email } }', { input: { email, password: 'first-week-password', name } });
  expect(accepted.signUp.email).toBe(email);
  const token = await mailedToken(email, 'verify-email', before);
  const verified = await call('mutation($token: String!) { verifyEmail(token: $token) { accessToken } }', { token });
  return verified.verifyEmail.accessToken as string;
}

describe("a new customer's first week", () => {
  it('sign up, create an organization, invite a colleague, make them a manager, link a signer, send a package, and the signer signs', async () => {
    // The owner signs up (verifying the address) and creates the organization: they are its owner, with no platform role.
    const owner = await signUp('olivia.owner@lender.test', 'Olivia Owner');
    const me = await call('{ me { id roles } }', {}, owner);
    expect(me.me.roles).toEqual([]);
    const { createOrganization: org } = await call('mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { id roles { id name } } }', {
      input: { name: 'First Week Lending' },
    }, owner);
    const managerRole = org.roles.find((r: { name: string }) => r.name === 'Manager');

    // Not a manager yet: the signing operations refuse the owner until an identity is linked.
    expect(await refused('query($org: ID!) { signingPackages(organizationId: $org) { edges { cursor } } }', { org: org.id }, owner)).toBe('FORBIDDEN');

    // The colleague is invited by mail, signs up from it and accepts.
    const colleagueEmail = 'carl.colleague@lender.test';
    let before = smtp.messages.length;
    await call('mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }', { input: { organizationId: org.id, email: colleagueEmail, roleId: managerRole.id } }, owner);
    const invitation = await mailedToken(colleagueEmail, 'accept-invitation', before);
    const colleague = await signUp(colleagueEmail, 'Carl Colleague');
    const joined = await call('mutation($token: String!) { acceptInvitation(token: $token) { organization { id } role { name } } }', { token: invitation }, colleague);
    expect(joined.acceptInvitation).toEqual({ organization: { id: org.id }, role: { name: 'Manager' } });

    // The owner makes themselves and the colleague managers there, by linking manager identities.
    const link = 'mutation($input: LinkSigningIdentityInput!) { linkSigningIdentity(input: $input) { kind } }';
    await call(link, { input: { userEmail: 'olivia.owner@lender.test', organizationId: org.id, kind: 'MANAGER' } }, owner);
    await call(link, { input: { userEmail: colleagueEmail, organizationId: org.id, kind: 'MANAGER' } }, owner);
    const owned = await call('query($org: ID!) { signingPackages(organizationId: $org) { edges { cursor } } }', { org: org.id }, owner);
    expect(owned.signingPackages.edges).toEqual([]);

    // A third person signs up; the colleague links a signer identity for them.
    const signerEmail = 'sam.signer@borrower.test';
    const signer = await signUp(signerEmail, 'Sam Signer');
    // The signer, a stranger to the organization, cannot grant themselves anything there.
    expect(await refused(link, { input: { userEmail: signerEmail, organizationId: org.id, kind: 'SIGNER' } }, signer)).toBe('FORBIDDEN');
    await call(link, { input: { userEmail: signerEmail, organizationId: org.id, kind: 'SIGNER' } }, colleague);

    // The colleague registers the chattel, creates the package and sends it.
    const { registerChattel: document } = await call('mutation($input: RegisterChattelInput!) { registerChattel(input: $input) { id } }', {
      input: { organizationId: org.id, manufacturer: 'Clayton', serialNumber: 'FW-0001', ownerName: 'Sam Signer', addressLine1: '1 Oak St', city: 'Athens', state: 'GA', postalCode: '30601' },
    }, colleague);
    const { createSigningPackage: draft } = await call('mutation($input: CreateSigningPackageInput!) { createSigningPackage(input: $input) { id version status } }', {
      input: { organizationId: org.id, title: 'Loan documents', documentIds: [document.id], signers: [{ name: 'Sam Signer', email: signerEmail }] },
    }, colleague);
    const { sendSigningPackage: sent } = await call('mutation($id: ID!, $version: Int) { sendSigningPackage(id: $id, version: $version) { status } }', { id: draft.id, version: draft.version }, colleague);
    expect(sent.status).toBe('SENT');

    // The signer finds it in their queue and signs.
    const queue = await call('{ signerQueueConnection { edges { node { id title } } } }', {}, signer);
    expect(queue.signerQueueConnection.edges).toEqual([{ node: { id: draft.id, title: 'Loan documents' } }]);
    const { signSigningPackage: signed } = await call('mutation($id: ID!) { signSigningPackage(packageId: $id) { status } }', { id: draft.id }, signer);
    expect(signed.status).toBe('COMPLETED');

    // The owner, a manager there now, sees it completed.
    const packages = await call('query($org: ID!) { signingPackages(organizationId: $org) { edges { node { id status } } } }', { org: org.id }, owner);
    expect(packages.signingPackages.edges).toEqual([{ node: { id: draft.id, status: 'COMPLETED' } }]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpVerified } from './support/accounts.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createUser, signInAs } from './support/factories.ts';

/**
 * Names people choose appear to other people (in mails, lists, signing pages): none may hold control characters,
 * line or paragraph separators or bidirectional controls, so none can start a line of its own or read differently
 * from what it is. Every name-like field goes through the shared validator; these probes walk one mutation per
 * kind of name, each with a refused value and (where the operation is cheap to repeat) an accepted one.
 */
let t: TestApp;
let owner: string;
let admin: string;
let organizationId: string;
let documentId: string;

type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
const errorOf = (body: Body) => body.errors?.[0]?.extensions;

const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { email } }';
let signUps = 0;
const signUp = (name: string) => t.graphql(SIGN_UP, { input: { email: `person-${++signUps}@names.test`, password: 'a long enough password', name } });

const HOSTILE: Array<[string, string]> = [
  ['CR LF', 'Ann Smith\r\nYour account is locked. Verify at http://evil.example/verify'],
  ['LF', 'Ann\nSmith'],
  ['ESC', 'Ann \u001b[31mSmith'],
  ['NUL', 'Ann\u0000Smith'],
  ['DEL', 'Ann\u007fSmith'],
  ['C1 NEL', 'Ann\u0085Smith'],
  ['U+2028 line separator', 'Ann\u2028Your account is locked'],
  ['U+2029 paragraph separator', 'Ann\u2029Smith'],
  ['U+202E right-to-left override', 'Ann \u202elfd.exe'],
  ['U+2066 left-to-right isolate', 'Ann\u2066Smith'],
];

beforeAll(async () => {
  t = await startTestApp();
  owner = (await signUpVerified(t, { email: `person-${++signUps}@names.test`, password: 'a long enough password', name: 'Owen Founder' })).accessToken;
  const organization = await t.graphql('mutation { createOrganization(input: { name: "Names Lending" }) { id } }', {}, { token: owner });
  organizationId = (organization.body.data as { createOrganization: { id: string } }).createOrganization.id;
  const chattel = await t.graphql(
    'mutation($input: RegisterChattelInput!) { registerChattel(input: $input) { id } }',
    { input: { organizationId, manufacturer: 'Clayton', serialNumber: 'NAMES-1', ownerName: 'Dana Owner', addressLine1: '1 Main', city: 'Athens', state: 'GA', postalCode: '30601' } },
    { token: owner },
  );
  documentId = (chattel.body.data as { registerChattel: { id: string } }).registerChattel.id;
  const platformAdmin = await createUser(t.db.prisma, { roles: ['ADMIN'] });
  // The manager role and identity that creating packages needs, as a platform admin and an organization admin would grant them.
  const founderAccount = await t.db.prisma.user.findUniqueOrThrow({ where: { email: 'person-1@names.test' } });
  await t.db.prisma.user.update({ where: { id: founderAccount.id }, data: { roles: ['MANAGER'] } });
  await t.db.prisma.signingIdentity.create({ data: { userId: founderAccount.id, kind: 'MANAGER', organizationId, linkedById: platformAdmin.id } });
  admin = (await signInAs(t.app.services, platformAdmin.id)).token;
});
afterAll(async () => {
  await t?.close();
});

describe('signUp names', () => {
  for (const [label, name] of HOSTILE) {
    it(`refuses a name with ${label}`, async () => {
      const { body } = await signUp(name);
      expect(errorOf(body)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name', reason: 'CONTROL_CHARACTERS' });
      // NUL and ESC are refused at the edge, before execution (no data at all); the others by the name validator.
      expect(body.data ?? null).toBeNull();
    });
  }

  it('accepts a normal name with accents, apostrophes and non-Latin letters', async () => {
    for (const name of ['Zoë Ångström-Núñez', "Seán O'Brien", '山田 太郎', 'Ægir Þórsson']) {
      const { body } = await signUp(name);
      expect(body.errors).toBeUndefined();
      const email = (body.data as { signUp: { email: string } }).signUp.email;
      expect((await t.db.prisma.user.findUniqueOrThrow({ where: { email } })).name).toBe(name);
    }
  });

  it('stores no account for a refused name', async () => {
    const before = await t.db.prisma.user.count();
    await signUp('Mallory\r\nSupport');
    expect(await t.db.prisma.user.count()).toBe(before);
    expect(await t.db.prisma.user.count({ where: { name: { contains: '\n' } } })).toBe(0);
  });
});

/** One mutation per kind of name: the operation, its variables around `value`, and the field that must be named. */
const probes: Array<{ what: string; as: () => string; query: string; variables: (value: string) => Record<string, unknown>; field: string }> = [
  { what: 'organization name', as: () => owner, query: 'mutation($name: String!) { createOrganization(input: { name: $name }) { id } }', variables: (name) => ({ name }), field: 'name' },
  {
    what: 'organization name (settings)',
    as: () => owner,
    query: 'mutation($id: ID!, $name: String) { updateOrganizationSettings(input: { organizationId: $id, name: $name }) { id } }',
    variables: (name) => ({ id: organizationId, name }),
    field: 'name',
  },
  { what: 'location name', as: () => owner, query: 'mutation($id: ID!, $name: String!) { createLocation(input: { organizationId: $id, name: $name }) { id } }', variables: (name) => ({ id: organizationId, name }), field: 'name' },
  {
    what: 'location city',
    as: () => owner,
    query: 'mutation($id: ID!, $city: String) { createLocation(input: { organizationId: $id, name: "Branch", city: $city }) { id } }',
    variables: (city) => ({ id: organizationId, city }),
    field: 'city',
  },
  {
    what: 'role name',
    as: () => owner,
    query: 'mutation($id: ID!, $name: String!) { createOrganizationRole(input: { organizationId: $id, name: $name, permissions: [documents] }) { id } }',
    variables: (name) => ({ id: organizationId, name }),
    field: 'name',
  },
  { what: 'user group name', as: () => owner, query: 'mutation($id: ID!, $name: String!) { createUserGroup(input: { organizationId: $id, name: $name }) { id } }', variables: (name) => ({ id: organizationId, name }), field: 'name' },
  {
    what: 'app (API registration) name',
    as: () => owner,
    query: 'mutation($id: ID!, $name: String!) { createApiRegistration(input: { organizationId: $id, name: $name, allowedSources: ["203.0.113.7"], groupIds: [] }) { apiRegistration { id } } }',
    variables: (name) => ({ id: organizationId, name }),
    field: 'name',
  },
  { what: 'partner name', as: () => admin, query: 'mutation($name: String!, $key: String!) { createPartner(input: { name: $name, partnerKey: $key }) { apiKey } }', variables: (name) => ({ name, key: `names-${Math.random().toString(36).slice(2, 10)}` }), field: 'name' },
  {
    what: 'chattel owner name',
    as: () => owner,
    query: 'mutation($input: RegisterChattelInput!) { registerChattel(input: $input) { id } }',
    variables: (ownerName) => ({ input: { organizationId, manufacturer: 'Clayton', serialNumber: `NM-${Math.random().toString(36).slice(2, 8)}`, ownerName, addressLine1: '1 Main', city: 'Athens', state: 'GA', postalCode: '30601' } }),
    field: 'ownerName',
  },
  {
    what: 'signing package title',
    as: () => owner,
    query: 'mutation($input: CreateSigningPackageInput!) { createSigningPackage(input: $input) { id } }',
    variables: (title) => ({ input: { organizationId, title, documentIds: [documentId], signers: [{ name: 'Dana Owner', email: 'dana@names.test' }] } }),
    field: 'title',
  },
  {
    what: 'signer name',
    as: () => owner,
    query: 'mutation($input: CreateSigningPackageInput!) { createSigningPackage(input: $input) { id } }',
    variables: (name) => ({ input: { organizationId, title: 'Closing', documentIds: [documentId], signers: [{ name: 'Dana Owner', email: 'dana@names.test' }, { name, email: 'co@names.test' }] } }),
    field: 'signers.name',
  },
  {
    what: 'loan borrower name',
    as: () => owner,
    query: 'mutation($input: AttachLoanInput!) { attachLoan(input: $input) { id } }',
    variables: (borrowerName) => ({ input: { documentId, loanNumber: `L-${Math.random().toString(36).slice(2, 8)}`, borrowerName, principal: '1000.00', balance: '900.00' } }),
    field: 'borrowerName',
  },
];

describe('every kind of name refuses control characters', () => {
  for (const probe of probes) {
    it(`${probe.what}: refused with a line break or an override, accepted plain`, async () => {
      for (const hostile of ['Branch\r\nYour account is locked', 'Branch \u202eexe.', 'Branch\u2028two']) {
        const { body } = await t.graphql(probe.query, probe.variables(hostile), { token: probe.as() });
        expect(errorOf(body), `${probe.what} ${JSON.stringify(hostile)}`).toMatchObject({ code: 'BAD_USER_INPUT', field: probe.field, reason: 'CONTROL_CHARACTERS' });
      }
      const { body } = await t.graphql(probe.query, probe.variables('Zoë Núñez Branch'), { token: probe.as() });
      expect(body.errors, probe.what).toBeUndefined();
    });
  }
});

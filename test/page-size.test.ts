import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

// A page over the largest size (100) is a clear BAD_USER_INPUT PAGE_TOO_LARGE, whether the size is written into the
// operation or sent as a variable, and never a cost-limit rejection.
let t: TestApp;
let token: string;

const RICH = 'edges { node { id serialNumber ownerName loan { id balance status } organization { id name } location { id name } } } pageInfo { hasNextPage }';

beforeAll(async () => {
  t = await startTestApp();
  const org = await createOrganization(t.db.prisma, { name: 'Page Lending', permissions: ['documents', 'loans'] });
  const user = await createUser(t.db.prisma, { roles: ['MANAGER'] });
  await addMember(t.db.prisma, { userId: user.id, organizationId: org.organization.id, roleId: org.role.id });
  token = (await signInAs(t.app.services, user.id)).token;
});
afterAll(async () => {
  await t?.close();
});

type Errors = Array<{ message: string; extensions?: Record<string, unknown> }>;

describe('the largest page', () => {
  it.each([101, 1000, 1_000_000])('first: %i written into the query → 400 PAGE_TOO_LARGE alone, no cost-limit error', async (size) => {
    const { status, body } = await t.graphql(`{ documents(first: ${size}) { ${RICH} } }`, {}, { token });
    expect(status).toBe(400);
    const errors = body.errors as Errors;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ message: 'first can be at most 100.', extensions: { code: 'BAD_USER_INPUT', field: 'first', reason: 'PAGE_TOO_LARGE' } });
  });

  it('last: 101 on a nested connection is refused the same way', async () => {
    const { status, body } = await t.graphql(`{ mySessionsConnection(last: 101) { edges { node { id } } } }`, {}, { token });
    expect(status).toBe(400);
    expect((body.errors as Errors)[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'last', reason: 'PAGE_TOO_LARGE' });
  });

  it('the same size sent as a variable gets the same code and reason', async () => {
    const { body } = await t.graphql(`query($n: Int) { documents(first: $n) { ${RICH} } }`, { n: 101 }, { token });
    expect((body.errors as Errors)[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', reason: 'PAGE_TOO_LARGE' });
  });

  it('first: 100 is served', async () => {
    const { status, body } = await t.graphql('{ documents(first: 100) { edges { node { id serialNumber } } pageInfo { hasNextPage } } }', {}, { token });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data).toMatchObject({ documents: { pageInfo: { hasNextPage: false } } });
  });

  it('an expensive operation within the page size is still the cost limit’s to refuse', async () => {
    const aliases = Array.from({ length: 14 }, (_, i) => `a${i}: documents(first: 100) { ${RICH} }`).join(' ');
    const { status, body } = await t.graphql(`{ ${aliases} }`, {}, { token });
    expect(status).toBe(400);
    const codes = (body.errors as Errors).map((e) => e.extensions?.reason ?? e.extensions?.code);
    expect(codes).not.toContain('PAGE_TOO_LARGE');
    expect((body.errors as Errors).some((e) => /cost/i.test(e.message))).toBe(true);
  });
});

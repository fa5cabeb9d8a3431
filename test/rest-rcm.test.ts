import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from './generated/rest-api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createDocument, createOrganization, createUser, signInAs } from './support/factories.ts';

// RCM eligibility, campaigns, their lifecycle and outreach attempts under /v1, through the generated client.
let t: TestApp;
let organizationId: string;
const tokens: Record<string, string> = {};

const api = (token?: string) => createClient<paths>({ baseUrl: t.url, headers: token ? { authorization: `Bearer ${token}` } : {} });
const steps = [
  { channel: 'EMAIL' as const, delayHours: 0, template: 'We noticed a missed payment.' },
  { channel: 'CALL' as const, delayHours: 48, template: 'Call the borrower.' },
];

let loans = 0;
/** A chattel record in the organization, with a loan in `status` unless none. */
async function chattel(status: 'BEHIND' | 'CURRENT' | null = 'BEHIND') {
  const db = t.db.prisma;
  const document = await createDocument(db, { organizationId });
  if (status) {
    await db.loan.create({ data: { organizationId, documentId: document.id, loanNumber: `RCM-${++loans}-${Date.now()}`, borrowerName: 'Dana Whitfield', status, principal: '80000', balance: '61000.50' } });
  }
  return document.id;
}

async function startCampaign(documentId: string, body: Record<string, unknown> = {}) {
  const { data, response } = await api(tokens.manager).POST('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } }, body: { steps, ...body } });
  expect(response.status).toBe(201);
  return data!;
}

beforeAll(async () => {
  t = await startTestApp();
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Recovery Lending', permissions: ['documents', 'loans', 'rcm'] });
  organizationId = org.organization.id;
  const noRcm = await db.organizationRole.create({ data: { organizationId, name: 'Documents only', permissions: ['documents'] } });
  const other = await createOrganization(db, { name: 'Other Recovery Lending', permissions: ['documents', 'loans', 'rcm'] });
  const people = {
    manager: await createUser(db, { roles: ['MANAGER'] }),
    noRcm: await createUser(db, { roles: ['MANAGER'] }),
    outsider: await createUser(db, { roles: ['MANAGER'] }),
  };
  await addMember(db, { userId: people.manager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: people.noRcm.id, organizationId, roleId: noRcm.id });
  await addMember(db, { userId: people.outsider.id, organizationId: other.organization.id, roleId: other.role.id });
  for (const [name, user] of Object.entries(people)) tokens[name] = (await signInAs(t.app.services, user.id)).token;
});
afterAll(async () => {
  await t?.close();
});

describe('RCM eligibility under /v1', () => {
  it('says whether a campaign can start, and why not', async () => {
    const behind = await api(tokens.noRcm).GET('/v1/documents/{id}/rcm-eligibility', { params: { path: { id: await chattel('BEHIND') } } });
    expect(behind.response.status).toBe(200);
    expect(behind.data).toEqual({ eligible: true, reason: null });
    const current = await api(tokens.manager).GET('/v1/documents/{id}/rcm-eligibility', { params: { path: { id: await chattel('CURRENT') } } });
    expect(current.data).toEqual({ eligible: false, reason: 'LOAN_NOT_BEHIND' });
    const none = await api(tokens.manager).GET('/v1/documents/{id}/rcm-eligibility', { params: { path: { id: await chattel(null) } } });
    expect(none.data).toEqual({ eligible: false, reason: 'NO_LOAN_ATTACHED' });
  });

  it('answers 404 for another organization’s record and 401 without a token, as problem details', async () => {
    const id = await chattel('BEHIND');
    const hidden = await api(tokens.outsider).GET('/v1/documents/{id}/rcm-eligibility', { params: { path: { id } } });
    expect(hidden.response.status).toBe(404);
    expect(hidden.response.headers.get('content-type')).toBe('application/problem+json');
    expect(hidden.error).toMatchObject({ code: 'NOT_FOUND' });
    const anonymous = await api().GET('/v1/documents/{id}/rcm-eligibility', { params: { path: { id } } });
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.response.headers.get('www-authenticate')).toBe('Bearer');
    expect(anonymous.error).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('campaigns under /v1', () => {
  it('starts a campaign: 201 with the campaign, its ETag and its Location', async () => {
    const documentId = await chattel('BEHIND');
    const { data, response } = await api(tokens.manager).POST('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } }, body: { name: 'First notice', steps } });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ name: 'First notice', status: 'ACTIVE', version: 1, document: { id: documentId }, loan: { status: 'BEHIND' } });
    expect(data!.steps.map((s) => [s.position, s.channel, s.delayHours])).toEqual([
      [1, 'EMAIL', 0],
      [2, 'CALL', 48],
    ]);
    expect(response.headers.get('location')).toBe(`http://safeclose.test/v1/campaigns/${data!.id}`);
    expect(response.headers.get('etag')).toBe('"1"');
    // ...and reads back at its Location, for whoever reads its document, and for no one else.
    const read = await api(tokens.noRcm).GET('/v1/campaigns/{id}', { params: { path: { id: data!.id } } });
    expect(read.response.status).toBe(200);
    expect(read.data).toEqual(data);
    expect(read.response.headers.get('etag')).toBe('"1"');
    const hidden = await api(tokens.outsider).GET('/v1/campaigns/{id}', { params: { path: { id: data!.id } } });
    expect(hidden.response.status).toBe(404);
    expect(hidden.error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await api().GET('/v1/campaigns/{id}', { params: { path: { id: data!.id } } })).response.status).toBe(401);
  });

  it('refuses a member without rcm (403), an outsider (404), no token (401), an ineligible record (400) and a second open campaign (409)', async () => {
    const documentId = await chattel('BEHIND');
    const body = { steps };
    const forbidden = await api(tokens.noRcm).POST('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } }, body });
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.response.headers.get('content-type')).toBe('application/problem+json');
    expect(forbidden.error).toMatchObject({ code: 'FORBIDDEN' });
    const hidden = await api(tokens.outsider).POST('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } }, body });
    expect(hidden.response.status).toBe(404);
    expect((await api().POST('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } }, body })).response.status).toBe(401);
    expect(await t.db.prisma.rcmCampaign.count({ where: { documentId } })).toBe(0);

    const ineligible = await api(tokens.manager).POST('/v1/documents/{id}/campaigns', { params: { path: { id: await chattel('CURRENT') } }, body });
    expect(ineligible.response.status).toBe(400);
    expect(ineligible.error).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'LOAN_NOT_BEHIND' });

    await startCampaign(documentId);
    const again = await api(tokens.manager).POST('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } }, body });
    expect(again.response.status).toBe(409);
    expect(again.error).toMatchObject({ code: 'CONFLICT', reason: 'CAMPAIGN_ALREADY_OPEN' });
  });

  it('refuses a documentId in the body: the record comes from the path', async () => {
    const documentId = await chattel('BEHIND');
    const smuggled = await api(tokens.manager).POST('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } }, body: { steps, documentId: await chattel('BEHIND') } as never });
    expect(smuggled.response.status).toBe(400);
    expect(smuggled.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'documentId' });
  });

  it('lists a record’s campaigns a page at a time, newest first, with Link to the next page', async () => {
    const documentId = await chattel('BEHIND');
    const first = await startCampaign(documentId, { name: 'One' });
    await api(tokens.manager).POST('/v1/campaigns/{id}/cancel', { params: { path: { id: first.id } } });
    const second = await startCampaign(documentId, { name: 'Two', draft: true });

    const page1 = await api(tokens.noRcm).GET('/v1/documents/{id}/campaigns', { params: { path: { id: documentId }, query: { first: 1 } } });
    expect(page1.response.status).toBe(200);
    expect(page1.data!.items.map((c) => [c.id, c.status])).toEqual([[second.id, 'DRAFT']]);
    expect(page1.data!.next).toEqual(expect.any(String));
    const link = page1.response.headers.get('link')!;
    expect(link).toMatch(/^<http:\/\/safeclose\.test\/v1\/documents\/[^>]+\?first=1&after=[^>]+>; rel="next"$/);
    const page2 = await api(tokens.noRcm).GET('/v1/documents/{id}/campaigns', { params: { path: { id: documentId }, query: { first: 1, after: page1.data!.next! } } });
    expect(page2.data!.items.map((c) => [c.id, c.status])).toEqual([[first.id, 'CANCELLED']]);
    expect(page2.data!.next).toBeNull();
    expect(page2.response.headers.get('link')).toBeNull();

    const oldest = await api(tokens.manager).GET('/v1/documents/{id}/campaigns', { params: { path: { id: documentId }, query: { orderBy: 'OLDEST_FIRST' } } });
    expect(oldest.data!.items.map((c) => c.id)).toEqual([first.id, second.id]);
  });

  it('lists nothing of another organization’s record (404), refuses pages over 100 and unknown parameters (400)', async () => {
    const documentId = await chattel('BEHIND');
    const hidden = await api(tokens.outsider).GET('/v1/documents/{id}/campaigns', { params: { path: { id: documentId } } });
    expect(hidden.response.status).toBe(404);
    expect(hidden.error).toMatchObject({ code: 'NOT_FOUND' });
    const tooLarge = await api(tokens.manager).GET('/v1/documents/{id}/campaigns', { params: { path: { id: documentId }, query: { first: 101 } } });
    expect(tooLarge.response.status).toBe(400);
    expect(tooLarge.error).toMatchObject({ code: 'BAD_USER_INPUT' });
    const unknown = await fetch(`${t.url}/v1/documents/${documentId}/campaigns?status=ACTIVE`, { headers: { authorization: `Bearer ${tokens.manager}` } });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ reason: 'UNKNOWN_PARAMETER', field: 'status' });
  });
});

describe('campaign lifecycle under /v1', () => {
  it('walks draft → active → paused → active → completed, each answer the campaign with its new ETag', async () => {
    const campaign = await startCampaign(await chattel('BEHIND'), { draft: true });
    expect(campaign.status).toBe('DRAFT');
    const path = { params: { path: { id: campaign.id } } };
    const walk = [
      ['activate', 'ACTIVE'],
      ['pause', 'PAUSED'],
      ['resume', 'ACTIVE'],
      ['complete', 'COMPLETED'],
    ] as const;
    let version = 1;
    for (const [action, status] of walk) {
      const { data, response } = await api(tokens.manager).POST(`/v1/campaigns/{id}/${action}`, path);
      expect(response.status, action).toBe(200);
      expect(data).toMatchObject({ id: campaign.id, status, version: ++version });
      expect(response.headers.get('etag')).toBe(`"${version}"`);
    }
    const completed = await api(tokens.manager).POST('/v1/campaigns/{id}/pause', path);
    expect(completed.response.status).toBe(409);
    expect(completed.error).toMatchObject({ code: 'CONFLICT', reason: 'INVALID_TRANSITION' });
  });

  it('refuses a member without rcm (403), an outsider (404) and no token (401), changing nothing', async () => {
    const campaign = await startCampaign(await chattel('BEHIND'));
    const path = { params: { path: { id: campaign.id } } };
    const forbidden = await api(tokens.noRcm).POST('/v1/campaigns/{id}/cancel', path);
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.response.headers.get('content-type')).toBe('application/problem+json');
    expect(forbidden.error).toMatchObject({ code: 'FORBIDDEN' });
    const hidden = await api(tokens.outsider).POST('/v1/campaigns/{id}/pause', path);
    expect(hidden.response.status).toBe(404);
    expect(hidden.error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await api().POST('/v1/campaigns/{id}/complete', path)).response.status).toBe(401);
    expect((await t.db.prisma.rcmCampaign.findUniqueOrThrow({ where: { id: campaign.id } })).status).toBe('ACTIVE');
  });

  it('cancels once: a retry with the same Idempotency-Key replays the answer instead of a 409', async () => {
    const campaign = await startCampaign(await chattel('BEHIND'));
    const cancel = () => api(tokens.manager).POST('/v1/campaigns/{id}/cancel', { params: { path: { id: campaign.id }, header: { 'Idempotency-Key': `cancel-${campaign.id}` } } });
    const first = await cancel();
    expect(first.response.status).toBe(200);
    expect(first.data).toMatchObject({ status: 'CANCELLED', version: 2 });
    const retry = await cancel();
    expect(retry.response.status).toBe(200);
    expect(retry.response.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.data).toEqual(first.data);
    const unkeyed = await api(tokens.manager).POST('/v1/campaigns/{id}/cancel', { params: { path: { id: campaign.id } } });
    expect(unkeyed.response.status).toBe(409);
  });
});

describe('outreach attempts under /v1', () => {
  it('logs an attempt on an active campaign: 201 with the attempt (no Location: it is read in its campaign’s list)', async () => {
    const campaign = await startCampaign(await chattel('BEHIND'));
    const { data, response } = await api(tokens.manager).POST('/v1/campaigns/{id}/attempts', {
      params: { path: { id: campaign.id } },
      body: { channel: 'EMAIL', status: 'SENT', notes: 'First notice mailed.', stepId: campaign.steps[0]!.id },
    });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({ channel: 'EMAIL', status: 'SENT', notes: 'First notice mailed.', attemptedAt: expect.any(String) });
    expect(response.headers.get('location')).toBeNull();
    expect(await t.db.prisma.rcmOutreachAttempt.count({ where: { campaignId: campaign.id } })).toBe(1);
    const second = await api(tokens.manager).POST('/v1/campaigns/{id}/attempts', { params: { path: { id: campaign.id } }, body: { channel: 'CALL', status: 'NO_RESPONSE' } });
    expect(second.response.status).toBe(201);

    const page = await api(tokens.noRcm).GET('/v1/campaigns/{id}/attempts', { params: { path: { id: campaign.id }, query: { first: 1 } } });
    expect(page.response.status).toBe(200);
    expect(page.data!.items).toEqual([second.data]);
    expect(page.response.headers.get('link')).toContain('rel="next"');
    const rest = await api(tokens.noRcm).GET('/v1/campaigns/{id}/attempts', { params: { path: { id: campaign.id }, query: { first: 1, after: page.data!.next! } } });
    expect(rest.data!.items).toEqual([data]);
    expect(rest.data!.next).toBeNull();
    const hidden = await api(tokens.outsider).GET('/v1/campaigns/{id}/attempts', { params: { path: { id: campaign.id } } });
    expect(hidden.response.status).toBe(404);
  });

  it('refuses a paused campaign (409), a future time (400), a member without rcm (403), an outsider (404) and no token (401)', async () => {
    const campaign = await startCampaign(await chattel('BEHIND'));
    const attempt = { channel: 'CALL' as const, status: 'NO_RESPONSE' as const };
    const at = (token: string | undefined, body: Record<string, unknown> = attempt) => api(token).POST('/v1/campaigns/{id}/attempts', { params: { path: { id: campaign.id } }, body: body as never });
    const future = await at(tokens.manager, { ...attempt, attemptedAt: '2999-01-01T00:00:00.000Z' });
    expect(future.response.status).toBe(400);
    expect(future.error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'attemptedAt' });
    const forbidden = await at(tokens.noRcm);
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.error).toMatchObject({ code: 'FORBIDDEN' });
    expect((await at(tokens.outsider)).response.status).toBe(404);
    expect((await at(undefined)).response.status).toBe(401);
    await api(tokens.manager).POST('/v1/campaigns/{id}/pause', { params: { path: { id: campaign.id } } });
    const paused = await at(tokens.manager);
    expect(paused.response.status).toBe(409);
    expect(paused.error).toMatchObject({ code: 'CONFLICT', reason: 'CAMPAIGN_NOT_ACTIVE' });
    expect(await t.db.prisma.rcmOutreachAttempt.count({ where: { campaignId: campaign.id } })).toBe(0);
  });
});

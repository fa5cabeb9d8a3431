import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActivateRcmCampaignDocument,
  ArchiveDocumentDocument,
  AttachLoanDocument,
  CampaignsOfDocumentDocument,
  CancelRcmCampaignDocument,
  DetachLoanDocument,
  DocumentsDocument,
  PauseRcmCampaignDocument,
  RecordOutreachAttemptDocument,
  RegisterChattelDocument,
  ResumeRcmCampaignDocument,
  StartRcmCampaignDocument,
  UpdateDocumentDocument,
  UpdateLoanDocument,
} from './generated/graphql.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { addMember, createOrganization, createUser, signInAs } from './support/factories.ts';

let t: TestApp;
let organizationId: string;
let athensId: string;
let maconId: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestApp({ countQueries: true });
  const db = t.db.prisma;
  const org = await createOrganization(db, { name: 'Docs Lending', permissions: ['documents', 'loans', 'rcm'] });
  organizationId = org.organization.id;
  athensId = org.location.id;
  maconId = (await db.location.create({ data: { organizationId, name: 'Macon' } })).id;
  const readOnly = await db.organizationRole.create({ data: { organizationId, name: 'Viewer', permissions: [] } });
  const other = await createOrganization(db, { name: 'Other Docs Lending' });
  const people = {
    manager: await createUser(db, { roles: ['MANAGER'] }),
    maconOnly: await createUser(db, { roles: ['MANAGER'] }),
    viewer: await createUser(db),
    outsider: await createUser(db, { roles: ['MANAGER'] }),
    admin: await createUser(db, { roles: ['ADMIN'] }),
  };
  await addMember(db, { userId: people.manager.id, organizationId, roleId: org.role.id });
  await addMember(db, { userId: people.maconOnly.id, organizationId, roleId: org.role.id, locationIds: [maconId] });
  await addMember(db, { userId: people.viewer.id, organizationId, roleId: readOnly.id });
  await addMember(db, { userId: people.outsider.id, organizationId: other.organization.id, roleId: other.role.id });
  for (const [name, user] of Object.entries(people)) tokens[name] = (await signInAs(t.app.services, user.id)).token;
});
afterAll(async () => {
  await t?.close();
});

const code = (body: { errors?: Array<{ extensions?: Record<string, unknown> }> }) => body.errors?.[0]?.extensions?.code ?? 'OK';
const reason = (body: { errors?: Array<{ extensions?: Record<string, unknown> }> }) => body.errors?.[0]?.extensions?.reason;

let serial = 0;
const chattel = (overrides: Record<string, unknown> = {}) => ({
  organizationId,
  locationId: athensId,
  manufacturer: 'Clayton',
  model: 'Tempo',
  year: 2020,
  serialNumber: `cl-${Date.now().toString(36)}-${++serial}`,
  hudLabelNumber: 'NTA100200',
  ownerName: 'Jordan Ellis',
  addressLine1: '48 Oak Street',
  city: 'Athens',
  state: 'ga',
  postalCode: '30601',
  ...overrides,
});

async function register(as = 'manager', overrides: Record<string, unknown> = {}) {
  const { body } = await t.graphql(RegisterChattelDocument, { input: chattel(overrides) as never }, { token: tokens[as] });
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data.registerChattel;
}

async function withLoan(status: 'CURRENT' | 'BEHIND') {
  const document = await register();
  const { body } = await t.graphql(AttachLoanDocument, { input: { documentId: document.id, loanNumber: `L-${document.serialNumber}`, borrowerName: 'Jordan Ellis', principal: '56000.00', balance: '38910.02', status } }, { token: tokens.manager });
  return { document, loan: body.data!.attachLoan };
}

const steps = [{ channel: 'EMAIL' as const, delayHours: 0, template: 'Your payment is past due.' }, { channel: 'CALL' as const, delayHours: 72, template: 'Call script.' }];

describe('registerChattel', () => {
  it('registers a chattel record, normalising the serial number and state', async () => {
    const document = await register();
    expect(document).toMatchObject({ status: 'ACTIVE', version: 1, state: 'GA', rcmEligibility: { eligible: false, reason: 'NO_LOAN_ATTACHED' } });
    expect(document.serialNumber).toBe(document.serialNumber.toUpperCase());
    expect(await t.db.prisma.activity.count({ where: { type: 'document.registered', documentId: document.id } })).toBe(1);
  });

  it('refuses a member whose role lacks documents (FORBIDDEN), and another organization (NOT_FOUND)', async () => {
    expect(code((await t.graphql(RegisterChattelDocument, { input: chattel() as never }, { token: tokens.viewer })).body)).toBe('FORBIDDEN');
    expect(code((await t.graphql(RegisterChattelDocument, { input: chattel() as never }, { token: tokens.outsider })).body)).toBe('NOT_FOUND');
  });

  it('keeps a location-scoped member to their locations', async () => {
    expect(code((await t.graphql(RegisterChattelDocument, { input: chattel({ locationId: athensId }) as never }, { token: tokens.maconOnly })).body)).toBe('FORBIDDEN');
    expect((await register('maconOnly', { locationId: maconId })).status).toBe('ACTIVE');
  });

  it('validates input with the field at fault, and writes nothing', async () => {
    const before = await t.db.prisma.document.count();
    for (const [field, value] of [['state', 'Georgia'], ['postalCode', '3060'], ['year', 1800], ['serialNumber', '!'], ['ownerName', '  ']] as const) {
      const { body } = await t.graphql(RegisterChattelDocument, { input: chattel({ [field]: value }) as never }, { token: tokens.manager });
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(await t.db.prisma.document.count()).toBe(before);
  });
});

describe('documents connection', () => {
  it('lists only what the viewer may read, filters, searches and pages', async () => {
    const target = await register('manager', { ownerName: 'Quinn Searchable' });
    await register('maconOnly', { locationId: maconId, ownerName: 'Macon Owner' });
    const all = (await t.graphql(DocumentsDocument, { first: 100 }, { token: tokens.manager })).body.data!.documents.edges;
    expect(all.length).toBeGreaterThanOrEqual(2);
    const maconView = (await t.graphql(DocumentsDocument, { first: 100 }, { token: tokens.maconOnly })).body.data!.documents.edges;
    expect(maconView.every((e) => e.node.location?.id === maconId)).toBe(true);
    // Without the signing permission, packages are simply not shown (the no-N+1 test below shows them with it).
    expect(maconView.every((e) => e.node.signingPackages === null)).toBe(true);
    expect((await t.graphql(DocumentsDocument, { first: 100 }, { token: tokens.outsider })).body.data!.documents.edges).toEqual([]);

    const search = (await t.graphql(DocumentsDocument, { filter: { search: 'quinn search' } }, { token: tokens.manager })).body.data!.documents.edges;
    expect(search.map((e) => e.node.id)).toEqual([target.id]);
    const bySerial = (await t.graphql(DocumentsDocument, { filter: { search: target.serialNumber.toLowerCase() } }, { token: tokens.manager })).body.data!.documents.edges;
    expect(bySerial.map((e) => e.node.id)).toEqual([target.id]);

    const page1 = (await t.graphql(DocumentsDocument, { first: 1 }, { token: tokens.manager })).body.data!.documents;
    expect(page1.edges).toHaveLength(1);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await t.graphql(DocumentsDocument, { first: 1, after: page1.pageInfo.endCursor }, { token: tokens.manager })).body.data!.documents;
    expect(page2.edges[0]!.node.id).not.toBe(page1.edges[0]!.node.id);
  });

  it('searches literally: % and _ (and the escape character) match only records that hold them', async () => {
    const ids = async (search: string) =>
      (await t.graphql(DocumentsDocument, { first: 100, filter: { search } }, { token: tokens.manager })).body.data!.documents.edges.map((e) => e.node.id).sort();
    const percent = await register('manager', { ownerName: 'Zeta 100% Holdings' });
    const underscore = await register('manager', { ownerName: 'Zeta_Under Trust' });
    const backslash = await register('manager', { ownerName: 'Zeta\\Back Estate' });
    const plain = await register('manager', { ownerName: 'Zeta Plain Owner' });
    // The allowed case: an ordinary search still matches, case-insensitively.
    expect(await ids('zeta')).toEqual([percent.id, underscore.id, backslash.id, plain.id].sort());
    // Wildcards would match every record; literally, each matches the one record that holds it.
    expect(await ids('_')).toEqual([underscore.id]);
    expect(await ids('%')).toEqual([percent.id]);
    expect(await ids('0%')).toEqual([percent.id]);
    expect(await ids('\\')).toEqual([backslash.id]);
    expect(await ids('zeta_')).toEqual([underscore.id]);
    expect(await ids('%zeta%')).toEqual([]);
    expect(await ids('z_ta')).toEqual([]);
  });

  it('filters by loan status and location', async () => {
    const { document } = await withLoan('BEHIND');
    const behind = (await t.graphql(DocumentsDocument, { first: 100, filter: { loanStatus: 'BEHIND', locationId: athensId } }, { token: tokens.manager })).body.data!.documents.edges;
    expect(behind.map((e) => e.node.id)).toContain(document.id);
    expect(behind.every((e) => e.node.loan?.status === 'BEHIND')).toBe(true);
  });

  it('answers an empty list as an empty list', async () => {
    const { body } = await t.graphql(DocumentsDocument, { filter: { search: 'no-such-thing-anywhere' } }, { token: tokens.manager });
    expect(body).toEqual({ data: { documents: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } } } });
  });
});

describe('updating documents', () => {
  it('updates with the current version and refuses a stale one (CONFLICT), keeping the first write', async () => {
    const document = await register();
    const first = await t.graphql(UpdateDocumentDocument, { input: { id: document.id, version: 1, ownerName: 'First Editor' } }, { token: tokens.manager });
    expect(first.body.data?.updateDocument).toMatchObject({ ownerName: 'First Editor', version: 2 });
    const second = await t.graphql(UpdateDocumentDocument, { input: { id: document.id, version: 1, ownerName: 'Second Editor' } }, { token: tokens.manager });
    expect(second.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'STALE_VERSION' });
    expect((await t.db.prisma.document.findUniqueOrThrow({ where: { id: document.id } })).ownerName).toBe('First Editor');
  });

  it('lets a reader without documents see but not change (FORBIDDEN), and hides it from outsiders', async () => {
    const document = await register();
    expect(code((await t.graphql(UpdateDocumentDocument, { input: { id: document.id, version: 1, ownerName: 'x' } }, { token: tokens.viewer })).body)).toBe('FORBIDDEN');
    expect(code((await t.graphql(UpdateDocumentDocument, { input: { id: document.id, version: 1, ownerName: 'x' } }, { token: tokens.outsider })).body)).toBe('NOT_FOUND');
    expect(code((await t.graphql(UpdateDocumentDocument, { input: { id: document.id, version: 1, ownerName: 'x' } }, { token: tokens.admin })).body)).toBe('FORBIDDEN');
  });

  it('archives, hiding the record from the default list', async () => {
    const document = await register();
    const archived = await t.graphql(ArchiveDocumentDocument, { id: document.id, version: 1 }, { token: tokens.manager });
    expect(archived.body.data?.archiveDocument).toMatchObject({ status: 'ARCHIVED', version: 2 });
    const listed = (await t.graphql(DocumentsDocument, { first: 100 }, { token: tokens.manager })).body.data!.documents.edges.map((e) => e.node.id);
    expect(listed).not.toContain(document.id);
    const archivedList = (await t.graphql(DocumentsDocument, { first: 100, filter: { status: 'ARCHIVED' } }, { token: tokens.manager })).body.data!.documents.edges.map((e) => e.node.id);
    expect(archivedList).toContain(document.id);
  });
});

describe('loans', () => {
  it('attaches one loan with exact decimals; a second is a CONFLICT; a viewer is FORBIDDEN', async () => {
    const { document, loan } = await withLoan('CURRENT');
    expect(loan).toMatchObject({ status: 'CURRENT', principal: '56000', balance: '38910.02' });
    const again = await t.graphql(AttachLoanDocument, { input: { documentId: document.id, loanNumber: 'L-2', borrowerName: 'x', principal: '1.00', balance: '1.00' } }, { token: tokens.manager });
    expect(reason(again.body)).toBe('LOAN_ALREADY_ATTACHED');
    const other = await register();
    expect(code((await t.graphql(AttachLoanDocument, { input: { documentId: other.id, loanNumber: 'L-V', borrowerName: 'x', principal: '1.00', balance: '1.00' } }, { token: tokens.viewer })).body)).toBe('FORBIDDEN');
    expect(code((await t.graphql(AttachLoanDocument, { input: { documentId: other.id, loanNumber: 'L-O', borrowerName: 'x', principal: '-1.00', balance: '1.00' } }, { token: tokens.manager })).body)).toBe('BAD_USER_INPUT');
  });

  it('updates with optimistic concurrency and detaches', async () => {
    const { loan } = await withLoan('CURRENT');
    const updated = await t.graphql(UpdateLoanDocument, { input: { id: loan.id, version: 1, balance: '100.10', status: 'BEHIND' } }, { token: tokens.manager });
    expect(updated.body.data?.updateLoan).toMatchObject({ balance: '100.1', status: 'BEHIND', version: 2 });
    expect(reason((await t.graphql(UpdateLoanDocument, { input: { id: loan.id, version: 1, balance: '1.00' } }, { token: tokens.manager })).body)).toBe('STALE_VERSION');
    expect(code((await t.graphql(DetachLoanDocument, { id: loan.id }, { token: tokens.outsider })).body)).toBe('NOT_FOUND');
    expect((await t.graphql(DetachLoanDocument, { id: loan.id }, { token: tokens.manager })).body.data?.detachLoan).toBe(true);
    const stored = await t.db.prisma.loan.findUniqueOrThrow({ where: { id: loan.id } });
    expect(stored.documentId).toBeNull();
    expect(stored.detachedAt).not.toBeNull();
  });
});

describe('RCM campaigns', () => {
  it('starts only when the attached loan is BEHIND, with a distinct reason otherwise', async () => {
    const bare = await register();
    const noLoan = await t.graphql(StartRcmCampaignDocument, { input: { documentId: bare.id, steps } }, { token: tokens.manager });
    expect(noLoan.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NO_LOAN_ATTACHED' });
    const { document: current } = await withLoan('CURRENT');
    const notBehind = await t.graphql(StartRcmCampaignDocument, { input: { documentId: current.id, steps } }, { token: tokens.manager });
    expect(notBehind.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'LOAN_NOT_BEHIND' });

    const { document } = await withLoan('BEHIND');
    const started = await t.graphql(StartRcmCampaignDocument, { input: { documentId: document.id, steps } }, { token: tokens.manager });
    expect(started.body.data?.startRcmCampaign).toMatchObject({ status: 'ACTIVE', steps: [{ position: 1, channel: 'EMAIL' }, { position: 2, channel: 'CALL' }] });
    const second = await t.graphql(StartRcmCampaignDocument, { input: { documentId: document.id, steps } }, { token: tokens.manager });
    expect(reason(second.body)).toBe('CAMPAIGN_ALREADY_OPEN');
  });

  it('refuses a member without rcm (FORBIDDEN) and an outsider (NOT_FOUND)', async () => {
    const { document } = await withLoan('BEHIND');
    expect(code((await t.graphql(StartRcmCampaignDocument, { input: { documentId: document.id, steps } }, { token: tokens.viewer })).body)).toBe('FORBIDDEN');
    expect(code((await t.graphql(StartRcmCampaignDocument, { input: { documentId: document.id, steps } }, { token: tokens.outsider })).body)).toBe('NOT_FOUND');
  });

  it('walks the lifecycle, logs outreach, and refuses invalid transitions', async () => {
    const { document } = await withLoan('BEHIND');
    const draft = (await t.graphql(StartRcmCampaignDocument, { input: { documentId: document.id, steps, draft: true } }, { token: tokens.manager })).body.data!.startRcmCampaign;
    expect(draft.status).toBe('DRAFT');
    expect(reason((await t.graphql(RecordOutreachAttemptDocument, { input: { campaignId: draft.id, channel: 'EMAIL', status: 'SENT' } }, { token: tokens.manager })).body)).toBe('CAMPAIGN_NOT_ACTIVE');
    expect((await t.graphql(ActivateRcmCampaignDocument, { id: draft.id }, { token: tokens.manager })).body.data?.activateRcmCampaign.status).toBe('ACTIVE');
    expect((await t.graphql(RecordOutreachAttemptDocument, { input: { campaignId: draft.id, channel: 'EMAIL', status: 'DELIVERED', notes: 'Opened' } }, { token: tokens.manager })).body.data?.recordOutreachAttempt).toMatchObject({ channel: 'EMAIL', status: 'DELIVERED' });
    expect((await t.graphql(PauseRcmCampaignDocument, { id: draft.id }, { token: tokens.manager })).body.data?.pauseRcmCampaign.status).toBe('PAUSED');
    expect(reason((await t.graphql(PauseRcmCampaignDocument, { id: draft.id }, { token: tokens.manager })).body)).toBe('INVALID_TRANSITION');
    expect((await t.graphql(ResumeRcmCampaignDocument, { id: draft.id }, { token: tokens.manager })).body.data?.resumeRcmCampaign.status).toBe('ACTIVE');
    expect((await t.graphql(CancelRcmCampaignDocument, { id: draft.id }, { token: tokens.manager })).body.data?.cancelRcmCampaign.status).toBe('CANCELLED');
    expect(reason((await t.graphql(ResumeRcmCampaignDocument, { id: draft.id }, { token: tokens.manager })).body)).toBe('INVALID_TRANSITION');
    const campaigns = (await t.graphql(CampaignsOfDocumentDocument, { id: document.id }, { token: tokens.manager })).body.data!.document.campaigns;
    expect(campaigns[0]!.attempts).toEqual([{ channel: 'EMAIL', status: 'DELIVERED' }]);
  });

  it('completes by itself when the loan stops being BEHIND', async () => {
    const { document, loan } = await withLoan('BEHIND');
    await t.graphql(StartRcmCampaignDocument, { input: { documentId: document.id, steps } }, { token: tokens.manager });
    await t.graphql(UpdateLoanDocument, { input: { id: loan.id, version: 1, status: 'CURRENT' } }, { token: tokens.manager });
    const [campaign] = (await t.graphql(CampaignsOfDocumentDocument, { id: document.id }, { token: tokens.manager })).body.data!.document.campaigns;
    expect(campaign).toMatchObject({ status: 'COMPLETED', completionReason: 'LOAN_NO_LONGER_BEHIND' });
  });
});

describe('no N+1', () => {
  it('lists 1, 10 and 100 documents with loans, campaigns and signing packages in the same number of SQL statements', async () => {
    const db = t.db.prisma;
    const org = await createOrganization(db, { name: 'Counting Lending' });
    const user = await createUser(db);
    await addMember(db, { userId: user.id, organizationId: org.organization.id, roleId: org.role.id });
    const { token } = await signInAs(t.app.services, user.id);
    for (let i = 0; i < 100; i++) {
      const document = await db.document.create({
        data: { organizationId: org.organization.id, manufacturer: 'M', serialNumber: `N1-${i}`, ownerName: `Owner ${i}`, addressLine1: 'a', city: 'c', state: 'GA', postalCode: '30601' },
      });
      const loan = await db.loan.create({ data: { organizationId: org.organization.id, documentId: document.id, loanNumber: `N1-${i}`, borrowerName: 'b', principal: '1.00', balance: '1.00', status: 'BEHIND' } });
      await db.rcmCampaign.create({ data: { organizationId: org.organization.id, documentId: document.id, loanId: loan.id, name: 'c', status: 'ACTIVE', steps: { create: [{ position: 1, channel: 'EMAIL', template: 't' }] } } });
      await db.signingPackage.create({
        data: {
          organizationId: org.organization.id,
          title: `p${i}`,
          status: 'SENT',
          documents: { create: [{ documentId: document.id, position: 1 }] },
          signers: { create: [{ order: 1, email: `s${i}@example.test`, name: 'S' }] },
        },
      });
    }
    const counts: number[] = [];
    for (const first of [1, 10, 100]) {
      t.queries.length = 0;
      const { body } = await t.graphql(DocumentsDocument, { first, filter: { organizationId: org.organization.id } }, { token });
      expect(body.data?.documents.edges).toHaveLength(first);
      expect(
        body.data?.documents.edges.every(
          (e) => e.node.loan && e.node.campaigns.length === 1 && e.node.campaigns[0]!.steps.length === 1 && e.node.signingPackages?.[0]?.signers.length === 1,
        ),
      ).toBe(true);
      counts.push(t.queries.length);
    }
    expect(new Set(counts).size).toBe(1);
  });
});

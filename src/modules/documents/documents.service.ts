import type { Prisma } from '../../generated/prisma/client.ts';
import type { CollateralKind, DocumentStatus, LoanStatus } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { EMAIL, EMAIL_MAX_LENGTH, integerInRange, likeLiteral, optionalText, text } from '../../lib/validate.ts';
import { recordActivity } from '../activity/activity.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { assertMayWriteIn, readableDocumentsWhere, writableDocumentsWhere } from './documents.policy.ts';

type DocumentQuery = { include?: Prisma.DocumentInclude; select?: Prisma.DocumentSelect };

export interface GetDocumentByIdOptions<Q> {
  viewer: Viewer;
  id: string;
  /** The selection the caller needs (GraphQL passes the Pothos query so relations load in one go). */
  query?: Q;
}

export async function getDocumentById<Q extends DocumentQuery>(services: Pick<Services, 'db'>, options: GetDocumentByIdOptions<Q>) {
  const id = parseId(options.id);
  const document = await services.db.document.findFirst({
    ...(options.query ?? {}),
    where: { AND: [{ id }, readableDocumentsWhere(options.viewer)] },
  });
  if (!document) throw new AppError('NOT_FOUND', 'Document not found.');
  return document;
}

export interface DocumentFilter {
  organizationId?: string | null;
  status?: DocumentStatus | null;
  locationId?: string | null;
  loanStatus?: LoanStatus | null;
  /** Matches the serial number or the owner's name, case-insensitively; every character literally (`%` and `_` too). */
  search?: string | null;
}

/** The `where` of the documents list: what the viewer may read, narrowed by the filter. */
export function documentsWhere(viewer: Viewer, filter: DocumentFilter = {}): Prisma.DocumentWhereInput {
  const and: Prisma.DocumentWhereInput[] = [readableDocumentsWhere(viewer)];
  if (filter.organizationId) and.push({ organizationId: parseId(filter.organizationId, 'organizationId') });
  if (filter.locationId) and.push({ locationId: parseId(filter.locationId, 'locationId') });
  if (filter.status) and.push({ status: filter.status });
  else and.push({ status: { not: 'ARCHIVED' } });
  if (filter.loanStatus) and.push({ loan: { is: { status: filter.loanStatus } } });
  const search = optionalText(filter.search, 'search', { max: 100 });
  if (search) {
    const literal = likeLiteral(search);
    and.push({ OR: [{ serialNumber: { contains: literal, mode: 'insensitive' } }, { ownerName: { contains: literal, mode: 'insensitive' } }] });
  }
  return { AND: and };
}

/** A page of documents, newest first; `query` carries Pothos's take/cursor/skip and nested selections. */
export function listDocuments<Q extends DocumentQuery>(services: Pick<Services, 'db'>, options: { viewer: Viewer; filter?: DocumentFilter; query: Q }) {
  return services.db.document.findMany({ ...options.query, where: documentsWhere(options.viewer, options.filter), orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
}

export interface ChattelFields {
  collateralKind?: CollateralKind | null;
  manufacturer: string;
  model?: string | null;
  year?: number | null;
  serialNumber: string;
  hudLabelNumber?: string | null;
  titleNumber?: string | null;
  ownerName: string;
  ownerEmail?: string | null;
  ownerPhone?: string | null;
  addressLine1: string;
  addressLine2?: string | null;
  city: string;
  state: string;
  postalCode: string;
  county?: string | null;
}

const SERIAL = /^[A-Za-z0-9][A-Za-z0-9 -]{1,39}$/;

/**
 * The chattel fields as they are stored, each checked (length, control characters, format) and normalised, or a
 * BAD_USER_INPUT naming the field: the rules of registerChattel and updateDocument, and of each CSV import row.
 */
export function chattelData(input: Partial<ChattelFields>, now: Date): Partial<Prisma.DocumentUncheckedCreateInput> {
  const data: Partial<Prisma.DocumentUncheckedCreateInput> = {};
  if (input.collateralKind) data.collateralKind = input.collateralKind;
  if (input.manufacturer !== undefined) data.manufacturer = text(input.manufacturer, 'manufacturer', { max: 120 });
  if (input.model !== undefined) data.model = optionalText(input.model, 'model', { max: 120 });
  if (input.year !== undefined) data.year = input.year === null ? null : integerInRange(input.year, 'year', 1900, now.getUTCFullYear() + 1);
  if (input.serialNumber !== undefined) {
    data.serialNumber = text(input.serialNumber, 'serialNumber', { max: 40, pattern: SERIAL, hint: 'serialNumber must be 2 to 40 letters, digits, spaces or dashes.' }).toUpperCase();
  }
  if (input.hudLabelNumber !== undefined) data.hudLabelNumber = optionalText(input.hudLabelNumber, 'hudLabelNumber', { max: 40 });
  if (input.titleNumber !== undefined) data.titleNumber = optionalText(input.titleNumber, 'titleNumber', { max: 40 });
  if (input.ownerName !== undefined) data.ownerName = text(input.ownerName, 'ownerName', { max: 200 });
  if (input.ownerEmail !== undefined) data.ownerEmail = optionalText(input.ownerEmail, 'ownerEmail', { max: EMAIL_MAX_LENGTH, pattern: EMAIL, hint: 'ownerEmail must be an email address.' })?.toLowerCase() ?? null;
  if (input.ownerPhone !== undefined) data.ownerPhone = optionalText(input.ownerPhone, 'ownerPhone', { max: 30, pattern: /^[+0-9 ().-]{7,30}$/, hint: 'ownerPhone must be a phone number.' });
  if (input.addressLine1 !== undefined) data.addressLine1 = text(input.addressLine1, 'addressLine1', { max: 200 });
  if (input.addressLine2 !== undefined) data.addressLine2 = optionalText(input.addressLine2, 'addressLine2', { max: 200 });
  if (input.city !== undefined) data.city = text(input.city, 'city', { max: 100 });
  if (input.state !== undefined) data.state = text(input.state, 'state', { max: 2, min: 2, pattern: /^[A-Za-z]{2}$/, hint: 'state must be a two-letter code such as GA.' }).toUpperCase();
  if (input.postalCode !== undefined) data.postalCode = text(input.postalCode, 'postalCode', { max: 10, pattern: /^\d{5}(-\d{4})?$/, hint: 'postalCode must be a ZIP code such as 30601 or 30601-1234.' });
  if (input.county !== undefined) data.county = optionalText(input.county, 'county', { max: 100 });
  return data;
}

/** "Register chattel": a new chattel record in an organization (and location) where the viewer has `documents`. */
export async function registerChattel<Q extends DocumentQuery>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; organizationId: string; locationId?: string | null; fields: ChattelFields; query?: Q },
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  const locationId = input.locationId ? parseId(input.locationId, 'locationId') : null;
  await assertMayWriteIn(input.viewer, { organizationId, locationId, permission: 'documents' });
  if (locationId && !(await services.db.location.findFirst({ where: { id: locationId, organizationId }, select: { id: true } }))) {
    throw new AppError('BAD_USER_INPUT', 'That location is not in this organization.', { field: 'locationId' });
  }
  const now = services.clock.now();
  const data = chattelData(input.fields, now) as Prisma.DocumentUncheckedCreateInput;
  const document = await services.db.$transaction(async (tx) => {
    const created = await tx.document.create({ data: { ...data, organizationId, locationId, status: 'ACTIVE', createdById: input.viewer.userId, createdAt: now }, select: { id: true } });
    await recordActivity(tx, { type: 'document.registered', actorUserId: input.viewer.userId, organizationId, documentId: created.id, ip: input.client.ip, userAgent: input.client.userAgent, data: { serialNumber: data.serialNumber } });
    return created;
  });
  return services.db.document.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: document.id } });
}

/**
 * Updates a chattel record if nobody changed it since the viewer read `version`; otherwise CONFLICT, so two
 * editors cannot silently overwrite each other.
 */
export async function updateDocument<Q extends DocumentQuery>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; id: string; version: number; fields: Partial<ChattelFields>; archive?: boolean; query?: Q },
) {
  const id = parseId(input.id);
  const now = services.clock.now();
  const data = chattelData(input.fields, now);
  const writable = await writableDocumentsWhere(input.viewer, 'documents');
  await services.db.$transaction(async (tx) => {
    const current = await tx.document.findFirst({ where: { AND: [{ id }, readableDocumentsWhere(input.viewer)] }, select: { id: true, organizationId: true, status: true } });
    if (!current) throw new AppError('NOT_FOUND', 'Document not found.');
    if (current.status === 'ARCHIVED') throw new AppError('CONFLICT', 'Archived documents cannot be changed.', { reason: 'ARCHIVED' });
    const archive = input.archive ? { status: 'ARCHIVED' as const, archivedAt: now } : {};
    const { count } = await tx.document.updateMany({
      where: { AND: [{ id, version: input.version }, writable] },
      data: { ...data, ...archive, version: { increment: 1 } },
    });
    if (count === 0) {
      const mayWrite = await tx.document.count({ where: { AND: [{ id }, writable] } });
      if (!mayWrite) throw new AppError('FORBIDDEN', 'Your role lacks the documents permission for this record.');
      throw new AppError('CONFLICT', 'Someone changed this document since you loaded it. Reload and apply your change again.', { reason: 'STALE_VERSION', field: 'version' });
    }
    await recordActivity(tx, {
      type: input.archive ? 'document.archived' : 'document.updated',
      actorUserId: input.viewer.userId,
      organizationId: current.organizationId,
      documentId: id,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { fields: Object.keys(data), version: input.version + 1 },
    });
  });
  return services.db.document.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

export type RcmIneligibility = 'NO_LOAN_ATTACHED' | 'LOAN_NOT_BEHIND';

/** RCM outreach is only for a document whose attached loan is BEHIND. */
export function rcmEligibility(loan: { status: LoanStatus } | null): { eligible: boolean; reason: RcmIneligibility | null } {
  if (!loan) return { eligible: false, reason: 'NO_LOAN_ATTACHED' };
  if (loan.status !== 'BEHIND') return { eligible: false, reason: 'LOAN_NOT_BEHIND' };
  return { eligible: true, reason: null };
}

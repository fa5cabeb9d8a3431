import { builder } from '../../graphql/builder.ts';
import { CREATION_ORDER, PAGE_SIZES } from '../../graphql/connections.ts';
import { parseId } from '../../lib/ids.ts';
import type { ActivityEvent } from '../../realtime/event-bus.ts';
import { authorizedActivity } from '../../realtime/subscribe.ts';
import { LoanStatusEnum } from '../loans/loans.schema.ts';
import './documents.import.schema.ts';
import {
  getDocumentById,
  listDocuments,
  rcmEligibility,
  registerChattel,
  updateDocument,
  type ChattelFields,
} from './documents.service.ts';

export const DocumentStatusEnum = builder.enumType('DocumentStatus', {
  values: ['DRAFT', 'ACTIVE', 'RELEASED', 'ARCHIVED'] as const,
});
export const CollateralKindEnum = builder.enumType('CollateralKind', {
  values: ['MANUFACTURED_HOME', 'VEHICLE', 'EQUIPMENT', 'OTHER'] as const,
});
const RcmIneligibilityEnum = builder.enumType('RcmIneligibility', {
  values: {
    NO_LOAN_ATTACHED: { description: 'No loan is attached to the document.' },
    LOAN_NOT_BEHIND: { description: 'The attached loan is not BEHIND.' },
  },
});

const RcmCampaignOrderEnum = builder.enumType('RcmCampaignOrder', { values: CREATION_ORDER });

const RcmEligibility = builder.objectRef<{ eligible: boolean; reason: 'NO_LOAN_ATTACHED' | 'LOAN_NOT_BEHIND' | null }>('RcmEligibility').implement({
  description: 'Whether "Start RCM campaign" is available, and why not.',
  fields: (t) => ({
    eligible: t.exposeBoolean('eligible'),
    reason: t.field({ type: RcmIneligibilityEnum, nullable: true, resolve: (e) => e.reason }),
  }),
});

builder.prismaObject('Document', {
  description: 'A chattel record: a manufactured home or other titled personal property, its owner and address.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: DocumentStatusEnum }),
    collateralKind: t.expose('collateralKind', { type: CollateralKindEnum }),
    manufacturer: t.exposeString('manufacturer'),
    model: t.exposeString('model', { nullable: true }),
    year: t.exposeInt('year', { nullable: true }),
    serialNumber: t.exposeString('serialNumber', { description: 'Serial number or VIN.' }),
    hudLabelNumber: t.exposeString('hudLabelNumber', { nullable: true }),
    titleNumber: t.exposeString('titleNumber', { nullable: true }),
    ownerName: t.exposeString('ownerName', { description: 'The owner or debtor.' }),
    ownerEmail: t.exposeString('ownerEmail', { nullable: true }),
    ownerPhone: t.exposeString('ownerPhone', { nullable: true }),
    addressLine1: t.exposeString('addressLine1'),
    addressLine2: t.exposeString('addressLine2', { nullable: true }),
    city: t.exposeString('city'),
    state: t.exposeString('state'),
    postalCode: t.exposeString('postalCode'),
    county: t.exposeString('county', { nullable: true }),
    version: t.exposeInt('version', { description: 'Send it back with an update; a stale version is a CONFLICT.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true }),
    organization: t.relation('organization'),
    location: t.relation('location', { nullable: true }),
    loan: t.relation('loan', { nullable: true }),
    campaigns: t.relation('campaigns', { deprecationReason: 'Use campaignsConnection.', query: { orderBy: { createdAt: 'desc' } } }),
    campaignsConnection: t.relatedConnection(
      'campaigns',
      {
        cursor: 'id',
        ...PAGE_SIZES,
        totalCount: true,
        description: 'RCM campaigns on this document, a page at a time.',
        args: { orderBy: t.arg({ type: RcmCampaignOrderEnum, required: false, defaultValue: 'NEWEST_FIRST' }) },
        query: (args) => ({ orderBy: { id: args.orderBy === 'OLDEST_FIRST' ? ('asc' as const) : ('desc' as const) } }),
      },
      { name: 'DocumentCampaignsConnection' },
    ),
    rcmEligibility: t.field({
      type: RcmEligibility,
      select: { loan: { select: { status: true } } },
      resolve: (document) => rcmEligibility(document.loan),
    }),
  }),
});

const AddressFields = {
  addressLine1: true,
  addressLine2: false,
  city: true,
  state: true,
  postalCode: true,
  county: false,
} as const;

const RegisterChattelInput = builder.inputType('RegisterChattelInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    locationId: t.id({ required: false }),
    collateralKind: t.field({ type: CollateralKindEnum, required: false, description: 'Default MANUFACTURED_HOME.' }),
    manufacturer: t.string({ required: true }),
    model: t.string({ required: false }),
    year: t.int({ required: false }),
    serialNumber: t.string({ required: true, description: 'Serial number or VIN; stored upper-case.' }),
    hudLabelNumber: t.string({ required: false }),
    titleNumber: t.string({ required: false }),
    ownerName: t.string({ required: true }),
    ownerEmail: t.string({ required: false }),
    ownerPhone: t.string({ required: false }),
    ...Object.fromEntries(Object.entries(AddressFields).map(([name, required]) => [name, t.string({ required })])),
  }),
});

const UpdateDocumentInput = builder.inputType('UpdateDocumentInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    version: t.int({ required: true, description: 'The version you read; a stale one is a CONFLICT.' }),
    collateralKind: t.field({ type: CollateralKindEnum, required: false }),
    manufacturer: t.string({ required: false }),
    model: t.string({ required: false }),
    year: t.int({ required: false }),
    serialNumber: t.string({ required: false }),
    hudLabelNumber: t.string({ required: false }),
    titleNumber: t.string({ required: false }),
    ownerName: t.string({ required: false }),
    ownerEmail: t.string({ required: false }),
    ownerPhone: t.string({ required: false }),
    ...Object.fromEntries(Object.keys(AddressFields).map((name) => [name, t.string({ required: false })])),
  }),
});

const DocumentFilterInput = builder.inputType('DocumentFilter', {
  fields: (t) => ({
    organizationId: t.id({ required: false }),
    locationId: t.id({ required: false }),
    status: t.field({ type: DocumentStatusEnum, required: false, description: 'Default: every status but ARCHIVED.' }),
    loanStatus: t.field({ type: LoanStatusEnum, required: false }),
    search: t.string({ required: false, description: 'Part of a serial number or owner name, any case.' }),
  }),
});

/** GraphQL leaves omitted optional fields undefined and explicit nulls null; services treat undefined as "unchanged". */
function fieldsOf(input: Record<string, unknown>): Partial<ChattelFields> {
  const { id: _id, version: _version, organizationId: _org, locationId: _loc, ...rest } = input;
  return Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)) as Partial<ChattelFields>;
}

builder.queryFields((t) => ({
  document: t.withAuth({ signedIn: true }).prismaField({
    type: 'Document',
    description: 'One chattel record. A record outside your organizations and locations is NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => getDocumentById(context.services, { viewer: context.viewer, id: String(args.id), query }),
  }),
  documents: t.withAuth({ signedIn: true }).prismaConnection({
    type: 'Document',
    cursor: 'id',
    ...PAGE_SIZES,
    description: 'Chattel records you may read, newest first. An empty list means none are registered yet.',
    args: { filter: t.arg({ type: DocumentFilterInput, required: false }) },
    resolve: (query, _root, args, context) =>
      listDocuments(context.services, {
        viewer: context.viewer,
        query,
        filter: args.filter ? { ...args.filter, organizationId: args.filter.organizationId ? String(args.filter.organizationId) : null, locationId: args.filter.locationId ? String(args.filter.locationId) : null } : {},
      }),
  }),
}));

builder.mutationFields((t) => ({
  registerChattel: t.withAuth({ signedIn: true }).prismaField({
    type: 'Document',
    description: '"Register chattel": needs the documents permission in the organization (and location).',
    args: { input: t.arg({ type: RegisterChattelInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      registerChattel(context.services, {
        viewer: context.viewer,
        client: context.client,
        organizationId: String(input.organizationId),
        locationId: input.locationId ? String(input.locationId) : null,
        fields: fieldsOf(input) as ChattelFields,
        query,
      }),
  }),
  updateDocument: t.withAuth({ signedIn: true }).prismaField({
    type: 'Document',
    args: { input: t.arg({ type: UpdateDocumentInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      updateDocument(context.services, { viewer: context.viewer, client: context.client, id: String(input.id), version: input.version, fields: fieldsOf(input), query }),
  }),
  archiveDocument: t.withAuth({ signedIn: true }).prismaField({
    type: 'Document',
    description: 'Archives a chattel record (hidden from the default list; kept for history).',
    args: { id: t.arg.id({ required: true }), version: t.arg.int({ required: true }) },
    resolve: (query, _root, args, context) =>
      updateDocument(context.services, { viewer: context.viewer, client: context.client, id: String(args.id), version: args.version, fields: {}, archive: true, query }),
  }),
}));

builder.subscriptionField('documentUpdated', (t) =>
  t.withAuth({ signedIn: true }).prismaField({
    type: 'Document',
    description: 'The document, each time something happens to it (and you may still read it).',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, args, context) => {
      const id = parseId(String(args.id));
      return authorizedActivity(
        context,
        (event) => event.documentId === id,
        () => getDocumentById(context.services, { viewer: context.viewer, id }).then(() => true, () => false),
      );
    },
    resolve: (query, event, _args, context) => getDocumentById(context.services, { viewer: context.viewer, id: (event as ActivityEvent).documentId!, query }),
  }),
);

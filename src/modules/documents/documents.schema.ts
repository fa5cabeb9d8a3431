import { builder } from '../../graphql/builder.ts';
import { getDocumentById } from './documents.service.ts';

export const DocumentStatus = builder.enumType('DocumentStatus', {
  values: ['DRAFT', 'ACTIVE', 'RELEASED', 'ARCHIVED'] as const,
});
export const CollateralKind = builder.enumType('CollateralKind', {
  values: ['MANUFACTURED_HOME', 'VEHICLE', 'EQUIPMENT', 'OTHER'] as const,
});
export const LoanStatus = builder.enumType('LoanStatus', {
  values: ['CURRENT', 'BEHIND', 'DEFAULT', 'PAID_OFF', 'CHARGED_OFF'] as const,
});

builder.prismaObject('Loan', {
  fields: (t) => ({
    id: t.exposeID('id'),
    loanNumber: t.exposeString('loanNumber'),
    borrowerName: t.exposeString('borrowerName'),
    status: t.expose('status', { type: LoanStatus }),
    currency: t.exposeString('currency'),
    principal: t.expose('principal', { type: 'Decimal' }),
    balance: t.expose('balance', { type: 'Decimal' }),
    pastDueAmount: t.expose('pastDueAmount', { type: 'Decimal' }),
    daysPastDue: t.exposeInt('daysPastDue'),
    nextPaymentOn: t.expose('nextPaymentOn', { type: 'DateTime', nullable: true }),
    version: t.exposeInt('version'),
  }),
});

builder.prismaObject('Document', {
  description: 'A chattel record: a manufactured home or other titled personal property, its owner and address.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: DocumentStatus }),
    collateralKind: t.expose('collateralKind', { type: CollateralKind }),
    manufacturer: t.exposeString('manufacturer'),
    model: t.exposeString('model', { nullable: true }),
    year: t.exposeInt('year', { nullable: true }),
    serialNumber: t.exposeString('serialNumber', { description: 'Serial number or VIN.' }),
    hudLabelNumber: t.exposeString('hudLabelNumber', { nullable: true }),
    titleNumber: t.exposeString('titleNumber', { nullable: true }),
    ownerName: t.exposeString('ownerName'),
    addressLine1: t.exposeString('addressLine1'),
    addressLine2: t.exposeString('addressLine2', { nullable: true }),
    city: t.exposeString('city'),
    state: t.exposeString('state'),
    postalCode: t.exposeString('postalCode'),
    version: t.exposeInt('version', { description: 'Send it back with an update; a stale version is a CONFLICT.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    organization: t.relation('organization'),
    location: t.relation('location', { nullable: true }),
    loan: t.relation('loan', { nullable: true }),
  }),
});

builder.queryField('document', (t) =>
  t.withAuth({ signedIn: true }).prismaField({
    type: 'Document',
    description: 'One chattel record. A record outside your organizations and locations is NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => getDocumentById(context.services, { viewer: context.viewer, id: String(args.id), query }),
  }),
);

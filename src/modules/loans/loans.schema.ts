import { builder } from '../../graphql/builder.ts';
import { attachLoan, detachLoan, updateLoan, type LoanFields } from './loans.service.ts';

export const LoanStatusEnum = builder.enumType('LoanStatus', {
  values: ['CURRENT', 'BEHIND', 'DEFAULT', 'PAID_OFF', 'CHARGED_OFF'] as const,
});

builder.prismaObject('Loan', {
  description: 'A loan secured by a chattel record. Money is exact decimal strings.',
  fields: (t) => ({
    id: t.exposeID('id'),
    loanNumber: t.exposeString('loanNumber'),
    borrowerName: t.exposeString('borrowerName'),
    status: t.expose('status', { type: LoanStatusEnum }),
    currency: t.exposeString('currency'),
    principal: t.expose('principal', { type: 'Decimal' }),
    balance: t.expose('balance', { type: 'Decimal' }),
    paymentAmount: t.expose('paymentAmount', { type: 'Decimal', nullable: true }),
    pastDueAmount: t.expose('pastDueAmount', { type: 'Decimal' }),
    interestRate: t.expose('interestRate', { type: 'Decimal', nullable: true, description: 'Annual rate in percent.' }),
    daysPastDue: t.exposeInt('daysPastDue'),
    originatedOn: t.expose('originatedOn', { type: 'DateTime', nullable: true }),
    maturityOn: t.expose('maturityOn', { type: 'DateTime', nullable: true }),
    nextPaymentOn: t.expose('nextPaymentOn', { type: 'DateTime', nullable: true }),
    attachedAt: t.expose('attachedAt', { type: 'DateTime' }),
    version: t.exposeInt('version'),
  }),
});

const AttachLoanInput = builder.inputType('AttachLoanInput', {
  fields: (t) => ({
    documentId: t.id({ required: true }),
    loanNumber: t.string({ required: true }),
    borrowerName: t.string({ required: true }),
    status: t.field({ type: LoanStatusEnum, required: false }),
    principal: t.field({ type: 'Decimal', required: true }),
    balance: t.field({ type: 'Decimal', required: true }),
    paymentAmount: t.field({ type: 'Decimal', required: false }),
    pastDueAmount: t.field({ type: 'Decimal', required: false }),
    interestRate: t.field({ type: 'Decimal', required: false }),
    daysPastDue: t.int({ required: false }),
    originatedOn: t.field({ type: 'DateTime', required: false }),
    maturityOn: t.field({ type: 'DateTime', required: false }),
    nextPaymentOn: t.field({ type: 'DateTime', required: false }),
  }),
});

const UpdateLoanInput = builder.inputType('UpdateLoanInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    version: t.int({ required: true }),
    borrowerName: t.string({ required: false }),
    status: t.field({ type: LoanStatusEnum, required: false }),
    principal: t.field({ type: 'Decimal', required: false }),
    balance: t.field({ type: 'Decimal', required: false }),
    paymentAmount: t.field({ type: 'Decimal', required: false }),
    pastDueAmount: t.field({ type: 'Decimal', required: false }),
    interestRate: t.field({ type: 'Decimal', required: false }),
    daysPastDue: t.int({ required: false }),
    nextPaymentOn: t.field({ type: 'DateTime', required: false }),
  }),
});

function defined(input: Record<string, unknown>): LoanFields {
  const { id: _id, version: _version, documentId: _document, ...rest } = input;
  return Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)) as LoanFields;
}

builder.mutationFields((t) => ({
  attachLoan: t.withAuth({ signedIn: true }).prismaField({
    type: 'Loan',
    description: 'Attaches a loan to a document without one; needs the loans permission.',
    args: { input: t.arg({ type: AttachLoanInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      attachLoan(context.services, { viewer: context.viewer, client: context.client, documentId: String(input.documentId), fields: defined(input) as never, query }),
  }),
  updateLoan: t.withAuth({ signedIn: true }).prismaField({
    type: 'Loan',
    description: 'Updates amounts and status. A loan that stops being BEHIND completes its open RCM campaigns.',
    args: { input: t.arg({ type: UpdateLoanInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      updateLoan(context.services, { viewer: context.viewer, client: context.client, id: String(input.id), version: input.version, fields: defined(input), query }),
  }),
  detachLoan: t.withAuth({ signedIn: true }).boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await detachLoan(context.services, { viewer: context.viewer, client: context.client, id: String(args.id) });
      return true;
    },
  }),
}));

import type { Prisma } from '../../generated/prisma/client.ts';
import type { LoanStatus } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { integerInRange, money, optionalText, text } from '../../lib/validate.ts';
import { recordActivity } from '../activity/activity.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { readableDocumentsWhere, writableDocumentsWhere } from '../documents/documents.policy.ts';
import { completeCampaignsOfLoan } from '../rcm/rcm.service.ts';

type LoanQuery = { include?: Prisma.LoanInclude; select?: Prisma.LoanSelect };

export interface LoanFields {
  loanNumber?: string;
  borrowerName?: string;
  status?: LoanStatus | null;
  principal?: string;
  balance?: string;
  paymentAmount?: string | null;
  pastDueAmount?: string | null;
  interestRate?: string | null;
  originatedOn?: Date | null;
  maturityOn?: Date | null;
  nextPaymentOn?: Date | null;
  daysPastDue?: number | null;
}

/** The loan fields as they are stored, each checked, or a BAD_USER_INPUT naming the field (attachLoan, updateLoan, CSV imports). */
export function loanData(input: LoanFields): Prisma.LoanUncheckedUpdateInput {
  const data: Prisma.LoanUncheckedUpdateInput = {};
  if (input.loanNumber !== undefined) data.loanNumber = text(input.loanNumber, 'loanNumber', { max: 40, pattern: /^[A-Za-z0-9-]+$/, hint: 'loanNumber must be letters, digits and dashes.' });
  if (input.borrowerName !== undefined) data.borrowerName = text(input.borrowerName, 'borrowerName', { max: 200 });
  if (input.status) data.status = input.status;
  if (input.principal !== undefined) data.principal = money(input.principal, 'principal');
  if (input.balance !== undefined) data.balance = money(input.balance, 'balance');
  if (input.paymentAmount !== undefined) data.paymentAmount = input.paymentAmount === null ? null : money(input.paymentAmount, 'paymentAmount');
  if (input.pastDueAmount !== undefined && input.pastDueAmount !== null) data.pastDueAmount = money(input.pastDueAmount, 'pastDueAmount');
  if (input.interestRate !== undefined) {
    const rate = optionalText(input.interestRate, 'interestRate', { max: 8, pattern: /^\d{1,2}(\.\d{1,4})?$/, hint: 'interestRate must be a percentage such as "7.25".' });
    data.interestRate = rate;
  }
  if (input.originatedOn !== undefined) data.originatedOn = input.originatedOn;
  if (input.maturityOn !== undefined) data.maturityOn = input.maturityOn;
  if (input.nextPaymentOn !== undefined) data.nextPaymentOn = input.nextPaymentOn;
  if (input.daysPastDue !== undefined && input.daysPastDue !== null) data.daysPastDue = integerInRange(input.daysPastDue, 'daysPastDue', 0, 100_000);
  return data;
}

/** Attaches a new loan to a document that has none; needs `loans` on the document. */
export async function attachLoan<Q extends LoanQuery>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; documentId: string; fields: LoanFields & { loanNumber: string; borrowerName: string; principal: string; balance: string }; query?: Q },
) {
  const documentId = parseId(input.documentId, 'documentId');
  const data = loanData(input.fields) as Prisma.LoanUncheckedCreateInput;
  const writable = await writableDocumentsWhere(input.viewer, 'loans');
  const now = services.clock.now();
  const loan = await services.db.$transaction(async (tx) => {
    const document = await tx.document.findFirst({ where: { AND: [{ id: documentId }, readableDocumentsWhere(input.viewer)] }, select: { id: true, organizationId: true, loan: { select: { id: true } } } });
    if (!document) throw new AppError('NOT_FOUND', 'Document not found.');
    if (!(await tx.document.count({ where: { AND: [{ id: documentId }, writable] } }))) throw new AppError('FORBIDDEN', 'Your role lacks the loans permission for this record.');
    if (document.loan) throw new AppError('CONFLICT', 'This document already has a loan attached. Detach it first.', { reason: 'LOAN_ALREADY_ATTACHED' });
    const created = await tx.loan
      .create({ data: { ...data, organizationId: document.organizationId, documentId, attachedAt: now }, select: { id: true } })
      .catch((error: unknown) => {
        if ((error as { code?: string }).code === 'P2002') throw new AppError('CONFLICT', 'That loan number is already used in this organization, or the document already has a loan.', { field: 'loanNumber' });
        throw error;
      });
    await recordActivity(tx, { type: 'loan.attached', actorUserId: input.viewer.userId, organizationId: document.organizationId, documentId, ip: input.client.ip, userAgent: input.client.userAgent, data: { loanId: created.id, status: data.status ?? 'CURRENT' } });
    return created;
  });
  return services.db.loan.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: loan.id } });
}

/**
 * Finds an attached loan the viewer may change, inside a transaction. `writable` is computed before the
 * transaction starts: reading memberships inside it would need a second connection (PGlite has only one).
 */
async function writableLoan(tx: Prisma.TransactionClient, viewer: Viewer, id: string, writable: Prisma.DocumentWhereInput) {
  const loan = await tx.loan.findFirst({ where: { id, document: { is: readableDocumentsWhere(viewer) } }, select: { id: true, status: true, version: true, documentId: true, organizationId: true } });
  if (!loan || !loan.documentId) throw new AppError('NOT_FOUND', 'Loan not found.');
  if (!(await tx.document.count({ where: { AND: [{ id: loan.documentId }, writable] } }))) {
    throw new AppError('FORBIDDEN', 'Your role lacks the loans permission for this record.');
  }
  return loan;
}

/**
 * Updates amounts and status with optimistic concurrency. When the loan stops being BEHIND, its open RCM
 * campaigns complete in the same transaction.
 */
export async function updateLoan<Q extends LoanQuery>(services: Services, input: { viewer: Viewer; client: ClientInfo; id: string; version: number; fields: LoanFields; query?: Q }) {
  const id = parseId(input.id);
  const data = loanData(input.fields);
  const now = services.clock.now();
  const writable = await writableDocumentsWhere(input.viewer, 'loans');
  await services.db.$transaction(async (tx) => {
    const loan = await writableLoan(tx, input.viewer, id, writable);
    const { count } = await tx.loan.updateMany({ where: { id, version: input.version }, data: { ...data, version: { increment: 1 } } });
    if (count === 0) throw new AppError('CONFLICT', 'Someone changed this loan since you loaded it. Reload and apply your change again.', { reason: 'STALE_VERSION', field: 'version' });
    const status = (data.status as LoanStatus | undefined) ?? loan.status;
    await recordActivity(tx, { type: 'loan.updated', actorUserId: input.viewer.userId, organizationId: loan.organizationId, documentId: loan.documentId, ip: input.client.ip, userAgent: input.client.userAgent, data: { loanId: id, status, previousStatus: loan.status } });
    if (loan.status === 'BEHIND' && status !== 'BEHIND') {
      await completeCampaignsOfLoan(tx, { loanId: id, reason: 'LOAN_NO_LONGER_BEHIND', now, actorUserId: input.viewer.userId });
    }
  });
  return services.db.loan.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/** Detaches a loan from its document; the loan keeps its history, and its open campaigns complete. */
export async function detachLoan(services: Services, input: { viewer: Viewer; client: ClientInfo; id: string }): Promise<void> {
  const id = parseId(input.id);
  const now = services.clock.now();
  const writable = await writableDocumentsWhere(input.viewer, 'loans');
  await services.db.$transaction(async (tx) => {
    const loan = await writableLoan(tx, input.viewer, id, writable);
    await tx.loan.update({ where: { id }, data: { documentId: null, detachedAt: now, version: { increment: 1 } } });
    await completeCampaignsOfLoan(tx, { loanId: id, reason: 'LOAN_DETACHED', now, actorUserId: input.viewer.userId });
    await recordActivity(tx, { type: 'loan.detached', actorUserId: input.viewer.userId, organizationId: loan.organizationId, documentId: loan.documentId, ip: input.client.ip, userAgent: input.client.userAgent, data: { loanId: id } });
  });
}

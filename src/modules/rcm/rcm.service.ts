import type { Prisma } from '../../generated/prisma/client.ts';
import type { CampaignStatus, OutreachChannel, OutreachStatus } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { integerInRange, optionalText, text } from '../../lib/validate.ts';
import { recordActivity } from '../activity/activity.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { readableDocumentsWhere, writableDocumentsWhere } from '../documents/documents.policy.ts';
import { rcmEligibility } from '../documents/documents.service.ts';

type CampaignQuery = { include?: Prisma.RcmCampaignInclude; select?: Prisma.RcmCampaignSelect };

export interface CampaignStepInput {
  channel: OutreachChannel;
  delayHours: number;
  template: string;
}

const OPEN: CampaignStatus[] = ['DRAFT', 'ACTIVE', 'PAUSED'];

/** The campaign lifecycle: which action moves which status where. */
const TRANSITIONS = {
  activate: { from: ['DRAFT'], to: 'ACTIVE' },
  pause: { from: ['ACTIVE'], to: 'PAUSED' },
  resume: { from: ['PAUSED'], to: 'ACTIVE' },
  complete: { from: ['ACTIVE', 'PAUSED'], to: 'COMPLETED' },
  cancel: { from: ['DRAFT', 'ACTIVE', 'PAUSED'], to: 'CANCELLED' },
} as const satisfies Record<string, { from: readonly CampaignStatus[]; to: CampaignStatus }>;

export type CampaignAction = keyof typeof TRANSITIONS;

const ineligible = {
  NO_LOAN_ATTACHED: 'RCM campaigns need a loan attached to the document. Add one from the document detail view.',
  LOAN_NOT_BEHIND: 'RCM campaigns are only available when the attached loan is BEHIND.',
} as const;

function steps(input: CampaignStepInput[]): Prisma.RcmStepCreateWithoutCampaignInput[] {
  if (input.length < 1 || input.length > 20) throw new AppError('BAD_USER_INPUT', 'A campaign needs 1 to 20 steps.', { field: 'steps' });
  return input.map((step, index) => ({
    position: index + 1,
    channel: step.channel,
    delayHours: integerInRange(step.delayHours, `steps[${index}].delayHours`, 0, 24 * 365),
    template: text(step.template, `steps[${index}].template`, { max: 2000, multiline: true }),
  }));
}

/**
 * Starts outreach on a document whose attached loan is BEHIND, and only then (distinct reasons otherwise). One
 * open campaign per document at a time.
 */
export async function startRcmCampaign<Q extends CampaignQuery>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; documentId: string; name?: string | null; steps: CampaignStepInput[]; draft?: boolean | null; query?: Q },
) {
  const documentId = parseId(input.documentId, 'documentId');
  const stepData = steps(input.steps);
  const name = optionalText(input.name, 'name', { max: 120 });
  const now = services.clock.now();
  const writable = await writableDocumentsWhere(input.viewer, 'rcm');
  const campaign = await services.db.$transaction(async (tx) => {
    const document = await tx.document.findFirst({
      where: { AND: [{ id: documentId }, readableDocumentsWhere(input.viewer)] },
      select: { id: true, organizationId: true, status: true, loan: { select: { id: true, status: true, loanNumber: true } } },
    });
    if (!document) throw new AppError('NOT_FOUND', 'Document not found.');
    if (!(await tx.document.count({ where: { AND: [{ id: documentId }, writable] } }))) throw new AppError('FORBIDDEN', 'Your role lacks the rcm permission for this record.');
    const eligibility = rcmEligibility(document.loan);
    if (!eligibility.eligible) throw new AppError('BAD_USER_INPUT', ineligible[eligibility.reason!], { reason: eligibility.reason!, field: 'documentId' });
    if (await tx.rcmCampaign.count({ where: { documentId, status: { in: OPEN } } })) {
      throw new AppError('CONFLICT', 'This document already has an open RCM campaign.', { reason: 'CAMPAIGN_ALREADY_OPEN' });
    }
    const status: CampaignStatus = input.draft ? 'DRAFT' : 'ACTIVE';
    const created = await tx.rcmCampaign.create({
      data: {
        organizationId: document.organizationId,
        documentId,
        loanId: document.loan!.id,
        name: name ?? `${document.loan!.loanNumber} recovery`,
        status,
        startedAt: status === 'ACTIVE' ? now : null,
        createdById: input.viewer.userId,
        createdAt: now,
        steps: { create: stepData },
      },
      select: { id: true },
    });
    await recordActivity(tx, { type: status === 'ACTIVE' ? 'rcm.campaign.started' : 'rcm.campaign.drafted', actorUserId: input.viewer.userId, organizationId: document.organizationId, documentId, ip: input.client.ip, userAgent: input.client.userAgent, data: { campaignId: created.id } });
    return created;
  });
  return services.db.rcmCampaign.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: campaign.id } });
}

/** `writable` is computed before the transaction: memberships read inside it would need a second connection. */
async function writableCampaign(tx: Prisma.TransactionClient, viewer: Viewer, id: string, writable: Prisma.DocumentWhereInput) {
  const campaign = await tx.rcmCampaign.findFirst({ where: { id, document: readableDocumentsWhere(viewer) }, select: { id: true, status: true, documentId: true, organizationId: true, loan: { select: { status: true } } } });
  if (!campaign) throw new AppError('NOT_FOUND', 'Campaign not found.');
  if (!(await tx.document.count({ where: { AND: [{ id: campaign.documentId }, writable] } }))) {
    throw new AppError('FORBIDDEN', 'Your role lacks the rcm permission for this record.');
  }
  return campaign;
}

/** One campaign, read as its document is: a campaign on a record outside your organizations and locations is NOT_FOUND. */
export async function getRcmCampaignById<Q extends CampaignQuery>(services: Services, input: { viewer: Viewer; id: string; query?: Q }) {
  const id = parseId(input.id);
  const campaign = await services.db.rcmCampaign.findFirst({ ...(input.query ?? {}), where: { id, document: readableDocumentsWhere(input.viewer) } });
  if (!campaign) throw new AppError('NOT_FOUND', 'Campaign not found.');
  return campaign;
}

/** Moves a campaign along its lifecycle; anything else is a CONFLICT naming the current status. */
export async function transitionRcmCampaign<Q extends CampaignQuery>(services: Services, input: { viewer: Viewer; client: ClientInfo; id: string; action: CampaignAction; query?: Q }) {
  const id = parseId(input.id);
  const rule = TRANSITIONS[input.action];
  const now = services.clock.now();
  const writable = await writableDocumentsWhere(input.viewer, 'rcm');
  await services.db.$transaction(async (tx) => {
    const campaign = await writableCampaign(tx, input.viewer, id, writable);
    if ((input.action === 'activate' || input.action === 'resume') && campaign.loan?.status !== 'BEHIND') {
      throw new AppError('BAD_USER_INPUT', ineligible.LOAN_NOT_BEHIND, { reason: campaign.loan ? 'LOAN_NOT_BEHIND' : 'NO_LOAN_ATTACHED' });
    }
    const stamps: Prisma.RcmCampaignUpdateManyMutationInput = {
      ...(rule.to === 'ACTIVE' && input.action === 'activate' ? { startedAt: now } : {}),
      ...(rule.to === 'PAUSED' ? { pausedAt: now } : {}),
      ...(rule.to === 'COMPLETED' ? { completedAt: now, completionReason: 'COMPLETED_BY_USER' } : {}),
      ...(rule.to === 'CANCELLED' ? { cancelledAt: now } : {}),
    };
    const { count } = await tx.rcmCampaign.updateMany({ where: { id, status: { in: [...rule.from] } }, data: { ...stamps, status: rule.to, version: { increment: 1 } } });
    if (count === 0) throw new AppError('CONFLICT', `A ${campaign.status.toLowerCase()} campaign cannot ${input.action}.`, { reason: 'INVALID_TRANSITION' });
    await recordActivity(tx, { type: `rcm.campaign.${rule.to.toLowerCase()}`, actorUserId: input.viewer.userId, organizationId: campaign.organizationId, documentId: campaign.documentId, ip: input.client.ip, userAgent: input.client.userAgent, data: { campaignId: id, from: campaign.status } });
  });
  return services.db.rcmCampaign.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/** Logs one outreach attempt on an active campaign. */
export async function recordOutreachAttempt(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; campaignId: string; stepId?: string | null; channel: OutreachChannel; status: OutreachStatus; notes?: string | null; attemptedAt?: Date | null },
) {
  const campaignId = parseId(input.campaignId, 'campaignId');
  const stepId = input.stepId ? parseId(input.stepId, 'stepId') : null;
  const notes = optionalText(input.notes, 'notes', { max: 2000, multiline: true });
  const now = services.clock.now();
  if (input.attemptedAt && input.attemptedAt > now) throw new AppError('BAD_USER_INPUT', 'attemptedAt cannot be in the future.', { field: 'attemptedAt' });
  const writable = await writableDocumentsWhere(input.viewer, 'rcm');
  return services.db.$transaction(async (tx) => {
    const campaign = await writableCampaign(tx, input.viewer, campaignId, writable);
    if (campaign.status !== 'ACTIVE') throw new AppError('CONFLICT', 'Outreach can only be logged on an active campaign.', { reason: 'CAMPAIGN_NOT_ACTIVE' });
    if (stepId && !(await tx.rcmStep.count({ where: { id: stepId, campaignId } }))) throw new AppError('BAD_USER_INPUT', 'That step is not part of this campaign.', { field: 'stepId' });
    const attempt = await tx.rcmOutreachAttempt.create({ data: { campaignId, stepId, channel: input.channel, status: input.status, notes, recordedById: input.viewer.userId, attemptedAt: input.attemptedAt ?? now, createdAt: now } });
    await recordActivity(tx, { type: 'rcm.outreach.recorded', actorUserId: input.viewer.userId, organizationId: campaign.organizationId, documentId: campaign.documentId, ip: input.client.ip, userAgent: input.client.userAgent, data: { campaignId, attemptId: attempt.id, channel: input.channel, status: input.status } });
    return attempt;
  });
}

/** Completes every open campaign of a loan that stopped being BEHIND (or was detached), inside the caller's transaction. */
export async function completeCampaignsOfLoan(tx: Prisma.TransactionClient, input: { loanId: string; reason: string; now: Date; actorUserId: string }): Promise<void> {
  const open = await tx.rcmCampaign.findMany({ where: { loanId: input.loanId, status: { in: ['ACTIVE', 'PAUSED', 'DRAFT'] } }, select: { id: true, organizationId: true, documentId: true, status: true } });
  if (open.length === 0) return;
  await tx.rcmCampaign.updateMany({ where: { id: { in: open.map((c) => c.id) } }, data: { status: 'COMPLETED', completedAt: input.now, completionReason: input.reason, version: { increment: 1 } } });
  for (const c of open) {
    await recordActivity(tx, { type: 'rcm.campaign.completed', actorUserId: input.actorUserId, organizationId: c.organizationId, documentId: c.documentId, data: { campaignId: c.id, from: c.status, reason: input.reason } });
  }
}

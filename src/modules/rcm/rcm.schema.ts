import { builder } from '../../graphql/builder.ts';
import { PAGE_SIZES } from '../../graphql/connections.ts';
import { getRcmCampaignById, recordOutreachAttempt, startRcmCampaign, transitionRcmCampaign, type CampaignAction } from './rcm.service.ts';

const CampaignStatusEnum = builder.enumType('CampaignStatus', { values: ['DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELLED'] as const });
const OutreachChannelEnum = builder.enumType('OutreachChannel', { values: ['EMAIL', 'SMS', 'LETTER', 'CALL'] as const });
const OutreachStatusEnum = builder.enumType('OutreachStatus', { values: ['SCHEDULED', 'SENT', 'DELIVERED', 'FAILED', 'RESPONDED', 'NO_RESPONSE'] as const });

const OutreachAttemptOrderEnum = builder.enumType('OutreachAttemptOrder', {
  values: {
    LATEST_FIRST: { description: 'Latest attempt first, by attemptedAt (served by the campaign and attemptedAt index).' },
    EARLIEST_FIRST: { description: 'Earliest attempt first, by attemptedAt (served by the campaign and attemptedAt index).' },
  },
});

builder.prismaObject('RcmCampaign', {
  description: 'Recovery and collections outreach on a document whose loan is BEHIND.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    status: t.expose('status', { type: CampaignStatusEnum }),
    completionReason: t.exposeString('completionReason', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    pausedAt: t.expose('pausedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    cancelledAt: t.expose('cancelledAt', { type: 'DateTime', nullable: true }),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    document: t.relation('document'),
    loan: t.relation('loan', { nullable: true }),
    steps: t.relation('steps', { query: { orderBy: { position: 'asc' } } }),
    attempts: t.relation('attempts', { deprecationReason: 'Use attemptsConnection.', query: { orderBy: { attemptedAt: 'desc' } } }),
    attemptsConnection: t.relatedConnection(
      'attempts',
      {
        cursor: 'id',
        ...PAGE_SIZES,
        totalCount: true,
        description: 'The outreach log of this campaign, a page at a time.',
        args: { orderBy: t.arg({ type: OutreachAttemptOrderEnum, required: false, defaultValue: 'LATEST_FIRST' }) },
        query: (args) => {
          const direction = args.orderBy === 'EARLIEST_FIRST' ? ('asc' as const) : ('desc' as const);
          // The id breaks ties between attempts recorded at the same moment, so pages never overlap.
          return { orderBy: [{ attemptedAt: direction }, { id: direction }] };
        },
      },
      { name: 'RcmCampaignAttemptsConnection' },
    ),
  }),
});

builder.prismaObject('RcmStep', {
  fields: (t) => ({
    id: t.exposeID('id'),
    position: t.exposeInt('position'),
    channel: t.expose('channel', { type: OutreachChannelEnum }),
    delayHours: t.exposeInt('delayHours', { description: 'Hours after the previous step (or the start).' }),
    template: t.exposeString('template'),
  }),
});

builder.prismaObject('RcmOutreachAttempt', {
  fields: (t) => ({
    id: t.exposeID('id'),
    channel: t.expose('channel', { type: OutreachChannelEnum }),
    status: t.expose('status', { type: OutreachStatusEnum }),
    notes: t.exposeString('notes', { nullable: true }),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
  }),
});

const CampaignStepInput = builder.inputType('CampaignStepInput', {
  fields: (t) => ({
    channel: t.field({ type: OutreachChannelEnum, required: true }),
    delayHours: t.int({ required: true }),
    template: t.string({ required: true }),
  }),
});

const StartRcmCampaignInput = builder.inputType('StartRcmCampaignInput', {
  fields: (t) => ({
    documentId: t.id({ required: true }),
    name: t.string({ required: false }),
    steps: t.field({ type: [CampaignStepInput], required: true }),
    draft: t.boolean({ required: false, description: 'Create as DRAFT instead of starting at once.' }),
  }),
});

const RecordOutreachAttemptInput = builder.inputType('RecordOutreachAttemptInput', {
  fields: (t) => ({
    campaignId: t.id({ required: true }),
    stepId: t.id({ required: false }),
    channel: t.field({ type: OutreachChannelEnum, required: true }),
    status: t.field({ type: OutreachStatusEnum, required: true }),
    notes: t.string({ required: false }),
    attemptedAt: t.field({ type: 'DateTime', required: false }),
  }),
});

builder.queryField('rcmCampaign', (t) =>
  t.withAuth({ signedIn: true }).prismaField({
    type: 'RcmCampaign',
    description: 'One RCM campaign, readable with its document: a campaign on a record outside your organizations and locations is NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => getRcmCampaignById(context.services, { viewer: context.viewer, id: String(args.id), query }),
  }),
);

const transition = (action: CampaignAction, description: string) =>
  builder.mutationField(`${action}RcmCampaign`, (t) =>
    t.withAuth({ signedIn: true }).prismaField({
      type: 'RcmCampaign',
      description,
      args: { id: t.arg.id({ required: true }) },
      resolve: (query, _root, args, context) => transitionRcmCampaign(context.services, { viewer: context.viewer, client: context.client, id: String(args.id), action, query }),
    }),
  );

transition('activate', 'DRAFT → ACTIVE (the loan must still be BEHIND).');
transition('pause', 'ACTIVE → PAUSED.');
transition('resume', 'PAUSED → ACTIVE (the loan must still be BEHIND).');
transition('complete', 'ACTIVE or PAUSED → COMPLETED.');
transition('cancel', 'DRAFT, ACTIVE or PAUSED → CANCELLED.');

builder.mutationFields((t) => ({
  startRcmCampaign: t.withAuth({ signedIn: true }).prismaField({
    type: 'RcmCampaign',
    description:
      'Starts outreach; only for a document whose attached loan is BEHIND (reason NO_LOAN_ATTACHED or LOAN_NOT_BEHIND otherwise). Needs the rcm permission.',
    args: { input: t.arg({ type: StartRcmCampaignInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      startRcmCampaign(context.services, { viewer: context.viewer, client: context.client, documentId: String(input.documentId), name: input.name, steps: input.steps, draft: input.draft, query }),
  }),
  recordOutreachAttempt: t.withAuth({ signedIn: true }).prismaField({
    type: 'RcmOutreachAttempt',
    args: { input: t.arg({ type: RecordOutreachAttemptInput, required: true }) },
    resolve: (_query, _root, { input }, context) =>
      recordOutreachAttempt(context.services, {
        viewer: context.viewer,
        client: context.client,
        campaignId: String(input.campaignId),
        stepId: input.stepId ? String(input.stepId) : null,
        channel: input.channel,
        status: input.status,
        notes: input.notes,
        attemptedAt: input.attemptedAt,
      }),
  }),
}));

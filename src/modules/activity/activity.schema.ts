import { builder } from '../../graphql/builder.ts';
import { MAX_PAGE_SIZE, PAGE_SIZES } from '../../graphql/connections.ts';
import { parseId } from '../../lib/ids.ts';
import type { ActivityEvent } from '../../realtime/event-bus.ts';
import { authorizedActivity } from '../../realtime/subscribe.ts';
import { mayReadActivity } from './activity.policy.ts';
import { listActivity, type ActivityEntry } from './activity.read.ts';

export const ActivityEventRef = builder.objectRef<ActivityEvent>('ActivityEvent').implement({
  description: 'One entry of the activity record: what happened, to which document or package, and when.',
  fields: (t) => ({
    id: t.exposeID('id'),
    seq: t.exposeString('seq', { description: 'Orders events across instances.' }),
    type: t.exposeString('type', { description: 'e.g. document.registered, loan.updated, signing.signer.signed.' }),
    occurredAt: t.string({ resolve: (event) => event.occurredAt }),
    actorUserId: t.exposeID('actorUserId', { nullable: true }),
    organizationId: t.exposeID('organizationId', { nullable: true }),
    documentId: t.exposeID('documentId', { nullable: true }),
    packageId: t.exposeID('packageId', { nullable: true }),
  }),
});

const ActivityPersonRef = builder.objectRef<{ id: string; name: string; email: string }>('ActivityPerson').implement({
  description: 'An account an activity entry names, as it is now (looked up when read: the entry holds only its id).',
  fields: (t) => ({ id: t.exposeID('id'), name: t.exposeString('name'), email: t.exposeString('email') }),
});

const ActivityEntryRef = builder.objectRef<ActivityEntry>('ActivityEntry').implement({
  description:
    'One row of the audit log: who did what to which record, when, from which address and kind of session. Rows are never changed or deleted, and each carries its link in its chain (see docs/operations.md, "The audit log").',
  fields: (t) => ({
    id: t.exposeID('id'),
    seq: t.string({ description: 'Orders entries across the whole record.', resolve: (row) => row.seq.toString() }),
    type: t.exposeString('type', { description: 'The action, e.g. document.registered, member.role_changed, auth.sign_in.' }),
    occurredAt: t.field({ type: 'DateTime', resolve: (row) => row.occurredAt }),
    actorUserId: t.exposeID('actorUserId', { nullable: true, description: 'Who acted (null: the system, e.g. an expiry sweep).' }),
    actor: t.field({ type: ActivityPersonRef, nullable: true, description: 'The actor as the account is now; null once erased.', resolve: (row) => row.actor }),
    subjectUserId: t.exposeID('subjectUserId', { nullable: true, description: 'The account the action was about, if any.' }),
    subject: t.field({ type: ActivityPersonRef, nullable: true, resolve: (row) => row.subject }),
    organizationId: t.exposeID('organizationId', { nullable: true }),
    documentId: t.exposeID('documentId', { nullable: true }),
    packageId: t.exposeID('packageId', { nullable: true }),
    ip: t.exposeString('ip', { nullable: true, description: 'The client address the request came from.' }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    sessionKind: t.exposeString('sessionKind', {
      nullable: true,
      description: 'The kind of session the actor acted in (a SessionKind value: PASSWORD, APP_SIGN_IN, USER_TOKEN, ...), when recorded.',
    }),
    data: t.string({ description: 'The facts of the event as a JSON object: ids and codes, never personal data or secrets.', resolve: (row) => JSON.stringify(row.data) }),
    chainSeq: t.string({ description: 'Position in its chain (the organization\'s, or the platform chain).', resolve: (row) => row.chainSeq.toString() }),
    prevHash: t.exposeString('prevHash', { description: 'The previous entry\'s hash in the chain (64 zeros for the first).' }),
    hash: t.exposeString('hash', { description: 'SHA-256 (hex) of prevHash and this entry\'s canonical content.' }),
  }),
});

const ActivityFilterInput = builder.inputType('ActivityFilter', {
  description: 'Every condition given must hold.',
  fields: (t) => ({
    actorUserId: t.id({ required: false, description: 'Entries by this account.' }),
    type: t.string({ required: false, description: 'An action (`loan.updated`), or a prefix ending in `.*` (`signing.*`).' }),
    subjectId: t.id({ required: false, description: 'Entries about this record: a document, package or account id, or any id among the facts (loan, campaign, invitation...).' }),
    from: t.field({ type: 'DateTime', required: false, description: 'From this instant (inclusive).' }),
    to: t.field({ type: 'DateTime', required: false, description: 'Up to this instant (exclusive).' }),
  }),
});

const ActivityConnection = builder.connectionObject({ type: ActivityEntryRef, name: 'ActivityConnection' });

builder.queryField('activity', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: ActivityConnection,
    description: [
      `The audit log, newest first, in pages of \`first\` (at most ${MAX_PAGE_SIZE}; cursor \`after\`).`,
      'Members read the entries about the records they may read (documents in their locations, packages they manage); entries about no record (the organization, its members, roles, settings, app access, sign-ins) need orgSettings.',
      'Platform admins read everything, and the platform chain (entries with no organization) when `organizationId` is omitted.',
      'An organization you may read nothing of is NOT_FOUND. The live `activity` subscription follows the same rule.',
    ].join(' '),
    args: {
      organizationId: t.arg.id({ required: false }),
      filter: t.arg({ type: ActivityFilterInput, required: false }),
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
    },
    resolve: (_root, args, context) => {
      PAGE_SIZES.maxSize(args);
      const filter = args.filter ?? {};
      return listActivity(context.services, {
        viewer: context.viewer,
        organizationId: args.organizationId == null ? null : parseId(String(args.organizationId), 'organizationId'),
        filter: {
          actorUserId: filter.actorUserId == null ? null : parseId(String(filter.actorUserId), 'filter.actorUserId'),
          type: filter.type ?? null,
          subjectId: filter.subjectId == null ? null : parseId(String(filter.subjectId), 'filter.subjectId'),
          from: filter.from ?? null,
          to: filter.to ?? null,
        },
        first: args.first ?? PAGE_SIZES.defaultSize,
        after: args.after ?? null,
      });
    },
  }),
);

builder.subscriptionField('activity', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: ActivityEventRef,
    description:
      "An organization's activity feed, live: the events `Query.activity` would show you, each checked against that same rule as it is delivered.",
    args: { organizationId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ admin: true, orgMember: String(args.organizationId) }),
    subscribe: (_root, args, context) => {
      const organizationId = parseId(String(args.organizationId), 'organizationId');
      return authorizedActivity(
        context,
        (event) => event.organizationId === organizationId,
        (event) => mayReadActivity(context.services.db, context.viewer, event),
      );
    },
    resolve: (event) => event,
  }),
);

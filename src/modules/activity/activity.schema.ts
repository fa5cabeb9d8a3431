import { builder } from '../../graphql/builder.ts';
import { parseId } from '../../lib/ids.ts';
import type { ActivityEvent } from '../../realtime/event-bus.ts';
import { authorizedActivity } from '../../realtime/subscribe.ts';
import { mayReadActivity } from './activity.policy.ts';

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


builder.subscriptionField('activity', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: ActivityEventRef,
    description: "An organization's activity feed, live. Members of the organization and admins only.",
    args: { organizationId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ admin: true, orgMember: String(args.organizationId) }),
    subscribe: (_root, args, context) => {
      const organizationId = parseId(String(args.organizationId), 'organizationId');
      return authorizedActivity(
        context,
        (event) => event.organizationId === organizationId,
        (event) => mayReadActivity(context.services.db, context.viewer!, event),
      );
    },
    resolve: (event) => event,
  }),
);

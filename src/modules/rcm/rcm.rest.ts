import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';

const ATTEMPT_FIELDS = /* GraphQL */ `
  fragment RestOutreachAttempt on RcmOutreachAttempt { id channel status notes attemptedAt }
`;

const CAMPAIGN_FIELDS = /* GraphQL */ `
  fragment RestCampaign on RcmCampaign {
    id version name status completionReason startedAt pausedAt completedAt cancelledAt createdAt
    document { id } loan { id loanNumber status } steps { id position channel delayHours template }
  }
`;

/**
 * A lifecycle step of a campaign. The GraphQL mutations take no version, so these take no If-Match either; the
 * status check in the service refuses a step from the wrong status (409 INVALID_TRANSITION) instead.
 */
const transition = (action: 'activate' | 'pause' | 'resume' | 'complete' | 'cancel', summary: string): GraphqlRouteSpec => {
  const field = `${action}RcmCampaign`;
  const name = `${action[0]!.toUpperCase()}${action.slice(1)}`;
  return {
    method: 'POST',
    path: `/v1/campaigns/:id/${action}`,
    operationId: `${action}Campaign`,
    tag: 'RCM',
    summary,
    description: '409 `INVALID_TRANSITION` from any other status. Needs the `rcm` permission on the campaign’s document.',
    operation: /* GraphQL */ `
      mutation Rest${name}Campaign($id: ID!) { ${field}(id: $id) { ...RestCampaign } }
      ${CAMPAIGN_FIELDS}`,
    params: { id: 'id' },
  };
};

/**
 * Recovery and collections outreach under `/v1`: a document's eligibility and campaigns, a campaign with its
 * lifecycle and its outreach log. Each route is the GraphQL operation beside it.
 */
export const rcmResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/documents/:id/rcm-eligibility',
    operationId: 'getDocumentRcmEligibility',
    tag: 'RCM',
    summary: 'Whether an RCM campaign can start on a chattel record, and why not',
    operation: /* GraphQL */ `
      query RestGetDocumentRcmEligibility($id: ID!) { document(id: $id) { rcmEligibility { eligible reason } } }`,
    params: { id: 'id' },
    unwrap: { field: 'rcmEligibility', missing: { reason: 'NOT_FOUND', message: 'Document not found.' } },
  },
  {
    method: 'GET',
    path: '/v1/documents/:id/campaigns',
    operationId: 'listDocumentCampaigns',
    tag: 'RCM',
    summary: 'List the RCM campaigns of a chattel record',
    description: 'Newest first unless `orderBy` says otherwise, in pages of `first` (cursor `after`).',
    operation: /* GraphQL */ `
      query RestListDocumentCampaigns($id: ID!, $first: Int, $after: String, $orderBy: RcmCampaignOrder) {
        document(id: $id) {
          campaignsConnection(first: $first, after: $after, orderBy: $orderBy) { edges { node { ...RestCampaign } } pageInfo { hasNextPage endCursor } }
        }
      }
      ${CAMPAIGN_FIELDS}`,
    params: { id: 'id' },
    query: { first: 'first', after: 'after', orderBy: 'orderBy' },
    unwrap: { field: 'campaignsConnection', missing: { reason: 'NOT_FOUND', message: 'Document not found.' } },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/documents/:id/campaigns',
    operationId: 'startCampaign',
    tag: 'RCM',
    summary: 'Start (or draft) an RCM campaign on a chattel record',
    description:
      'Only while the attached loan is BEHIND (400 `NO_LOAN_ATTACHED` or `LOAN_NOT_BEHIND` otherwise); one open campaign per record (409 `CAMPAIGN_ALREADY_OPEN`). `draft: true` creates it as DRAFT. Needs the `rcm` permission.',
    operation: /* GraphQL */ `
      mutation RestStartCampaign($input: StartRcmCampaignInput!) { startRcmCampaign(input: $input) { ...RestCampaign } }
      ${CAMPAIGN_FIELDS}`,
    params: { id: 'input.documentId' },
    body: 'input',
    created: (campaign) => `/v1/campaigns/${String(campaign.id)}`,
  },
  {
    method: 'GET',
    path: '/v1/campaigns/:id',
    operationId: 'getCampaign',
    tag: 'RCM',
    summary: 'Read an RCM campaign with its steps',
    description: 'Readable with its chattel record: a campaign on a record outside your organizations and locations is 404.',
    operation: /* GraphQL */ `
      query RestGetCampaign($id: ID!) { rcmCampaign(id: $id) { ...RestCampaign } }
      ${CAMPAIGN_FIELDS}`,
    params: { id: 'id' },
  },
  {
    method: 'GET',
    path: '/v1/campaigns/:id/attempts',
    operationId: 'listOutreachAttempts',
    tag: 'RCM',
    summary: 'List the outreach attempts logged on a campaign',
    description: 'Newest first unless `orderBy` says otherwise, in pages of `first` (cursor `after`).',
    operation: /* GraphQL */ `
      query RestListOutreachAttempts($id: ID!, $first: Int, $after: String, $orderBy: OutreachAttemptOrder) {
        rcmCampaign(id: $id) {
          attemptsConnection(first: $first, after: $after, orderBy: $orderBy) { edges { node { ...RestOutreachAttempt } } pageInfo { hasNextPage endCursor } }
        }
      }
      ${ATTEMPT_FIELDS}`,
    params: { id: 'id' },
    query: { first: 'first', after: 'after', orderBy: 'orderBy' },
    unwrap: { field: 'attemptsConnection', missing: { reason: 'NOT_FOUND', message: 'Campaign not found.' } },
    list: true,
  },
  transition('activate', 'Activate a draft campaign (the loan must still be BEHIND)'),
  transition('pause', 'Pause an active campaign'),
  transition('resume', 'Resume a paused campaign (the loan must still be BEHIND)'),
  transition('complete', 'Complete an active or paused campaign'),
  transition('cancel', 'Cancel a draft, active or paused campaign'),
  {
    method: 'POST',
    path: '/v1/campaigns/:id/attempts',
    operationId: 'recordOutreachAttempt',
    tag: 'RCM',
    summary: 'Log an outreach attempt on an active campaign',
    description: '409 `CAMPAIGN_NOT_ACTIVE` unless the campaign is ACTIVE. `attemptedAt` defaults to now and may not be in the future.',
    operation: /* GraphQL */ `
      mutation RestRecordOutreachAttempt($input: RecordOutreachAttemptInput!) { recordOutreachAttempt(input: $input) { ...RestOutreachAttempt } }
      ${ATTEMPT_FIELDS}`,
    params: { id: 'input.campaignId' },
    body: 'input',
    // An attempt is read in its campaign's list, not on its own: 201 without Location.
    created: () => null,
  },
];

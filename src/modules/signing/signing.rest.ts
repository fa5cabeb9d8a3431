import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';

/** The collateral a package asks to sign for: what a signer may see of a document (SIGNER_VISIBLE_FIELDS). */
const PACKAGE_DOCUMENT_FIELDS = /* GraphQL */ `
  fragment RestPackageDocument on Document {
    id collateralKind manufacturer model year serialNumber hudLabelNumber titleNumber
    addressLine1 addressLine2 city county state postalCode
  }
`;

const SIGNER_FIELDS = /* GraphQL */ `
  fragment RestPackageSigner on PackageSigner { id order name email status isMyTurn viewedAt signedAt declinedAt declineReason }
`;

/** A package as its managers (and admins, and a sender session) read it: every slot in full, and its version. */
const PACKAGE_FIELDS = /* GraphQL */ `
  fragment RestSigningPackage on SigningPackage {
    id version status title message sequential expiresAt sentAt completedAt declinedAt expiredAt voidedAt voidReason
    senderName organization { id name } location { id name } documents { ...RestPackageDocument }
    signers { ...RestPackageSigner } mySlot { ...RestPackageSigner } createdAt updatedAt
  }
  ${PACKAGE_DOCUMENT_FIELDS}
  ${SIGNER_FIELDS}
`;

/**
 * A package as a signer reads it: only fields SIGNER_VISIBLE_FIELDS (signing.policy.ts) shows them, so the answer
 * is whole rather than refused (a non-null field they may not see is NOT_FOR_SIGNERS): other slots by order and
 * turn only, their own slot in full, and no version (a signer does not send or void). Its own component,
 * `SignerPackage`, because managers need what signers may not see.
 */
const SIGNER_PACKAGE_FIELDS = /* GraphQL */ `
  fragment RestSignerPackage on SigningPackage {
    id status title message sequential expiresAt sentAt completedAt senderName
    organization { id name } location { id name } documents { ...RestPackageDocument }
    signers { id order isMyTurn } mySlot { ...RestPackageSigner }
  }
  ${PACKAGE_DOCUMENT_FIELDS}
  ${SIGNER_FIELDS}
`;

const page = { first: 'first', after: 'after' } as const;

/** A signer's step on their own slot: the signer representation, since the caller may be only a signer. */
const signerStep = (verb: 'view' | 'sign' | 'decline', summary: string, description: string): GraphqlRouteSpec => {
  const name = `${verb[0]!.toUpperCase()}${verb.slice(1)}`;
  return {
    method: 'POST',
    path: `/v1/signing-packages/:id/${verb}`,
    operationId: `${verb}SigningPackage`,
    tag: 'Signing',
    summary,
    description,
    operation:
      verb === 'decline'
        ? /* GraphQL */ `
          mutation RestDeclineSigningPackage($packageId: ID!, $reason: String!) { declineSigningPackage(packageId: $packageId, reason: $reason) { ...RestSignerPackage } }
          ${SIGNER_PACKAGE_FIELDS}`
        : /* GraphQL */ `
          mutation Rest${name}SigningPackage($packageId: ID!) { ${verb}SigningPackage(packageId: $packageId) { ...RestSignerPackage } }
          ${SIGNER_PACKAGE_FIELDS}`,
    params: { id: 'packageId' },
    ...(verb === 'decline' ? { bodyFields: { reason: 'reason' } } : {}),
  };
};

/**
 * Signing packages, the signer queue and the signing hub under `/v1`: each route is the GraphQL operation beside
 * it. Managers read packages as `SigningPackage`, signers as `SignerPackage` (see SIGNER_PACKAGE_FIELDS). Sending
 * and voiding take If-Match: a package is versioned, and they change its state.
 */
export const signingResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/signing-packages',
    operationId: 'listSigningPackages',
    tag: 'Signing',
    summary: "List an organization's signing packages",
    description:
      'Newest first, in pages of `first` (cursor `after`), optionally of one `status`. For managers with the `signing` permission (within their locations) and a manager signing identity (403 `NO_MANAGER_IDENTITY` otherwise).',
    operation: /* GraphQL */ `
      query RestListSigningPackages($organizationId: ID!, $status: PackageStatus, $first: Int, $after: String) {
        signingPackages(organizationId: $organizationId, status: $status, first: $first, after: $after) {
          edges { node { ...RestSigningPackage } } pageInfo { hasNextPage endCursor }
        }
      }
      ${PACKAGE_FIELDS}`,
    query: { organizationId: 'organizationId', status: 'status', ...page },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/signing-packages',
    operationId: 'createSigningPackage',
    tag: 'Signing',
    summary: 'Create a draft signing package',
    description: 'Documents in package order and signers in signing order. Needs the `signing` permission and a manager signing identity.',
    operation: /* GraphQL */ `
      mutation RestCreateSigningPackage($input: CreateSigningPackageInput!) { createSigningPackage(input: $input) { ...RestSigningPackage } }
      ${PACKAGE_FIELDS}`,
    body: 'input',
    created: (pkg) => `/v1/signing-packages/${String(pkg.id)}`,
  },
  {
    method: 'GET',
    path: '/v1/signing-packages/:id',
    operationId: 'getSigningPackage',
    tag: 'Signing',
    summary: 'Read a signing package',
    description:
      'Admins read any package, managers those they manage, signers those assigned to them, a sender or signer session its own; others get 404. Managers get a `SigningPackage` with an ETag; a caller who reads it only as a signer gets a `SignerPackage`.',
    operation: /* GraphQL */ `
      query RestGetSigningPackage($id: ID!) { signingPackage(id: $id) { ...RestSigningPackage } }
      ${PACKAGE_FIELDS}`,
    signerOperation: /* GraphQL */ `
      query RestGetSignerPackage($id: ID!) { signingPackage(id: $id) { ...RestSignerPackage } }
      ${SIGNER_PACKAGE_FIELDS}`,
    params: { id: 'id' },
  },
  {
    method: 'POST',
    path: '/v1/signing-packages/:id/send',
    operationId: 'sendSigningPackage',
    tag: 'Signing',
    summary: 'Send a draft package to its signers',
    description: 'DRAFT → SENT; 409 `INVALID_TRANSITION` otherwise. `If-Match` names the version you saw.',
    operation: /* GraphQL */ `
      mutation RestSendSigningPackage($id: ID!, $version: Int) { sendSigningPackage(id: $id, version: $version) { ...RestSigningPackage } }
      ${PACKAGE_FIELDS}`,
    params: { id: 'id' },
    ifMatch: 'version',
  },
  {
    method: 'POST',
    path: '/v1/signing-packages/:id/void',
    operationId: 'voidSigningPackage',
    tag: 'Signing',
    summary: 'Void a draft or sent package',
    description: 'DRAFT or SENT → VOIDED, with a `reason` in the body; 409 `INVALID_TRANSITION` otherwise. `If-Match` names the version you saw.',
    operation: /* GraphQL */ `
      mutation RestVoidSigningPackage($id: ID!, $reason: String!, $version: Int) {
        voidSigningPackage(id: $id, reason: $reason, version: $version) { ...RestSigningPackage }
      }
      ${PACKAGE_FIELDS}`,
    params: { id: 'id' },
    bodyFields: { reason: 'reason' },
    ifMatch: 'version',
  },
  signerStep('view', 'Open a package assigned to you', 'Your slot becomes VIEWED the first time.'),
  signerStep('sign', 'Sign your slot of a package', 'In a sequential package earlier signers go first (409 `NOT_YOUR_TURN`).'),
  signerStep('decline', 'Decline your slot of a package', 'With a `reason` in the body; the package becomes DECLINED.'),
  {
    method: 'GET',
    path: '/v1/signer-queue',
    operationId: 'listSignerQueue',
    tag: 'Signing',
    summary: 'Sent packages assigned to you as a signer',
    description: 'Oldest first unless `orderBy` says otherwise, in pages of `first` (cursor `after`). Empty when no signer identity is linked or nothing is assigned.',
    operation: /* GraphQL */ `
      query RestListSignerQueue($first: Int, $after: String, $orderBy: SignerQueueOrder) {
        signerQueueConnection(first: $first, after: $after, orderBy: $orderBy) { edges { node { ...RestSignerPackage } } pageInfo { hasNextPage endCursor } }
      }
      ${SIGNER_PACKAGE_FIELDS}`,
    query: { ...page, orderBy: 'orderBy' },
    list: true,
  },
  {
    method: 'GET',
    path: '/v1/signing-hub',
    operationId: 'listSigningHub',
    tag: 'Signing',
    summary: 'The packages you manage',
    description: 'Newest first unless `orderBy` says otherwise, optionally of one `status`. Needs a manager or admin signing identity (403 `NO_MANAGER_IDENTITY`).',
    operation: /* GraphQL */ `
      query RestListSigningHub($first: Int, $after: String, $orderBy: SigningHubOrder, $status: PackageStatus) {
        signingHubConnection(first: $first, after: $after, orderBy: $orderBy, status: $status) {
          edges { node { ...RestSigningPackage } } pageInfo { hasNextPage endCursor }
        }
      }
      ${PACKAGE_FIELDS}`,
    query: { ...page, orderBy: 'orderBy', status: 'status' },
    list: true,
  },
];

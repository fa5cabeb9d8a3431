import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';

const IDENTITY_FIELDS = /* GraphQL */ `
  fragment RestSigningIdentity on SigningIdentity {
    id kind email linkedAt linkedByName organization { id name } location { id name }
  }
`;

/**
 * Signing identities (manager, admin and signer roles in an organization's signing) under `/v1`. The representation
 * keeps to what a signer may see of their own identity (SIGNER_VISIBLE_FIELDS), so the list answers signers cleanly.
 */
export const identityResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/signing-identities',
    operationId: 'listMySigningIdentities',
    tag: 'Signing identities',
    summary: 'List the signing identities linked to your account',
    description: 'In one page, oldest link first. An app sign-in session sees its organization\'s only.',
    operation: /* GraphQL */ `
      query RestListMySigningIdentities { me { identities { ...RestSigningIdentity } } }
      ${IDENTITY_FIELDS}`,
    unwrap: { field: 'identities', missing: { reason: 'NO_IDENTITIES', message: 'No signing identities.' } },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/signing-identities',
    operationId: 'linkSigningIdentity',
    tag: 'Signing identities',
    summary: "Link a signing identity to a member's account",
    description: 'Manager and admin identities: organization admins only (to themselves too). Signer identities: organization admins, and managers with the signing permission.',
    operation: /* GraphQL */ `
      mutation RestLinkSigningIdentity($input: LinkSigningIdentityInput!) { linkSigningIdentity(input: $input) { ...RestSigningIdentity } }
      ${IDENTITY_FIELDS}`,
    body: 'input',
    created: (identity) => `/v1/signing-identities/${String(identity.id)}`,
  },
  {
    method: 'DELETE',
    path: '/v1/signing-identities/:id',
    operationId: 'unlinkSigningIdentity',
    tag: 'Signing identities',
    summary: 'Unlink a signing identity',
    operation: /* GraphQL */ `
      mutation RestUnlinkSigningIdentity($id: ID!) { unlinkSigningIdentity(id: $id) }`,
    params: { id: 'id' },
    noContent: true,
  },
];

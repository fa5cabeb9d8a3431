import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';

const LOAN_FIELDS = /* GraphQL */ `
  fragment RestLoan on Loan {
    id version loanNumber borrowerName status currency principal balance pastDueAmount paymentAmount interestRate
    daysPastDue originatedOn maturityOn nextPaymentOn attachedAt
  }
`;

const DOCUMENT_FIELDS = /* GraphQL */ `
  fragment RestDocument on Document {
    id version status collateralKind serialNumber hudLabelNumber titleNumber manufacturer model year
    ownerName ownerEmail ownerPhone addressLine1 addressLine2 city county state postalCode
    organization { id name } location { id name code } loan { ...RestLoan } createdAt updatedAt archivedAt
  }
  ${LOAN_FIELDS}
`;

/** Chattel records and their loans under `/v1`: each route is the GraphQL operation beside it. */
export const documentResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/documents',
    operationId: 'listDocuments',
    tag: 'Documents',
    summary: 'List the chattel records you may read',
    description: 'Newest first, in pages of `first` (cursor `after`). Archived records are listed only when `status` asks for them.',
    operation: /* GraphQL */ `
      query RestListDocuments($first: Int, $after: String, $filter: DocumentFilter) {
        documents(first: $first, after: $after, filter: $filter) { edges { node { ...RestDocument } } pageInfo { hasNextPage endCursor } }
      }
      ${DOCUMENT_FIELDS}`,
    query: {
      first: 'first',
      after: 'after',
      organizationId: 'filter.organizationId',
      locationId: 'filter.locationId',
      status: 'filter.status',
      loanStatus: 'filter.loanStatus',
      search: 'filter.search',
    },
    list: true,
  },
  {
    method: 'POST',
    path: '/v1/documents',
    operationId: 'registerDocument',
    tag: 'Documents',
    summary: 'Register a chattel record',
    operation: /* GraphQL */ `
      mutation RestRegisterDocument($input: RegisterChattelInput!) { registerChattel(input: $input) { ...RestDocument } }
      ${DOCUMENT_FIELDS}`,
    body: 'input',
    created: (document) => `/v1/documents/${String(document.id)}`,
  },
  {
    method: 'GET',
    path: '/v1/documents/:id',
    operationId: 'getDocument',
    tag: 'Documents',
    summary: 'Read a chattel record with its loan',
    operation: /* GraphQL */ `
      query RestGetDocument($id: ID!) { document(id: $id) { ...RestDocument } }
      ${DOCUMENT_FIELDS}`,
    params: { id: 'id' },
  },
  {
    method: 'PATCH',
    path: '/v1/documents/:id',
    operationId: 'updateDocument',
    tag: 'Documents',
    summary: 'Change a chattel record',
    description: 'Send only the fields to change, with `If-Match` set to the ETag you read.',
    operation: /* GraphQL */ `
      mutation RestUpdateDocument($input: UpdateDocumentInput!) { updateDocument(input: $input) { ...RestDocument } }
      ${DOCUMENT_FIELDS}`,
    params: { id: 'input.id' },
    ifMatch: 'input.version',
    body: 'input',
  },
  {
    method: 'POST',
    path: '/v1/documents/:id/archive',
    operationId: 'archiveDocument',
    tag: 'Documents',
    summary: 'Archive a chattel record',
    description: 'Hidden from the default list and kept for history. `If-Match` names the version archived.',
    operation: /* GraphQL */ `
      mutation RestArchiveDocument($id: ID!, $version: Int!) { archiveDocument(id: $id, version: $version) { ...RestDocument } }
      ${DOCUMENT_FIELDS}`,
    params: { id: 'id' },
    ifMatch: 'version',
  },
  {
    method: 'GET',
    path: '/v1/documents/:id/loan',
    operationId: 'getDocumentLoan',
    tag: 'Loans',
    summary: "Read a chattel record's loan",
    description: '404 `NO_LOAN_ATTACHED` when the record has none.',
    operation: /* GraphQL */ `
      query RestGetDocumentLoan($id: ID!) { document(id: $id) { loan { ...RestLoan } } }
      ${LOAN_FIELDS}`,
    params: { id: 'id' },
    unwrap: { field: 'loan', missing: { reason: 'NO_LOAN_ATTACHED', message: 'This chattel record has no loan attached.' } },
  },
  {
    method: 'POST',
    path: '/v1/documents/:id/loan',
    operationId: 'attachLoan',
    tag: 'Loans',
    summary: 'Attach a loan to a chattel record',
    operation: /* GraphQL */ `
      mutation RestAttachLoan($input: AttachLoanInput!) { attachLoan(input: $input) { ...RestLoan } }
      ${LOAN_FIELDS}`,
    params: { id: 'input.documentId' },
    body: 'input',
    created: (_loan, variables) => `/v1/documents/${String((variables.input as { documentId: string }).documentId)}/loan`,
  },
  {
    method: 'PATCH',
    path: '/v1/loans/:id',
    operationId: 'updateLoan',
    tag: 'Loans',
    summary: 'Change a loan',
    description: 'Send only the fields to change, with `If-Match` set to the loan\'s ETag.',
    operation: /* GraphQL */ `
      mutation RestUpdateLoan($input: UpdateLoanInput!) { updateLoan(input: $input) { ...RestLoan } }
      ${LOAN_FIELDS}`,
    params: { id: 'input.id' },
    ifMatch: 'input.version',
    body: 'input',
  },
  {
    method: 'DELETE',
    path: '/v1/loans/:id',
    operationId: 'detachLoan',
    tag: 'Loans',
    summary: 'Detach a loan from its chattel record',
    operation: /* GraphQL */ `
      mutation RestDetachLoan($id: ID!) { detachLoan(id: $id) }`,
    params: { id: 'id' },
    noContent: true,
  },
];

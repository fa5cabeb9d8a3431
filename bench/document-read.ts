// Throughput of a GraphQL read of one document by id (with its loan) against the same SQL on bare node:http + pg.
import { createDocument, createOrganization, createUser, signInAs } from '../test/support/factories.ts';
import { runReplayBench } from './support/replay.ts';

export function benchDocumentRead(): Promise<{ ratio: number }> {
  return runReplayBench({
    name: 'document-read',
    title: 'Document read by id',
    graphqlLabel: 'GraphQL document(id) with loan',
    async setup(app, database) {
      const { organization } = await createOrganization(database.prisma);
      const document = await createDocument(database.prisma, { organizationId: organization.id });
      await database.prisma.loan.create({
        data: { organizationId: organization.id, documentId: document.id, loanNumber: 'B-1', borrowerName: 'Bench', principal: '1000.00', balance: '900.00' },
      });
      const admin = await createUser(database.prisma, { roles: ['ADMIN'] });
      return {
        query: 'query DocumentById($id: ID!) { document(id: $id) { id serialNumber ownerName status loan { loanNumber status balance } } }',
        variables: { id: document.id },
        token: (await signInAs(app.services, admin.id)).token,
        expect: document.serialNumber,
      };
    },
  });
}

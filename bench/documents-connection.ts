// Throughput of the documents connection (first 20, with their loans) for a member, against the same SQL on bare
// node:http + pg.
import { addMember, createOrganization, createUser, signInAs } from '../test/support/factories.ts';
import { runReplayBench } from './support/replay.ts';

export function benchDocumentsConnection(): Promise<{ ratio: number }> {
  return runReplayBench({
    name: 'documents-connection',
    title: 'Documents connection, first 20 with loans',
    graphqlLabel: 'GraphQL documents(first: 20) with loans',
    async setup(app, database) {
      const db = database.prisma;
      const { organization, role } = await createOrganization(db);
      for (let i = 0; i < 60; i++) {
        const document = await db.document.create({
          data: { organizationId: organization.id, manufacturer: 'Clayton', serialNumber: `BENCH-${i}`, ownerName: `Owner ${i}`, addressLine1: '1 Main', city: 'Athens', state: 'GA', postalCode: '30601' },
        });
        await db.loan.create({ data: { organizationId: organization.id, documentId: document.id, loanNumber: `BL-${i}`, borrowerName: `Owner ${i}`, principal: '50000.00', balance: '42000.00', status: i % 3 === 0 ? 'BEHIND' : 'CURRENT' } });
      }
      const member = await createUser(db);
      await addMember(db, { userId: member.id, organizationId: organization.id, roleId: role.id });
      return {
        query: 'query Documents { documents(first: 20) { edges { node { id serialNumber ownerName status loan { loanNumber status balance } } } pageInfo { hasNextPage endCursor } } }',
        variables: {},
        token: (await signInAs(app.services, member.id)).token,
        expect: 'BENCH-59',
      };
    },
  });
}

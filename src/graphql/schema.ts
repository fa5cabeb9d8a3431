import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import '../modules/activity/activity.schema.ts';
import '../modules/organizations/organizations.schema.ts';
import '../modules/auth/auth.schema.ts';
import '../modules/loans/loans.schema.ts';
import '../modules/documents/documents.schema.ts';
import '../modules/rcm/rcm.schema.ts';
import '../modules/identities/identities.schema.ts';
import '../modules/users/users.schema.ts';
import '../modules/signing/signing.schema.ts';
import '../modules/partners/partners.schema.ts';
import '../modules/tokens/tokens.schema.ts';
import '../modules/apps/apps.schema.ts';

export const schema: GraphQLSchema = builder.toSchema();

/** The SDL checked in as schema.graphql: sorted, so it changes only when the schema does. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema)).trimEnd()}\n`;
}

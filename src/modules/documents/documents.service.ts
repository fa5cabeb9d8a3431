import type { Prisma } from '../../generated/prisma/client.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import type { Viewer } from '../auth/viewer.ts';
import { readableDocumentsWhere } from './documents.policy.ts';

export interface GetDocumentByIdOptions<Q> {
  viewer: Viewer;
  id: string;
  /** The selection the caller needs (GraphQL passes the Pothos query so relations load in one go). */
  query?: Q;
}

export async function getDocumentById<Q extends { include?: Prisma.DocumentInclude; select?: Prisma.DocumentSelect }>(
  services: Pick<Services, 'db'>,
  options: GetDocumentByIdOptions<Q>,
) {
  const id = parseId(options.id);
  const document = await services.db.document.findFirst({
    ...(options.query ?? {}),
    where: { AND: [{ id }, readableDocumentsWhere(options.viewer)] },
  });
  if (!document) throw new AppError('NOT_FOUND', 'Document not found.');
  return document;
}

import type { Prisma } from '../../generated/prisma/client.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import type { Viewer } from '../auth/viewer.ts';
import { readableOrganizationsWhere } from './organizations.policy.ts';

export async function getOrganizationById<Q extends { include?: Prisma.OrganizationInclude; select?: Prisma.OrganizationSelect }>(
  services: Pick<Services, 'db'>,
  options: { viewer: Viewer; id: string; query?: Q },
) {
  const id = parseId(options.id);
  const organization = await services.db.organization.findFirst({ ...(options.query ?? {}), where: { AND: [{ id }, readableOrganizationsWhere(options.viewer)] } });
  if (!organization) throw new AppError('NOT_FOUND', 'Organization not found.');
  return organization;
}

import type { Db } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { PackageStatus, SessionKind } from '../../generated/prisma/enums.ts';

/**
 * The package states in which a sender or signer token session lives, and in which its token may be issued and
 * exchanged: a sender may also prepare a draft. Completing, declining, voiding or expiring the package ends it.
 */
export const OPEN_PACKAGE_STATUSES: Readonly<Partial<Record<SessionKind, readonly PackageStatus[]>>> = {
  SENDER_TOKEN: ['DRAFT', 'SENT'],
  SIGNER_TOKEN: ['SENT'],
};

const PACKAGE_SESSION_KINDS = Object.keys(OPEN_PACKAGE_STATUSES) as SessionKind[];

/** A package in one of `statuses` whose own expiry has not passed (it counts even before a sweep sets EXPIRED). */
export function openPackageWhere(statuses: readonly PackageStatus[], now: Date): Prisma.SigningPackageWhereInput {
  return { AND: [{ status: { in: [...statuses] } }, { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }] };
}

/**
 * Sessions that still stand as far as a package is concerned: every session not limited to a package, and a sender
 * or signer session whose package is open. The session guard's query uses it; `isSessionPackageOpen` is the same
 * rule for one session already read.
 */
export function packageOpenSessionWhere(now: Date): Prisma.LoginSessionWhereInput {
  return {
    OR: [
      { kind: { notIn: PACKAGE_SESSION_KINDS } },
      ...PACKAGE_SESSION_KINDS.map((kind) => ({ kind, package: { is: openPackageWhere(OPEN_PACKAGE_STATUSES[kind]!, now) } })),
    ],
  };
}

/** Whether a session limited to a package may still be used: always true (and no query) for other sessions. */
export async function isSessionPackageOpen(db: Pick<Db, 'signingPackage'>, session: { kind: SessionKind; packageId: string | null }, now: Date): Promise<boolean> {
  const statuses = OPEN_PACKAGE_STATUSES[session.kind];
  if (!statuses) return true;
  if (!session.packageId) return false;
  return (await db.signingPackage.count({ where: { AND: [{ id: session.packageId }, openPackageWhere(statuses, now)] } })) === 1;
}

/**
 * When a new sender or signer session must end: after `maxSeconds` (LIMITED_SESSION_MAX_SECONDS) at the latest, and
 * no later than its package's own expiry.
 */
export function packageSessionEnd(now: Date, maxSeconds: number, packageExpiresAt: Date | null): Date {
  const cap = now.getTime() + maxSeconds * 1000;
  return new Date(packageExpiresAt ? Math.min(cap, packageExpiresAt.getTime()) : cap);
}

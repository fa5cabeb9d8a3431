import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_EMAILS, DEMO_PASSWORD, seed } from '../prisma/seed.ts';
import { verifyPassword } from '../src/lib/password.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.destroy();
});

async function counts() {
  const p = db.prisma;
  return {
    users: await p.user.count(),
    organizations: await p.organization.count(),
    memberships: await p.membership.count(),
    identities: await p.signingIdentity.count(),
    documents: await p.document.count(),
    loans: await p.loan.count(),
    campaigns: await p.rcmCampaign.count(),
    steps: await p.rcmStep.count(),
    attempts: await p.rcmOutreachAttempt.count(),
    packages: await p.signingPackage.count(),
    signers: await p.packageSigner.count(),
    activities: await p.activity.count(),
  };
}

describe('npm run seed', () => {
  it('creates the demo workspace in every state, and a second run changes nothing', async () => {
    expect((await counts()).users).toBe(0);
    await seed(db.prisma);
    const first = await counts();
    expect(first).toMatchObject({ organizations: 1, documents: 3, loans: 2, campaigns: 1, packages: 1, signers: 2 });
    await seed(db.prisma);
    expect(await counts()).toEqual(first);

    const users = await db.prisma.user.findMany({ select: { email: true, roles: true } });
    expect(users.map((u) => u.email).sort()).toEqual(Object.values(DEMO_EMAILS).sort());
    expect(users.find((u) => u.email === DEMO_EMAILS.admin)?.roles).toEqual(['ADMIN']);
    const manager = await db.prisma.user.findUniqueOrThrow({ where: { email: DEMO_EMAILS.manager } });
    expect((await verifyPassword(manager.passwordHash!, DEMO_PASSWORD)).valid).toBe(true);
    expect((await verifyPassword(manager.passwordHash!, 'wrong password')).valid).toBe(false);

    const behind = await db.prisma.loan.findFirstOrThrow({ where: { status: 'BEHIND' }, include: { campaigns: true } });
    expect(behind.campaigns.map((c) => c.status)).toEqual(['ACTIVE']);
    expect(behind.pastDueAmount.toString()).toBe('1060.3');

    const pkg = await db.prisma.signingPackage.findFirstOrThrow({ include: { signers: { orderBy: { order: 'asc' } } } });
    expect(pkg.status).toBe('SENT');
    expect(pkg.signers.map((s) => s.status)).toEqual(['SIGNED', 'PENDING']);

    // One signer identity has nothing assigned: the empty-queue state.
    const idle = await db.prisma.signingIdentity.findFirstOrThrow({ where: { email: DEMO_EMAILS.newSigner }, include: { signerSlots: true } });
    expect(idle.signerSlots).toEqual([]);
  });
});

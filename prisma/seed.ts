// `npm run seed`: a demo workspace showing every state the API serves. Idempotent: every record has a fixed id
// or natural key and is upserted, so running it twice changes nothing.
import { loadConfig } from '../src/config.ts';
import { openDatabase, type Db } from '../src/db/client.ts';
import { applyMigrations } from '../src/db/migrator.ts';
import { createLogger } from '../src/lib/logger.ts';
import { hashPassword } from '../src/lib/password.ts';

const ids = {
  organization: '019a0000-0000-7000-8000-000000000001',
  athens: '019a0000-0000-7000-8000-000000000011',
  macon: '019a0000-0000-7000-8000-000000000012',
  ownerRole: '019a0000-0000-7000-8000-000000000021',
  managerRole: '019a0000-0000-7000-8000-000000000022',
  staffRole: '019a0000-0000-7000-8000-000000000023',
  admin: '019a0000-0000-7000-8000-000000000031',
  manager: '019a0000-0000-7000-8000-000000000032',
  signer: '019a0000-0000-7000-8000-000000000033',
  newSigner: '019a0000-0000-7000-8000-000000000034',
  managerIdentity: '019a0000-0000-7000-8000-000000000041',
  signerIdentity: '019a0000-0000-7000-8000-000000000042',
  newSignerIdentity: '019a0000-0000-7000-8000-000000000043',
  docCurrent: '019a0000-0000-7000-8000-000000000051',
  docBehind: '019a0000-0000-7000-8000-000000000052',
  docNoLoan: '019a0000-0000-7000-8000-000000000053',
  loanCurrent: '019a0000-0000-7000-8000-000000000061',
  loanBehind: '019a0000-0000-7000-8000-000000000062',
  campaign: '019a0000-0000-7000-8000-000000000071',
  package: '019a0000-0000-7000-8000-000000000081',
  packageSigner1: '019a0000-0000-7000-8000-000000000082',
  packageSigner2: '019a0000-0000-7000-8000-000000000083',
} as const;

export const DEMO_EMAILS = {
  admin: 'admin@safeclose.test',
  manager: 'manager@safeclose.test',
  signer: 'signer@safeclose.test',
  newSigner: 'new.signer@safeclose.test',
} as const;

const address = { city: 'Athens', state: 'GA', postalCode: '30601' };

/** The password of every demo account: demo data only, printed by the seed. */
export const DEMO_PASSWORD = 'safeclose-demo';

export async function seed(db: Db): Promise<void> {
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  await db.$transaction(async (tx) => {
    await tx.organization.upsert({
      where: { id: ids.organization },
      update: {},
      create: { id: ids.organization, name: 'Peachtree Home Lending', slug: 'peachtree-home-lending', plan: 'professional', seats: 25, subscriptionStatus: 'ACTIVE' },
    });
    for (const [id, name, code] of [[ids.athens, 'Athens Lot', 'ATH'], [ids.macon, 'Macon Branch', 'MCN']] as const) {
      await tx.location.upsert({ where: { id }, update: {}, create: { id, organizationId: ids.organization, name, code, state: 'GA' } });
    }
    const roles = [
      [ids.ownerRole, 'Owner', ['orgSettings', 'billing', 'members', 'documents', 'loans', 'rcm', 'signing']],
      [ids.managerRole, 'Manager', ['members', 'documents', 'loans', 'rcm', 'signing']],
      [ids.staffRole, 'Staff', ['documents', 'loans']],
    ] as const;
    for (const [id, name, permissions] of roles) {
      await tx.organizationRole.upsert({ where: { id }, update: {}, create: { id, organizationId: ids.organization, name, permissions: [...permissions] } });
    }

    const users = [
      [ids.admin, DEMO_EMAILS.admin, 'Avery Admin', ['ADMIN']],
      [ids.manager, DEMO_EMAILS.manager, 'Morgan Manager', ['MANAGER']],
      [ids.signer, DEMO_EMAILS.signer, 'Dana Whitfield', ['SIGNER']],
      [ids.newSigner, DEMO_EMAILS.newSigner, 'Sam Newcomb', ['SIGNER']],
    ] as const;
    for (const [id, email, name, platformRoles] of users) {
      await tx.user.upsert({ where: { email }, update: {}, create: { id, email, name, roles: [...platformRoles], passwordHash, emailVerifiedAt: new Date() } });
    }
    await tx.membership.upsert({
      where: { userId_organizationId: { userId: ids.admin, organizationId: ids.organization } },
      update: {},
      create: { userId: ids.admin, organizationId: ids.organization, roleId: ids.ownerRole, isOwner: true },
    });
    await tx.membership.upsert({
      where: { userId_organizationId: { userId: ids.manager, organizationId: ids.organization } },
      update: {},
      create: { userId: ids.manager, organizationId: ids.organization, roleId: ids.managerRole },
    });

    // The manager's signing-hub identity is linked by the organization admin; signer identities by the manager.
    const identities = [
      [ids.managerIdentity, ids.manager, 'MANAGER', null, ids.admin],
      [ids.signerIdentity, ids.signer, 'SIGNER', DEMO_EMAILS.signer, ids.manager],
      [ids.newSignerIdentity, ids.newSigner, 'SIGNER', DEMO_EMAILS.newSigner, ids.manager],
    ] as const;
    for (const [id, userId, kind, email, linkedById] of identities) {
      await tx.signingIdentity.upsert({ where: { id }, update: {}, create: { id, userId, kind, organizationId: ids.organization, email, linkedById } });
    }

    const documents = [
      [ids.docCurrent, ids.athens, 'Clayton', 'Tempo 32', 2019, 'CLW031234TNAB', 'NTA1934455', 'Dana Whitfield', '12 Pine Lane'],
      [ids.docBehind, ids.athens, 'Champion', 'Titan 2868', 2016, 'CHA115523GA', 'PFS1122334', 'Jordan Ellis', '48 Oak Street'],
      [ids.docNoLoan, ids.macon, 'Skyline', 'Sunset Ridge', 2021, 'SKY77881ABC', 'HWC0099887', 'Riley Moreno', '7 Cedar Court'],
    ] as const;
    for (const [id, locationId, manufacturer, model, year, serialNumber, hudLabelNumber, ownerName, addressLine1] of documents) {
      await tx.document.upsert({
        where: { id },
        update: {},
        create: { id, organizationId: ids.organization, locationId, manufacturer, model, year, serialNumber, hudLabelNumber, ownerName, addressLine1, ...address, createdById: ids.manager },
      });
    }
    await tx.loan.upsert({
      where: { id: ids.loanCurrent },
      update: {},
      create: {
        id: ids.loanCurrent, organizationId: ids.organization, documentId: ids.docCurrent, loanNumber: 'PHL-10001', borrowerName: 'Dana Whitfield',
        status: 'CURRENT', principal: '84500.00', balance: '61234.56', paymentAmount: '712.40', interestRate: '7.2500',
        originatedOn: new Date('2021-04-01'), nextPaymentOn: new Date('2026-12-01'),
      },
    });
    await tx.loan.upsert({
      where: { id: ids.loanBehind },
      update: {},
      create: {
        id: ids.loanBehind, organizationId: ids.organization, documentId: ids.docBehind, loanNumber: 'PHL-10002', borrowerName: 'Jordan Ellis',
        status: 'BEHIND', principal: '56000.00', balance: '38910.02', paymentAmount: '530.15', pastDueAmount: '1060.30', daysPastDue: 47,
        interestRate: '8.1000', originatedOn: new Date('2019-09-15'), nextPaymentOn: new Date('2026-10-15'),
      },
    });
    await tx.rcmCampaign.upsert({
      where: { id: ids.campaign },
      update: {},
      create: {
        id: ids.campaign, organizationId: ids.organization, documentId: ids.docBehind, loanId: ids.loanBehind, name: 'PHL-10002 recovery',
        status: 'ACTIVE', startedAt: new Date('2026-11-01T14:00:00Z'), createdById: ids.manager,
        steps: {
          create: [
            { position: 1, channel: 'EMAIL', delayHours: 0, template: 'Your payment is past due. Reply or call us to arrange it.' },
            { position: 2, channel: 'SMS', delayHours: 72, template: 'Peachtree Home Lending: your account is past due. Call 555-0100.' },
            { position: 3, channel: 'CALL', delayHours: 168, template: 'Call script: confirm hardship, offer a payment plan.' },
          ],
        },
        attempts: { create: [{ channel: 'EMAIL', status: 'DELIVERED', attemptedAt: new Date('2026-11-01T14:05:00Z'), recordedById: ids.manager }] },
      },
    });

    // A package mid-signing: the co-borrower has signed; the demo signer (sequential, second) is up next.
    await tx.signingPackage.upsert({
      where: { id: ids.package },
      update: {},
      create: {
        id: ids.package, organizationId: ids.organization, locationId: ids.athens, title: 'PHL-10001 loan modification', status: 'SENT',
        sequential: true, createdById: ids.manager, sentAt: new Date('2026-11-20T15:00:00Z'), expiresAt: new Date('2027-01-31T23:59:59Z'),
        documents: { create: [{ documentId: ids.docCurrent, position: 1 }] },
        signers: {
          create: [
            { id: ids.packageSigner1, order: 1, email: 'co.borrower@example.test', name: 'Casey Whitfield', status: 'SIGNED', viewedAt: new Date('2026-11-20T16:00:00Z'), signedAt: new Date('2026-11-20T16:04:00Z') },
            { id: ids.packageSigner2, order: 2, email: DEMO_EMAILS.signer, name: 'Dana Whitfield', signerIdentityId: ids.signerIdentity, status: 'PENDING' },
          ],
        },
      },
    });
    const seeded = await tx.activity.count({ where: { organizationId: ids.organization } });
    if (seeded === 0) {
      await tx.activity.createMany({
        data: [
          { type: 'document.registered', organizationId: ids.organization, documentId: ids.docBehind, actorUserId: ids.manager },
          { type: 'rcm.campaign.started', organizationId: ids.organization, documentId: ids.docBehind, actorUserId: ids.manager, data: { campaignId: ids.campaign } },
          { type: 'signing.package.sent', organizationId: ids.organization, packageId: ids.package, actorUserId: ids.manager },
          { type: 'signing.signer.signed', organizationId: ids.organization, packageId: ids.package, data: { signerId: ids.packageSigner1 } },
        ],
      });
    }
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: 'warn' });
  const database = await openDatabase(config.database, { logger });
  try {
    await applyMigrations(database.migrationTarget, { logger });
    await seed(database.prisma);
  } finally {
    await database.close();
  }
  process.stdout.write(
    [
      'Seeded the demo workspace "Peachtree Home Lending" (2 locations, 3 chattel records, a BEHIND loan with an active',
      `RCM campaign, a signing package mid-signing). Sign in with password "${DEMO_PASSWORD}" as:`,
      `  admin    ${DEMO_EMAILS.admin}`,
      `  manager  ${DEMO_EMAILS.manager}`,
      `  signer   ${DEMO_EMAILS.signer}   (has a package waiting in the signer queue)`,
      `  signer   ${DEMO_EMAILS.newSigner}   (signer identity linked, empty signer queue)`,
      '',
    ].join('\n'),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Exits explicitly: the schema engine leaves a timer behind that would hold the process open for seconds.
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`Seeding failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}

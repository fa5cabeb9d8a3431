import type { Prisma } from '../../generated/prisma/client.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { assertCredentialAttemptAllowed, CredentialAttemptsExceeded, recordCredentialFailure, verifyStoredSecret, type SecretVerifier } from '../../lib/credential-guard.ts';
import { isUuid, parseId } from '../../lib/ids.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { text } from '../../lib/validate.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { normaliseEmail } from '../auth/accounts.service.ts';
import { startSession, type ClientInfo, type IssuedSession } from '../auth/sessions.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { isUniqueViolation } from '../organizations/organizations.service.ts';

export const API_KEY_PREFIX = 'swk_';
const PARTNER_KEY = /^[A-Za-z0-9._-]+$/;
const PRINTABLE = /^[^\p{Cc}]+$/u;

export interface CreatedPartner<P> {
  partner: P;
  /** Shown this once; only its SHA-256 is stored. */
  apiKey: string;
}

/** Admins register a partner; the API key exists only in this answer. */
export async function createPartner<Q extends Omit<Prisma.PartnerFindUniqueOrThrowArgs, 'where'>>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; name: string; partnerKey: string; organizationId?: string | null; query?: Q },
): Promise<CreatedPartner<Prisma.PartnerGetPayload<Q & { where: { id: string } }>>> {
  const name = text(input.name, 'name', { max: 200, pattern: PRINTABLE, hint: 'name must not contain control characters.' });
  const partnerKey = text(input.partnerKey, 'partnerKey', { min: 3, max: 64, pattern: PARTNER_KEY, hint: 'partnerKey must be 3 to 64 letters, digits, dots, dashes or underscores.' });
  const organizationId = input.organizationId ? parseId(input.organizationId, 'organizationId') : null;
  if (organizationId && !(await services.db.organization.findUnique({ where: { id: organizationId }, select: { id: true } }))) {
    throw new AppError('NOT_FOUND', 'No such organization.', { field: 'organizationId' });
  }
  const apiKey = `${API_KEY_PREFIX}${generateSecret()}`;
  const created = await services.db.partner
    .create({
      data: { name, partnerKey, organizationId, apiKeyPrefix: apiKey.slice(0, API_KEY_PREFIX.length + 8), apiKeyHash: hashSecret(apiKey), createdAt: services.clock.now() },
      select: { id: true },
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? new AppError('CONFLICT', 'A partner with that partnerKey already exists.', { field: 'partnerKey' }) : error;
    });
  await recordActivity(services.db, {
    type: 'partner.created',
    actorUserId: input.viewer.userId,
    organizationId,
    ip: input.client.ip,
    userAgent: input.client.userAgent,
    data: { partnerId: created.id, partnerKey },
  });
  const partner = await services.db.partner.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: created.id } });
  return { partner: partner as Prisma.PartnerGetPayload<Q & { where: { id: string } }>, apiKey };
}

/** Admins add a customer to a partner, linked to the platform user with `userEmail` when given. */
export async function createPartnerCustomer<Q extends Omit<Prisma.PartnerCustomerFindUniqueOrThrowArgs, 'where'>>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; partnerId: string; name: string; email: string; userEmail?: string | null; query?: Q },
) {
  const partnerId = parseId(input.partnerId, 'partnerId');
  const name = text(input.name, 'name', { max: 200, pattern: PRINTABLE, hint: 'name must not contain control characters.' });
  const email = normaliseEmail(input.email);
  const partner = await services.db.partner.findUnique({ where: { id: partnerId }, select: { id: true, organizationId: true } });
  if (!partner) throw new AppError('NOT_FOUND', 'No such partner.', { field: 'partnerId' });
  let userId: string | null = null;
  if (input.userEmail) {
    const user = await services.db.user.findUnique({ where: { email: normaliseEmail(input.userEmail, 'userEmail') }, select: { id: true } });
    if (!user) throw new AppError('NOT_FOUND', 'No platform user has that email.', { field: 'userEmail' });
    userId = user.id;
  }
  const customer = await services.db.partnerCustomer.create({ data: { partnerId, name, email, userId }, select: { id: true } });
  await recordActivity(services.db, {
    type: 'partner.customer.created',
    actorUserId: input.viewer.userId,
    subjectUserId: userId,
    organizationId: partner.organizationId,
    ip: input.client.ip,
    userAgent: input.client.userAgent,
    data: { partnerId, customerId: customer.id },
  });
  return services.db.partnerCustomer.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: customer.id } });
}

export interface AuthenticatedPartner {
  id: string;
  organizationId: string | null;
}

/**
 * The partner whose SW-PARTNER-ID and SW-API-KEY these are, or null. An unknown partner id costs what a wrong key
 * costs (`verify` hashes and compares either way). Failures count against the caller's address and the partner id;
 * over either limit every attempt, the right key included, is refused with PartnerAttemptsExceeded until the
 * window ends.
 */
export async function authenticatePartner(
  services: Pick<Services, 'db' | 'rateLimiter' | 'config'>,
  input: { partnerKey: string; apiKey: string; client: ClientInfo },
  verify: SecretVerifier = verifyStoredSecret,
): Promise<AuthenticatedPartner | null> {
  const attempt = { kind: 'partner', identifier: input.partnerKey, address: input.client.ip } as const;
  try {
    await assertCredentialAttemptAllowed(services, attempt);
  } catch (error) {
    throw error instanceof CredentialAttemptsExceeded ? new PartnerAttemptsExceeded(error.retryAfterSeconds) : error;
  }
  const partner = await services.db.partner.findUnique({
    where: { partnerKey: input.partnerKey },
    select: { id: true, organizationId: true, apiKeyHash: true, disabledAt: true },
  });
  const matches = verify(input.apiKey, partner?.apiKeyHash);
  if (!partner || !matches || partner.disabledAt) {
    await recordCredentialFailure(services, attempt);
    return null;
  }
  return { id: partner.id, organizationId: partner.organizationId };
}

/** Link-issuing failures the REST layer answers with the seed's own messages. */
export type MagicLinkFailure = 'INVALID_CUSTOMER_ID' | 'CUSTOMER_NOT_FOUND' | 'NO_LINKED_USER';

export class MagicLinkError extends Error {
  constructor(readonly failure: MagicLinkFailure) {
    super(failure);
    this.name = 'MagicLinkError';
  }
}

export class MagicLinkRateLimited extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('magic link rate limited');
    this.name = 'MagicLinkRateLimited';
  }
}

/** Too many failed partner authentications: answered like the endpoint's other 429s, with Retry-After. */
export class PartnerAttemptsExceeded extends MagicLinkRateLimited {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds);
    this.name = 'PartnerAttemptsExceeded';
  }
}

/**
 * Issues a single-use sign-in link for one of the partner's customers. The token has 256 random bits; only its
 * SHA-256 is stored. A customer of another partner is not found, exactly like one that does not exist.
 */
export async function issueMagicLink(services: Services, input: { partner: AuthenticatedPartner; customerId: string; client: ClientInfo }): Promise<{ url: string }> {
  if (!isUuid(input.customerId)) throw new MagicLinkError('INVALID_CUSTOMER_ID');
  const { magicLinks } = services.config;
  const window = { windowSeconds: magicLinks.windowSeconds };
  const perPartner = await services.rateLimiter.hit(`magic-link:partner:${input.partner.id}`, { limit: magicLinks.perPartner, ...window });
  if (!perPartner.allowed) throw new MagicLinkRateLimited(perPartner.retryAfterSeconds);
  const customer = await services.db.partnerCustomer.findFirst({
    where: { id: input.customerId.toLowerCase(), partnerId: input.partner.id },
    select: { id: true, userId: true },
  });
  if (!customer) throw new MagicLinkError('CUSTOMER_NOT_FOUND');
  if (!customer.userId) throw new MagicLinkError('NO_LINKED_USER');
  const perCustomer = await services.rateLimiter.hit(`magic-link:customer:${customer.id}`, { limit: magicLinks.perCustomer, ...window });
  if (!perCustomer.allowed) throw new MagicLinkRateLimited(perCustomer.retryAfterSeconds);

  const token = generateSecret();
  const now = services.clock.now();
  await services.db.authToken.create({
    data: {
      purpose: 'MAGIC_LINK',
      tokenHash: hashSecret(token),
      userId: customer.userId,
      partnerCustomerId: customer.id,
      organizationId: input.partner.organizationId,
      maxUses: 1,
      createdAt: now,
      expiresAt: new Date(now.getTime() + magicLinks.ttlSeconds * 1000),
    },
  });
  await recordActivity(services.db, {
    type: 'partner.magic_link.issued',
    subjectUserId: customer.userId,
    organizationId: input.partner.organizationId,
    ip: input.client.ip,
    userAgent: input.client.userAgent,
    data: { partnerId: input.partner.id, customerId: customer.id },
  });
  const query = new URLSearchParams({ token_hash: token, type: 'magiclink' });
  return { url: `${services.config.publicUrl}/auth/confirm?${query.toString()}` };
}

/** One answer for unknown, expired, used and revoked links, so the page reveals nothing more. */
export const invalidMagicLink = () =>
  new AppError('BAD_USER_INPUT', 'This sign-in link has expired or was already used. Ask for a new link.', { reason: 'INVALID_MAGIC_LINK' });

/** Whether a link would still sign in, without using it up (the confirmation page's GET). */
export async function isMagicLinkUsable(services: Pick<Services, 'db' | 'clock'>, token: string): Promise<boolean> {
  const stored = await services.db.authToken.findUnique({
    where: { tokenHash: hashSecret(token) },
    select: { purpose: true, consumedAt: true, revokedAt: true, expiresAt: true, user: { select: { disabledAt: true } } },
  });
  return (
    stored !== null && stored.purpose === 'MAGIC_LINK' && !stored.consumedAt && !stored.revokedAt && stored.expiresAt > services.clock.now() && !stored.user?.disabledAt
  );
}

/**
 * Uses up a magic link and starts a MAGIC_LINK session. The claim is one conditional update, so of any number of
 * simultaneous confirmations exactly one wins; the others see an invalid link.
 */
export async function consumeMagicLink(services: Services, input: { token: string; client: ClientInfo }): Promise<IssuedSession> {
  const now = services.clock.now();
  const tokenHash = hashSecret(input.token);
  const fail = async (reason: string, userId?: string | null) => {
    await recordActivity(services.db, {
      type: 'auth.magic_link.failed',
      subjectUserId: userId ?? null,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { reason },
    });
    return invalidMagicLink();
  };
  const stored = await services.db.authToken.findUnique({
    where: { tokenHash },
    select: { id: true, purpose: true, userId: true, organizationId: true, partnerCustomerId: true, user: { select: { disabledAt: true } } },
  });
  if (!stored || stored.purpose !== 'MAGIC_LINK' || !stored.userId) throw await fail('unknown');
  if (stored.user?.disabledAt) throw await fail('user_disabled', stored.userId);
  const claimed = await services.db.authToken.updateMany({
    where: { id: stored.id, consumedAt: null, revokedAt: null, expiresAt: { gt: now } },
    data: { consumedAt: now, lastUsedAt: now, useCount: { increment: 1 } },
  });
  if (claimed.count !== 1) throw await fail('expired_or_used', stored.userId);
  const session = await startSession(services, { userId: stored.userId, kind: 'MAGIC_LINK', client: input.client });
  await recordActivity(services.db, {
    type: 'auth.magic_link.confirmed',
    actorUserId: stored.userId,
    subjectUserId: stored.userId,
    organizationId: stored.organizationId,
    ip: input.client.ip,
    userAgent: input.client.userAgent,
    data: { sessionId: session.sessionId, customerId: stored.partnerCustomerId },
  });
  return session;
}

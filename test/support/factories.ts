import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/client.ts';
import type { PlatformRole, PermissionKey } from '../../src/generated/prisma/enums.ts';
import type { Services } from '../../src/graphql/context.ts';
import { issueAccessToken } from '../../src/modules/auth/access-token.ts';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(++counter).toString(36)}`;

/** An account whose email is verified, as after sign-up and its link, unless `emailVerified: false`. */
export async function createUser(db: Db, input: { roles?: PlatformRole[]; email?: string; name?: string; emailVerified?: boolean } = {}) {
  const id = unique();
  return db.user.create({
    data: {
      email: input.email ?? `user-${id}@example.test`,
      name: input.name ?? `User ${id}`,
      roles: input.roles ?? [],
      emailVerifiedAt: input.emailVerified === false ? null : new Date(),
    },
  });
}

/** A live login session for the user and an access token for it, as sign-in will issue them. */
export async function signInAs(services: Pick<Services, 'db' | 'keys' | 'config' | 'clock'>, userId: string) {
  const now = services.clock.now();
  const session = await services.db.loginSession.create({
    data: { userId, kind: 'PASSWORD', expiresAt: new Date(now.getTime() + 24 * 3600_000) },
  });
  const token = await issueAccessToken(
    { keys: services.keys, issuer: services.config.publicUrl, now, ttlSeconds: 600 },
    { userId, sessionId: session.id },
  );
  return { session, token };
}

export async function createOrganization(db: Db, input: { name?: string; permissions?: PermissionKey[] } = {}) {
  const id = unique();
  const organization = await db.organization.create({
    data: { name: input.name ?? `Org ${id}`, slug: `org-${id}`, subscriptionStatus: 'ACTIVE' },
  });
  const role = await db.organizationRole.create({
    data: { organizationId: organization.id, name: 'Staff', permissions: input.permissions ?? ['documents', 'loans', 'rcm', 'signing'] },
  });
  const location = await db.location.create({ data: { organizationId: organization.id, name: `Main ${id}` } });
  return { organization, role, location };
}

export async function addMember(db: Db, input: { userId: string; organizationId: string; roleId: string; locationIds?: string[]; isOwner?: boolean }) {
  return db.membership.create({
    data: {
      userId: input.userId,
      organizationId: input.organizationId,
      roleId: input.roleId,
      isOwner: input.isOwner ?? false,
      locations: { create: (input.locationIds ?? []).map((locationId) => ({ locationId })) },
    },
  });
}

/** A MANAGER signing identity, which every manager-only signing operation needs (linked by the user themself unless said). */
export async function linkManagerIdentity(db: Db, input: { userId: string; organizationId: string; linkedById?: string }) {
  return db.signingIdentity.create({ data: { userId: input.userId, kind: 'MANAGER', organizationId: input.organizationId, linkedById: input.linkedById ?? input.userId } });
}

export async function createDocument(db: Db, input: { organizationId: string; locationId?: string; serialNumber?: string; ownerName?: string }) {
  return db.document.create({
    data: {
      organizationId: input.organizationId,
      locationId: input.locationId ?? null,
      manufacturer: 'Clayton',
      model: 'Tempo 32',
      year: 2019,
      serialNumber: input.serialNumber ?? `CLW${randomUUID().slice(0, 8).toUpperCase()}`,
      hudLabelNumber: 'NTA1234567',
      ownerName: input.ownerName ?? 'Dana Whitfield',
      addressLine1: '12 Pine Lane',
      city: 'Athens',
      state: 'GA',
      postalCode: '30601',
    },
  });
}

/**
 * Issues a signing authentication token over REST (seed 004) as the holder of `issuerToken`, exchanges it at
 * POST /api/cs-authenticationTokens/exchange, and answers the access token of the session it opens.
 */
export async function exchangedTokenSession(baseUrl: string, path: 'user' | 'sender' | 'signer/multiUse' | 'signer/singleUse', body: unknown, issuerToken: string): Promise<string> {
  const post = async (endpoint: string, payload: unknown, token?: string) => {
    const response = await fetch(`${baseUrl}/api/cs-authenticationTokens/${endpoint}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(payload),
    });
    if (response.status !== 200) throw new Error(`POST ${endpoint} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, string>;
  };
  const issued = await post(path, body, issuerToken);
  return (await post('exchange', { value: issued.value })).accessToken!;
}

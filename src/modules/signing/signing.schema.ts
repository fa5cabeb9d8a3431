import { getRefFromModel } from '@pothos/plugin-prisma';
import type { SigningPackage } from '../../generated/prisma/client.ts';
import { builder } from '../../graphql/builder.ts';
import { CREATION_ORDER, PAGE_SIZES } from '../../graphql/connections.ts';
import { parseId } from '../../lib/ids.ts';
import type { ActivityEvent } from '../../realtime/event-bus.ts';
import { authorizedActivity } from '../../realtime/subscribe.ts';
import { actingSlot, isViewerSlot, viewerSignerIdentities } from './signing.policy.ts';
import {
  countAssignedPackages,
  countSignerQueue,
  countSigningHubPackages,
  createSigningPackage,
  declineSigningPackage,
  effectiveExpiredAt,
  effectiveStatus,
  getSigningPackageById,
  listSignerQueue,
  listSignerQueuePage,
  listSigningDirectory,
  listSigningHubPackages,
  listSigningHubPage,
  listSigningPackages,
  sendSigningPackage,
  signSigningPackage,
  viewSigningPackage,
  voidSigningPackage,
} from './signing.service.ts';

// Besides full sessions, a sender session may read, send and void its package and a signer session read, sign
// and decline as its slot; the signing policy holds each to its one package. Everything else refuses them.
const ANY_SESSION = { signedIn: true, senderSession: true, signerSession: true } as const;
const MANAGER_SESSIONS = { signedIn: true, senderSession: true } as const;
const SIGNER_SESSIONS = { signedIn: true, signerSession: true } as const;

export const PackageStatusEnum = builder.enumType('PackageStatus', {
  values: ['DRAFT', 'SENT', 'COMPLETED', 'DECLINED', 'EXPIRED', 'VOIDED'] as const,
});
export const SignerStatusEnum = builder.enumType('SignerStatus', {
  values: ['PENDING', 'VIEWED', 'SIGNED', 'DECLINED'] as const,
});

const SigningHubOrderEnum = builder.enumType('SigningHubOrder', { values: CREATION_ORDER });
const SignerQueueOrderEnum = builder.enumType('SignerQueueOrder', { values: CREATION_ORDER });

// The Document type belongs to the documents module; this is the same ref, looked up by model name.
const DocumentRef = getRefFromModel('Document', builder);

const PackageSignerRef = builder.prismaObject('PackageSigner', {
  description: 'One signer slot of a signing package.',
  fields: (t) => ({
    id: t.exposeID('id'),
    order: t.exposeInt('order', { description: 'Position in the signing order, from 1.' }),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    status: t.expose('status', { type: SignerStatusEnum }),
    viewedAt: t.expose('viewedAt', { type: 'DateTime', nullable: true }),
    signedAt: t.expose('signedAt', { type: 'DateTime', nullable: true }),
    declinedAt: t.expose('declinedAt', { type: 'DateTime', nullable: true }),
    declineReason: t.exposeString('declineReason', { nullable: true }),
    isMyTurn: t.boolean({
      description: 'True when this slot is yours and you can sign it now.',
      select: {
        id: true,
        packageId: true,
        email: true,
        signerIdentityId: true,
        package: { select: { status: true, expiresAt: true, sequential: true, signers: { select: { order: true, status: true } } } },
      },
      resolve: async (slot, _args, context) => {
        if (!context.viewer || effectiveStatus(slot.package, context.services.clock.now()) !== 'SENT') return false;
        if (slot.status !== 'PENDING' && slot.status !== 'VIEWED') return false;
        if (!isViewerSlot(context.viewer, await viewerSignerIdentities(context.services.db, context.viewer), slot)) return false;
        return !slot.package.sequential || slot.package.signers.every((s) => s.order >= slot.order || s.status === 'SIGNED');
      },
    }),
  }),
});

export const SigningPackageRef = builder.prismaObject('SigningPackage', {
  description: 'Documents plus ordered signers, sent by a manager.',
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title'),
    message: t.exposeString('message', { nullable: true }),
    status: t.field({
      type: PackageStatusEnum,
      description: 'EXPIRED from the moment expiresAt passes, even before the expiry is recorded.',
      select: { status: true, expiresAt: true },
      resolve: (pkg, _args, context) => effectiveStatus(pkg, context.services.clock.now()),
    }),
    sequential: t.exposeBoolean('sequential', { description: 'Signers sign one after another in order when true; all at once otherwise.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    declinedAt: t.expose('declinedAt', { type: 'DateTime', nullable: true }),
    expiredAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the package expired: its deadline.',
      select: { status: true, expiresAt: true, expiredAt: true },
      resolve: (pkg, _args, context) => effectiveExpiredAt(pkg, context.services.clock.now()),
    }),
    voidedAt: t.expose('voidedAt', { type: 'DateTime', nullable: true }),
    voidReason: t.exposeString('voidReason', { nullable: true }),
    organization: t.relation('organization'),
    location: t.relation('location', { nullable: true }),
    documents: t.field({
      type: [DocumentRef],
      description: 'The documents to sign, in package order.',
      select: (_args, _context, nestedSelection) => ({
        documents: { orderBy: { position: 'asc' }, select: { document: nestedSelection(true) } },
      }),
      resolve: (pkg) => pkg.documents.map(({ document }) => document),
    }),
    signers: t.relation('signers', { query: { orderBy: { order: 'asc' } } }),
    mySlot: t.field({
      type: PackageSignerRef,
      nullable: true,
      description: 'Your own signer slot, the one you sign or decline as; null when you are not a signer of this package.',
      select: (_args, _context, nestedSelection) => ({ signers: nestedSelection({ orderBy: { order: 'asc' } }) }),
      resolve: async (pkg, _args, context) => {
        if (!context.viewer) return null;
        const identities = await viewerSignerIdentities(context.services.db, context.viewer);
        return actingSlot(pkg.signers.filter((slot) => isViewerSlot(context.viewer!, identities, slot))) ?? null;
      },
    }),
    senderName: t.string({
      nullable: true,
      description: 'The name of the person who prepared and sent the package; null when that account no longer exists.',
      select: { createdBy: { select: { name: true } } },
      resolve: (pkg) => pkg.createdBy?.name ?? null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    version: t.exposeInt('version', { description: 'Increments on every change; send it back to send or void only what you saw.' }),
  }),
});

const SigningSignerInput = builder.inputType('SigningSignerInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    email: t.string({ required: true, description: 'Matched (lower-cased) to a signer identity, now or when one is linked later.' }),
  }),
});

const CreateSigningPackageInput = builder.inputType('CreateSigningPackageInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    locationId: t.id({ required: false }),
    title: t.string({ required: true }),
    message: t.string({ required: false }),
    documentIds: t.idList({ required: true, description: 'At least one document you can read in the organization, in package order.' }),
    signers: t.field({ type: [SigningSignerInput], required: true, description: 'At least one; the signing order is the list order; emails unique.' }),
    sequential: t.boolean({ required: false, defaultValue: true }),
    expiresAt: t.field({ type: 'DateTime', required: false, description: 'Must be in the future; the package is EXPIRED once it passes.' }),
  }),
});

builder.queryFields((t) => ({
  signingPackage: t.withAuth(ANY_SESSION).prismaField({
    type: 'SigningPackage',
    description: 'One package: admins read any, managers those they manage, signers those assigned to them, a sender or signer session its own. Others are NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => getSigningPackageById(context.services, { viewer: context.viewer, id: String(args.id), query }),
  }),
  signingPackages: t.withAuth({ signedIn: true }).prismaConnection({
    type: 'SigningPackage',
    cursor: 'id',
    ...PAGE_SIZES,
    description: "An organization's packages, newest first, for its managers with the signing permission (within their locations).",
    args: { organizationId: t.arg.id({ required: true }), status: t.arg({ type: PackageStatusEnum, required: false }) },
    resolve: (query, _root, args, context) =>
      listSigningPackages(context.services, { viewer: context.viewer, organizationId: String(args.organizationId), status: args.status, query }),
  }),
  signingDirectory: t.withAuth({ admin: true }).prismaConnection({
    type: 'SigningPackage',
    cursor: 'id',
    ...PAGE_SIZES,
    description: 'The elevated signing directory: every organization’s packages, newest first. Admins only; read-only.',
    args: { status: t.arg({ type: PackageStatusEnum, required: false }) },
    resolve: (query, _root, args, context) => listSigningDirectory(context.services, { status: args.status, query }),
  }),
  signingHub: t.withAuth({ signedIn: true }).prismaField({
    type: ['SigningPackage'],
    description: 'The packages you manage. Needs a manager or admin signing identity linked to your account.',
    deprecationReason: 'Use signingHubConnection.',
    args: { status: t.arg({ type: PackageStatusEnum, required: false }) },
    resolve: (query, _root, args, context) => listSigningHubPackages(context.services, { viewer: context.viewer, status: args.status, query }),
  }),
  signingHubConnection: t.withAuth({ signedIn: true }).prismaConnection(
    {
      type: 'SigningPackage',
      cursor: 'id',
      ...PAGE_SIZES,
      description: 'The packages you manage, a page at a time. Needs a manager or admin signing identity linked to your account.',
      args: {
        status: t.arg({ type: PackageStatusEnum, required: false }),
        orderBy: t.arg({ type: SigningHubOrderEnum, required: false, defaultValue: 'NEWEST_FIRST' }),
      },
      totalCount: (_root, args, context) => countSigningHubPackages(context.services, { viewer: context.viewer, status: args.status }),
      resolve: (query, _root, args, context) =>
        listSigningHubPage(context.services, { viewer: context.viewer, status: args.status, order: args.orderBy ?? 'NEWEST_FIRST', query }),
    },
    { name: 'SigningHubConnection' },
  ),
  signerQueue: t.withAuth(SIGNER_SESSIONS).prismaField({
    type: ['SigningPackage'],
    description: 'Sent packages assigned to your signer identities (a signer session: its own package). Empty when none is linked or nothing is assigned.',
    deprecationReason: 'Use signerQueueConnection.',
    resolve: (query, _root, _args, context) => listSignerQueue(context.services, { viewer: context.viewer, query }),
  }),
  signerQueueConnection: t.withAuth(SIGNER_SESSIONS).prismaConnection(
    {
      type: 'SigningPackage',
      cursor: 'id',
      ...PAGE_SIZES,
      description: 'Sent packages assigned to your signer identities (a signer session: its own package), a page at a time. Empty when none is linked or nothing is assigned.',
      args: { orderBy: t.arg({ type: SignerQueueOrderEnum, required: false, defaultValue: 'OLDEST_FIRST' }) },
      totalCount: (_root, _args, context) => countSignerQueue(context.services, { viewer: context.viewer }),
      resolve: (query, _root, args, context) => listSignerQueuePage(context.services, { viewer: context.viewer, order: args.orderBy ?? 'OLDEST_FIRST', query }),
    },
    { name: 'SignerQueueConnection' },
  ),
}));

builder.mutationFields((t) => ({
  createSigningPackage: t.withAuth({ signedIn: true }).prismaField({
    type: 'SigningPackage',
    description: 'Creates a DRAFT package. Managers with the signing permission in the organization (within their locations).',
    args: { input: t.arg({ type: CreateSigningPackageInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      createSigningPackage(context.services, {
        query,
        viewer: context.viewer,
        client: context.client,
        organizationId: String(input.organizationId),
        locationId: input.locationId ? String(input.locationId) : null,
        title: input.title,
        message: input.message,
        documentIds: input.documentIds.map(String),
        signers: input.signers,
        sequential: input.sequential,
        expiresAt: input.expiresAt,
      }),
  }),
  sendSigningPackage: t.withAuth(MANAGER_SESSIONS).prismaField({
    type: 'SigningPackage',
    description: 'DRAFT → SENT. Anything else is a CONFLICT (INVALID_TRANSITION).',
    args: { id: t.arg.id({ required: true }), version: t.arg.int({ required: false }) },
    resolve: (query, _root, args, context) =>
      sendSigningPackage(context.services, { query, viewer: context.viewer, client: context.client, id: String(args.id), expectedVersion: args.version }),
  }),
  voidSigningPackage: t.withAuth(MANAGER_SESSIONS).prismaField({
    type: 'SigningPackage',
    description: 'DRAFT or SENT → VOIDED. Anything else is a CONFLICT (INVALID_TRANSITION).',
    args: { id: t.arg.id({ required: true }), reason: t.arg.string({ required: true }), version: t.arg.int({ required: false }) },
    resolve: (query, _root, args, context) =>
      voidSigningPackage(context.services, { query, viewer: context.viewer, client: context.client, id: String(args.id), reason: args.reason, expectedVersion: args.version }),
  }),
  viewSigningPackage: t.withAuth(SIGNER_SESSIONS).prismaField({
    type: 'SigningPackage',
    description: 'Opens a package assigned to you; your slot becomes VIEWED the first time.',
    args: { packageId: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) =>
      viewSigningPackage(context.services, { query, viewer: context.viewer, client: context.client, packageId: String(args.packageId) }),
  }),
  signSigningPackage: t.withAuth(SIGNER_SESSIONS).prismaField({
    type: 'SigningPackage',
    description: 'Signs your slot. In a sequential package, earlier signers go first (else CONFLICT NOT_YOUR_TURN).',
    args: { packageId: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) =>
      signSigningPackage(context.services, { query, viewer: context.viewer, client: context.client, packageId: String(args.packageId) }),
  }),
  declineSigningPackage: t.withAuth(SIGNER_SESSIONS).prismaField({
    type: 'SigningPackage',
    description: 'Declines your slot with a reason; the package becomes DECLINED.',
    args: { packageId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: (query, _root, args, context) =>
      declineSigningPackage(context.services, {
        query,
        viewer: context.viewer,
        client: context.client,
        packageId: String(args.packageId),
        reason: args.reason,
      }),
  }),
}));

builder.subscriptionFields((t) => ({
  signingPackageUpdated: t.withAuth(ANY_SESSION).prismaField({
    type: 'SigningPackage',
    description: 'The package each time something happens to it, while you may read it.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, args, context) => {
      const id = parseId(String(args.id));
      return authorizedActivity(
        context,
        (event) => event.packageId === id,
        () => getSigningPackageById(context.services, { viewer: context.viewer, id }).then(() => true, () => false),
      );
    },
    resolve: (query, event, _args, context) => getSigningPackageById(context.services, { viewer: context.viewer, id: (event as ActivityEvent).packageId!, query }),
  }),
  signerQueueUpdated: t.withAuth(SIGNER_SESSIONS).prismaField({
    type: ['SigningPackage'],
    description: 'Your signer queue, again each time a package assigned to you changes.',
    subscribe: (_root, _args, context) =>
      authorizedActivity(
        context,
        (event) => event.packageId !== null,
        async (event) => (await countAssignedPackages(context.services, { viewer: context.viewer, packageId: event.packageId! })) > 0,
      ),
    resolve: (query, _event, _args, context) => listSignerQueue(context.services, { viewer: context.viewer, query }),
  }),
}));

builder.prismaObjectField('Document', 'signingPackages', (t) =>
  t.field({
    type: [SigningPackageRef],
    nullable: true,
    description: 'Signing packages that include this document; null without the signing permission in its organization.',
    authScopes: (document) => ({ orgPermission: { organizationId: document.organizationId, permission: 'signing' } }),
    unauthorizedResolver: () => null,
    select: (_args, _context, nestedSelection) => ({
      organizationId: true,
      packages: { orderBy: { package: { createdAt: 'desc' } }, select: { package: nestedSelection(true) } },
    }),
    resolve: (document) => (document as unknown as { packages: Array<{ package: SigningPackage }> }).packages.map((entry) => entry.package),
  }),
);

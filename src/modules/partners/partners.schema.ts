import { builder } from '../../graphql/builder.ts';
import { createPartner, createPartnerCustomer } from './partners.service.ts';

const PartnerRef = builder.prismaObject('Partner', {
  description: 'An integration partner: calls the partner API with SW-PARTNER-ID (partnerKey) and SW-API-KEY.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    partnerKey: t.exposeString('partnerKey', { description: 'The value the partner sends in SW-PARTNER-ID.' }),
    apiKeyPrefix: t.exposeString('apiKeyPrefix', { description: 'The first characters of the API key, to recognise it by; the key itself is never shown again.' }),
    organization: t.relation('organization', { nullable: true }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.prismaObject('PartnerCustomer', {
  description: "A partner's customer; magic links sign in as its linked platform user.",
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    externalId: t.exposeString('externalId', { nullable: true }),
    partner: t.relation('partner'),
    user: t.relation('user', { nullable: true, description: 'The platform user the customer signs in as.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface CreatePartnerPayloadShape {
  partner: (typeof PartnerRef)['$inferType'];
  apiKey: string;
}

const CreatePartnerPayload = builder.objectRef<CreatePartnerPayloadShape>('CreatePartnerPayload').implement({
  fields: (t) => ({
    partner: t.field({ type: PartnerRef, resolve: (payload) => payload.partner }),
    apiKey: t.exposeString('apiKey', { description: 'The SW-API-KEY value. Shown only in this answer; only its hash is stored.' }),
  }),
});

const CreatePartnerInput = builder.inputType('CreatePartnerInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    partnerKey: t.string({ required: true, description: '3 to 64 letters, digits, dots, dashes or underscores; sent as SW-PARTNER-ID.' }),
    organizationId: t.id({ required: false }),
  }),
});

const CreatePartnerCustomerInput = builder.inputType('CreatePartnerCustomerInput', {
  fields: (t) => ({
    partnerId: t.id({ required: true }),
    name: t.string({ required: true }),
    email: t.string({ required: true }),
    userEmail: t.string({ required: false, description: 'Links the customer to the platform user with this email (needed for magic links).' }),
  }),
});

builder.mutationFields((t) => ({
  createPartner: t.withAuth({ admin: true }).field({
    type: CreatePartnerPayload,
    description: 'Admins only. Registers a partner and returns its API key, once.',
    args: { input: t.arg({ type: CreatePartnerInput, required: true }) },
    resolve: (_root, { input }, context) =>
      createPartner(context.services, {
        viewer: context.viewer,
        client: context.client,
        name: input.name,
        partnerKey: input.partnerKey,
        organizationId: input.organizationId === null || input.organizationId === undefined ? null : String(input.organizationId),
      }),
  }),
  createPartnerCustomer: t.withAuth({ admin: true }).prismaField({
    type: 'PartnerCustomer',
    description: 'Admins only. Adds a customer to a partner, linked to a platform user when userEmail is given.',
    args: { input: t.arg({ type: CreatePartnerCustomerInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      createPartnerCustomer(context.services, {
        query,
        viewer: context.viewer,
        client: context.client,
        partnerId: String(input.partnerId),
        name: input.name,
        email: input.email,
        userEmail: input.userEmail,
      }),
  }),
}));

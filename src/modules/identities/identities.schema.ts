import { builder } from '../../graphql/builder.ts';
import { IdentityKindEnum } from '../auth/auth.schema.ts';
import { linkSigningIdentity, unlinkSigningIdentity } from './identities.service.ts';

const LinkSigningIdentityInput = builder.inputType('LinkSigningIdentityInput', {
  fields: (t) => ({
    userEmail: t.string({ required: true, description: 'The account to link the identity to (your own only if you are an organization admin).' }),
    organizationId: t.id({ required: true }),
    kind: t.field({ type: IdentityKindEnum, required: true }),
    locationId: t.id({ required: false, description: 'Limit the identity to one location of the organization.' }),
  }),
});

builder.mutationFields((t) => ({
  linkSigningIdentity: t.withAuth({ signedIn: true }).prismaField({
    type: 'SigningIdentity',
    description: 'Manager and admin identities: organization admins only (to themselves too). Signer identities: organization admins, and managers with the signing permission.',
    args: { input: t.arg({ type: LinkSigningIdentityInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      linkSigningIdentity(context.services, {
        query,
        viewer: context.viewer,
        client: context.client,
        userEmail: input.userEmail,
        organizationId: String(input.organizationId),
        kind: input.kind,
        locationId: input.locationId ? String(input.locationId) : null,
      }),
  }),
  unlinkSigningIdentity: t.withAuth({ signedIn: true }).boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await unlinkSigningIdentity(context.services, { viewer: context.viewer, client: context.client, id: String(args.id) });
      return true;
    },
  }),
}));

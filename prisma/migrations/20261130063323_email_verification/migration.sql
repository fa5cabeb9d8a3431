-- AlterTable
ALTER TABLE "AuthToken" ADD COLUMN     "email" TEXT;

-- Accounts that exist before sign-up needed a verified email count as verified, so none is locked out of
-- invitations or identity links.
UPDATE "User" SET "emailVerifiedAt" = "createdAt" WHERE "emailVerifiedAt" IS NULL;

-- AlterTable
ALTER TABLE "LoginSession" ADD COLUMN     "apiRegistrationId" UUID,
ADD COLUMN     "oauthTokenId" UUID;

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "numericId" SERIAL NOT NULL;

-- CreateIndex
CREATE INDEX "LoginSession_apiRegistrationId_idx" ON "LoginSession"("apiRegistrationId");

-- CreateIndex
CREATE INDEX "LoginSession_oauthTokenId_idx" ON "LoginSession"("oauthTokenId");

-- CreateIndex
CREATE UNIQUE INDEX "User_numericId_key" ON "User"("numericId");

-- AddForeignKey
ALTER TABLE "LoginSession" ADD CONSTRAINT "LoginSession_apiRegistrationId_fkey" FOREIGN KEY ("apiRegistrationId") REFERENCES "ApiRegistration"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LoginSession" ADD CONSTRAINT "LoginSession_oauthTokenId_fkey" FOREIGN KEY ("oauthTokenId") REFERENCES "AuthToken"("id") ON DELETE CASCADE ON UPDATE CASCADE;

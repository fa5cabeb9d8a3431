-- CreateEnum
CREATE TYPE "DocumentImportMode" AS ENUM ('ALL_OR_NOTHING', 'VALID_ROWS');

-- CreateEnum
CREATE TYPE "DocumentImportStatus" AS ENUM ('RUNNING', 'COMPLETED', 'REJECTED');

-- CreateTable
CREATE TABLE "DocumentImport" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "createdById" UUID,
    "sha256" TEXT NOT NULL,
    "mode" "DocumentImportMode" NOT NULL,
    "status" "DocumentImportStatus" NOT NULL DEFAULT 'RUNNING',
    "rowCount" INTEGER NOT NULL DEFAULT 0,
    "importedCount" INTEGER NOT NULL DEFAULT 0,
    "failedCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMPTZ(3),

    CONSTRAINT "DocumentImport_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DocumentImportFailure" (
    "importId" UUID NOT NULL,
    "rowNumber" INTEGER NOT NULL,
    "column" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "message" TEXT NOT NULL,

    CONSTRAINT "DocumentImportFailure_pkey" PRIMARY KEY ("importId","rowNumber","column")
);

-- CreateIndex
CREATE UNIQUE INDEX "DocumentImport_organizationId_sha256_mode_key" ON "DocumentImport"("organizationId", "sha256", "mode");

-- AddForeignKey
ALTER TABLE "DocumentImport" ADD CONSTRAINT "DocumentImport_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DocumentImportFailure" ADD CONSTRAINT "DocumentImportFailure_importId_fkey" FOREIGN KEY ("importId") REFERENCES "DocumentImport"("id") ON DELETE CASCADE ON UPDATE CASCADE;

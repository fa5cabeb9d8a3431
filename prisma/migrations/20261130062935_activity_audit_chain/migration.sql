-- DropForeignKey
ALTER TABLE "Activity" DROP CONSTRAINT "Activity_actorUserId_fkey";

-- DropForeignKey
ALTER TABLE "Activity" DROP CONSTRAINT "Activity_documentId_fkey";

-- DropForeignKey
ALTER TABLE "Activity" DROP CONSTRAINT "Activity_organizationId_fkey";

-- DropForeignKey
ALTER TABLE "Activity" DROP CONSTRAINT "Activity_packageId_fkey";

-- DropForeignKey
ALTER TABLE "Activity" DROP CONSTRAINT "Activity_subjectUserId_fkey";

-- AlterTable
ALTER TABLE "Activity" ADD COLUMN     "chainSeq" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "hash" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "prevHash" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "sessionKind" "SessionKind";

-- CreateTable
CREATE TABLE "ActivityChainHead" (
    "chain" TEXT NOT NULL,
    "length" BIGINT NOT NULL,
    "lastHash" TEXT NOT NULL,

    CONSTRAINT "ActivityChainHead_pkey" PRIMARY KEY ("chain")
);

-- CreateIndex
CREATE INDEX "Activity_organizationId_chainSeq_idx" ON "Activity"("organizationId", "chainSeq");

-- The activity record is append-only and tamper-evident (docs/operations.md, "The audit log").
--
-- Each organization's rows form a hash chain, and rows with no organization form the platform chain: the row's
-- chainSeq is its position in its chain, prevHash the previous row's hash (64 zeros for the first), and hash the
-- SHA-256 (hex) of prevHash, a newline and activity_canonical(row). A BEFORE INSERT trigger fills all three under
-- the chain head's row lock, so concurrent writers to one chain append one after the other. `npm run audit:verify`
-- recomputes the hashes outside the database.

-- The canonical content of a row: a JSON array, as PostgreSQL renders jsonb (stable across versions and servers).
CREATE FUNCTION activity_canonical(a "Activity") RETURNS text LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_array(
    a.id::text, coalesce(a."organizationId"::text, 'platform'), a."chainSeq"::text, a.type,
    to_char(a."occurredAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    a."actorUserId"::text, a."subjectUserId"::text, a."documentId"::text, a."packageId"::text,
    a.ip, a."userAgent", a."sessionKind"::text, a.data
  )::text
$$;

-- Links a row to the head of its chain and moves the head on. The upsert takes the head's row lock (held until the
-- transaction ends) and, under READ COMMITTED, answers the head as the last writer committed it.
CREATE FUNCTION activity_link(a "Activity") RETURNS "Activity" LANGUAGE plpgsql AS $$
DECLARE
  chain_key text := coalesce(a."organizationId"::text, 'platform');
  head record;
BEGIN
  INSERT INTO "ActivityChainHead" (chain, length, "lastHash") VALUES (chain_key, 0, repeat('0', 64))
  ON CONFLICT (chain) DO UPDATE SET chain = EXCLUDED.chain
  RETURNING "ActivityChainHead".length, "ActivityChainHead"."lastHash" INTO head;
  a."chainSeq" := head.length + 1;
  a."prevHash" := head."lastHash";
  a.hash := encode(sha256(convert_to(a."prevHash" || E'\n' || activity_canonical(a), 'UTF8')), 'hex');
  UPDATE "ActivityChainHead" SET length = a."chainSeq", "lastHash" = a.hash WHERE chain = chain_key;
  RETURN a;
END
$$;

CREATE FUNCTION activity_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN activity_link(NEW);
END
$$;

-- Rows written before the chain existed join it in the order they were written.
DO $$
DECLARE
  r "Activity";
BEGIN
  FOR r IN SELECT * FROM "Activity" ORDER BY seq LOOP
    r := activity_link(r);
    UPDATE "Activity" SET "chainSeq" = r."chainSeq", "prevHash" = r."prevHash", hash = r.hash WHERE id = r.id;
  END LOOP;
END
$$;

CREATE TRIGGER activity_chain BEFORE INSERT ON "Activity" FOR EACH ROW EXECUTE FUNCTION activity_before_insert();

CREATE FUNCTION activity_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'activity rows are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER activity_append_only BEFORE UPDATE OR DELETE ON "Activity" FOR EACH ROW EXECUTE FUNCTION activity_refuse_change();

import { createHash } from 'node:crypto';
import type { Db } from '../../db/client.ts';
import { Prisma } from '../../generated/prisma/client.ts';

/** The first link of every chain points at this. */
export const GENESIS_HASH = '0'.repeat(64);

/** A row's canonical content, as the migration's activity_canonical() renders it. */
const CANONICAL = Prisma.sql`jsonb_build_array(
  a."id"::text, coalesce(a."organizationId"::text, 'platform'), a."chainSeq"::text, a."type",
  to_char(a."occurredAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  a."actorUserId"::text, a."subjectUserId"::text, a."documentId"::text, a."packageId"::text,
  a."ip", a."userAgent", a."sessionKind"::text, a."data"
)::text`;

/** Rows checked per query: memory holds one batch, however long the chain. */
const VERIFY_BATCH_SIZE = 5000;

export interface ChainReport {
  /** `platform`, or an organization id. */
  chain: string;
  /** Rows checked (up to the first broken link). */
  checked: number;
  ok: boolean;
  /** The first broken link, when not ok. */
  broken?: { chainSeq: string; id: string | null; problem: string };
}

interface LinkRow {
  id: string;
  chainSeq: bigint;
  prevHash: string;
  hash: string;
  canonical: string;
}

/**
 * Checks one chain from its first row: positions run 1, 2, 3... without gaps, each row's prevHash is the hash of the
 * row before (GENESIS_HASH first), each hash is the SHA-256 of prevHash, a newline and the row's canonical content
 * (computed here, in Node, from what the row holds now), and the chain head ends where the last row does. The
 * canonical content is rendered by the database exactly as the migration's activity_canonical() renders it, spelled
 * out again here so that a changed function does not change what is checked.
 */
export async function verifyChain(db: Pick<Db, '$queryRaw'>, chain: string): Promise<ChainReport> {
  const inChain = chain === 'platform' ? Prisma.sql`a."organizationId" IS NULL` : Prisma.sql`a."organizationId" = ${chain}::uuid`;
  let expectedSeq = 1n;
  let prev = GENESIS_HASH;
  let checked = 0;
  const fail = (chainSeq: bigint, id: string | null, problem: string): ChainReport => ({ chain, checked, ok: false, broken: { chainSeq: chainSeq.toString(), id, problem } });
  for (;;) {
    const rows = await db.$queryRaw<LinkRow[]>`SELECT a."id", a."chainSeq", a."prevHash", a."hash", ${CANONICAL} AS canonical FROM "Activity" a
      WHERE ${inChain} AND a."chainSeq" >= ${expectedSeq} ORDER BY a."chainSeq" LIMIT ${VERIFY_BATCH_SIZE}`;
    for (const row of rows) {
      if (row.chainSeq !== expectedSeq) return fail(expectedSeq, row.chainSeq === expectedSeq - 1n ? row.id : null, row.chainSeq < expectedSeq ? `position ${row.chainSeq} appears twice` : `position ${expectedSeq} is missing`);
      if (row.prevHash !== prev) return fail(row.chainSeq, row.id, 'prevHash is not the previous row\'s hash');
      const hash = createHash('sha256').update(`${row.prevHash}\n${row.canonical}`).digest('hex');
      if (hash !== row.hash) return fail(row.chainSeq, row.id, 'the row changed: its content does not match its hash');
      prev = row.hash;
      expectedSeq += 1n;
      checked += 1;
    }
    if (rows.length < VERIFY_BATCH_SIZE) break;
  }
  const [head] = await db.$queryRaw<Array<{ length: bigint; lastHash: string }>>`SELECT "length", "lastHash" FROM "ActivityChainHead" WHERE "chain" = ${chain}`;
  const length = head?.length ?? 0n;
  const lastHash = head?.lastHash ?? GENESIS_HASH;
  if (length !== expectedSeq - 1n || lastHash !== prev) {
    return fail(expectedSeq - 1n, null, `the chain head says ${length} rows ending in ${lastHash.slice(0, 12)}…, the rows end at ${expectedSeq - 1n} in ${prev.slice(0, 12)}…`);
  }
  return { chain, checked, ok: true };
}

/** Every chain the database knows of: the platform chain, and each organization's that has rows or a head. */
export async function allChains(db: Pick<Db, '$queryRaw'>): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ chain: string }>>`
    SELECT "chain" FROM "ActivityChainHead"
    UNION SELECT DISTINCT coalesce(a."organizationId"::text, 'platform') FROM "Activity" a
    ORDER BY 1`;
  return rows.map((r) => r.chain);
}

import type { ServerResponse } from 'node:http';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import type { GraphqlRouteSpec } from '../../rest/graphql-route.ts';
import type { JsonSchema, RouteDoc } from '../../rest/openapi.ts';
import type { RestContext, RestRoute } from '../../rest/router.ts';
import { authenticate, bearerToken, isLimitedSession } from '../auth/viewer.ts';
import { readableOrNotFound, withPeople, type ActivityEntry } from './activity.read.ts';
import { activityPeople, readActivityBatch, type ActivityFilter } from './activity.service.ts';

const ENTRY_FIELDS = /* GraphQL */ `
  fragment RestActivityEntry on ActivityEntry {
    id seq type occurredAt actorUserId actor { id name email } subjectUserId subject { id name email }
    organizationId documentId packageId ip userAgent sessionKind data chainSeq prevHash hash
  }
`;

/** The audit log under `/v1`: the list is `Query.activity`; the export is hand-written below (GraphQL cannot stream). */
export const activityResources: GraphqlRouteSpec[] = [
  {
    method: 'GET',
    path: '/v1/organizations/:id/activity',
    operationId: 'listOrganizationActivity',
    tag: 'Audit log',
    summary: "List an organization's audit log",
    description:
      'Newest first, in pages of `first` (cursor `after`). Members see the entries about the records they may read; entries about the organization itself, its members, settings, app access and sign-ins need orgSettings; platform admins see all. `data` is a JSON object as text.',
    operation: /* GraphQL */ `
      query RestListOrganizationActivity($id: ID!, $first: Int, $after: String, $filter: ActivityFilter) {
        activity(organizationId: $id, first: $first, after: $after, filter: $filter) { edges { node { ...RestActivityEntry } } pageInfo { hasNextPage endCursor } }
      }
      ${ENTRY_FIELDS}`,
    params: { id: 'id' },
    query: {
      first: 'first',
      after: 'after',
      actorUserId: 'filter.actorUserId',
      type: 'filter.type',
      subjectId: 'filter.subjectId',
      from: 'filter.from',
      to: 'filter.to',
    },
    list: true,
  },
];

/** Rows read and written per step of an export: memory holds one batch, whatever the range. */
export const EXPORT_BATCH_SIZE = 1000;

const COLUMNS = [
  'seq', 'id', 'occurredAt', 'type', 'actorUserId', 'actorName', 'actorEmail', 'subjectUserId', 'documentId', 'packageId',
  'ip', 'userAgent', 'sessionKind', 'data', 'chainSeq', 'prevHash', 'hash',
] as const;

function record(entry: ActivityEntry): Record<(typeof COLUMNS)[number], string | null> {
  return {
    seq: entry.seq.toString(),
    id: entry.id,
    occurredAt: entry.occurredAt.toISOString(),
    type: entry.type,
    actorUserId: entry.actorUserId,
    actorName: entry.actor?.name ?? null,
    actorEmail: entry.actor?.email ?? null,
    subjectUserId: entry.subjectUserId,
    documentId: entry.documentId,
    packageId: entry.packageId,
    ip: entry.ip,
    userAgent: entry.userAgent,
    sessionKind: entry.sessionKind,
    data: JSON.stringify(entry.data),
    chainSeq: entry.chainSeq.toString(),
    prevHash: entry.prevHash,
    hash: entry.hash,
  };
}

/** RFC 4180 quoting; a cell a spreadsheet would run as a formula gets a leading apostrophe. */
function csvCell(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Writes a chunk and, when the socket's buffer is full, waits until it drains (or the client has gone). */
async function write(res: ServerResponse, chunk: string): Promise<void> {
  if (res.write(chunk)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function instant(ctx: RestContext, name: string): Date | null {
  const value = ctx.query.get(name);
  if (value === null) return null;
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(date.getTime())) {
    throw new AppError('BAD_USER_INPUT', `${name} must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z.`, { field: name });
  }
  return date;
}

const EXPORT_QUERY = new Set(['format', 'from', 'to', 'actorUserId', 'type', 'subjectId']);

/**
 * Streams the entries of a time range, oldest first, as CSV or NDJSON: keyset batches of EXPORT_BATCH_SIZE rows,
 * each written (waiting for the socket to drain) before the next is read, so memory stays flat for any range. The
 * rule is the one `Query.activity` applies (activity.policy.ts); a failure after the first byte ends the response
 * early, and the client sees a truncated body (no final newline or a short count).
 */
async function exportActivity(ctx: RestContext): Promise<void> {
  const viewer = await authenticate(ctx.services, bearerToken(ctx.req.headers.authorization));
  if (!viewer) throw new AppError('UNAUTHENTICATED', 'Sign in to continue: send "Authorization: Bearer <access token>".');
  for (const name of ctx.query.keys()) {
    if (!EXPORT_QUERY.has(name)) throw new AppError('BAD_USER_INPUT', `Unknown query parameter ${name}.`, { field: name, reason: 'UNKNOWN_PARAMETER' });
  }
  const format = ctx.query.get('format') ?? 'ndjson';
  if (format !== 'csv' && format !== 'ndjson') throw new AppError('BAD_USER_INPUT', 'format must be csv or ndjson.', { field: 'format' });
  const organizationId = parseId(ctx.params.id ?? '', 'id');
  if (isLimitedSession(viewer)) throw new AppError('NOT_FOUND', 'Organization not found.');
  const actorUserId = ctx.query.get('actorUserId');
  const subjectId = ctx.query.get('subjectId');
  const filter: ActivityFilter = {
    from: instant(ctx, 'from'),
    to: instant(ctx, 'to'),
    type: ctx.query.get('type'),
    actorUserId: actorUserId === null ? null : parseId(actorUserId, 'actorUserId'),
    subjectId: subjectId === null ? null : parseId(subjectId, 'subjectId'),
  };
  const readable = await readableOrNotFound(ctx.services, viewer, organizationId);
  const { db } = ctx.services;
  const { res } = ctx;
  res.writeHead(200, {
    'Content-Type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'Content-Disposition': `attachment; filename="activity-${organizationId}.${format === 'csv' ? 'csv' : 'ndjson'}"`,
    'Cache-Control': 'no-store',
  });
  if (format === 'csv') await write(res, `${COLUMNS.join(',')}\r\n`);
  let afterSeq: bigint | null = null;
  while (!res.destroyed) {
    const rows = await readActivityBatch(db, { readable, filter, order: 'oldest', afterSeq, limit: EXPORT_BATCH_SIZE });
    if (rows.length === 0) break;
    const entries = withPeople(rows, await activityPeople(db, rows));
    const lines = entries.map((entry) => {
      const values = record(entry);
      return format === 'csv'
        ? `${COLUMNS.map((column) => csvCell(values[column])).join(',')}\r\n`
        : `${JSON.stringify({ ...values, data: entry.data })}\n`;
    });
    await write(res, lines.join(''));
    afterSeq = rows.at(-1)!.seq;
    if (rows.length < EXPORT_BATCH_SIZE) break;
  }
  res.end();
}

const filterParameters: RouteDoc['parameters'] = [
  { name: 'id', in: 'path', required: true, description: 'Organization id.', schema: { type: 'string', format: 'uuid' } },
  { name: 'format', in: 'query', description: '`ndjson` (default): one JSON object per line; `csv`: RFC 4180 with a header row.', schema: { type: 'string', enum: ['ndjson', 'csv'] } },
  { name: 'from', in: 'query', description: 'From this instant (inclusive).', schema: { type: 'string', format: 'date-time' } },
  { name: 'to', in: 'query', description: 'Up to this instant (exclusive).', schema: { type: 'string', format: 'date-time' } },
  { name: 'actorUserId', in: 'query', description: 'Entries by this account.', schema: { type: 'string', format: 'uuid' } },
  { name: 'type', in: 'query', description: 'An action, or a prefix ending in `.*`.', schema: { type: 'string' } },
  { name: 'subjectId', in: 'query', description: 'Entries about this record (document, package, account, or an id among the facts).', schema: { type: 'string', format: 'uuid' } },
];

const exportLine: JsonSchema = {
  type: 'object',
  description: 'One entry per line, oldest first. `actorName` and `actorEmail` are the account as it is now.',
  properties: Object.fromEntries(COLUMNS.map((c) => [c, c === 'data' ? { type: 'object' } : { type: ['string', 'null'] }])),
};

const problem = (description: string) => ({ description, contentType: 'application/problem+json', schema: { type: 'object' } });

const exportDoc: RouteDoc = {
  operationId: 'exportOrganizationActivity',
  tag: 'Audit log',
  summary: "Export an organization's audit log as CSV or NDJSON",
  description:
    'Streams every entry of the range you may read, oldest first, in constant memory (batches of 1,000 rows). The same rule as the list and `Query.activity` (activity.policy.ts `readableActivity`): members get the entries about the records they may read, orgSettings adds the entries about the organization, its members, settings, app access and sign-ins, platform admins get all. A failure once streaming began cuts the body short.',
  security: ['bearerAuth'],
  parameters: filterParameters,
  responses: {
    200: { description: 'The entries, streamed.', contentType: 'application/x-ndjson', schema: exportLine },
    400: problem('A malformed parameter, or one the route does not know.'),
    401: problem('No or an invalid access token.'),
    404: problem('No such organization, or you may read nothing of its audit log.'),
  },
};

export const activityRoutes: RestRoute[] = [
  { method: 'GET', path: '/v1/organizations/:id/activity/export', handler: exportActivity, problemDetails: true, doc: exportDoc },
];

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Busboy } from '@fastify/busboy';
import { AppError } from '../../lib/errors.ts';
import type { JsonSchema, RouteDoc } from '../../rest/openapi.ts';
import type { RestContext, RestRoute } from '../../rest/router.ts';
import { authenticate, bearerToken, isLimitedSession, limitedSessionError, type Viewer } from '../auth/viewer.ts';
import {
  assertCsvUpload,
  exportDocumentsCsv,
  getDocumentImport,
  importDocuments,
  importReportCsv,
  importReportPath,
  uploadTooLarge,
  type DocumentImportResult,
  type ImportSource,
} from './documents.import.ts';

/**
 * The CSV routes of chattel records: an import as `multipart/form-data`, its report and the export as `text/csv`.
 * Hand-written because a GraphQL route spec carries neither a file nor a CSV answer; each calls the service the
 * GraphQL `importDocuments` and `documentImport` fields call, and adds no rule of its own.
 */

/** The caller's full session from `Authorization: Bearer`, as GraphQL's `signedIn` scope admits it. */
async function requireViewer(ctx: RestContext): Promise<Viewer> {
  const viewer = await authenticate(ctx.services, bearerToken(ctx.req.headers.authorization));
  if (!viewer) throw new AppError('UNAUTHENTICATED', 'Sign in to continue: send "Authorization: Bearer <access token>".');
  if (isLimitedSession(viewer)) throw limitedSessionError();
  return viewer;
}

function importJson(result: DocumentImportResult) {
  return {
    id: result.id,
    organizationId: result.organizationId,
    mode: result.mode,
    status: result.status,
    sha256: result.sha256,
    rows: result.rowCount,
    imported: result.importedCount,
    failed: result.failedCount,
    replayed: result.replayed,
    reportPath: importReportPath(result.id),
    createdAt: result.createdAt.toISOString(),
    completedAt: result.completedAt?.toISOString() ?? null,
  };
}

function sendJson(ctx: RestContext, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  ctx.res.end(text);
}

interface Upload {
  fields: Map<string, string>;
  file?: ImportSource & { type: string; size: number };
}

/**
 * Reads a multipart body: its small fields into memory and its one `file` part onto a temporary file (hashed as it
 * is written), so memory stays flat and the service can read the file more than once. Over the size cap is a 413.
 */
async function readUpload(ctx: RestContext, directory: string): Promise<Upload> {
  const maxBytes = ctx.services.config.limits.importBytes;
  const contentType = ctx.req.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
    throw new AppError('BAD_USER_INPUT', 'Send the file as multipart/form-data.', { reason: 'UNSUPPORTED_MEDIA_TYPE', status: 415 });
  }
  const declared = ctx.req.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes + 64 * 1024) throw uploadTooLarge(maxBytes);
  const upload: Upload = { fields: new Map() };
  let busboy;
  try {
    busboy = Busboy({ headers: { ...ctx.req.headers, 'content-type': contentType }, limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12 } });
  } catch {
    throw new AppError('BAD_USER_INPUT', 'The multipart body has no boundary.', { reason: 'MALFORMED_MULTIPART' });
  }
  const writes: Promise<void>[] = [];
  let failure: AppError | undefined;
  busboy.on('field', (name, value) => {
    if (['organizationId', 'mode'].includes(name)) upload.fields.set(name, value);
  });
  busboy.on('file', (name, stream, _fileName, _encoding, mimeType) => {
    if (name !== 'file' || upload.file) {
      stream.resume();
      return;
    }
    try {
      assertCsvUpload({ type: mimeType }, maxBytes);
    } catch (error) {
      failure = error as AppError;
      stream.resume();
      return;
    }
    const target = path.join(directory, 'upload.csv');
    const hash = createHash('sha256');
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    stream.on('limit', () => (failure = uploadTooLarge(maxBytes)));
    writes.push(
      pipeline(stream, createWriteStream(target)).then(() => {
        upload.file = { type: mimeType, size, sha256: hash.digest('hex'), open: () => createReadStream(target) };
      }),
    );
  });
  try {
    await pipeline(ctx.req, busboy);
    await Promise.all(writes);
  } catch {
    throw failure ?? new AppError('BAD_USER_INPUT', 'The multipart body could not be read.', { reason: 'MALFORMED_MULTIPART' });
  }
  if (failure) throw failure;
  return upload;
}

/** POST /v1/document-imports: `organizationId`, `mode` and `file` as multipart/form-data. */
async function createImport(ctx: RestContext): Promise<void> {
  const viewer = await requireViewer(ctx);
  const directory = await mkdtemp(path.join(tmpdir(), 'safeclose-import-'));
  try {
    const upload = await readUpload(ctx, directory);
    const organizationId = upload.fields.get('organizationId');
    if (!organizationId) throw new AppError('BAD_USER_INPUT', 'organizationId is required.', { field: 'organizationId' });
    const mode = upload.fields.get('mode');
    if (mode !== 'ALL_OR_NOTHING' && mode !== 'VALID_ROWS') throw new AppError('BAD_USER_INPUT', 'mode must be ALL_OR_NOTHING or VALID_ROWS.', { field: 'mode' });
    if (!upload.file) throw new AppError('BAD_USER_INPUT', 'file is required: the CSV file, as a file part named "file".', { field: 'file' });
    const result = await importDocuments(ctx.services, { viewer, client: ctx.client, organizationId, mode, source: upload.file });
    sendJson(ctx, result.replayed ? 200 : 201, importJson(result), result.replayed ? {} : { Location: `/v1/document-imports/${result.id}` });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Resolves when the response may take more (or has closed), leaving no listener behind. */
function drained(res: RestContext['res']): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

/**
 * Answers CSV lines as they come, in chunks, waiting while the client reads. The first line is read before the
 * status is sent, so a refusal (404, 403) is still a problem details answer.
 */
async function streamCsv(ctx: RestContext, lines: AsyncGenerator<string>, fileName: string): Promise<void> {
  const first = await lines.next();
  ctx.res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${fileName}"`, 'Cache-Control': 'no-store' });
  let chunk = first.done ? '' : first.value;
  try {
    for await (const line of lines) {
      chunk += line;
      if (chunk.length < 64 * 1024) continue;
      if (ctx.res.destroyed) return;
      if (!ctx.res.write(chunk)) await drained(ctx.res);
      chunk = '';
    }
    ctx.res.end(chunk);
  } finally {
    await lines.return(undefined);
  }
}

async function getImport(ctx: RestContext): Promise<void> {
  const viewer = await requireViewer(ctx);
  sendJson(ctx, 200, importJson({ ...(await getDocumentImport(ctx.services, { viewer, id: ctx.params.id! })), replayed: false }));
}

async function getImportReport(ctx: RestContext): Promise<void> {
  const viewer = await requireViewer(ctx);
  await streamCsv(ctx, importReportCsv(ctx.services, { viewer, id: ctx.params.id! }), `import-${ctx.params.id}-report.csv`.replace(/[^A-Za-z0-9.-]/g, '_'));
}

const EXPORT_PARAMETERS = ['organizationId', 'locationId', 'status', 'loanStatus', 'search'];

async function exportDocuments(ctx: RestContext): Promise<void> {
  const viewer = await requireViewer(ctx);
  for (const name of ctx.query.keys()) {
    if (!EXPORT_PARAMETERS.includes(name)) throw new AppError('BAD_USER_INPUT', `Unknown query parameter. Known: ${EXPORT_PARAMETERS.join(', ')}.`, { reason: 'UNKNOWN_PARAMETER' });
  }
  const organizationId = ctx.query.get('organizationId');
  if (!organizationId) throw new AppError('BAD_USER_INPUT', 'organizationId is required.', { field: 'organizationId' });
  const filter = {
    organizationId,
    locationId: ctx.query.get('locationId'),
    status: ctx.query.get('status'),
    loanStatus: ctx.query.get('loanStatus'),
    search: ctx.query.get('search'),
  };
  await streamCsv(ctx, exportDocumentsCsv(ctx.services, { viewer, filter }), 'documents.csv');
}

const PROBLEM = { $ref: '#/components/schemas/Problem' };
const problem = (description: string) => ({ description, contentType: 'application/problem+json', schema: PROBLEM });
const COMMON_FAILURES = {
  401: problem('No valid access token (`UNAUTHENTICATED`).'),
  403: problem('A sender or signer token session (`LIMITED_SESSION`), or a role without the permission (`FORBIDDEN`).'),
  404: problem('Not found, or not yours to see (`NOT_FOUND`).'),
};
const CSV_TEXT: JsonSchema = { type: 'string', description: 'CSV, UTF-8, CRLF line ends, header row first.' };

const DOCUMENT_IMPORT: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    organizationId: { type: 'string', format: 'uuid' },
    mode: { type: 'string', enum: ['ALL_OR_NOTHING', 'VALID_ROWS'] },
    status: { type: 'string', enum: ['RUNNING', 'COMPLETED', 'REJECTED'] },
    sha256: { type: 'string', description: "The file's SHA-256 (hex)." },
    rows: { type: 'integer', description: 'Data rows read.' },
    imported: { type: 'integer', description: 'Chattel records written.' },
    failed: { type: 'integer', description: 'Rows that failed; the report says why.' },
    replayed: { type: 'boolean', description: 'True when this file was imported before and this is that import; nothing was written.' },
    reportPath: { type: 'string', description: 'GET it for the failed rows as CSV.' },
    createdAt: { type: 'string', format: 'date-time' },
    completedAt: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['id', 'organizationId', 'mode', 'status', 'sha256', 'rows', 'imported', 'failed', 'replayed', 'reportPath', 'createdAt', 'completedAt'],
  additionalProperties: false,
};

const importDoc: RouteDoc = {
  operationId: 'importDocuments',
  tag: 'Documents',
  summary: 'Import chattel records and their loans from CSV',
  description:
    'The GraphQL `importDocuments` mutation over `multipart/form-data`. The columns are those of registering a chattel record and attaching a loan (docs/domain.md). The same file with the same mode (or after an import of it that wrote rows) answers that first import with 200 and `replayed: true`, writing nothing; so `Idempotency-Key` is not needed here.',
  security: ['bearerAuth'],
  requestBody: {
    contentType: 'multipart/form-data',
    schema: {
      type: 'object',
      properties: {
        organizationId: { type: 'string', format: 'uuid' },
        mode: { type: 'string', enum: ['ALL_OR_NOTHING', 'VALID_ROWS'] },
        file: { type: 'string', format: 'binary', description: 'The CSV file (text/csv), at most IMPORT_MAX_BYTES.' },
      },
      required: ['organizationId', 'mode', 'file'],
    },
  },
  responses: {
    201: { description: 'Imported (or, in ALL_OR_NOTHING mode, refused as a whole: status REJECTED).', schema: DOCUMENT_IMPORT, headers: { Location: 'The import.' } },
    200: { description: 'This file was imported before: that import, nothing written now.', schema: DOCUMENT_IMPORT },
    400: problem('A missing field, or a file that is not CSV with known columns (`UNKNOWN_COLUMN`, `MISSING_COLUMN`, `EMPTY_FILE`, `MALFORMED_CSV`).'),
    ...COMMON_FAILURES,
    413: problem('The file is larger than IMPORT_MAX_BYTES (`PAYLOAD_TOO_LARGE`).'),
    415: problem('Not multipart/form-data, or a file that is not CSV (`UNSUPPORTED_MEDIA_TYPE`).'),
  },
};

export const documentImportRoutes: RestRoute[] = [
  { method: 'POST', path: '/v1/document-imports', problemDetails: true, handler: createImport, doc: importDoc },
  {
    method: 'GET',
    path: '/v1/document-imports/:id',
    problemDetails: true,
    handler: getImport,
    doc: {
      operationId: 'getDocumentImport',
      tag: 'Documents',
      summary: 'Read an import and its counts',
      description: 'The GraphQL `documentImport` query.',
      security: ['bearerAuth'],
      responses: { 200: { description: 'The import.', schema: DOCUMENT_IMPORT }, ...COMMON_FAILURES },
    },
  },
  {
    method: 'GET',
    path: '/v1/document-imports/:id/report',
    problemDetails: true,
    handler: getImportReport,
    doc: {
      operationId: 'getDocumentImportReport',
      tag: 'Documents',
      summary: "Download an import's failure report",
      description: 'One line per failing cell, in row order: `rowNumber` (the header is row 1), `column` (empty for the row as a whole), a stable `reason` and a `message`. Never the cell\'s value.',
      security: ['bearerAuth'],
      responses: { 200: { description: 'The report.', contentType: 'text/csv', schema: CSV_TEXT }, ...COMMON_FAILURES },
    },
  },
  {
    method: 'GET',
    path: '/v1/documents/export',
    problemDetails: true,
    handler: exportDocuments,
    doc: {
      operationId: 'exportDocuments',
      tag: 'Documents',
      summary: 'Export chattel records and their loans as CSV',
      description: "The records `GET /v1/documents` lists for the same filters, in the import's columns, streamed: the file can be imported again.",
      security: ['bearerAuth'],
      parameters: [
        { name: 'organizationId', in: 'query', required: true, schema: { type: 'string', format: 'uuid' } },
        { name: 'locationId', in: 'query', schema: { type: 'string', format: 'uuid' } },
        { name: 'status', in: 'query', schema: { type: 'string', enum: ['DRAFT', 'ACTIVE', 'RELEASED', 'ARCHIVED'] }, description: 'Default: every status but ARCHIVED.' },
        { name: 'loanStatus', in: 'query', schema: { type: 'string', enum: ['CURRENT', 'BEHIND', 'DEFAULT', 'PAID_OFF', 'CHARGED_OFF'] } },
        { name: 'search', in: 'query', schema: { type: 'string' }, description: 'Part of a serial number or owner name, any case.' },
      ],
      responses: { 200: { description: 'The records.', contentType: 'text/csv', schema: CSV_TEXT }, 400: problem('An unknown parameter or a bad filter value.'), ...COMMON_FAILURES },
    },
  },
];

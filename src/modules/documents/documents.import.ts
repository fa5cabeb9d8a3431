import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { DocumentImport, Prisma } from '../../generated/prisma/client.ts';
import type { DocumentImportMode } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { isUuid, parseId } from '../../lib/ids.ts';
import { recordActivity } from '../activity/activity.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import { isLimitedSession, limitedSessionError, type Viewer } from '../auth/viewer.ts';
import { loanData, type LoanFields } from '../loans/loans.service.ts';
import { assertMayWriteIn } from './documents.policy.ts';
import { chattelData, documentsWhere, type ChattelFields, type DocumentFilter } from './documents.service.ts';

/**
 * CSV import and export of chattel records with their loans. A row is the fields of `registerChattel` (and
 * `locationId`), then those of `attachLoan`; the export writes the same columns, so an export can be imported again.
 * Each cell is checked by the same functions registerChattel and attachLoan use (chattelData, loanData).
 */
export const DOCUMENT_COLUMNS = [
  'locationId', 'collateralKind', 'manufacturer', 'model', 'year', 'serialNumber', 'hudLabelNumber', 'titleNumber',
  'ownerName', 'ownerEmail', 'ownerPhone', 'addressLine1', 'addressLine2', 'city', 'state', 'postalCode', 'county',
] as const;
export const LOAN_COLUMNS = [
  'loanNumber', 'borrowerName', 'loanStatus', 'principal', 'balance', 'paymentAmount', 'pastDueAmount', 'interestRate',
  'daysPastDue', 'originatedOn', 'maturityOn', 'nextPaymentOn',
] as const;
export const IMPORT_COLUMNS: readonly string[] = [...DOCUMENT_COLUMNS, ...LOAN_COLUMNS];

const REQUIRED_DOCUMENT_COLUMNS = new Set(['manufacturer', 'serialNumber', 'ownerName', 'addressLine1', 'city', 'state', 'postalCode']);
const REQUIRED_LOAN_COLUMNS = new Set(['loanNumber', 'borrowerName', 'principal', 'balance']);
const COLLATERAL_KINDS = new Set(['MANUFACTURED_HOME', 'VEHICLE', 'EQUIPMENT', 'OTHER']);
const LOAN_STATUSES = new Set(['CURRENT', 'BEHIND', 'DEFAULT', 'PAID_OFF', 'CHARGED_OFF']);
const DOCUMENT_STATUSES = new Set(['DRAFT', 'ACTIVE', 'RELEASED', 'ARCHIVED']);
const DATE_COLUMNS = new Set(['originatedOn', 'maturityOn', 'nextPaymentOn']);
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const WHOLE = /^\d{1,6}$/;

/** Rows written per transaction; what is held in memory at once is one batch and its failures. */
const BATCH_SIZE = 500;
/** A batch's transaction may wait and run longer than Prisma's default 5 s on a busy database. */
const BATCH_TRANSACTION = { maxWait: 10_000, timeout: 120_000 };
/** The longest CSV record accepted, in characters: a longer one is a malformed file, not a row to buffer. */
const MAX_RECORD_CHARACTERS = 64 * 1024;

/** An uploaded file: its SHA-256 (hex) and a way to read its bytes from the start, as often as needed. */
export interface ImportSource {
  sha256: string;
  open(): AsyncIterable<Uint8Array>;
}

/** A File (GraphQL upload) as an import source: read once to hash it, then again to import it. */
export async function fileSource(file: Blob): Promise<ImportSource> {
  const hash = createHash('sha256');
  for await (const chunk of file.stream() as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return { sha256: hash.digest('hex'), open: () => file.stream() as unknown as AsyncIterable<Uint8Array> };
}

/**
 * The media types a CSV upload may be sent as: CSV's own, plain text, what Windows browsers label .csv files with,
 * and the generic type of clients that do not know. Anything else (a spreadsheet, a PDF, an image) is refused.
 */
const CSV_MEDIA_TYPES = new Set(['text/csv', 'application/csv', 'text/plain', 'application/vnd.ms-excel', 'application/octet-stream', '']);

/** A CSV upload's media type and size, checked before it is read: 415 UNSUPPORTED_MEDIA_TYPE, 413 PAYLOAD_TOO_LARGE. */
export function assertCsvUpload(file: { type: string; size?: number }, maxBytes: number): void {
  const type = file.type.split(';')[0]!.trim().toLowerCase();
  if (!CSV_MEDIA_TYPES.has(type)) {
    throw new AppError('BAD_USER_INPUT', 'The file must be CSV (text/csv).', { field: 'file', reason: 'UNSUPPORTED_MEDIA_TYPE', status: 415 });
  }
  if (file.size !== undefined && file.size > maxBytes) throw uploadTooLarge(maxBytes);
}

export const uploadTooLarge = (maxBytes: number) =>
  new AppError('BAD_USER_INPUT', `The file is larger than ${maxBytes} bytes (IMPORT_MAX_BYTES).`, { field: 'file', reason: 'PAYLOAD_TOO_LARGE', status: 413 });

export interface ImportFailure {
  rowNumber: number;
  column: string;
  reason: string;
  message: string;
}

export type DocumentImportResult = DocumentImport & { replayed: boolean };

/** Where an import's report is read: a CSV of the rows that failed, column by column. */
export const importReportPath = (id: string) => `/v1/document-imports/${id}/report`;

interface ValidRow {
  rowNumber: number;
  document: Prisma.DocumentCreateManyInput;
  loan: Omit<Prisma.LoanCreateManyInput, 'organizationId' | 'documentId'> | null;
}

/** A UUIDv7 (time-ordered, as the database's own ids), so a batch's documents and loans are linked before insert. */
function uuidv7(now: Date): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now.getTime(), 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function failureOf(rowNumber: number, column: string, error: unknown): ImportFailure {
  if (error instanceof AppError) {
    const reason = error.reason ?? (error.code === 'FORBIDDEN' ? 'LOCATION_NOT_ALLOWED' : 'INVALID_VALUE');
    return { rowNumber, column, reason, message: error.message };
  }
  throw error;
}

interface RowContext {
  viewer: Viewer;
  organizationId: string;
  locations: Set<string>;
  now: Date;
}

/** One CSV row checked column by column, so the report names every failing cell, not just the first. */
async function validateRow(cells: Map<string, string>, rowNumber: number, context: RowContext): Promise<{ row?: ValidRow; failures: ImportFailure[] }> {
  const failures: ImportFailure[] = [];
  const fail = (column: string, reason: string, message: string) => failures.push({ rowNumber, column, reason, message });
  const attempt = (column: string, check: () => void) => {
    try {
      check();
    } catch (error) {
      failures.push(failureOf(rowNumber, column, error));
    }
  };

  let locationId: string | null = null;
  const location = cells.get('locationId') ?? '';
  if (location !== '') {
    if (!isUuid(location)) fail('locationId', 'INVALID_FORMAT', 'locationId must be a UUID.');
    else if (!context.locations.has(location.toLowerCase())) fail('locationId', 'UNKNOWN_LOCATION', 'That location is not in this organization.');
    else locationId = location.toLowerCase();
  }

  const document: Record<string, unknown> = {};
  for (const column of DOCUMENT_COLUMNS) {
    if (column === 'locationId') continue;
    const value = cells.get(column) ?? '';
    if (value.trim() === '') {
      if (REQUIRED_DOCUMENT_COLUMNS.has(column)) fail(column, 'REQUIRED', `${column} is required.`);
      continue;
    }
    if (column === 'collateralKind') {
      if (COLLATERAL_KINDS.has(value.trim())) document.collateralKind = value.trim();
      else fail(column, 'INVALID_VALUE', `collateralKind must be one of ${[...COLLATERAL_KINDS].join(', ')}.`);
      continue;
    }
    if (column === 'year' && !WHOLE.test(value.trim())) {
      fail(column, 'INVALID_FORMAT', 'year must be a whole number.');
      continue;
    }
    const field = column === 'year' ? { year: Number(value.trim()) } : { [column]: value };
    attempt(column, () => Object.assign(document, chattelData(field as Partial<ChattelFields>, context.now)));
  }

  const hasLoan = LOAN_COLUMNS.some((column) => (cells.get(column) ?? '').trim() !== '');
  const loan: Record<string, unknown> = {};
  if (hasLoan) {
    for (const column of LOAN_COLUMNS) {
      const value = (cells.get(column) ?? '').trim();
      if (value === '') {
        if (REQUIRED_LOAN_COLUMNS.has(column)) fail(column, 'REQUIRED', `${column} is required when the row has a loan.`);
        continue;
      }
      if (column === 'loanStatus') {
        if (LOAN_STATUSES.has(value)) loan.status = value;
        else fail(column, 'INVALID_VALUE', `loanStatus must be one of ${[...LOAN_STATUSES].join(', ')}.`);
        continue;
      }
      if (DATE_COLUMNS.has(column)) {
        const date = DATE.test(value) ? new Date(value.length === 10 ? `${value}T00:00:00Z` : value) : undefined;
        if (date && !Number.isNaN(date.getTime())) loan[column] = date;
        else fail(column, 'INVALID_FORMAT', `${column} must be a date such as 2026-01-31.`);
        continue;
      }
      if (column === 'daysPastDue' && !WHOLE.test(value)) {
        fail(column, 'INVALID_FORMAT', 'daysPastDue must be a whole number.');
        continue;
      }
      const field = column === 'daysPastDue' ? { daysPastDue: Number(value) } : { [column]: value };
      attempt(column, () => Object.assign(loan, loanData(field as LoanFields)));
    }
  }

  if (failures.length === 0) {
    const permissions = hasLoan ? (['documents', 'loans'] as const) : (['documents'] as const);
    for (const permission of permissions) {
      try {
        await assertMayWriteIn(context.viewer, { organizationId: context.organizationId, locationId, permission });
      } catch (error) {
        failures.push(failureOf(rowNumber, 'locationId', error));
        break;
      }
    }
  }
  if (failures.length > 0) return { failures };
  const id = uuidv7(context.now);
  return {
    failures,
    row: {
      rowNumber,
      document: {
        ...(document as Omit<Prisma.DocumentCreateManyInput, 'organizationId'>),
        id,
        organizationId: context.organizationId,
        locationId,
        status: 'ACTIVE',
        createdById: context.viewer.userId,
        createdAt: context.now,
      },
      loan: hasLoan ? ({ ...loan, id: uuidv7(context.now), attachedAt: context.now } as ValidRow['loan']) : null,
    },
  };
}

/**
 * Loan numbers are unique in an organization: a row whose number the organization already uses (or an earlier row
 * of the same batch) fails. Earlier batches of the same import have been written by then, so they count too.
 */
async function loanNumberConflicts(db: Pick<Prisma.TransactionClient, 'loan'>, organizationId: string, batch: ValidRow[]): Promise<ImportFailure[]> {
  const numbers = batch.flatMap((row) => (row.loan ? [row.loan.loanNumber] : []));
  if (numbers.length === 0) return [];
  const taken = new Set((await db.loan.findMany({ where: { organizationId, loanNumber: { in: numbers } }, select: { loanNumber: true } })).map((l) => l.loanNumber));
  const seen = new Set<string>();
  const failures: ImportFailure[] = [];
  for (const row of batch) {
    if (!row.loan) continue;
    const number = row.loan.loanNumber;
    if (taken.has(number)) failures.push({ rowNumber: row.rowNumber, column: 'loanNumber', reason: 'LOAN_NUMBER_TAKEN', message: 'That loan number is already used in this organization.' });
    else if (seen.has(number)) failures.push({ rowNumber: row.rowNumber, column: 'loanNumber', reason: 'DUPLICATE_LOAN_NUMBER', message: 'An earlier row of this file has the same loan number.' });
    seen.add(number);
  }
  return failures;
}

/** Writes a batch's rows that do not conflict; answers the rows that did. */
async function writeBatch(tx: Prisma.TransactionClient, organizationId: string, batch: ValidRow[]): Promise<ImportFailure[]> {
  const conflicts = await loanNumberConflicts(tx, organizationId, batch);
  const failed = new Set(conflicts.map((f) => f.rowNumber));
  const rows = batch.filter((row) => !failed.has(row.rowNumber));
  if (rows.length > 0) {
    await insertDocuments(tx, rows.map((row) => row.document));
    const loans = rows.flatMap((row) => (row.loan ? [{ ...row.loan, organizationId, documentId: row.document.id! }] : []));
    if (loans.length > 0) await insertLoans(tx, loans);
  }
  return conflicts;
}

/*
 * Batches are inserted with one JSON parameter rather than `createMany`: Prisma keeps a plan for each distinct
 * query it compiles (up to 1,000 of them), and a createMany's rows are part of its plan, so every batch would stay in
 * memory (about 4 KB a row). The SQL below is the same text for every batch, its values one parameter.
 */
function insertDocuments(tx: Pick<Prisma.TransactionClient, '$executeRaw'>, documents: Prisma.DocumentCreateManyInput[]) {
  return tx.$executeRaw`
    INSERT INTO "Document" ("id", "organizationId", "locationId", "status", "collateralKind", "manufacturer", "model", "year",
      "serialNumber", "hudLabelNumber", "titleNumber", "ownerName", "ownerEmail", "ownerPhone", "addressLine1", "addressLine2",
      "city", "state", "postalCode", "county", "createdById", "createdAt", "updatedAt")
    SELECT r."id", r."organizationId", r."locationId", 'ACTIVE'::"DocumentStatus",
      COALESCE(r."collateralKind", 'MANUFACTURED_HOME')::"CollateralKind", r."manufacturer", r."model", r."year",
      r."serialNumber", r."hudLabelNumber", r."titleNumber", r."ownerName", r."ownerEmail", r."ownerPhone", r."addressLine1",
      r."addressLine2", r."city", r."state", r."postalCode", r."county", r."createdById", r."createdAt", r."createdAt"
    FROM jsonb_to_recordset(${JSON.stringify(documents)}::jsonb) AS r("id" uuid, "organizationId" uuid, "locationId" uuid,
      "collateralKind" text, "manufacturer" text, "model" text, "year" int, "serialNumber" text, "hudLabelNumber" text,
      "titleNumber" text, "ownerName" text, "ownerEmail" text, "ownerPhone" text, "addressLine1" text, "addressLine2" text,
      "city" text, "state" text, "postalCode" text, "county" text, "createdById" uuid, "createdAt" timestamptz)`;
}

function insertLoans(tx: Pick<Prisma.TransactionClient, '$executeRaw'>, loans: Array<NonNullable<ValidRow['loan']> & { organizationId: string; documentId: string }>) {
  return tx.$executeRaw`
    INSERT INTO "Loan" ("id", "organizationId", "documentId", "loanNumber", "borrowerName", "status", "principal", "balance",
      "paymentAmount", "pastDueAmount", "interestRate", "originatedOn", "maturityOn", "nextPaymentOn", "daysPastDue",
      "attachedAt", "createdAt", "updatedAt")
    SELECT r."id", r."organizationId", r."documentId", r."loanNumber", r."borrowerName", COALESCE(r."status", 'CURRENT')::"LoanStatus",
      r."principal", r."balance", r."paymentAmount", COALESCE(r."pastDueAmount", 0), r."interestRate",
      (r."originatedOn" AT TIME ZONE 'UTC')::date, (r."maturityOn" AT TIME ZONE 'UTC')::date,
      (r."nextPaymentOn" AT TIME ZONE 'UTC')::date, COALESCE(r."daysPastDue", 0), r."attachedAt", r."attachedAt", r."attachedAt"
    FROM jsonb_to_recordset(${JSON.stringify(loans)}::jsonb) AS r("id" uuid, "organizationId" uuid, "documentId" uuid,
      "loanNumber" text, "borrowerName" text, "status" text, "principal" numeric, "balance" numeric, "paymentAmount" numeric,
      "pastDueAmount" numeric, "interestRate" numeric, "originatedOn" timestamptz, "maturityOn" timestamptz,
      "nextPaymentOn" timestamptz, "daysPastDue" int, "attachedAt" timestamptz)`;
}

function insertFailures(db: Pick<Prisma.TransactionClient, '$executeRaw'>, importId: string, failures: ImportFailure[]) {
  return db.$executeRaw`
    INSERT INTO "DocumentImportFailure" ("importId", "rowNumber", "column", "reason", "message")
    SELECT ${importId}::uuid, r."rowNumber", r."column", r."reason", r."message"
    FROM jsonb_to_recordset(${JSON.stringify(failures)}::jsonb) AS r("rowNumber" int, "column" text, "reason" text, "message" text)`;
}

/** The file's records as cells by column name, numbered from 2 (the header is row 1); a broken file ends with an error. */
async function* csvRows(source: ImportSource): AsyncGenerator<{ rowNumber: number; cells: Map<string, string> } | { rowNumber: number; failure: ImportFailure }> {
  const parser = Readable.from(source.open()).pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, max_record_size: MAX_RECORD_CHARACTERS }),
  );
  let header: string[] | undefined;
  let rowNumber = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      rowNumber++;
      if (!header) {
        header = checkHeader(record);
        continue;
      }
      if (record.length !== header.length) {
        yield { rowNumber, failure: { rowNumber, column: '', reason: 'COLUMN_COUNT', message: `The row has ${record.length} cells; the header has ${header.length}.` } };
        continue;
      }
      yield { rowNumber, cells: new Map(header.map((name, index) => [name, record[index]!])) };
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    const at = rowNumber + 1;
    if (!header) throw new AppError('BAD_USER_INPUT', 'The file is not a CSV file with a header row.', { field: 'file', reason: 'MALFORMED_CSV' });
    yield { rowNumber: at, failure: { rowNumber: at, column: '', reason: 'MALFORMED_CSV', message: 'The file is not valid CSV from this row on (an unclosed quote, or a record over 64 KiB); nothing after it was read.' } };
  } finally {
    parser.destroy();
  }
  if (!header) throw new AppError('BAD_USER_INPUT', 'The file is empty: it needs a header row naming its columns.', { field: 'file', reason: 'EMPTY_FILE' });
}

/** The header names known columns, each once, and at least the required document columns. */
function checkHeader(record: string[]): string[] {
  const header = record.map((name) => name.trim());
  const known = new Set(IMPORT_COLUMNS);
  const seen = new Set<string>();
  for (const name of header) {
    if (!known.has(name)) {
      const shown = name.length <= 40 && /^[A-Za-z0-9_ -]*$/.test(name) ? name : '(unreadable)';
      throw new AppError('BAD_USER_INPUT', `Unknown column "${shown}". The columns are: ${IMPORT_COLUMNS.join(', ')}.`, { field: 'file', reason: 'UNKNOWN_COLUMN' });
    }
    if (seen.has(name)) throw new AppError('BAD_USER_INPUT', `The column ${name} appears twice.`, { field: 'file', reason: 'DUPLICATE_COLUMN' });
    seen.add(name);
  }
  const missing = [...REQUIRED_DOCUMENT_COLUMNS].filter((name) => !seen.has(name));
  if (missing.length) throw new AppError('BAD_USER_INPUT', `Required columns are missing: ${missing.join(', ')}.`, { field: 'file', reason: 'MISSING_COLUMN' });
  return header;
}

/** Reads and checks the header alone, to know before anything is written whether the file carries loans. */
async function headerOf(source: ImportSource): Promise<string[]> {
  const parser = Readable.from(source.open()).pipe(parse({ bom: true, to_line: 1, max_record_size: MAX_RECORD_CHARACTERS }));
  try {
    for await (const record of parser as AsyncIterable<string[]>) return checkHeader(record);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('BAD_USER_INPUT', 'The file is not a CSV file with a header row.', { field: 'file', reason: 'MALFORMED_CSV' });
  } finally {
    parser.destroy();
  }
  throw new AppError('BAD_USER_INPUT', 'The file is empty: it needs a header row naming its columns.', { field: 'file', reason: 'EMPTY_FILE' });
}

interface Progress {
  rows: number;
  imported: number;
  failed: number;
  pending: ImportFailure[];
}

/**
 * Reads every row; valid rows are handed to `write` a batch at a time, failures to `report` as they pile up.
 * Memory holds one batch and at most a batch of failures, whatever the file's size.
 */
async function processRows(
  source: ImportSource,
  context: RowContext,
  handlers: { write(batch: ValidRow[]): Promise<ImportFailure[]>; report(failures: ImportFailure[]): Promise<void> },
): Promise<Progress> {
  const progress: Progress = { rows: 0, imported: 0, failed: 0, pending: [] };
  let batch: ValidRow[] = [];
  const noteFailures = (failures: ImportFailure[]) => {
    progress.failed += new Set(failures.map((f) => f.rowNumber)).size;
    progress.pending.push(...failures);
  };
  const flush = async () => {
    if (batch.length > 0) {
      const conflicts = await handlers.write(batch);
      noteFailures(conflicts);
      progress.imported += batch.length - new Set(conflicts.map((f) => f.rowNumber)).size;
      batch = [];
    }
    if (progress.pending.length > 0) {
      await handlers.report(progress.pending);
      progress.pending = [];
    }
  };
  for await (const item of csvRows(source)) {
    progress.rows++;
    if ('failure' in item) {
      noteFailures([item.failure]);
      continue;
    }
    const { row, failures } = await validateRow(item.cells, item.rowNumber, context);
    noteFailures(failures);
    if (row) batch.push(row);
    if (batch.length >= BATCH_SIZE || progress.pending.length >= BATCH_SIZE) await flush();
  }
  await flush();
  return progress;
}

/** Thrown inside an all-or-nothing import's transaction to roll it back when a row conflicts. */
class RolledBack extends Error {
  constructor(readonly progress: Progress) {
    super('import rolled back');
  }
}

export interface ImportDocumentsInput {
  viewer: Viewer;
  client: ClientInfo;
  organizationId: string;
  mode: DocumentImportMode;
  source: ImportSource;
}

/**
 * Imports chattel records (with their loans) from a CSV file into an organization, where the viewer needs
 * `documents` (and `loans` when the file has loan columns). VALID_ROWS writes each valid row and reports the rest;
 * ALL_OR_NOTHING first checks every row and writes nothing unless all are valid, then writes them in one
 * transaction. The same file (by SHA-256) imported again with the same mode, or after an import of it that wrote
 * rows, answers that first import and writes nothing. One activity row records the import and its counts.
 */
export async function importDocuments(services: Services, input: ImportDocumentsInput): Promise<DocumentImportResult> {
  const { viewer, source, mode } = input;
  if (isLimitedSession(viewer)) throw limitedSessionError();
  const organizationId = parseId(input.organizationId, 'organizationId');
  const membership = (await viewer.memberships()).find((m) => m.organizationId === organizationId);
  if (!membership) throw new AppError('NOT_FOUND', 'Organization not found.');
  if (!membership.permissions.has('documents')) throw new AppError('FORBIDDEN', 'Your role in this organization lacks the documents permission.');

  const header = await headerOf(source);
  if (header.some((name) => (LOAN_COLUMNS as readonly string[]).includes(name)) && !membership.permissions.has('loans')) {
    throw new AppError('FORBIDDEN', 'This file has loan columns, and your role in this organization lacks the loans permission.');
  }

  const earlier = await services.db.documentImport.findMany({ where: { organizationId, sha256: source.sha256 }, orderBy: { createdAt: 'asc' } });
  const replay = earlier.find((i) => i.mode === mode) ?? earlier.find((i) => i.status !== 'REJECTED');
  if (replay) return { ...replay, replayed: true };

  const now = services.clock.now();
  const created = await services.db.documentImport
    .create({ data: { organizationId, createdById: viewer.userId, sha256: source.sha256, mode, createdAt: now } })
    .catch(async (error: unknown) => {
      if ((error as { code?: string }).code !== 'P2002') throw error;
      return undefined;
    });
  if (!created) {
    const first = await services.db.documentImport.findUniqueOrThrow({ where: { organizationId_sha256_mode: { organizationId, sha256: source.sha256, mode } } });
    return { ...first, replayed: true };
  }

  const importId = created.id;
  const report = async (failures: ImportFailure[]) => {
    await insertFailures(services.db, importId, failures);
  };
  const locations = new Set((await services.db.location.findMany({ where: { organizationId }, select: { id: true } })).map((l) => l.id));
  const context: RowContext = { viewer, organizationId, locations, now };

  let progress: Progress;
  let status: 'COMPLETED' | 'REJECTED';
  try {
    if (mode === 'VALID_ROWS') {
      progress = await processRows(source, context, {
        write: (batch) => services.db.$transaction(async (tx) => writeBatch(tx, organizationId, batch), BATCH_TRANSACTION),
        report,
      });
      status = 'COMPLETED';
    } else {
      // First pass: every row checked, nothing written but the report.
      const checked = await processRows(source, context, { write: (batch) => loanNumberConflicts(services.db, organizationId, batch), report });
      if (checked.failed > 0) {
        progress = { ...checked, imported: 0 };
        status = 'REJECTED';
      } else {
        // Second pass: every row written in one transaction, rolled back if a row conflicts after all.
        const conflicts: ImportFailure[] = [];
        try {
          progress = await services.db.$transaction(
            async (tx) => {
              const written = await processRows(source, context, { write: (batch) => writeBatch(tx, organizationId, batch), report: async (f) => void conflicts.push(...f) });
              if (written.failed > 0) throw new RolledBack(written);
              return written;
            },
            { maxWait: BATCH_TRANSACTION.maxWait, timeout: 30 * 60_000 },
          );
          status = 'COMPLETED';
        } catch (error) {
          if (!(error instanceof RolledBack)) throw error;
          await report(conflicts);
          progress = { ...error.progress, imported: 0 };
          status = 'REJECTED';
        }
      }
    }
  } catch (error) {
    // A file refused as a whole (its header) leaves no import behind, so it can be fixed and sent again.
    await services.db.documentImport.delete({ where: { id: importId } }).catch(() => undefined);
    throw error;
  }

  const finished = await services.db.$transaction(async (tx) => {
    const done = await tx.documentImport.update({
      where: { id: importId },
      data: { status, rowCount: progress.rows, importedCount: progress.imported, failedCount: progress.failed, completedAt: services.clock.now() },
    });
    await recordActivity(tx, {
      type: 'documents.imported',
      actorUserId: viewer.userId,
      organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { importId, mode, status, rows: progress.rows, imported: progress.imported, failed: progress.failed },
    });
    return done;
  });
  return { ...finished, replayed: false };
}

/** An import the viewer may read: one in an organization where their role holds `documents` (or any, for admins). */
export async function getDocumentImport(services: Pick<Services, 'db'>, options: { viewer: Viewer; id: string }): Promise<DocumentImport> {
  const id = parseId(options.id);
  const found = await services.db.documentImport.findUnique({ where: { id } });
  const memberships = isLimitedSession(options.viewer) ? [] : await options.viewer.memberships();
  const mayRead = found && (options.viewer.roles.includes('ADMIN') || memberships.some((m) => m.organizationId === found.organizationId && m.permissions.has('documents')));
  if (!found || !mayRead) throw new AppError('NOT_FOUND', 'Import not found.');
  return found;
}

/** One CSV cell: quoted when it holds a comma, a quote, a line break or edge spaces. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvLine = (cells: unknown[]) => `${cells.map(csvCell).join(',')}\r\n`;

export const REPORT_COLUMNS = ['rowNumber', 'column', 'reason', 'message'] as const;

/** An import's failure report as CSV lines, in row order, read a page at a time. */
export async function* importReportCsv(services: Pick<Services, 'db'>, options: { viewer: Viewer; id: string }): AsyncGenerator<string> {
  const found = await getDocumentImport(services, options);
  yield csvLine([...REPORT_COLUMNS]);
  let after: { rowNumber: number; column: string } | undefined;
  for (;;) {
    const page = await services.db.documentImportFailure.findMany({
      where: { importId: found.id, ...(after ? { OR: [{ rowNumber: { gt: after.rowNumber } }, { rowNumber: after.rowNumber, column: { gt: after.column } }] } : {}) },
      orderBy: [{ rowNumber: 'asc' }, { column: 'asc' }],
      take: 1000,
    });
    for (const failure of page) yield csvLine(REPORT_COLUMNS.map((name) => failure[name]));
    if (page.length < 1000) return;
    after = page.at(-1)!;
  }
}

const EXPORT_PAGE = 1000;

/**
 * The chattel records (and loans) the viewer may read in an organization, narrowed as the documents list is, as CSV
 * lines in the import's columns, read a page at a time by id so memory stays flat however many there are.
 */
export async function* exportDocumentsCsv(
  services: Pick<Services, 'db'>,
  options: { viewer: Viewer; filter: Omit<DocumentFilter, 'status' | 'loanStatus'> & { organizationId: string; status?: string | null; loanStatus?: string | null } },
): AsyncGenerator<string> {
  const organizationId = parseId(options.filter.organizationId, 'organizationId');
  const { status, loanStatus } = options.filter;
  if (status && !DOCUMENT_STATUSES.has(status)) throw new AppError('BAD_USER_INPUT', `status must be one of ${[...DOCUMENT_STATUSES].join(', ')}.`, { field: 'status' });
  if (loanStatus && !LOAN_STATUSES.has(loanStatus)) throw new AppError('BAD_USER_INPUT', `loanStatus must be one of ${[...LOAN_STATUSES].join(', ')}.`, { field: 'loanStatus' });
  const memberships = isLimitedSession(options.viewer) ? [] : await options.viewer.memberships();
  if (!options.viewer.roles.includes('ADMIN') && !memberships.some((m) => m.organizationId === organizationId)) {
    throw new AppError('NOT_FOUND', 'Organization not found.');
  }
  const where = documentsWhere(options.viewer, { ...options.filter, organizationId, status: status as DocumentFilter['status'], loanStatus: loanStatus as DocumentFilter['loanStatus'] });
  yield csvLine([...IMPORT_COLUMNS]);
  let after: string | undefined;
  for (;;) {
    const page = await services.db.document.findMany({
      where: after ? { AND: [where, { id: { gt: after } }] } : where,
      orderBy: { id: 'asc' },
      take: EXPORT_PAGE,
      include: { loan: true },
    });
    for (const document of page) {
      const loan = document.loan;
      const cells: Record<string, unknown> = { ...document, ...(loan ? { ...loan, loanStatus: loan.status } : {}) };
      for (const column of DATE_COLUMNS) if (cells[column] instanceof Date) cells[column] = (cells[column] as Date).toISOString().slice(0, 10);
      if (!loan) for (const column of LOAN_COLUMNS) cells[column] = null;
      yield csvLine(IMPORT_COLUMNS.map((column) => cells[column]));
    }
    if (page.length < EXPORT_PAGE) return;
    after = page.at(-1)!.id;
  }
}

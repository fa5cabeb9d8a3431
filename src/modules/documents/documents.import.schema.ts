import { builder } from '../../graphql/builder.ts';
import { assertCsvUpload, fileSource, getDocumentImport, importDocuments, importReportPath, type DocumentImportResult } from './documents.import.ts';

const DocumentImportModeEnum = builder.enumType('DocumentImportMode', {
  values: {
    ALL_OR_NOTHING: { description: 'Write the rows only if every row is valid; otherwise write none and report why.' },
    VALID_ROWS: { description: 'Write every valid row and report the others.' },
  },
});

const DocumentImportStatusEnum = builder.enumType('DocumentImportStatus', {
  values: {
    RUNNING: { description: 'Rows are being read and written.' },
    COMPLETED: { description: 'Every valid row was written.' },
    REJECTED: { description: 'ALL_OR_NOTHING, and some row failed: nothing was written.' },
  },
});

export const DocumentImportRef = builder.objectRef<DocumentImportResult>('DocumentImport').implement({
  description: 'A CSV import of chattel records and their loans, with its counts; the failed rows are in the report at `reportPath`.',
  fields: (t) => ({
    id: t.exposeID('id'),
    organizationId: t.exposeID('organizationId'),
    mode: t.field({ type: DocumentImportModeEnum, resolve: (i) => i.mode }),
    status: t.field({ type: DocumentImportStatusEnum, resolve: (i) => i.status }),
    sha256: t.exposeString('sha256', { description: "The file's SHA-256 (hex): the same file imported again answers this import." }),
    rows: t.exposeInt('rowCount', { description: 'Data rows read (the header is not counted).' }),
    imported: t.exposeInt('importedCount', { description: 'Chattel records written (each with its loan, when the row has one).' }),
    failed: t.exposeInt('failedCount', { description: 'Rows that failed; the report says why.' }),
    replayed: t.exposeBoolean('replayed', { description: 'True when this file was imported before: this is that import, and nothing was written now.' }),
    reportPath: t.string({ description: 'GET it (Bearer token) for the failed rows as CSV: rowNumber, column, reason, message.', resolve: (i) => importReportPath(i.id) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
  }),
});

const ImportDocumentsInput = builder.inputType('ImportDocumentsInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    mode: t.field({ type: DocumentImportModeEnum, required: true }),
    file: t.field({ type: 'File', required: true, description: 'The CSV file (UTF-8, header row first); docs/domain.md lists its columns.' }),
  }),
});

builder.queryField('documentImport', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: DocumentImportRef,
    description: 'One import, for members whose role holds documents in its organization.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => ({ ...(await getDocumentImport(context.services, { viewer: context.viewer, id: String(args.id) })), replayed: false }),
  }),
);

builder.mutationField('importDocuments', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: DocumentImportRef,
    description:
      'Imports chattel records and their loans from a CSV upload; needs documents (and loans for loan columns). The same file again answers the first import.',
    args: { input: t.arg({ type: ImportDocumentsInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      assertCsvUpload(input.file, context.services.config.limits.importBytes);
      return importDocuments(context.services, {
        viewer: context.viewer,
        client: context.client,
        organizationId: String(input.organizationId),
        mode: input.mode,
        source: await fileSource(input.file),
      });
    },
  }),
);

// `npm run bench`: every benchmark, each printing its figures and its ratio against a baseline measured in the
// same run. Needs a PostgreSQL server (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local default).
import { benchDocumentRead } from './document-read.ts';

// Exits explicitly: the schema engine used for migrations leaves a timer behind.
await benchDocumentRead();
process.exit(0);

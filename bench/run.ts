// `npm run bench`: every benchmark, each printing its figures and its ratio against a baseline measured in the
// same run. Needs a PostgreSQL server (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local default).
// `npm run bench -- auth-cost` runs one by name.
import { benchAuthCost } from './auth-cost.ts';
import { benchDocumentRead } from './document-read.ts';
import { benchDocumentsConnection } from './documents-connection.ts';
import { benchRestDocumentRead } from './rest-document-read.ts';
import { benchSubscriptionFanout } from './subscription-fanout.ts';

const benches: Record<string, () => Promise<unknown>> = {
  'document-read': benchDocumentRead,
  'auth-cost': benchAuthCost,
  'documents-connection': benchDocumentsConnection,
  'subscription-fanout': benchSubscriptionFanout,
  'rest-document-read': benchRestDocumentRead,
};
const selected = process.argv.slice(2);
for (const name of selected.length ? selected : Object.keys(benches)) {
  const bench = benches[name];
  if (!bench) {
    console.error(`Unknown benchmark "${name}". Known: ${Object.keys(benches).join(', ')}`);
    process.exit(1);
  }
  await bench();
}
// Exits explicitly: the schema engine used for migrations leaves a timer behind.
process.exit(0);

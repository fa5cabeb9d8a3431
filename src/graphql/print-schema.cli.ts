// `npm run schema:print` writes schema.graphql; `npm run schema:check` fails when the checked-in file is stale.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config.ts';
import { printSortedSchema } from './schema.ts';

const file = path.join(projectRoot, 'schema.graphql');
const printed = printSortedSchema();
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== printed) {
    console.error('schema.graphql is stale: run `npm run schema:print` and commit the result.');
    process.exit(1);
  }
  process.stdout.write('schema.graphql is current.\n');
} else {
  fs.writeFileSync(file, printed);
  process.stdout.write(`Wrote ${path.relative(process.cwd(), file) || file}.\n`);
}

// Runs `prisma generate` without the network, and only when prisma/schema.prisma (or the installed Prisma) changed
// since the last run. The Prisma CLI wants its native schema engine before it starts and downloads it when absent;
// generation never uses that engine, so any existing file satisfies the check. Migrations go through the
// WebAssembly schema engine instead (src/db/schema-engine.ts).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const stamp = path.join(root, 'src', 'generated', '.schema-hash');
const fingerprint = createHash('sha256')
  .update(fs.readFileSync(path.join(root, 'prisma', 'schema.prisma')))
  .update(fs.readFileSync(path.join(root, 'node_modules', 'prisma', 'package.json')))
  .update(fs.readFileSync(path.join(root, 'node_modules', '@pothos', 'plugin-prisma', 'package.json')))
  .digest('hex');

const force = process.argv.includes('--force');
if (!force && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === fingerprint) process.exit(0);

const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(import.meta.url);
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
env.CHECKPOINT_DISABLE = '1';
// The prisma-pothos-types generator is found on PATH, as npm scripts would arrange.
env.PATH = [path.join(root, 'node_modules', '.bin'), env.PATH].join(path.delimiter);
const result = spawnSync(process.execPath, [require.resolve('prisma/build/index.js'), 'generate'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
if (result.status !== 0) {
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  process.exit(result.status ?? 1);
}
fs.writeFileSync(stamp, fingerprint);
process.stdout.write('Generated the Prisma client and Pothos types.\n');

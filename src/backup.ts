/**
 * `npm run backup -- FILE [--force]`: an online backup of the kvmops database (KVMOPS_DB) to
 * FILE, safe while the bot runs. See src/jobs/backup.ts for how, and deploy/README.md for
 * restoring.
 *
 * Exit codes: 0 written and verified · 1 the backup failed · 2 usage (no FILE, unknown option,
 * FILE exists without --force, invalid environment).
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadToolEnv } from './config/env.js';
import { backupDatabase } from './jobs/backup.js';

const USAGE = `usage: npm run backup -- FILE [--force]
  Writes an online, verified copy of the kvmops database (KVMOPS_DB) to FILE.
  --force  overwrite FILE if it exists`;

function usage(problem: string): never {
  process.stderr.write(`backup: ${problem}\n${USAGE}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  let force = false;
  const files: string[] = [];
  for (const a of argv) {
    if (a === '--force') force = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      return;
    } else if (a.startsWith('-') && a !== '-') usage(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length !== 1) usage(files.length === 0 ? 'which FILE should the backup go to?' : 'give exactly one FILE');
  const dest = resolve(files[0]!);

  const env = loadToolEnv(usage);
  const source = resolve(env.KVMOPS_DB);
  if (!force && (await access(dest).then(() => true, () => false))) usage(`${dest} exists; pass --force to overwrite it`);

  const r = await backupDatabase(source, dest);
  process.stdout.write(
    `backup: ${source} → ${r.file}\n` +
      `  ${r.jobs} jobs, schema v${r.schemaVersion}, ${r.pages} pages, ${r.bytes} bytes, integrity ok, ${Math.round(r.durationMs)} ms\n`,
  );
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`backup: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

/** The repository's own TypeScript (src/ and commands/), read for tests that check the source itself. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.posix.join(dir, f.split(path.sep).join('/')))
    .sort();
}

/** Every `.ts` under src/ and commands/, as repo-relative posix paths with their text. */
export function sourceFiles(): Array<{ f: string; text: string }> {
  return [...sources('src'), ...sources('commands')].map((f) => ({ f, text: readFileSync(path.join(REPO, f), 'utf8') }));
}

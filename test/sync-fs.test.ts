/**
 * No synchronous file call on the event loop after start-up, read from the source: the bot's
 * event loop serves chat, heartbeats and the worker at once, and a `existsSync` on a hung storage
 * mount would freeze them all (acks missed, leases lost). Files use fs/promises; the few sync
 * calls left run once, at start-up, before anything is served — each listed here with why.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sourceFiles } from './helpers/sources.js';

const files = sourceFiles();

/** Start-up only: file → the sync calls it may make, and why they run before anything is served. */
const START_UP: Record<string, { calls: string[]; why: string }> = {
  'src/config/env.ts': { calls: ['existsSync'], why: 'loadDotEnv: is there a .env, once at start (process.loadEnvFile is synchronous itself)' },
  'src/jobs/db.ts': {
    calls: ['mkdirSync'],
    why: "openDatabase: the database's folder, when a process opens its database, right before better-sqlite3 opens the file synchronously",
  },
  'src/hypervisor/exec.ts': { calls: ['existsSync'], why: 'is setpriv installed: evaluated once, when the module loads' },
  'src/hypervisor/file-stream.ts': { calls: ['existsSync'], why: 'is setpriv installed (for its ssh ends): evaluated once, when the module loads' },
  'src/audit.ts': { calls: ['existsSync'], why: '`npm run audit`, a one-shot CLI and no event loop serving anyone: is the database there, once, before it is opened' },
};

/** Code only: comments may name the calls they replaced. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('synchronous file calls', () => {
  it('run only at start-up, in the files listed with why', () => {
    const found: Record<string, string[]> = {};
    for (const { f, text } of files) {
      const calls = [...new Set([...code(text).matchAll(/\b([a-z]\w*Sync)\s*\(/g)].map((m) => m[1]!))].sort();
      if (calls.length) found[f] = calls;
    }
    const allowed = Object.fromEntries(Object.entries(START_UP).map(([f, a]) => [f, [...a.calls].sort()]));
    assert.deepEqual(found, allowed, 'a sync call outside start-up: use fs/promises (or, if it truly runs only at start-up, list it with why)');
  });

  it('nothing reaches node:fs another way (a namespace or default import, require)', () => {
    for (const { f, text } of files) {
      const c = code(text);
      assert.doesNotMatch(c, /import\s+(\*\s+as\s+)?\w+\s+from\s+'(node:)?fs'/, `${f}: import names from node:fs, so this test can see them`);
      assert.doesNotMatch(c, /\brequire\s*\(/, `${f}: require()`);
      for (const m of c.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(node:)?fs'/g)) {
        for (const name of m[1]!.split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean)) {
          assert.ok(!/Sync$/.test(name) || START_UP[f]?.calls.includes(name), `${f}: imports ${name} from node:fs`);
          assert.ok(/Sync$/.test(name) || name === 'constants' || /^[A-Z]/.test(name), `${f}: ${name} from node:fs (callback API): use fs/promises`);
        }
      }
    }
  });
});

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * ANOTHER PROCESS holding the database's write lock: a plain `node -e` child opens the file
 * with better-sqlite3 and runs `BEGIN IMMEDIATE`, then holds it until told to let go (or until
 * its parent dies: stdin closes). Every write of the process under test meets SQLITE_BUSY
 * meanwhile; reads go on (WAL).
 *
 * The old code waited up to busy_timeout = 5000 ms inside each write, blocking its event loop,
 * then failed; a lock held for LONGER_THAN_OLD_BUSY_TIMEOUT_MS outlasts that wait. The
 * real-libvirt suite holds it that long (test/adapters/discord/db-busy.libvirt.test.ts); the unit
 * tests hold LOCK_MS.
 */
export const LONGER_THAN_OLD_BUSY_TIMEOUT_MS = 6_000;

const LOCKER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.pragma('busy_timeout = 10000');
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
const release = () => { db.exec('ROLLBACK'); db.close(); process.stdout.write('released\\n'); process.exit(0); };
process.stdin.on('data', release);
process.stdin.on('end', release);
`;

export interface WriteLock {
  /** Epoch ms at which the child reported the lock taken. */
  readonly lockedAt: number;
  /** Lets go (ROLLBACK) and waits for the child to exit. */
  release(): Promise<void>;
  /** Waits until the lock has been held `ms` in total, then releases it. */
  releaseAfter(ms: number): Promise<void>;
}

/** With `t`, the lock is also released after the test (a failing test must not leave it held). */
export async function holdWriteLock(dbFile: string, t?: TestContext): Promise<WriteLock> {
  const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
  const child = spawn(process.execPath, ['-e', LOCKER, betterSqlite3, dbFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const lines = createInterface({ input: child.stdout });
  const said = (word: string) =>
    new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => l === word && resolve());
      void exited.then((code) => reject(new Error(`the locker exited (${code}) before "${word}": ${stderr}`)));
    });
  const locked = said('locked');
  const released = said('released');
  released.catch(() => {}); // awaited by release(); a locker that died early fails `locked`
  await locked;
  const lockedAt = Date.now();
  const release = async () => {
    if (child.exitCode === null) child.stdin.end('release\n');
    await released;
    await exited;
  };
  t?.after(release);
  return {
    lockedAt,
    release,
    releaseAfter: async (ms) => {
      await sleep(Math.max(0, lockedAt + ms - Date.now()));
      await release();
    },
  };
}

/** The longest gap between ticks of a 10 ms interval while `during` runs: the event loop was never blocked longer. */
export async function maxTickGap<T>(during: () => Promise<T>): Promise<{ value: T; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 10);
  try {
    const value = await during();
    maxGapMs = Math.max(maxGapMs, performance.now() - last);
    return { value, maxGapMs };
  } finally {
    clearInterval(tick);
  }
}

/** Generous: a correctness bound (no multi-second synchronous wait), not a performance target. */
export const EVENT_LOOP_GAP_BOUND_MS = 500;

/**
 * How long the unit tests hold the lock: the shortest that still proves the rule. A write that
 * waited for the lock inside better-sqlite3 (the old busy_timeout of 5 s, or any value above
 * this) would block the event loop for about this long, twice EVENT_LOOP_GAP_BOUND_MS, so those
 * tests fail on such code; and it outlasts the short leases and patience they configure.
 */
export const LOCK_MS = 2 * EVENT_LOOP_GAP_BOUND_MS;

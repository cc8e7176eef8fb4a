/**
 * Jobs bench (issue 3): claim + complete cycles per second through SqliteJobStore, against the
 * very same SQL statements (claim, outbox insert, complete, outbox insert; one IMMEDIATE
 * transaction each for claim and complete, as the store does) run bare on a better-sqlite3
 * connection with the same pragmas and schema, in the same run. Target: store ≥ 0.8 × bare.
 * Store and bare take turns in small batches on two files of the same seed, so that the noise of
 * a shared disk (fsync dominates: synchronous=FULL) falls on both alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLAIM_SQL } from '../src/jobs/claim.js';
import { COMPLETE_SQL } from '../src/jobs/complete.js';
import { INSERT_EVENT_SQL, eventParams } from '../src/jobs/context.js';
import { openDatabase, type Database } from '../src/jobs/db.js';
import { rowToJob, type JobRow } from '../src/jobs/rows.js';
import { SqliteJobStore, openJobStore } from '../src/jobs/store.js';
import type { BenchResult } from './types.js';

const CYCLES = 2_000;
/** Store and bare take turns in batches this big, so a burst of disk noise hits both alike. */
const BATCH = 10;
const LEASE_MS = 60_000;

/** A database file holding CYCLES queued jobs, each on its own VM (so none waits for another). */
function seeded(dir: string, name: string): string {
  const file = join(dir, `${name}.db`);
  const store = openJobStore(file);
  store.db.transaction(() => {
    for (let i = 0; i < CYCLES; i++) {
      store.enqueue({
        kind: 'vm.start',
        payload: { host: 'local', vm: `vm-${i}` },
        requester: { id: '1', name: 'bench' },
        notify: { adapter: 'shell', guildId: null, channelId: 'bench' },
      });
    }
  })();
  store.close();
  return file;
}

/** One claim + complete cycle; false when the queue is empty. */
type Cycle = () => boolean;

function viaStore(store: SqliteJobStore): Cycle {
  return () => {
    const c = store.claim('bench', LEASE_MS);
    if (c) store.complete(c.lease, { ok: true });
    return c !== undefined;
  };
}

function bare(db: Database): Cycle {
  const claim = db.prepare(CLAIM_SQL);
  const complete = db.prepare(COMPLETE_SQL);
  const event = db.prepare(INSERT_EVENT_SQL);
  const claimTx = db.transaction(() => {
    const row = claim.get({ owner: 'bench', leaseMs: LEASE_MS, now: Date.now(), hosts: null, perHost: null }) as JobRow | undefined;
    if (row) event.run(eventParams('running', rowToJob(row)));
    return row;
  });
  const completeTx = db.transaction((id: number, token: number) => {
    const row = complete.get({ jobId: id, owner: 'bench', token, result: '{"ok":true}', now: Date.now() }) as JobRow;
    event.run(eventParams('succeeded', rowToJob(row)));
  });
  return () => {
    const row = claimTx.immediate();
    if (row) completeTx.immediate(row.id, row.lease_token);
    return row !== undefined;
  };
}

/** Runs up to BATCH cycles; returns [cycles done, seconds taken]. */
function batch(cycle: Cycle): [number, number] {
  const start = process.hrtime.bigint();
  let n = 0;
  while (n < BATCH && cycle()) n++;
  return [n, Number(process.hrtime.bigint() - start) / 1e9];
}

const PIN_JOBS = 2_000;
const PIN_UUID = '0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b';

/**
 * What pinning costs (issue 20): the same command — vm.start, whose pin is optional — enqueued,
 * then claimed and completed, with its VM's uuid in the payload and without, taking turns in
 * batches on two files. The difference per command is the pin's price: the payload's extra field
 * checked and stored at enqueue and checked again at the claim. (The pin's value comes from the
 * catalog lookup the command already made for its existence check: no extra host read.)
 */
function benchPinning(dir: string): BenchResult[] {
  const sides = (['pinned', 'bare'] as const).map((name) => ({
    name,
    store: new SqliteJobStore(openDatabase(join(dir, `pin-${name}.db`))),
    enqueueS: 0,
    claimS: 0,
  }));
  try {
    for (let done = 0; done < PIN_JOBS; done += BATCH) {
      for (const side of done % (2 * BATCH) ? [...sides].reverse() : sides) {
        let t = process.hrtime.bigint();
        for (let i = done; i < done + BATCH; i++) {
          side.store.enqueue({
            kind: 'vm.start',
            payload: { host: 'local', vm: `vm-${i}`, ...(side.name === 'pinned' ? { vmUuid: PIN_UUID } : {}) },
            requester: { id: '1', name: 'bench' },
            notify: { adapter: 'shell', guildId: null, channelId: 'bench' },
          });
        }
        side.enqueueS += Number(process.hrtime.bigint() - t) / 1e9;
        t = process.hrtime.bigint();
        for (let i = 0; i < BATCH; i++) {
          const c = side.store.claim('bench', LEASE_MS);
          if (c) side.store.complete(c.lease, { ok: true });
        }
        side.claimS += Number(process.hrtime.bigint() - t) / 1e9;
      }
    }
    const [pinned, bare] = sides as [(typeof sides)[0], (typeof sides)[0]];
    const ms = (s: number) => (s * 1000) / PIN_JOBS;
    const extraEnqueue = ms(pinned.enqueueS) - ms(bare.enqueueS);
    const extraClaim = ms(pinned.claimS) - ms(bare.claimS);
    console.error(
      `bench pinning: enqueue ${ms(pinned.enqueueS).toFixed(3)} vs ${ms(bare.enqueueS).toFixed(3)} ms, claim+complete ${ms(pinned.claimS).toFixed(3)} vs ${ms(bare.claimS).toFixed(3)} ms`,
    );
    return [
      { name: 'enqueue, pinned vs not: extra per command', value: extraEnqueue, unit: 'ms', floor: ms(bare.enqueueS), ratio: ms(pinned.enqueueS) / ms(bare.enqueueS), target: '≤ 1 ms more', pass: extraEnqueue <= 1 },
      { name: 'claim+complete, pinned vs not: extra per job', value: extraClaim, unit: 'ms', floor: ms(bare.claimS), ratio: ms(pinned.claimS) / ms(bare.claimS), target: '≤ 1 ms more', pass: extraClaim <= 1 },
    ];
  } finally {
    for (const side of sides) side.store.close();
  }
}

export async function benchJobs(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-bench-jobs-'));
  const store = new SqliteJobStore(openDatabase(seeded(dir, 'store')));
  const raw = openDatabase(seeded(dir, 'bare'));
  try {
    const sides = [
      { cycle: viaStore(store), n: 0, s: 0 },
      { cycle: bare(raw), n: 0, s: 0 },
    ];
    for (let turn = 0; sides.some((x) => x.n < CYCLES); turn++) {
      // Alternate who goes first, so neither always runs right after a checkpoint of the other.
      for (const side of turn % 2 ? [...sides].reverse() : sides) {
        const [n, s] = batch(side.cycle);
        side.n += n;
        side.s += s;
      }
    }
    const [viaStoreSide, bareSide] = sides as [(typeof sides)[0], (typeof sides)[0]];
    const value = viaStoreSide.n / viaStoreSide.s;
    const floor = bareSide.n / bareSide.s;
    const ratio = value / floor;
    console.error(`bench jobs: store ${value.toFixed(0)}/s, bare ${floor.toFixed(0)}/s, ratio ${ratio.toFixed(3)}`);
    return [
      { name: 'claim+complete (bare SQL)', value: floor, unit: 'cycles/s' },
      { name: 'claim+complete (SqliteJobStore)', value, unit: 'cycles/s', floor, ratio, target: '≥ 0.8 × bare', pass: ratio >= 0.8 },
      ...benchPinning(dir),
    ];
  } finally {
    store.close();
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

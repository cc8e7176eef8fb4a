/**
 * A long history (issue 22, steps 2 and 3): the queries the bot runs on a timer or per command,
 * timed with 0, 100 k and 1 M finished jobs in the database, beside a small live set (queued,
 * running, awaiting approval, pending notifications); the longest event-loop block of the
 * metrics read and of a prune; the database bytes per 1,000 finished jobs.
 *
 * The history is written in bulk (test/helpers/history.ts: one INSERT … SELECT per table, in
 * chunks of 100 k jobs: 3 delivered events each, one in ten with an approval, one audit row
 * each), the live jobs through the store's API. Each query runs ROUNDS times per size; median
 * and p99 in ms; growth = median at the largest size / median at 100 k.
 * Goals: every query ≤ 5 ms at 1 M, growth ≤ 1.5×, no block > 50 ms.
 *
 * `HISTORY_SIZES=0,100000,300000 npm run bench -- history` measures other sizes (the largest is
 * the one the goals are checked at). Each size has a database of its own, and the queries are
 * timed on them in turn (interleaved), so the machine's noise falls on every size alike.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/domain/logger.js';
import { jobStats } from '../src/jobs/stats.js';
import { openJobStore, type SqliteJobStore } from '../src/jobs/store.js';
import type { EnqueueRequest } from '../src/jobs/types.js';
import { percentile } from '../src/worker/latency.js';
import { Pruner } from '../src/worker/pruner.js';
import { fillHistory } from '../test/helpers/history.js';
import type { BenchResult } from './types.js';

const ROUNDS = 200;
const CHUNK = 100_000;
const DAY = 86_400_000;
const QUIET = { id: '5550001', name: 'quiet' };
const notify = { adapter: 'discord', guildId: '1187394015836762112', channelId: '1187394015836762999' };

interface Query {
  name: string;
  /** `i`: the call's number; `lastId`: the newest history job of this store. */
  run: (store: SqliteJobStore, i: number, lastId: number) => unknown;
}

function queries(): Query[] {
  return [
    {
      // Nothing claimable (the live queued jobs wait for a later run_at): the claim's full search, as on most wakes.
      name: 'worker: claim (nothing due)',
      run: (s) => s.claim('bench', 30_000, { perHost: 2 }),
    },
    { name: 'worker: due scan (queued, 1,000)', run: (s) => s.list({ state: 'queued', limit: 1000 }) },
    { name: 'worker: reaper', run: (s) => s.reap() },
    { name: 'approval sweep', run: (s) => s.approvals.expireDue() },
    { name: 'notifier: pending (discord, 500)', run: (s) => s.outbox.pending('discord', 500, 0) },
    { name: '/job list', run: (s) => s.list() },
    { name: '/job list state:queued', run: (s) => s.list({ state: 'queued' }) },
    { name: '/job list state:succeeded', run: (s) => s.list({ state: 'succeeded' }) },
    { name: '/job list mine:true (quiet user)', run: (s) => s.list({ requesterId: QUIET.id }) },
    { name: '/job list mine:true state:queued', run: (s) => s.list({ requesterId: QUIET.id, state: 'queued' }) },
    {
      name: '/job status (a random job)',
      run: (s, i, lastId) => {
        const id = 1 + ((i * 7_919) % Math.max(1, lastId));
        return [s.get(id), s.approvals.get(id)];
      },
    },
    { name: 'metrics: jobStats', run: (s) => jobStats(s.db) },
  ];
}

/** Calls per timed sample: a sample is their mean, so a 10 µs query is not lost in the timer's grain. */
const BATCH = 5;

/**
 * Each query timed on every database in turn, round after round: the machine's noise (other
 * processes on 2 shared cores) falls on every size alike, so the growth compares like with like.
 */
function timeInterleaved(stores: SqliteJobStore[], lastIds: number[], q: Query): number[][] {
  const ms = stores.map(() => [] as number[]);
  for (let i = 0; i < 20; i++) stores.forEach((s, k) => q.run(s, i, lastIds[k]!));
  for (let i = 0; i < ROUNDS; i++) {
    stores.forEach((s, k) => {
      const t = performance.now();
      for (let b = 0; b < BATCH; b++) q.run(s, i * BATCH + b, lastIds[k]!);
      ms[k]!.push((performance.now() - t) / BATCH);
    });
  }
  return ms;
}

/** The live set: queued (not due), running, awaiting approval; their events pending. */
function liveJobs(store: SqliteJobStore): void {
  const req = (vm: string, extra: Partial<EnqueueRequest> = {}): EnqueueRequest => ({
    kind: 'vm.start',
    payload: { host: 'local', vm },
    requester: QUIET,
    notify,
    ...extra,
  });
  for (let i = 0; i < 4; i++) store.enqueue(req(`running-${i}`));
  for (let i = 0; i < 2; i++) store.claim('bench-live', 365 * DAY);
  for (let i = 0; i < 5; i++) {
    store.enqueue({
      kind: 'snapshot.revert',
      payload: { host: 'local', vm: `db-${i}`, name: 'before', vmUuid: '0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b', snapshot: { createdAt: 1, files: [] } },
      requester: QUIET,
      notify,
      approvalTtlMs: 365 * DAY,
    });
  }
  // The remaining queued ones are pushed to a later run_at: the queue is non-empty but nothing is due.
  store.db.prepare(`UPDATE jobs SET run_at = ? WHERE state = 'queued'`).run(Date.now() + 365 * DAY);
}

async function longestGap(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  let on = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  on = false;
  return longest;
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

export async function benchHistory(): Promise<BenchResult[]> {
  const sizes = (process.env.HISTORY_SIZES ?? '0,100000,1000000').split(',').map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-bench-history-'));
  const stores: SqliteJobStore[] = [];
  const results: BenchResult[] = [];
  try {
    const now = Date.now();
    const lastIds: number[] = [];
    const fileBytes = new Map<number, number>();
    // One database per size, each: the live set first, then its history.
    for (const size of sizes) {
      const file = join(dir, `kvmops-${size}.db`);
      const store = openJobStore(file);
      stores.push(store);
      liveJobs(store);
      let lastId = 0;
      for (let filled = 0; filled < size; ) {
        const n = Math.min(CHUNK, size - filled);
        const t = performance.now();
        // Finished 400 … 100 days ago (all older than the default 90 days: the prune below has work).
        lastId = fillHistory(store.db, { jobs: n, finishedFrom: now - 400 * DAY + filled * 20_000, stepMs: 20_000, users: 2_000 }).lastId;
        filled += n;
        store.db.pragma('wal_checkpoint(TRUNCATE)');
        console.error(`bench history: ${filled} of ${size} finished jobs (${((performance.now() - t) / 1000).toFixed(1)} s for ${n})`);
      }
      lastIds.push(lastId);
      fileBytes.set(size, statSync(file).size);
    }
    const table = new Map<string, Array<{ size: number; p50: number; p99: number }>>();
    const floorQuery: Query = { name: '(floor) SELECT 1 on the same connection', run: (s) => s.db.prepare('SELECT 1').get() };
    for (const q of [floorQuery, ...queries()]) {
      const ms = timeInterleaved(stores, lastIds, q);
      table.set(q.name, sizes.map((size, k) => ({ size, p50: percentile(ms[k]!, 0.5), p99: percentile(ms[k]!, 0.99) })));
    }
    const store = stores[stores.length - 1]!;

    // The table the issue asks for.
    const top = sizes[sizes.length - 1]!;
    const mid = sizes.find((s) => s > 0 && s < top) ?? top;
    const head = ['query', ...sizes.flatMap((s) => [`${s / 1000}k p50`, `${s / 1000}k p99`]), `growth ${mid / 1000}k→${top / 1000}k`, 'goal'];
    const body: string[][] = [];
    for (const [name, row] of table) {
      const at = (s: number) => row.find((r) => r.size === s)!;
      const growth = at(top).p50 / at(mid).p50;
      const ok = at(top).p99 <= 5 && growth <= 1.5;
      const floor = name.startsWith('(floor)');
      body.push([name, ...row.flatMap((r) => [fmt(r.p50), fmt(r.p99)]), `${growth.toFixed(2)}×`, floor ? '' : ok ? 'PASS' : 'MISS']);
      if (floor) continue;
      results.push({
        name: `${name}: p99 at ${top / 1000}k (growth ${mid / 1000}k→${top / 1000}k ${growth.toFixed(2)}×)`,
        value: at(top).p99,
        unit: 'ms',
        ratio: growth,
        target: '≤ 5 ms, growth ≤ 1.5×',
        pass: ok,
      });
    }
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(`\nhistory: each query ${ROUNDS} samples of ${BATCH} calls per size, interleaved across sizes, ms (finished jobs in the database: ${sizes.join(' / ')})`);
    console.log(`(load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')} on this machine's cores: p99 includes time the process was descheduled)`);
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const b of body) console.log(line(b));
    console.log('');

    // Longest block of the metrics update (one scrape's read), at the largest size.
    const scrapes: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      jobStats(store.db);
      scrapes.push(performance.now() - t);
    }
    const metricsBlock = Math.max(...scrapes);
    results.push({ name: `metrics update, longest block of 50 at ${top / 1000}k`, value: metricsBlock, unit: 'ms', target: '≤ 50 ms', pass: metricsBlock <= 50 });

    // Database size per 1,000 finished jobs as kept (jobs, 3 events, approvals, audit), at the largest size.
    if (top > 0) {
      const perK = (fileBytes.get(top)! / top) * 1000;
      const parts = store.db.prepare(`SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC`).all() as Array<{ name: string; bytes: number }>;
      const jobsPart = parts.filter((p) => p.name === 'jobs' || p.name.startsWith('jobs_') || p.name === 'sqlite_autoindex_jobs_1').reduce((a, p) => a + p.bytes, 0);
      const eventsPart = parts.filter((p) => p.name.startsWith('job_events')).reduce((a, p) => a + p.bytes, 0);
      console.error(`bench history: ${parts.slice(0, 12).map((p) => `${p.name} ${(p.bytes / 1048576).toFixed(1)} MiB`).join(', ')}`);
      results.push({ name: `database per 1,000 finished jobs kept (bulk rows, at ${top / 1000}k)`, value: perK / 1024, unit: 'KiB' });
      results.push({ name: '  of which jobs table + its indexes', value: ((jobsPart / top) * 1000) / 1024, unit: 'KiB' });
      results.push({ name: '  of which job_events table + its indexes', value: ((eventsPart / top) * 1000) / 1024, unit: 'KiB' });
    }

    // A prune of the oldest PRUNE jobs (those finished more than 90 days … well, 'older than the cut').
    const pruneJobs = Math.min(top, Number(process.env.HISTORY_PRUNE ?? 100_000));
    if (pruneJobs > 0) {
      const cut = now - 400 * DAY + pruneJobs * 20_000 + 1;
      const cpu: number[] = [];
      const measured = {
        pruneStep: (o: Parameters<SqliteJobStore['pruneStep']>[0]) => {
          const c = process.cpuUsage();
          const r = store.pruneStep(o);
          const d = process.cpuUsage(c);
          cpu.push((d.user + d.system) / 1000);
          return r;
        },
      };
      // retention = now − cut: exactly the oldest pruneJobs jobs are past it.
      const pruner = new Pruner(measured, { retentionMs: now - cut, auditRetentionMs: now - cut, logger: silentLogger, now: () => now });
      const t = performance.now();
      let totals: Awaited<ReturnType<Pruner['prune']>> | undefined;
      const gap = await longestGap(async () => (totals = await pruner.prune()));
      const took = performance.now() - t;
      const idle = await longestGap(() => new Promise((r) => setTimeout(r, took)));
      const maxCpu = Math.max(...cpu);
      console.error(`bench history: prune ${JSON.stringify(totals)} in ${(took / 1000).toFixed(1)} s`);
      results.push({ name: `prune of ${pruneJobs / 1000}k jobs: longest step, CPU time (${totals!.steps} steps)`, value: maxCpu, unit: 'ms', target: '≤ 50 ms', pass: maxCpu <= 50 });
      results.push({ name: `prune: longest event-loop gap, wall clock (idle loop alongside: ${fmt(idle)} ms)`, value: gap, unit: 'ms', floor: idle, ratio: gap / idle });
      const freed = (store.db.pragma('freelist_count', { simple: true }) as number) * (store.db.pragma('page_size', { simple: true }) as number);
      results.push({ name: 'prune: space freed for reuse per 1,000 jobs pruned', value: ((freed / pruneJobs) * 1000) / 1024, unit: 'KiB' });
      results.push({ name: 'prune: rows deleted per second', value: (totals!.jobs + totals!.events + totals!.approvals + totals!.audit) / (took / 1000), unit: 'rows/s' });
    }
  } finally {
    for (const s of stores) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/**
 * The claim's resource check under a long blocked queue (the resource-lock issue): 2,000 queued
 * jobs wait on one busy VM, and each round enqueues one job on a free VM, claims it and completes
 * it. The claim must look past all 2,000 to find it. Floor: the claim it replaced (one lock key
 * per job, checked on `jobs` itself), run on the same database in the same run, taking turns.
 * No target: the figure shows what per-resource locking costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLAIM_SQL } from '../src/jobs/claim.js';
import { openJobStore } from '../src/jobs/store.js';
import type { BenchResult } from './types.js';

const BLOCKED = 2_000;
const ROUNDS = 300;

/** The claim before job resources: at most one running job per `lock_key`, FIFO per key. */
const LOCK_KEY_CLAIM_SQL = CLAIM_SQL.replace(
  /AND NOT EXISTS \(\n\s+SELECT 1 FROM job_resources[\s\S]*?o\.id < j\.id\)\)\)/,
  `AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.lock_key = j.lock_key AND o.state = 'running')
    AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.lock_key = j.lock_key AND o.state = 'queued' AND o.id < j.id)`,
);

export async function benchClaimBlocked(): Promise<BenchResult[]> {
  if (LOCK_KEY_CLAIM_SQL === CLAIM_SQL) throw new Error('bench claim-blocked: the floor SQL no longer matches CLAIM_SQL');
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-bench-claim-'));
  const store = openJobStore(join(dir, 'kvmops.db'));
  const who = { requester: { id: '1', name: 'bench' }, notify: { adapter: 'shell', guildId: null, channelId: 'bench' } } as const;
  try {
    store.enqueue({ kind: 'vm.start', payload: { host: 'local', vm: 'busy' }, ...who });
    store.claim('bench', 600_000);
    store.db.transaction(() => {
      for (let i = 0; i < BLOCKED; i++) {
        store.enqueue({ kind: 'snapshot.create', payload: { host: 'local', vm: 'busy', name: `s${i}`, kind: 'internal' }, ...who });
      }
    })();
    const statements = { resources: store.db.prepare(CLAIM_SQL), lockKey: store.db.prepare(LOCK_KEY_CLAIM_SQL) };
    const spent = { resources: 0, lockKey: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 ? (['lockKey', 'resources'] as const) : (['resources', 'lockKey'] as const)) {
        const job = store.enqueue({ kind: 'vm.start', payload: { host: 'local', vm: `free-${round}-${side}` }, ...who });
        const t0 = process.hrtime.bigint();
        const row = statements[side].get({ owner: 'bench', leaseMs: 60_000, now: Date.now(), hosts: null, perHost: null }) as { id: number } | undefined;
        spent[side] += Number(process.hrtime.bigint() - t0) / 1e6;
        if (row?.id !== job.id) throw new Error(`bench claim-blocked: ${side} claimed ${row?.id}, not ${job.id}`);
        store.db.prepare(`UPDATE jobs SET state = 'succeeded', lease_expires_at = NULL, finished_at = 1 WHERE id = ?`).run(job.id);
      }
    }
    const value = spent.resources / ROUNDS;
    const floor = spent.lockKey / ROUNDS;
    console.error(`bench claim-blocked: resources ${value.toFixed(3)} ms, lock key ${floor.toFixed(3)} ms per claim past ${BLOCKED} blocked jobs`);
    return [
      { name: `claim past ${BLOCKED} blocked jobs (lock-key claim)`, value: floor, unit: 'ms/claim' },
      { name: `claim past ${BLOCKED} blocked jobs (job resources)`, value, unit: 'ms/claim', floor, ratio: value / floor },
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Worker bench: enqueue → executor start with an idle worker (issue 3: p99 ≤ 10 ms).
 *
 * A real SQLite file (WAL, synchronous=FULL) and the real Worker; the executor is a no-op
 * injected for `vm.start` (the bench measures the queue, not libvirt). Each job is enqueued only
 * after the previous one finished, so the worker is idle every time. The clock starts when
 * enqueue() returns (the job is committed) and stops when the executor is called; the time of
 * the enqueue call itself (its own fsync) is printed beside it.
 *
 * The floor: the claim the worker must commit before it may run anything (one IMMEDIATE
 * transaction, fsync under synchronous=FULL), timed around each of the worker's own claim calls
 * in the same run. `overhead` = latency − that claim: what the worker's wake-up path adds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openJobStore } from '../src/jobs/store.js';
import type { Hypervisor, HostDriver } from '../src/hypervisor/types.js';
import { EXECUTORS } from '../src/kinds/index.js';
import { percentile } from '../src/worker/latency.js';
import { Worker } from '../src/worker/worker.js';
import type { BenchResult } from './types.js';

const JOBS = 500;
const WARMUP = 20;

/** Host names only: the no-op executor never calls libvirt. */
const hypervisor: Hypervisor = {
  hostNames: () => ['local'],
  host: () => ({ name: 'local', uri: 'test:///local' }) as HostDriver,
};

export async function benchWorker(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-bench-worker-'));
  const store = openJobStore(join(dir, 'kvmops.db'));
  // Times the worker's successful claims (the floor), without changing what they do.
  const claimMs = new Map<number, number>();
  const timedClaim: typeof store.claim = (...args) => {
    const t = performance.now();
    const r = store.claim(...args);
    if (r) claimMs.set(r.job.id, performance.now() - t);
    return r;
  };
  // Methods bound to the real store (its #private fields need the real `this`).
  const timedStore = new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'claim') return timedClaim;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  let started: ((at: number) => void) | null = null;
  const worker = new Worker({
    store: timedStore,
    hypervisor,
    executors: {
      ...EXECUTORS,
      'vm.start': async () => {
        started?.(performance.now());
        return null;
      },
    },
    concurrency: 4,
  });
  const finished = new Set<number>();
  let onFinished: (() => void) | null = null;
  store.onChange((j) => {
    if (j.state === 'succeeded') {
      finished.add(j.id);
      onFinished?.();
    }
  });
  worker.start();
  const latencies: number[] = [];
  const enqueueTimes: number[] = [];
  const claims: number[] = [];
  const overheads: number[] = [];
  try {
    for (let i = 0; i < JOBS + WARMUP; i++) {
      const startedAt = new Promise<number>((res) => (started = res));
      const t0 = performance.now();
      const job = store.enqueue({
        kind: 'vm.start',
        payload: { host: 'local', vm: `bench-${i}` },
        requester: { id: '1', name: 'bench' },
        notify: { adapter: 'shell', guildId: null, channelId: 'bench' },
      });
      const t1 = performance.now();
      const at = await startedAt;
      if (i >= WARMUP) {
        latencies.push(at - t1);
        enqueueTimes.push(t1 - t0);
        const c = claimMs.get(job.id) ?? NaN;
        claims.push(c);
        overheads.push(at - t1 - c);
      }
      if (!finished.has(job.id)) await new Promise<void>((res) => (onFinished = res));
      onFinished = null;
    }
  } finally {
    await worker.stop({ graceMs: 1_000 });
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const p50 = percentile(latencies, 0.5);
  const p99 = percentile(latencies, 0.99);
  const claim50 = percentile(claims, 0.5);
  const claim99 = percentile(claims, 0.99);
  return [
    { name: `enqueue → executor start p50 (idle worker, ${JOBS} jobs)`, value: p50, unit: 'ms', floor: claim50, ratio: p50 / claim50 },
    {
      name: `enqueue → executor start p99 (idle worker, ${JOBS} jobs)`,
      value: p99,
      unit: 'ms',
      floor: claim99,
      ratio: p99 / claim99,
      target: '≤ 10 ms',
      pass: p99 <= 10,
    },
    { name: 'worker overhead (latency − its claim commit) p50', value: percentile(overheads, 0.5), unit: 'ms' },
    { name: 'worker overhead (latency − its claim commit) p99', value: percentile(overheads, 0.99), unit: 'ms' },
    { name: 'enqueue call itself p50 (commit, synchronous=FULL)', value: percentile(enqueueTimes, 0.5), unit: 'ms' },
  ];
}

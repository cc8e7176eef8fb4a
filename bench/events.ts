/**
 * History size (issue 22, step 1): the database bytes per 1,000 finished jobs, and what an
 * outbox event costs. 1,000 jobs go through the store's own API as a worker drives them —
 * enqueue, claim, PROGRESS_STEPS progress steps, complete (one in ten fails) — with the
 * notifier's marks (every event delivered); then a checkpoint, and the file is measured
 * (page_count × page_size) and split per table and index (dbstat).
 * Mix: a third each deploys (×1 … ×20, realistic names), snapshot creates with a description,
 * VM starts. Target: an event row ≤ 0.5 KB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openJobStore } from '../src/jobs/store.js';
import type { EnqueueRequest } from '../src/jobs/types.js';
import type { BenchResult } from './types.js';

const JOBS = 1_000;
const PROGRESS_STEPS = 5;
const requester = { id: '987654321098765432', name: 'Alice Lindqvist' };
const notify = { adapter: 'discord', guildId: '1187394015836762112', channelId: '1187394015836762999' };

function request(i: number): { req: EnqueueRequest; result: unknown } {
  const host = 'local';
  if (i % 3 === 0) {
    const count = 1 + (i % 20);
    const name = `frontend-web-${i}`;
    const vms = count === 1 ? [name] : Array.from({ length: count }, (_, k) => `${name}-${String(k + 1).padStart(2, '0')}`);
    return {
      req: { kind: 'deploy', payload: { host, template: 'ubuntu-24.04-cloud-base', name, mode: 'thin', count, start: true }, requester, notify },
      result: { vms, mode: 'thin', started: true },
    };
  }
  if (i % 3 === 1) {
    const vm = `db-${i}`;
    return {
      req: {
        kind: 'snapshot.create',
        payload: { host, vm, name: `before-upgrade-${i}`, kind: 'internal', description: 'before the 16.4 → 17.0 upgrade of the cluster' },
        requester,
        notify,
      },
      result: { snapshot: { vm, name: `before-upgrade-${i}`, kind: 'internal', createdAt: 1_700_000_000_000 } },
    };
  }
  const vm = `worker-${i}`;
  return { req: { kind: 'vm.start', payload: { host, vm }, requester, notify }, result: { vm, state: 'running', alreadyRunning: false } };
}

interface Part {
  name: string;
  bytes: number;
}

export async function benchEvents(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-bench-events-'));
  const store = openJobStore(join(dir, 'kvmops.db'));
  try {
    for (let i = 0; i < JOBS; i++) {
      const { req, result } = request(i);
      store.enqueue(req);
      const c = store.claim('bench', 60_000)!;
      for (let s = 1; s <= PROGRESS_STEPS; s++) store.progress(c.lease, { step: `copying disk ${s} of ${PROGRESS_STEPS}`, fraction: s / PROGRESS_STEPS });
      if (i % 10 === 9) store.fail(c.lease, { code: 'host-unreachable', message: 'virsh: error: failed to connect to the hypervisor' }, { retry: false });
      else store.complete(c.lease, result);
    }
    const db = store.db;
    db.prepare(`UPDATE job_events SET delivered_at = ? WHERE delivered_at IS NULL`).run(Date.now());
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const file = (db.pragma('page_count', { simple: true }) as number) * pageSize;
    const parts = db.prepare(`SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC`).all() as Part[];
    const events = (db.prepare(`SELECT count(*) AS n FROM job_events`).get() as { n: number }).n;
    const row = db.prepare(`SELECT sum(payload) AS bytes, max(mx_payload) AS largest FROM dbstat WHERE name = 'job_events' AND pagetype = 'leaf'`).get() as {
      bytes: number;
      largest: number;
    };
    const eventPart = parts.filter((p) => p.name.startsWith('job_events')).reduce((n, p) => n + p.bytes, 0);
    console.error(`bench events: ${JOBS} jobs, ${events} events; ${parts.map((p) => `${p.name} ${(p.bytes / 1024).toFixed(0)} KiB`).join(', ')}`);
    return [
      { name: `database per 1,000 finished jobs (${events} events)`, value: file / 1024 / (JOBS / 1_000), unit: 'KiB' },
      { name: 'job_events (table + indexes) per finished job', value: eventPart / JOBS, unit: 'B' },
      { name: 'event record, average', value: row.bytes / events, unit: 'B' },
      { name: 'event record, largest', value: row.largest, unit: 'B', target: '≤ 512 B', pass: row.largest <= 512 },
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

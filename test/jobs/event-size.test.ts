import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import type { EnqueueRequest } from '../../src/jobs/types.js';
import { freshStore } from './helpers.js';

/**
 * An outbox event row stays under 0.5 KB, measured where SQLite keeps it (dbstat: the largest
 * record on the table's pages, plus the cell's own bytes), for deploys of 20 VMs — a realistic
 * one and one with the longest names the schemas allow, a long display name and a long error.
 * A copy of the job took ~3.4 KB.
 */
const ROW_LIMIT = 512;
/** A table cell beyond its record: payload-size and rowid varints (≤ 9 + 9), the 2-byte pointer. */
const CELL_OVERHEAD = 20;

const discord = { adapter: 'discord', guildId: '1187394015836762112', channelId: '1187394015836762999' };

function deploy20(name: string, template: string, requesterName: string): EnqueueRequest {
  return {
    kind: 'deploy',
    payload: { host: 'local', template, name, mode: 'clone', count: 20, start: true },
    requester: { id: '987654321098765432', name: requesterName },
    notify: discord,
  };
}

/** Runs the job through every event a deploy writes: queued, running, progress, then its end. */
function lifeOf(store: SqliteJobStore, req: EnqueueRequest, end: 'complete' | 'fail' | 'retry'): void {
  const job = store.enqueue(req);
  const c = store.claim('w', 60_000)!;
  assert.equal(c.job.id, job.id);
  const name = String(req.payload.name);
  store.progress(c.lease, { step: `copying the disk of ${name}-07 from ${String(req.payload.template)} (20 GiB, clone)`, fraction: 0.35 });
  const vms = Array.from({ length: 20 }, (_, i) => `${name}-${String(i + 1).padStart(2, '0')}`);
  if (end === 'complete') store.complete(c.lease, { vms, mode: 'clone', started: true });
  else store.fail(c.lease, { code: 'host-unreachable', message: `virsh: ${'error: failed to connect to the hypervisor 💥; '.repeat(100)}` }, { retry: end === 'retry' });
}

function largestEventRow(store: SqliteJobStore): { largest: number; rows: number; average: number } {
  const s = store.db
    .prepare(`SELECT max(mx_payload) AS largest, sum(ncell) AS rows, sum(payload) AS bytes FROM dbstat WHERE name = 'job_events' AND pagetype = 'leaf'`)
    .get() as { largest: number; rows: number; bytes: number };
  return { largest: s.largest + CELL_OVERHEAD, rows: s.rows, average: s.bytes / s.rows + CELL_OVERHEAD };
}

test('a realistic deploy ×20 (long names, its whole life): every event row ≤ 0.5 KB', (t) => {
  const store = freshStore(t);
  lifeOf(store, deploy20('frontend-production-web', 'ubuntu-24.04-cloud-base-2026', 'Alice Lindqvist (ops)'), 'complete');
  const size = largestEventRow(store);
  t.diagnostic(`deploy ×20: ${size.rows} events, largest row ${size.largest} B, average ${size.average.toFixed(0)} B`);
  assert.equal(size.rows, 4, 'queued, running, progress, succeeded');
  assert.ok(size.largest <= ROW_LIMIT, `largest event row ${size.largest} B`);

  // What was cut is the head of the VM list; the job row keeps the whole result.
  const [succeeded] = store.outbox.pending('discord', 10).filter((e) => e.type === 'succeeded');
  assert.match(succeeded!.job.result!, /^20 VMs: frontend-production-web-01, frontend-production-web-02, .*…$/);
  assert.equal(succeeded!.job.title, 'Deploy frontend-production-web ×20 (clone) from ubuntu-24.04-cloud-base-2026 on local');
  assert.equal((store.get(succeeded!.jobId)!.result as { vms: string[] }).vms.length, 20);
});

test('the longest names, a display name of emoji and a long error: still ≤ 0.5 KB, cut between characters', (t) => {
  const store = freshStore(t);
  const longest = 'n'.repeat(57) + 'ame'; // MAX_BATCH_BASE_LENGTH: 60
  const template = 't'.repeat(63);
  const emoji = '🚀'.repeat(32); // 32 characters, 128 bytes
  lifeOf(store, deploy20(longest, template, emoji), 'complete');
  lifeOf(store, deploy20(`${longest.slice(0, 59)}b`, template, emoji), 'fail');
  lifeOf(store, deploy20(`${longest.slice(0, 59)}c`, template, emoji), 'retry');
  const size = largestEventRow(store);
  t.diagnostic(`worst case: ${size.rows} events, largest row ${size.largest} B, average ${size.average.toFixed(0)} B`);
  assert.ok(size.largest <= ROW_LIMIT, `largest event row ${size.largest} B`);

  const events = store.outbox.pending('discord', 100);
  const failed = events.find((e) => e.type === 'failed')!;
  assert.ok(failed.job.error!.message.startsWith('virsh: error: failed to connect') && failed.job.error!.message.endsWith('…'));
  const retrying = events.find((e) => e.type === 'retrying')!;
  assert.equal(retrying.job.state, 'queued');
  assert.equal(retrying.job.error!.code, 'host-unreachable', 'a retry shows its last error');
  for (const e of events) {
    for (const text of [e.job.title, e.job.result ?? '', e.job.error?.message ?? '', e.job.progress?.step ?? '']) {
      assert.doesNotMatch(text, /[\uD800-\uDFFF]/u, 'no half of a character');
    }
    assert.equal(e.job.requester.name, emoji, 'a whole Discord display name fits');
    assert.ok(Buffer.byteLength(e.job.title) <= 120, e.job.title);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore, runTogether, tempDbFile } from './helpers.js';

/**
 * Two (three) bots on one database never run a schedule twice (issue 25): three processes, each
 * its own connection and scheduler at the same clock, started at the same instant on 100 due
 * schedules. A run is claimed by one compare-and-set UPDATE of next_run_at
 * (src/jobs/schedule-claim.ts); every loser finds it moved on. `*.slow.test.ts`: starting each
 * process with tsx takes most of a second of CPU (concurrency.slow.test.ts).
 */

const T0 = Date.UTC(2026, 11, 8, 6, 0, 0);

test('three schedulers on one database file: 100 due schedules (the most kept) run once each, by more than one process', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const ids = Array.from({ length: 100 }, (_, i) =>
    store.schedules.create({
      host: 'local',
      pattern: i % 2 ? 'web-*' : 'web-02',
      everyMs: 3_600_000,
      keep: 2,
      kind: 'internal',
      creator: { id: 'alice', name: 'alice' },
      notify: { adapter: 'shell', guildId: null, channelId: 'ops' },
      firstRunAt: T0 - i * 1_000,
    }).id,
  );
  const outputs = await runTogether('scheduler.ts', ['a', 'b', 'c'].map(() => [file, String(T0 + 1_000)]), file);
  const runs = outputs.flat();
  assert.equal(runs.length, ids.length, 'one run per schedule, none twice');
  assert.deepEqual(new Set(runs.map((r) => r.scheduleId)).size, ids.length);
  assert.ok(new Set(runs.map((r) => r.pid)).size >= 2, 'more than one process took part');
  // In the database: one batch per schedule (3 VMs for web-*, 1 for web-02), each schedule's next run a period on.
  const batches = store.db.prepare(`SELECT batch_id, count(*) AS n FROM jobs GROUP BY batch_id`).all() as Array<{ batch_id: number; n: number }>;
  assert.equal(batches.length, ids.length);
  assert.equal(batches.reduce((a, b) => a + b.n, 0), 50 * 3 + 50 * 1);
  for (const s of store.schedules.list()) {
    assert.ok(s.lastBatchId !== null, `schedule #${s.id} has its batch`);
    assert.ok(s.nextRunAt > T0 + 1_000, `schedule #${s.id} moved on`);
  }
});

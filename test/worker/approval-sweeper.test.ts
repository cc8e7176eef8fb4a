import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApprovalSweeper } from '../../src/worker/approval-sweeper.js';
import { holdWriteLock } from '../jobs/db-lock.js';
import { Clock, freshStore, openStore, snapshotRevert, tempDbFile } from '../jobs/helpers.js';

test('the sweeper expires due approval requests (job cancelled), and only those', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const soon = store.enqueue({ ...snapshotRevert('vm1', 's1'), approvalTtlMs: 60_000 });
  const later = store.enqueue({ ...snapshotRevert('vm2', 's1'), approvalTtlMs: 3_600_000 });
  const sweeper = new ApprovalSweeper(store.approvals, { now: clock.now });
  assert.equal(sweeper.sweep(), 0);
  clock.advance(61_000);
  assert.equal(sweeper.sweep(), 1);
  assert.equal(sweeper.sweep(), 0, 'a second sweep changes nothing');
  assert.equal(store.get(soon.id)!.state, 'cancelled');
  assert.equal(store.approvals.get(soon.id)!.state, 'expired');
  assert.equal(store.get(later.id)!.state, 'awaiting_approval');
});

test('a sweep that meets another process holding the database is a warning, and the next sweep expires', async (t) => {
  const clock = new Clock();
  const file = tempDbFile(t);
  const store = openStore(t, file, { now: clock.now });
  const job = store.enqueue({ ...snapshotRevert('vm1', 's1'), approvalTtlMs: 60_000 });
  const logged: Array<'warn' | 'error'> = [];
  const logger = { info() {}, warn: () => logged.push('warn'), error: () => logged.push('error') };
  const sweeper = new ApprovalSweeper(store.approvals, { now: clock.now, logger });
  clock.advance(61_000);
  const lock = await holdWriteLock(file, t);
  assert.equal(sweeper.sweep(), 0);
  assert.deepEqual(logged, ['warn'], 'a busy database is not an error');
  assert.equal(store.get(job.id)!.state, 'awaiting_approval', 'nothing written');
  await lock.release();
  assert.equal(sweeper.sweep(), 1);
  assert.equal(store.get(job.id)!.state, 'cancelled');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApprovalSweeper } from '../../src/worker/approval-sweeper.js';
import { Clock, freshStore, snapshotRevert } from '../jobs/helpers.js';

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

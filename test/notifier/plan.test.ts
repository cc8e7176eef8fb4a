import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliveryDelay } from '../../src/notifier/backoff.js';
import { mayHaveSettledApproval, planDelivery } from '../../src/notifier/plan.js';
import type { Job, JobEventType } from '../../src/jobs/types.js';

test('state changes go at once; progress-only batches wait for the edit interval', () => {
  const opts = { lastEditAt: 1_000, now: 1_500, minProgressEditMs: 2_000 };
  assert.deepEqual(planDelivery(['progress', 'progress'], opts), { action: 'wait', until: 3_000 });
  assert.deepEqual(planDelivery(['progress', 'succeeded'], opts), { action: 'deliver', announce: true });
  assert.deepEqual(planDelivery(['running', 'progress'], opts), { action: 'deliver', announce: false });
  assert.deepEqual(planDelivery(['progress'], { ...opts, now: 3_000 }), { action: 'deliver', announce: false });
  // Never edited in this process (e.g. after a restart): go.
  assert.deepEqual(planDelivery(['progress'], { ...opts, lastEditAt: undefined }), { action: 'deliver', announce: false });
  assert.equal(planDelivery(['cancelled'], opts).action, 'deliver');
  assert.deepEqual(planDelivery(['failed'], opts), { action: 'deliver', announce: true });
  assert.deepEqual(planDelivery(['retrying'], opts), { action: 'deliver', announce: false });
});

test('approval settled: expired, or queued/cancelled before the job ever ran', () => {
  const ev = (type: JobEventType, startedAt: number | null) => ({ type, job: { startedAt } as Job });
  assert.equal(mayHaveSettledApproval([ev('approval_expired', null), ev('cancelled', null)]), true);
  assert.equal(mayHaveSettledApproval([ev('queued', null)]), true);
  assert.equal(mayHaveSettledApproval([ev('queued', 1)]), false); // a retry
  assert.equal(mayHaveSettledApproval([ev('progress', null)]), false);
  // approved, then already running when the notifier delivers: still an approval decision
  assert.equal(mayHaveSettledApproval([ev('queued', null), ev('running', 5)]), true);
});

test('delivery backoff grows, is capped and jittered in the upper half', () => {
  const p = { baseMs: 1_000, maxMs: 60_000 };
  assert.equal(deliveryDelay(1, p, () => 0), 500);
  assert.equal(deliveryDelay(1, p, () => 0.999999), 1_000);
  assert.equal(deliveryDelay(3, p, () => 0), 2_000);
  assert.equal(deliveryDelay(50, p, () => 0), 30_000);
  assert.equal(deliveryDelay(50, p, () => 0.999999), 60_000);
  for (let f = 1; f < 40; f++) assert.ok(deliveryDelay(f, p) <= 60_000);
});

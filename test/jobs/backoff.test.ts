import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelay } from '../../src/jobs/backoff.js';

const policy = { baseMs: 2_000, capMs: 300_000 };

test('retryDelay doubles per attempt between half and all of the exponential step', () => {
  assert.equal(retryDelay(1, policy, () => 0), 1_000);
  assert.equal(retryDelay(1, policy, () => 0.999_999), 2_000);
  assert.equal(retryDelay(2, policy, () => 0), 2_000);
  assert.equal(retryDelay(3, policy, () => 0.5), 6_000);
});

test('retryDelay is capped however many attempts', () => {
  for (const attempt of [9, 10, 50, 5000]) {
    const d = retryDelay(attempt, policy, Math.random);
    assert.ok(d >= policy.capMs / 2 && d <= policy.capMs, `attempt ${attempt}: ${d}`);
  }
});

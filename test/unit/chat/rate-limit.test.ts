import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from '../../../src/chat/rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst of `capacity`, then refills one token per window/capacity', () => {
    const rl = new RateLimiter({ capacity: 5, windowMs: 30_000 });
    for (let i = 0; i < 5; i++) assert.deepEqual(rl.take('u', 0), { ok: true });
    assert.deepEqual(rl.take('u', 0), { ok: false, retryAfterMs: 6_000 });
    assert.deepEqual(rl.take('u', 3_000), { ok: false, retryAfterMs: 3_000 });
    assert.deepEqual(rl.take('u', 6_000), { ok: true });
    assert.equal(rl.take('u', 6_000).ok, false);
  });
  it('keys are independent and a long pause refills only to capacity', () => {
    const rl = new RateLimiter({ capacity: 2, windowMs: 1_000 });
    rl.take('a', 0);
    rl.take('a', 0);
    assert.equal(rl.take('a', 0).ok, false);
    assert.equal(rl.take('b', 0).ok, true);
    for (let i = 0; i < 2; i++) assert.equal(rl.take('a', 1_000_000).ok, true);
    assert.equal(rl.take('a', 1_000_000).ok, false);
  });
  it('sweep forgets full buckets only', () => {
    const rl = new RateLimiter({ capacity: 2, windowMs: 1_000 });
    rl.take('a', 0);
    rl.take('b', 0);
    rl.take('b', 0);
    rl.sweep(600);
    assert.equal((rl as unknown as { buckets: Map<string, unknown> }).buckets.size, 1);
  });
});

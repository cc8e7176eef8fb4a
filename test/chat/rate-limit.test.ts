import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from '../../src/chat/rate-limit.js';
import { EnvError, loadEnv, parseRateLimit } from '../../src/config/env.js';

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

describe('KVMOPS_RATE_LIMIT', () => {
  it('N/PERIOD or off', () => {
    assert.deepEqual(parseRateLimit('30/1m'), { capacity: 30, windowMs: 60_000 });
    assert.deepEqual(parseRateLimit('5/30s'), { capacity: 5, windowMs: 30_000 });
    assert.deepEqual(parseRateLimit('100/1h'), { capacity: 100, windowMs: 3_600_000 });
    assert.deepEqual(parseRateLimit(' 30 / m '), { capacity: 30, windowMs: 60_000 }, 'a bare unit is one of it');
    assert.equal(parseRateLimit('off'), 'off');
    assert.equal(parseRateLimit('OFF'), 'off');
  });

  it('refuses what it cannot read, saying what it expects', () => {
    for (const bad of ['30', '30/', '/1m', 'thirty/1m', '30/1 minute', '30/1w', '-1/1m', '1.5/1m', 'on', '30/1m/2']) {
      assert.throws(() => parseRateLimit(bad), /is not N\/PERIOD \(e\.g\. 30\/1m, 5\/30s, 100\/1h\) or off/, bad);
    }
    assert.throws(() => parseRateLimit('0/1m'), /N must be at least 1 \(to turn the limit off, say off\)/);
    assert.throws(() => parseRateLimit('10/500ms'), /the period must be at least 1s/);
  });

  it('the environment: default 30/1m (empty counts as unset); a bad value stops start-up naming the variable', () => {
    assert.deepEqual(loadEnv({}).KVMOPS_RATE_LIMIT, { capacity: 30, windowMs: 60_000 });
    assert.deepEqual(loadEnv({ KVMOPS_RATE_LIMIT: '' }).KVMOPS_RATE_LIMIT, { capacity: 30, windowMs: 60_000 });
    assert.equal(loadEnv({ KVMOPS_RATE_LIMIT: 'off' }).KVMOPS_RATE_LIMIT, 'off');
    assert.throws(
      () => loadEnv({ KVMOPS_RATE_LIMIT: '30 per minute' }),
      (e: unknown) => e instanceof EnvError && /^KVMOPS_RATE_LIMIT: "30 per minute" is not N\/PERIOD/.test(e.issues[0] ?? ''),
    );
  });

  it('KVMOPS_READ_RATE_LIMIT, the limit on reads: the same syntax, default 60/1m', () => {
    assert.deepEqual(loadEnv({}).KVMOPS_READ_RATE_LIMIT, { capacity: 60, windowMs: 60_000 });
    assert.deepEqual(loadEnv({ KVMOPS_READ_RATE_LIMIT: '' }).KVMOPS_READ_RATE_LIMIT, { capacity: 60, windowMs: 60_000 });
    assert.deepEqual(loadEnv({ KVMOPS_READ_RATE_LIMIT: '10/30s' }).KVMOPS_READ_RATE_LIMIT, { capacity: 10, windowMs: 30_000 });
    assert.equal(loadEnv({ KVMOPS_READ_RATE_LIMIT: 'off' }).KVMOPS_READ_RATE_LIMIT, 'off');
    assert.throws(
      () => loadEnv({ KVMOPS_READ_RATE_LIMIT: '0/1m' }),
      (e: unknown) => e instanceof EnvError && /^KVMOPS_READ_RATE_LIMIT: "0\/1m": N must be at least 1/.test(e.issues[0] ?? ''),
    );
  });

  it('the limiter defaults to 30 per minute', () => {
    const rl = new RateLimiter();
    for (let i = 0; i < 30; i++) assert.equal(rl.take('u', 0).ok, true);
    assert.deepEqual(rl.take('u', 0), { ok: false, retryAfterMs: 2_000 });
  });
});

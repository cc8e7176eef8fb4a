import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvError, loadEnv, parseRetention } from '../../src/config/env.js';

const DAY = 86_400_000;

test('KVMOPS_RETENTION / KVMOPS_AUDIT_RETENTION: 90d and 1y by default; off or 0 keeps everything; too short or bare numbers refused', () => {
  const env = loadEnv({});
  assert.equal(env.KVMOPS_RETENTION, 90 * DAY);
  assert.equal(env.KVMOPS_AUDIT_RETENTION, 365 * DAY);
  assert.equal(loadEnv({ KVMOPS_RETENTION: '' }).KVMOPS_RETENTION, 90 * DAY);
  assert.equal(loadEnv({ KVMOPS_RETENTION: 'off' }).KVMOPS_RETENTION, null);
  assert.equal(loadEnv({ KVMOPS_AUDIT_RETENTION: '0' }).KVMOPS_AUDIT_RETENTION, null);
  assert.equal(loadEnv({ KVMOPS_AUDIT_RETENTION: 'OFF' }).KVMOPS_AUDIT_RETENTION, null);
  assert.equal(parseRetention('12w'), 84 * DAY);
  assert.equal(parseRetention('2y'), 730 * DAY);
  assert.equal(parseRetention('1h'), 3_600_000);
  assert.throws(() => parseRetention('90'), /not a duration/);
  assert.throws(() => parseRetention('30m'), /at least 1h/);
  assert.throws(() => loadEnv({ KVMOPS_RETENTION: '-1d' }), (e: unknown) => e instanceof EnvError && /KVMOPS_RETENTION/.test(e.message));
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { stopBudget } from '../../src/app.js';
import { EnvError, envSchema, loadEnv } from '../../src/config/env.js';

test('KVMOPS_STOP_TIMEOUT: a duration like the others, default 30s', () => {
  assert.equal(loadEnv({}).KVMOPS_STOP_TIMEOUT, 30_000);
  assert.equal(loadEnv({ KVMOPS_STOP_TIMEOUT: '' }).KVMOPS_STOP_TIMEOUT, 30_000);
  assert.equal(loadEnv({ KVMOPS_STOP_TIMEOUT: '2s' }).KVMOPS_STOP_TIMEOUT, 2_000);
  assert.equal(loadEnv({ KVMOPS_STOP_TIMEOUT: '2m' }).KVMOPS_STOP_TIMEOUT, 120_000);
  for (const bad of ['0s', '30', 'soon', '-5s']) {
    assert.throws(() => loadEnv({ KVMOPS_STOP_TIMEOUT: bad }), (e: unknown) => e instanceof EnvError && /KVMOPS_STOP_TIMEOUT/.test(e.message), bad);
  }
});

test('stopBudget: the grace period, two abort waits and the rest fit in the timeout', () => {
  assert.deepEqual(stopBudget(30_000), { graceMs: 20_000, abortWaitMs: 3_000 });
  assert.deepEqual(stopBudget(2_000), { graceMs: 1_000, abortWaitMs: 300 });
  assert.deepEqual(stopBudget(120_000), { graceMs: 110_000, abortWaitMs: 3_000 });
  for (const t of [1, 999, 2_000, 6_000, 30_000, 3_600_000]) {
    const b = stopBudget(t);
    assert.ok(b.graceMs >= 0 && b.abortWaitMs >= 0, `${t}: not negative`);
    // At least a fifth of the reserve is left for the notifier, the database and Discord.
    assert.ok(b.graceMs + 2 * b.abortWaitMs <= t - (t - b.graceMs) / 5, `${t}: ${JSON.stringify(b)}`);
  }
});

test('.env.example names every variable the schema reads', () => {
  const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
  const named = new Set([...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
  assert.deepEqual(Object.keys(envSchema.shape).filter((k) => !named.has(k)), []);
});

test('KVMOPS_MAX_BATCH: how many VMs one pattern may match, default 50, 1–200', () => {
  assert.equal(loadEnv({}).KVMOPS_MAX_BATCH, 50);
  assert.equal(loadEnv({ KVMOPS_MAX_BATCH: '' }).KVMOPS_MAX_BATCH, 50);
  assert.equal(loadEnv({ KVMOPS_MAX_BATCH: '8' }).KVMOPS_MAX_BATCH, 8);
  for (const bad of ['0', '201', '5.5', 'many', '-1']) {
    assert.throws(() => loadEnv({ KVMOPS_MAX_BATCH: bad }), (e: unknown) => e instanceof EnvError && /KVMOPS_MAX_BATCH/.test(e.message), bad);
  }
});

test('KVMOPS_HOSTS: a qemu+ssh URI with = and & in its query is one host, kept whole', () => {
  const lab = 'qemu+ssh://root@198.18.3.2/system?keyfile=/var/lib/kvmops-lab/t1/ssh/id_ed25519&no_verify=1&no_tty=1';
  assert.deepEqual(loadEnv({ KVMOPS_HOSTS: `local=qemu:///system,lab=${lab}` }).KVMOPS_HOSTS, [
    { name: 'local', uri: 'qemu:///system' },
    { name: 'lab', uri: lab },
  ]);
  for (const bad of ['lab=qemu+ssh://h/system?keyfile=/k;rm', "lab=qemu+ssh://h/system?keyfile=/k'x", 'lab=qemu+ssh://h/system?x=$(id)', '=qemu:///system']) {
    assert.throws(() => loadEnv({ KVMOPS_HOSTS: bad }), (e: unknown) => e instanceof EnvError && /KVMOPS_HOSTS/.test(e.message), bad);
  }
});

test('KVMOPS_HOSTS: `;drain` after an entry drains that host for placement; no host may be called auto', () => {
  const lab = 'qemu+ssh://root@198.18.3.2/system?keyfile=/k/id_ed25519&no_verify=1&no_tty=1';
  assert.deepEqual(loadEnv({ KVMOPS_HOSTS: `local=qemu:///system, lab=${lab};drain ` }).KVMOPS_HOSTS, [
    { name: 'local', uri: 'qemu:///system' },
    { name: 'lab', uri: lab, drain: true },
  ]);
  // the flag is the only one; a ; that is not it, or a host named auto, stops the start
  for (const bad of [`lab=${lab};drian`, `lab=${lab};`, 'auto=qemu:///system', `local=qemu:///system;drain;rm -rf`]) {
    assert.throws(() => loadEnv({ KVMOPS_HOSTS: bad }), (e: unknown) => e instanceof EnvError && /KVMOPS_HOSTS/.test(e.message), bad);
  }
});

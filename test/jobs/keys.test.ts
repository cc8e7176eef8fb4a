import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { isKvmopsError } from '../../src/domain/errors.js';
import { parseSshPublicKey } from '../../src/domain/ssh-keys.js';
import { applyPragmas } from '../../src/jobs/db.js';
import { MIGRATIONS, migrate } from '../../src/jobs/migrations/index.js';
import { newEd25519Line } from '../helpers/ssh-keys.js';
import { holdWriteLock } from './db-lock.js';
import { Clock, alice, bob, freshStore, openStore, tempDbFile, vmStart } from './helpers.js';

/** People's SSH keys in SQLite (migration 009, key-add.ts, key-list.ts, key-remove.ts). */

const key = (comment = '') => parseSshPublicKey(newEd25519Line(comment));

test('ssh keys: a database of the version before gains the table, its jobs untouched', (t) => {
  const file = tempDbFile(t);
  mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  applyPragmas(raw);
  const before = MIGRATIONS.findIndex((m) => m.name === 'ssh keys');
  assert.ok(before > 0);
  migrate(raw, MIGRATIONS.slice(0, before));
  raw.close();
  const old = openStore(t, file, {}); // migrates to the latest
  const job = old.enqueue(vmStart('web'));
  const k = old.keys.add(alice.id, key('a@b'));
  assert.equal(k.name, 'a@b');
  assert.equal(old.get(job.id)?.state, 'queued');
  const indexes = (old.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ssh_keys' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
  assert.deepEqual(indexes, ['ssh_keys_user_fingerprint', 'ssh_keys_user_name']);
});

test('add, list (name order, one person only), remove; the canonical line and the fingerprint are kept', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const a = key('zeta');
  const b = key();
  store.keys.add(alice.id, a);
  clock.advance(1000);
  store.keys.add(alice.id, b, 'alpha');
  store.keys.add(bob.id, a, 'bobs');
  const list = store.keys.list(alice.id);
  assert.deepEqual(list.map((k) => [k.name, k.line, k.fingerprint, k.bits, k.type]), [
    ['alpha', b.line, b.fingerprint, 256, 'ssh-ed25519'],
    ['zeta', a.line, a.fingerprint, 256, 'ssh-ed25519'],
  ]);
  assert.equal(list[1]!.createdAt, 1_700_000_000_000);
  assert.equal(store.keys.remove(alice.id, 'zeta').fingerprint, a.fingerprint);
  assert.deepEqual(store.keys.list(alice.id).map((k) => k.name), ['alpha']);
  assert.deepEqual(store.keys.list(bob.id).map((k) => k.name), ['bobs'], "another person's keys are theirs");
  assert.throws(() => store.keys.remove(alice.id, 'zeta'), (e: unknown) => isKvmopsError(e, 'key-not-found'));
  assert.throws(() => store.keys.remove(alice.id, 'bobs'), (e: unknown) => isKvmopsError(e, 'key-not-found'));
});

test('refusals write nothing: the same key (any comment), a name taken', (t) => {
  const store = freshStore(t);
  const a = key('one');
  store.keys.add(alice.id, a, 'k');
  const same = parseSshPublicKey(`${a.line.split(' ').slice(0, 2).join(' ')} two`);
  assert.throws(() => store.keys.add(alice.id, same, 'other'), (e: unknown) => isKvmopsError(e, 'key-exists') && e.details.name === 'k');
  assert.throws(() => store.keys.add(alice.id, key(), 'k'), (e: unknown) => isKvmopsError(e, 'name-taken'));
  assert.equal(store.keys.list(alice.id).length, 1);
  // the indexes hold the rule even for a write that skips the checks
  assert.throws(() =>
    store.db
      .prepare(`INSERT INTO ssh_keys (user_id, name, type, bits, fingerprint, line, created_at) VALUES (?, 'x', 'ssh-ed25519', 256, ?, 'l', 0)`)
      .run(alice.id, a.fingerprint),
  /UNIQUE/);
});

test('a locked database: db-busy, nothing written, and the add goes through once it is free', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const lock = await holdWriteLock(file, t);
  const a = key('x');
  assert.throws(() => store.keys.add(alice.id, a), (e: unknown) => isKvmopsError(e, 'db-busy'));
  await lock.release();
  assert.deepEqual(store.keys.list(alice.id), []);
  assert.equal(store.keys.add(alice.id, a).name, 'x');
});

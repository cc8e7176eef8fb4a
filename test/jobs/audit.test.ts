import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUDIT_COUNT_CAP, querySql } from '../../src/jobs/audit.js';
import type { AuditEntry } from '../../src/jobs/types.js';
import { freshStore } from './helpers.js';

const T0 = 1_800_000_000_000;
const entry = (at: number, userId: string, command: string, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  at,
  userId,
  userName: `name-${userId}`,
  command,
  options: {},
  outcome: 'read',
  ...extra,
});

test('query: newest first, since/user/command filters, the total of all matches', (t) => {
  const store = freshStore(t);
  store.audit.record(entry(T0 - 10, '1', 'deploy', { outcome: 'accepted', jobId: 7 }));
  store.audit.record(entry(T0 + 1, '1', 'deploy', { outcome: 'refused', code: 'forbidden' }));
  store.audit.record(entry(T0 + 2, '2', 'snapshot revert', { outcome: 'accepted', jobId: 8 }));
  store.audit.record(entry(T0 + 3, '1', 'snapshot revert'));
  store.audit.record(entry(T0 + 3, '2', 'deploy'));

  const all = store.audit.query({ since: T0, limit: 10 });
  assert.deepEqual(all.entries.map((e) => [e.at, e.userId, e.command]), [
    [T0 + 3, '2', 'deploy'],
    [T0 + 3, '1', 'snapshot revert'],
    [T0 + 2, '2', 'snapshot revert'],
    [T0 + 1, '1', 'deploy'],
  ]);
  assert.equal(all.total, 4);
  assert.equal(all.totalCapped, false);

  const mine = store.audit.query({ since: T0 - 100, userId: '1', limit: 10 });
  assert.deepEqual(mine.entries.map((e) => e.at), [T0 + 3, T0 + 1, T0 - 10]);
  assert.deepEqual(mine.entries[1], entry(T0 + 1, '1', 'deploy', { outcome: 'refused', code: 'forbidden' }));
  assert.deepEqual(mine.entries[2]?.jobId, 7);

  const reverts = store.audit.query({ since: T0, command: 'snapshot revert', limit: 1 });
  assert.deepEqual(reverts.entries.map((e) => e.userId), ['1']);
  assert.equal(reverts.total, 2, 'the total counts past the limit');

  const both = store.audit.query({ since: 0, userId: '2', command: 'deploy', limit: 10 });
  assert.deepEqual(both.entries.map((e) => e.at), [T0 + 3]);
  assert.equal(store.audit.query({ since: T0 + 4, limit: 10 }).total, 0);
  assert.throws(() => store.audit.query({ since: 0, limit: 0 }), RangeError);
});

test('query: the count stops past AUDIT_COUNT_CAP', (t) => {
  const store = freshStore(t);
  const ins = store.db.prepare(`INSERT INTO audit (at, user_id, user_name, command, options, outcome) VALUES (?, 'u', 'u', 'job list', '{}', 'read')`);
  store.db.transaction(() => {
    for (let i = 0; i < AUDIT_COUNT_CAP + 5; i++) ins.run(T0 + i);
  })();
  const r = store.audit.query({ since: 0, limit: 20 });
  assert.equal(r.entries.length, 20);
  assert.equal(r.entries[0]?.at, T0 + AUDIT_COUNT_CAP + 4);
  assert.deepEqual([r.total, r.totalCapped], [AUDIT_COUNT_CAP, true]);
  const exact = store.audit.query({ since: T0 + 5, limit: 20 });
  assert.deepEqual([exact.total, exact.totalCapped], [AUDIT_COUNT_CAP, false]);
});

test('every filter combination reads through an index, never the whole table, and sorts by it', (t) => {
  const store = freshStore(t);
  const plans: Record<string, string> = {};
  for (const f of [{}, { userId: 'u' }, { command: 'deploy' }, { userId: 'u', command: 'deploy' }]) {
    const sql = querySql(f);
    const params = { since: 0, limit: 20, offset: 20, userId: 'u', command: 'deploy' };
    for (const [what, text] of Object.entries(sql)) {
      const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(params) as Array<{ detail: string }>).map((r) => r.detail).join(' | ');
      plans[`${JSON.stringify(f)} ${what}`] = plan;
      assert.doesNotMatch(plan, /SCAN audit|TEMP B-TREE/, `${JSON.stringify(f)} ${what}: ${plan}`);
    }
  }
  assert.match(plans['{} rows']!, /INDEX audit_at \(at>\?\)/);
  assert.match(plans['{"userId":"u"} rows']!, /INDEX audit_user_at \(user_id=\? AND at>\?\)/);
  assert.match(plans['{"command":"deploy"} rows']!, /INDEX audit_command_at \(command=\? AND at>\?\)/);
  assert.match(plans['{"userId":"u","command":"deploy"} rows']!, /INDEX audit_user_at/);
  assert.match(plans['{"userId":"u","command":"deploy"} count']!, /INDEX audit_user_at/);
});

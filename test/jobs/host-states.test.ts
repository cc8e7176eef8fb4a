import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Clock, alice, bob, freshStore, vmStart } from './helpers.js';

test('/host drain: set, undone, kept per host with who and when', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: () => clock.now() });
  assert.deepEqual(store.hosts.list(), []);
  store.hosts.setDrain('lab', true, alice);
  clock.advance(1000);
  store.hosts.setDrain('local', true, bob);
  clock.advance(1000);
  const undone = store.hosts.setDrain('lab', false, bob);
  assert.deepEqual(undone, { host: 'lab', drained: false, changedBy: bob, changedAt: clock.now() });
  assert.deepEqual(
    store.hosts.list().map((s) => [s.host, s.drained, s.changedBy.name]),
    [
      ['lab', false, 'bob'],
      ['local', true, 'bob'],
    ],
  );
});

test('live jobs per host: queued and running, finished ones not counted', (t) => {
  const store = freshStore(t);
  store.enqueue(vmStart('a', 'local'));
  store.enqueue(vmStart('b', 'local'));
  store.enqueue(vmStart('c', 'lab'));
  const claimed = store.claim('w', 30_000);
  assert.ok(claimed);
  const count = () => Object.fromEntries(store.hosts.jobCounts().map((c) => [c.host, [c.queued, c.running]]));
  assert.deepEqual(count(), { local: [1, 1], lab: [1, 0] });
  store.complete(claimed.lease, {});
  assert.deepEqual(count(), { local: [1, 0], lab: [1, 0] });
});

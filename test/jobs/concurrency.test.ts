import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freshStore, snapshotCreate } from './helpers.js';

/** Claims in one process (several processes racing: concurrency.slow.test.ts). */

test('a single process claiming in a loop also respects the per-host limit', (t) => {
  const store = freshStore(t);
  for (let i = 0; i < 5; i++) store.enqueue(snapshotCreate(`vm-${i}`, 'x'));
  const got = [store.claim('w', 60_000, { perHost: 2 }), store.claim('w', 60_000, { perHost: 2 }), store.claim('w', 60_000, { perHost: 2 })];
  assert.ok(got[0] && got[1]);
  assert.equal(got[2], undefined, 'a third running job on host local is refused');
  store.complete(got[0].lease, null);
  assert.ok(store.claim('w', 60_000, { perHost: 2 }), 'a slot freed up');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { jobResources } from '../../src/kinds/index.js';
import type { EnqueueRequest } from '../../src/jobs/types.js';
import { PINNED, alice, freshStore, notify, snapshotCreate, vmStart } from './helpers.js';

/**
 * Job resources (each kind's `resources`, src/kinds/): what each kind holds, how the claim honours it and
 * how admission refuses a name a live job is already making. Real SQLite.
 */

const deploy = (template: string, name: string, count = 1): EnqueueRequest => ({
  kind: 'deploy',
  payload: { host: 'local', template, name, mode: 'thin', count, start: false },
  requester: alice,
  notify,
});
const templateCreate = (vm: string, name: string): EnqueueRequest => ({
  kind: 'template.create',
  payload: { host: 'local', vm, name, seal: false },
  requester: alice,
  notify,
});
const templateDelete = (name: string): EnqueueRequest => ({ kind: 'template.delete', payload: { host: 'local', name, createdAt: '2026-12-07T10:00:00.000Z' }, requester: alice, notify });
const vmDelete = (vm: string): EnqueueRequest => ({ kind: 'vm.delete', payload: { host: 'local', vm, vmUuid: PINNED.vmUuid }, requester: alice, notify, needsApproval: false });

const nameTakenBy = (jobId: number, names?: string[]) => (e: unknown) =>
  isKvmopsError(e, 'name-taken') && e.details.jobId === jobId && (!names || JSON.stringify(e.details.names) === JSON.stringify(names));

test('each kind declares what it reads and writes', () => {
  assert.deepEqual(jobResources('deploy', { host: 'h', template: 't', name: 'r', count: 2 }), [
    { key: 'h/template/t', mode: 'shared', creates: false },
    { key: 'h/vm/r-01', mode: 'exclusive', creates: true },
    { key: 'h/vm/r-02', mode: 'exclusive', creates: true },
  ]);
  assert.deepEqual(jobResources('template.create', { host: 'h', vm: 'v', name: 't' }), [
    { key: 'h/vm/v', mode: 'shared', creates: false },
    { key: 'h/template/t', mode: 'exclusive', creates: true },
  ]);
  assert.deepEqual(jobResources('template.delete', { host: 'h', name: 't' }), [{ key: 'h/template/t', mode: 'exclusive', creates: false }]);
  for (const kind of ['snapshot.create', 'snapshot.revert', 'snapshot.delete', 'vm.start', 'vm.stop', 'vm.delete'] as const) {
    assert.deepEqual(jobResources(kind, { host: 'h', vm: 'v', name: 's' }), [{ key: 'h/vm/v', mode: 'exclusive', creates: false }], kind);
  }
});

test('two deploys whose names overlap: the second is refused up front, naming the first; nothing of it remains', (t) => {
  const store = freshStore(t);
  const first = store.enqueue(deploy('t1', 'r', 6));
  assert.throws(() => store.enqueue(deploy('t2', 'r', 6)), nameTakenBy(first.id, ['r-01', 'r-02', 'r-03', 'r-04', 'r-05', 'r-06']));
  assert.throws(() => store.enqueue(deploy('t2', 'r-03')), nameTakenBy(first.id, ['r-03']), 'one name of the batch is enough');
  assert.deepEqual(store.list().map((j) => j.id), [first.id], 'the refused jobs left no row');
  const rows = store.db.prepare('SELECT count(*) AS n FROM job_resources').get() as { n: number };
  assert.equal(rows.n, 7, "only the first deploy's template and six names are held");
  assert.ok(store.enqueue(deploy('t2', 'r', 1)), '`r` itself is not among r-01…r-06');
});

test('the refusal holds while the creator runs and ends when it ends (any final state)', (t) => {
  const store = freshStore(t);
  const first = store.enqueue(deploy('t1', 'web'));
  const { lease } = store.claim('w', 60_000)!;
  assert.throws(() => store.enqueue(deploy('t2', 'web')), nameTakenBy(first.id), 'running');
  store.fail(lease, { code: 'internal', message: 'boom' }, { retry: false });
  assert.equal(store.get(first.id)!.state, 'failed');
  const again = store.enqueue(deploy('t2', 'web'));
  store.requestCancel(again.id, alice);
  assert.equal(store.get(again.id)!.state, 'cancelled');
  assert.ok(store.enqueue(deploy('t3', 'web')), 'a cancelled creator frees the name too');
});

test('two template creates of one name from two VMs: the second is refused, naming the first', (t) => {
  const store = freshStore(t);
  const first = store.enqueue(templateCreate('vm-a', 'golden'));
  assert.throws(() => store.enqueue(templateCreate('vm-b', 'golden')), nameTakenBy(first.id, ['golden']));
  assert.throws(
    () => store.enqueue(templateCreate('vm-a', 'golden')),
    (e: unknown) => isKvmopsError(e, 'name-taken') || isKvmopsError(e, 'duplicate-job'),
  );
  assert.ok(store.enqueue(templateCreate('vm-b', 'silver')), 'another name is free');
});

test('shared holders run side by side; an exclusive one waits for them and blocks later ones (FIFO per resource)', (t) => {
  const store = freshStore(t);
  const d1 = store.enqueue(deploy('base', 'a'));
  const d2 = store.enqueue(deploy('base', 'b'));
  const del = store.enqueue(templateDelete('base'));
  const d3 = store.enqueue(deploy('base', 'c'));
  const other = store.enqueue(deploy('other', 'd'));

  const c1 = store.claim('w', 60_000)!;
  const c2 = store.claim('w', 60_000)!;
  assert.deepEqual([c1.job.id, c2.job.id], [d1.id, d2.id], 'two readers of base at once');
  const c3 = store.claim('w', 60_000)!;
  assert.equal(c3.job.id, other.id, 'the delete waits for the readers, d3 waits behind the delete; other templates go on');
  assert.equal(store.claim('w', 60_000), undefined);
  store.complete(c1.lease, null);
  assert.equal(store.claim('w', 60_000), undefined, 'one reader still runs');
  store.complete(c2.lease, null);
  const c4 = store.claim('w', 60_000)!;
  assert.equal(c4.job.id, del.id);
  assert.equal(store.claim('w', 60_000), undefined, 'the deploy after the delete waits for it');
  store.complete(c4.lease, null);
  assert.equal(store.claim('w', 60_000)?.job.id, d3.id);
});

test('a deploy and a job on one of its new names run one after the other, in accept order', (t) => {
  const store = freshStore(t);
  const stop = store.enqueue(vmStart('web-02'));
  const dep = store.enqueue(deploy('base', 'web', 3));
  const del = store.enqueue(vmDelete('web-03'));
  const first = store.claim('w', 60_000)!;
  assert.equal(first.job.id, stop.id);
  assert.equal(store.claim('w', 60_000), undefined, 'the deploy waits for web-02; the delete waits behind the deploy');
  store.complete(first.lease, null);
  const second = store.claim('w', 60_000)!;
  assert.equal(second.job.id, dep.id);
  assert.equal(store.claim('w', 60_000), undefined);
  store.complete(second.lease, null);
  assert.equal(store.claim('w', 60_000)?.job.id, del.id);
});

test('a template create reads its source VM: two creates from one VM run together; a snapshot of it waits', (t) => {
  const store = freshStore(t);
  const a = store.enqueue(templateCreate('src', 't-a'));
  const b = store.enqueue(templateCreate('src', 't-b'));
  const snap = store.enqueue(snapshotCreate('src', 's1'));
  assert.equal(store.claim('w', 60_000)?.job.id, a.id);
  assert.equal(store.claim('w', 60_000)?.job.id, b.id);
  assert.equal(store.claim('w', 60_000), undefined, `job ${snap.id} writes src`);
});

test('resources are released by the database itself when a job ends, whatever path ends it', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(deploy('base', 'x', 2));
  const held = () => (store.db.prepare('SELECT count(*) AS n FROM job_resources WHERE job_id = ?').get(job.id) as { n: number }).n;
  assert.equal(held(), 3);
  store.db.prepare(`UPDATE jobs SET state = 'succeeded', finished_at = 1 WHERE id = ?`).run(job.id);
  assert.equal(held(), 0);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KvmopsError, type ErrorCode } from '../../src/domain/errors.js';
import type { ExecutorContext } from '../../src/kinds/kind.js';
import { resultSummary } from '../../src/kinds/index.js';
import { snapshotDelete } from '../../src/kinds/snapshot-delete.js';

/**
 * `keepIfNeeded` (a schedule's retention, issue 25): a host refusal meaning "something still
 * needs this snapshot" keeps it and the job succeeds saying so; a person's delete (no flag) still
 * fails with the refusal; a refusal meaning "broken" fails either way. The refusals themselves
 * come from the real host code (src/hypervisor/snapshots/delete.ts, tested against libvirt); the
 * host here only says them.
 */

const payload = {
  host: 'local',
  vm: 'web-01',
  vmUuid: '4f2b6c1e-0000-4000-8000-000000000001',
  name: 'auto-3-20261208-0600',
  snapshot: { createdAt: 1_765_000_000, files: [] },
};

function refusing(code: ErrorCode): ExecutorContext {
  return {
    host: { deleteSnapshot: async () => Promise.reject(new KvmopsError(code, `refused: ${code}`)) },
    signal: new AbortController().signal,
    progress: () => {},
    recovered: false,
    job: { id: 1, requestId: 'req-1', attempt: 1 },
    reportInventory: () => {},
  } as unknown as ExecutorContext;
}

for (const code of ['snapshot-has-children', 'vm-running', 'template-in-use'] as const) {
  test(`${code}: kept under keepIfNeeded, refused without it`, async () => {
    const r = await snapshotDelete.execute({ ...payload, keepIfNeeded: true }, refusing(code));
    assert.deepEqual(r, { kept: `${code}: refused: ${code}` });
    assert.equal(resultSummary({ kind: 'snapshot.delete', result: r }), `kept: ${code}: refused: ${code}`);
    await assert.rejects(snapshotDelete.execute(payload, refusing(code)), (e: unknown) => e instanceof KvmopsError && e.code === code);
  });
}

test('a broken chain is not "still needed": it fails under keepIfNeeded too', async () => {
  await assert.rejects(snapshotDelete.execute({ ...payload, keepIfNeeded: true }, refusing('chain-unreadable')), (e: unknown) => e instanceof KvmopsError && e.code === 'chain-unreadable');
});

test('the payload takes keepIfNeeded: true only', () => {
  assert.equal(snapshotDelete.payload.safeParse({ ...payload, keepIfNeeded: true }).success, true);
  assert.equal(snapshotDelete.payload.safeParse(payload).success, true);
  assert.equal(snapshotDelete.payload.safeParse({ ...payload, keepIfNeeded: false }).success, false);
});

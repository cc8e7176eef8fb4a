import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job } from '../../src/jobs/types.js';
import { formatDuration } from '../../src/domain/duration.js';
import { describeJob as jobTitle } from '../../src/kinds/index.js';
import { snapshotOf } from '../../src/jobs/snapshot.js';
import { statusView } from '../../src/notifier/render.js';

const T0 = 1_700_000_000_000;

/** What the notifier shows for a job: the view of the snapshot its event keeps. */
const view = (j: Job, now: number) => statusView(snapshotOf(j), now);

function job(over: Partial<Job>): Job {
  return {
    id: 12,
    requestId: 'req-12',
    kind: 'deploy',
    payload: { host: 'local', template: 'base', name: 'web', mode: 'thin', count: 4, start: false },
    state: 'queued',
    lockKey: 'local/template/base',
    dedupeKey: 'x',
    priority: 0,
    runAt: T0,
    attempts: 0,
    maxAttempts: 3,
    leaseOwner: null,
    leaseToken: 0,
    leaseExpiresAt: null,
    cancelRequested: false,
    recovered: false,
    error: null,
    result: null,
    progress: null,
    requester: { id: '100', name: 'alice' },
    notify: { adapter: 'discord', guildId: '1', channelId: '2' },
    statusMessageId: null,
    createdAt: T0,
    updatedAt: T0,
    startedAt: null,
    finishedAt: null,
    batchId: null,
    quiet: false,
    ...over,
  };
}

test('titles name the action with the domain words', () => {
  assert.equal(jobTitle(job({})), 'Deploy web ×4 (thin) from base on local');
  assert.equal(
    jobTitle(job({ payload: { host: 'h2', template: 'base', name: 'db', mode: 'clone', count: 1, start: true } })),
    'Deploy db (clone) from base on h2',
  );
  const t = (kind: Job['kind'], payload: Record<string, unknown>) => jobTitle({ kind, payload });
  assert.equal(t('template.create', { host: 'local', vm: 'vm1', name: 'base', seal: true }), 'Create template base from vm1 (sealed) on local');
  assert.equal(t('template.delete', { host: 'local', name: 'base' }), 'Delete template base on local');
  assert.equal(t('snapshot.create', { host: 'local', vm: 'vm1', name: 's1', kind: 'external' }), 'Snapshot vm1 as s1 (external) on local');
  assert.equal(t('snapshot.revert', { host: 'local', vm: 'vm1', name: 's1' }), 'Revert vm1 to snapshot s1 on local');
  assert.equal(t('snapshot.delete', { host: 'local', vm: 'vm1', name: 's1' }), 'Delete snapshot s1 of vm1 on local');
  assert.equal(t('vm.start', { host: 'local', vm: 'vm1' }), 'Start vm1 on local');
  assert.equal(t('vm.stop', { host: 'local', vm: 'vm1', force: true }), 'Force-stop vm1 on local');
  assert.equal(t('vm.delete', { host: 'local', vm: 'vm1' }), 'Delete VM vm1 on local');
});

test('queued: no duration, no progress', () => {
  const v = view(job({}), T0 + 5_000);
  assert.equal(v.state, 'queued');
  assert.equal(v.durationMs, undefined);
  assert.equal(v.progress, undefined);
  assert.deepEqual(v.lines, ['Job #12 · queued', 'Requested by alice']);
});

test('running: progress with percentage, duration so far, recovered and attempt shown', () => {
  const v = view(
    job({ state: 'running', startedAt: T0, attempts: 2, recovered: true, progress: { step: 'copying vda', fraction: 0.456 } }),
    T0 + 63_000,
  );
  assert.equal(v.durationMs, 63_000);
  assert.deepEqual(v.progress, { step: 'copying vda', fraction: 0.456 });
  assert.deepEqual(v.lines, [
    'Job #12 · running',
    'Requested by alice',
    'Attempt 2 of 3',
    'Recovered after an interruption',
    'Progress: copying vda 46%',
    'Duration: 1m 3s',
  ]);
});

test('succeeded: duration start→end and a result summary', () => {
  const v = view(
    job({ state: 'succeeded', startedAt: T0, finishedAt: T0 + 2_500, result: { vms: ['web-01', 'web-02'], mode: 'thin', started: true } }),
    T0 + 999_999,
  );
  assert.equal(v.durationMs, 2_500);
  assert.equal(v.result, '2 VMs: web-01, web-02 (thin, started)');
  assert.ok(v.lines.includes('Duration: 2.5s'));
});

test('failed and retrying: the error code and message', () => {
  const failed = view(
    job({ state: 'failed', startedAt: T0, finishedAt: T0 + 10, attempts: 1, error: { code: 'template-not-found', message: 'no template base' } }),
    T0,
  );
  assert.deepEqual(failed.error, { code: 'template-not-found', message: 'no template base' });
  assert.ok(failed.lines.includes('Error: template-not-found — no template base'));

  const retrying = view(
    job({ state: 'queued', startedAt: T0, attempts: 1, runAt: T0 + 4_000, error: { code: 'host-unreachable', message: 'down' } }),
    T0 + 1_000,
  );
  assert.ok(retrying.lines.includes('Attempt 2 of 3'));
  assert.ok(retrying.lines.includes('Retrying in 3.0s'));
  assert.ok(retrying.lines.includes('Last error: host-unreachable — down'));
});

test('odd stored results fall back to clipped JSON; durations format', () => {
  const v = view(job({ kind: 'vm.start', payload: { host: 'l', vm: 'v' }, state: 'succeeded', result: { alreadyRunning: true } }), T0);
  assert.equal(v.result, 'already running');
  const weird = view(job({ state: 'succeeded', result: { big: 'x'.repeat(1_000) } }), T0);
  assert.ok(weird.result!.length <= 300);
  assert.equal(formatDuration(950), '950ms');
  assert.equal(formatDuration(3_723_000), '1h 2m');
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { progressBar, statusLines } from '../../../src/adapters/shell/render.js';
import { Transcript } from '../../../src/adapters/shell/transcript.js';

function capture(inPlace: boolean) {
  let out = '';
  const t = new Transcript({ write: (s) => (out += s), inPlace });
  return { t, out: () => out };
}

test('messages get short ids; edits of the last message redraw in place on a terminal', () => {
  const { t, out } = capture(true);
  const id = t.post('kvmops', ['queued', 'job #1']);
  assert.equal(id, 'm1');
  assert.equal(t.edit(id, ['running', 'job #1']), true);
  assert.match(out(), /\x1b\[2F\x1b\[J\[m1\] kvmops: running/);
  assert.equal(t.edit('m99', ['x']), false, 'unknown id: the caller posts anew');
});

test('without a terminal (or for an older message) an edit is printed again, marked updated', () => {
  const { t, out } = capture(false);
  const a = t.post('kvmops', ['a']);
  t.post('kvmops', ['b']);
  t.edit(a, ['a2']);
  assert.doesNotMatch(out(), /\x1b/);
  assert.match(out(), /\[m1\] kvmops: a2  \(updated\)/);
  const before = out();
  t.edit(a, ['a2']);
  assert.equal(out(), before, 'an identical edit prints nothing');
});

test('ids never repeat across sessions sharing a sequence file', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmops-seq-'));
  const open = (seqFile: string) => Transcript.open({ write: () => {}, inPlace: false, seqFile });
  try {
    const seq = path.join(dir, 'seq');
    const first = await open(seq);
    assert.equal(first.post('k', ['x']), 'm1');
    assert.equal(first.post('k', ['y']), 'm2');
    await first.flush();
    const second = await open(seq);
    assert.equal(second.post('k', ['x']), 'm3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress bar and status lines', () => {
  assert.equal(progressBar(0.35, 20), '[#######.............] 35%');
  assert.equal(progressBar(2, 4), '[####] 100%');
  const lines = statusLines({
    jobId: 3,
    requestId: 'req-3',
    kind: 'deploy',
    state: 'running',
    title: 'Deploy web',
    lines: ['Job #3 · running'],
    progress: { step: 'copying vda', fraction: 0.5 },
    requester: { id: 'a', name: 'a' },
    updatedAt: 0,
  });
  assert.deepEqual(lines, ['▶ Deploy web', 'Job #3 · running', '[##########..........] 50% copying vda']);
});

test('a crowded channel in the terminal: the summary is one status block; a grouped mention is one line naming every job', async () => {
  const { ShellSink } = await import('../../../src/adapters/shell/sink.js');
  const { t, out } = capture(false);
  const ended: number[] = [];
  const sink = new ShellSink(t, (v) => ended.push(v.jobId));
  const target = { adapter: 'shell', guildId: null, channelId: 'shell' };
  const requester = { id: 'alice', name: 'alice' };
  const id = await sink.upsertStatus(target, null, {
    jobId: 4, requestId: 'r4', kind: 'vm.stop', state: 'running', title: 'Channel summary: 1 running, 1 queued',
    lines: ['#4 Stop web-1 on local: running', '#5 Stop web-2 on local: queued'], requester, updatedAt: 0, summary: { jobIds: [4, 5], ended: 0 },
  });
  assert.equal(id, 'm1');
  await sink.announceEnd(target, {
    jobId: 4, requestId: 'r4', kind: 'vm.stop', state: 'failed', title: '2 jobs', lines: [], requester, updatedAt: 0,
    group: [{ jobId: 4, state: 'succeeded', title: 'Stop web-1 on local' }, { jobId: 5, state: 'failed', title: 'Stop web-2 on local', error: { code: 'vm-not-found', message: 'gone' } }],
  });
  assert.match(out(), /\[m2\] kvmops: @alice: 2 of your jobs ended — #4 succeeded, #5 failed \(vm-not-found\)/);
  assert.deepEqual(ended, [4, 5], 'each job counted as ended');
  assert.deepEqual([...sink.announced], [[4, 1], [5, 1]]);
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { progressBar, statusLines } from '../../../src/adapters/shell/render.js';
import { Transcript } from '../../../src/adapters/shell/transcript.js';

function capture(inPlace: boolean, seqFile?: string) {
  let out = '';
  const t = new Transcript({ write: (s) => (out += s), inPlace, ...(seqFile ? { seqFile } : {}) });
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

test('ids never repeat across sessions sharing a sequence file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmops-seq-'));
  try {
    const seq = path.join(dir, 'seq');
    assert.equal(capture(false, seq).t.post('k', ['x']), 'm1');
    const second = capture(false, seq).t;
    assert.equal(second.post('k', ['x']), 'm2');
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

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobProgress } from '../../src/jobs/types.js';
import { percentile } from '../../src/worker/latency.js';
import { ProgressWriter, type Clock } from '../../src/worker/progress-writer.js';

/** A clock and timers moved by hand. */
class ManualClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

test('the first step is written at once, then at most one per interval, the last one always', () => {
  const clock = new ManualClock();
  const written: JobProgress[] = [];
  const w = new ProgressWriter((p) => written.push(p), 300, clock);
  w.push({ step: 'a', fraction: 0 });
  assert.equal(written.length, 1);
  for (let i = 1; i <= 100; i++) {
    clock.advance(5); // 100 steps within 500 ms
    w.push({ step: 'a', fraction: i / 100 });
  }
  clock.advance(1_000);
  // t=0; at t=300 the timer writes what was pending then (0.59); the trailing one at t=600
  assert.deepEqual(
    written.map((p) => p.fraction),
    [0, 0.59, 1],
  );
});

test('flush writes the pending step now; close drops it and ignores later pushes', () => {
  const clock = new ManualClock();
  const written: string[] = [];
  const w = new ProgressWriter((p) => written.push(p.step), 300, clock);
  w.push({ step: 'one' });
  w.push({ step: 'two' });
  w.flush();
  assert.deepEqual(written, ['one', 'two']);
  w.push({ step: 'three' });
  w.close();
  clock.advance(1_000);
  w.push({ step: 'four' });
  assert.deepEqual(written, ['one', 'two']);
});

test('a step after a quiet period is written at once', () => {
  const clock = new ManualClock();
  const written: string[] = [];
  const w = new ProgressWriter((p) => written.push(p.step), 300, clock);
  w.push({ step: 'one' });
  clock.advance(1_000);
  w.push({ step: 'two' });
  assert.deepEqual(written, ['one', 'two']);
});

test('percentile: nearest rank', () => {
  assert.ok(Number.isNaN(percentile([], 0.5)));
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(v, 0.5), 50);
  assert.equal(percentile(v, 0.99), 99);
  assert.equal(percentile(v, 1), 100);
  assert.equal(percentile([7], 0.99), 7);
});

test('a step the database could not take (write returns false) is tried again an interval later; a newer step replaces it', () => {
  const clock = new ManualClock();
  const tries: JobProgress[] = [];
  let busy = true;
  const w = new ProgressWriter((p) => {
    tries.push(p);
    return !busy;
  }, 300, clock);
  w.push({ step: 'a' });
  assert.deepEqual(tries, [{ step: 'a' }]);
  clock.advance(300);
  assert.deepEqual(tries, [{ step: 'a' }, { step: 'a' }], 'kept and tried again');
  w.push({ step: 'b' }); // arrives while the retry is pending: replaces it
  busy = false;
  clock.advance(300);
  assert.deepEqual(tries.slice(2), [{ step: 'b' }]);
  clock.advance(3_000);
  assert.equal(tries.length, 3, 'written: nothing more to try');
});

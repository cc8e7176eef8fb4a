import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEventLine, watchDomainEvents } from '../../src/hypervisor/events.js';

/** `virsh event --all --loop --timestamp` lines as libvirt 9.0 prints them (recorded on this host). */
test('event lines: time, type, domain and detail; anything else is no event', () => {
  assert.deepEqual(parseEventLine("2026-12-07 21:22:57.608+0000: event 'lifecycle' for domain 'web-01': Defined Added"), {
    at: Date.parse('2026-12-07T21:22:57.608Z'),
    type: 'lifecycle',
    domain: 'web-01',
    detail: 'Defined Added',
  });
  assert.deepEqual(parseEventLine("2026-12-07 21:30:43.190+0200: event 'migration-iteration' for domain 'db': iteration: '1'"), {
    at: Date.parse('2026-12-07T19:30:43.190Z'),
    type: 'migration-iteration',
    domain: 'db',
    detail: "iteration: '1'",
  });
  assert.deepEqual(parseEventLine("2026-12-07 21:30:50.058+0000: event 'reboot' for domain 'a b'"), { at: Date.parse('2026-12-07T21:30:50.058Z'), type: 'reboot', domain: 'a b', detail: '' });
  for (const other of ['event loop timed out', 'events received: 17', '', "\tcputune.vcpu0: 1", "event 'lifecycle' for domain 'x': Started Booted"]) {
    assert.equal(parseEventLine(other), null, JSON.stringify(other));
  }
});

test('a stream that keeps dying is started again after 1, 2, 4 … pauses up to the cap, and the abort ends the watch', async () => {
  // a socket that does not exist: virsh fails at once (and where virsh is not installed, that fails at once too)
  const ac = new AbortController();
  const ends: Array<[string | undefined, number]> = [];
  const watch = watchDomainEvents('qemu+unix:///system?socket=/nonexistent/kvmops-test.sock', {
    signal: ac.signal,
    onEvent: () => assert.fail('no events from nowhere'),
    onEnd: (err, retryInMs) => {
      ends.push([err?.code, retryInMs]);
      if (ends.length === 5) ac.abort();
    },
    backoff: { baseMs: 20, capMs: 100 },
  });
  await watch; // resolves (never rejects) once aborted
  assert.deepEqual(ends.map(([, ms]) => ms), [20, 40, 80, 100, 100]);
  for (const [code] of ends) assert.ok(code === 'host-unreachable' || code === 'command-failed', String(code));
});

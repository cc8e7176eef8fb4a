/**
 * The host probe's states over time, with a host whose answers the test scripts (the real
 * libvirt and a hanging host: probe.libvirt.test.ts): "unreachable since" is the first failure
 * after the last success and stays through further failures, a success clears it, the last
 * facts are kept while unreachable, one read at a time per host, and the TTL is honoured.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProbe } from '../../src/hypervisor/probe.js';
import type { HostFacts } from '../../src/hypervisor/types.js';

const FACTS: HostFacts = { libvirt: '9.0.0', hypervisor: 'QEMU 7.2.22', cpus: 2, cpuModel: 'x86_64', memory: { total: 8, available: 6, free: 4 }, storage: null };

function scripted() {
  const clock = { t: 1_000_000 };
  const answers: Array<'ok' | 'fail'> = [];
  let reads = 0;
  const probe = new HostProbe(
    {
      hostNames: () => ['h'],
      host: () => ({
        facts: async () => {
          reads++;
          if ((answers.shift() ?? 'ok') === 'fail') throw new Error('ssh: connect to host h port 22: Connection refused');
          return FACTS;
        },
        templateMemory: async () => 1,
      }),
    },
    { ttlMs: 10_000, waitMs: 1_000, now: () => clock.t },
  );
  return { probe, clock, answers, reads: () => reads };
}

test('unreachable since the first failure after the last success; a success clears it', async () => {
  const { probe, clock, answers, reads } = scripted();
  const up = await probe.get('h');
  assert.equal(up.reachable, true);
  assert.equal(up.readAt, 1_000_000);

  // within the TTL: no new read
  clock.t += 5_000;
  await probe.get('h');
  assert.equal(reads(), 1);

  answers.push('fail', 'fail');
  clock.t += 10_000; // 1_015_000
  const down = await probe.get('h');
  assert.equal(down.reachable, false);
  assert.equal(down.unreachableSince, 1_015_000);
  assert.deepEqual(down.facts, FACTS, 'the last facts are kept ("last answered")');
  assert.equal(down.readAt, 1_000_000);
  assert.match(down.error!, /Connection refused/);

  clock.t += 10_000; // a second failure: still since the first
  const still = await probe.get('h');
  assert.equal(still.unreachableSince, 1_015_000);
  assert.equal(reads(), 3);

  clock.t += 10_000; // back
  const back = await probe.get('h');
  assert.equal(back.reachable, true);
  assert.equal(back.unreachableSince, null);
  assert.equal(back.error, null);
  assert.equal(back.readAt, 1_035_000);
});

test('one read per host at a time: callers share it; `fresh` reads again inside the TTL', async () => {
  const { probe, reads } = scripted();
  await Promise.all([probe.get('h'), probe.get('h'), probe.all(), probe.peek('h')]);
  assert.equal(reads(), 1);
  await probe.get('h', { fresh: true });
  assert.equal(reads(), 2);
});

test('an unknown host is refused at once', () => {
  const probe = new HostProbe({ hostNames: () => ['h'], host: (n) => { if (n !== 'h') throw new Error(`no host named ${n}`); return { facts: async () => FACTS, templateMemory: async () => 1 }; } });
  assert.throws(() => probe.peek('mars'), /no host named mars/);
});

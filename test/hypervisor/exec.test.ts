/**
 * The program runner's contract with real processes: a child stops when its job is cancelled
 * or times out, and dies with kvmops when kvmops itself is killed (no orphan `cp` writing a disk
 * while the restarted bot recovers the job).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isKvmopsError } from '../../src/domain/errors.js';
import { run } from '../../src/hypervisor/exec.js';
import { noArgs, shArgs, sleepArgs } from './fixtures/test-tools.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Pids whose command line is exactly `sleep MARKER` (what `pgrep -f` does, read from /proc: no procps needed). */
const sleeping = (marker: string) =>
  readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `sleep\0${marker}\0`;
    } catch {
      return false; // exited meanwhile
    }
  });
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a program that is missing, times out or is cancelled fails with its code', async () => {
  await assert.rejects(run('kvmops-no-such-program', noArgs.none(), { timeoutMs: 5_000 }), (e) => isKvmopsError(e, 'command-failed') && /is not installed/.test(e.message));
  await assert.rejects(run('sleep', sleepArgs.seconds('5'), { timeoutMs: 100 }), (e) => isKvmopsError(e, 'command-timeout'));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(run('sleep', sleepArgs.seconds('5'), { timeoutMs: 5_000, signal: ac.signal }), (e) => isKvmopsError(e, 'aborted'));
  const failed = await run('sh', shArgs.script('echo "error: it broke" >&2; exit 3'), { timeoutMs: 5_000 }).catch((e: unknown) => e);
  assert.ok(isKvmopsError(failed, 'command-failed'));
  assert.equal(failed.message, 'it broke');
  assert.equal(failed.details.exitCode, 3);
});

test('a program stopped by SIGTERM or SIGINT from outside (the whole group being stopped) is shutting-down, a transient error', async () => {
  for (const sig of ['TERM', 'INT']) {
    // setpriv's child is `sh`; it signals itself, as a group-wide signal would
    const e = await run('sh', shArgs.script(`kill -${sig} $$; sleep 5`), { timeoutMs: 5_000 }).catch((x: unknown) => x);
    assert.ok(isKvmopsError(e, 'shutting-down'), `SIG${sig}: ${String(e)}`);
    assert.equal(e.transient, true);
  }
});

test('children die with the process that started them', async () => {
  const marker = `${Math.floor(Math.random() * 1e6) + 1000}.5`;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'fixtures/run-sleep.ts'), marker], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
  assert.equal(sleeping(marker).length, 1, 'the program runs');
  child.kill('SIGKILL'); // only the node process: its child is not signalled directly
  for (let i = 0; i < 50 && sleeping(marker).length; i++) await settle(100);
  assert.deepEqual(sleeping(marker), [], 'the program died with its parent');
});

test('an abort reaches the child: once the call has failed `aborted`, its process is gone (onSpawn gives its pid)', async () => {
  const ac = new AbortController();
  let pid = 0;
  const call = run('sleep', sleepArgs.seconds('30'), { timeoutMs: 60_000, signal: ac.signal, onSpawn: (p) => (pid = p) });
  assert.ok(pid > 0, 'onSpawn gave the pid at once');
  await settle(100);
  assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0], 'sleep', 'the pid is the program itself (setpriv execs it)');
  ac.abort();
  await assert.rejects(call, (e) => isKvmopsError(e, 'aborted'));
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'no such process any more');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadEnv, parseDuration } from '../../src/config/env.js';
import { execStart, serviceSettings } from '../helpers/unit-file.js';

/**
 * The systemd unit stops kvmops the way test/stop.libvirt.test.ts checks (that test runs this
 * ExecStart= and signals it as KillMode= does): node itself is the main process, the signal
 * reaches it first, and systemd's SIGKILL waits longer than kvmops' own stop timeout.
 */
test('deploy/kvmops.service: node is the main process; SIGKILL only after KVMOPS_STOP_TIMEOUT', () => {
  const unit = serviceSettings();
  const argv = execStart();
  assert.match(argv[0]!, /^\/usr\/bin\/node$/, 'node directly, not npm and a shell');
  assert.equal(argv.at(-1), 'dist/src/main.js');
  assert.deepEqual(unit.get('KillSignal'), ['SIGTERM']);
  assert.ok(['mixed', 'control-group'].includes(unit.get('KillMode')?.[0] ?? ''), `KillMode=${unit.get('KillMode')}`);
  const timeoutStopMs = parseDuration(unit.get('TimeoutStopSec')![0]!);
  const stopTimeoutMs = loadEnv({}).KVMOPS_STOP_TIMEOUT;
  assert.ok(timeoutStopMs >= stopTimeoutMs + 10_000, `TimeoutStopSec (${timeoutStopMs} ms) well above KVMOPS_STOP_TIMEOUT's default (${stopTimeoutMs} ms)`);
});

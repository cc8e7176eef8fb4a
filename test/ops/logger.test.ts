import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { KvmopsError } from '../../src/domain/errors.js';
import { CommandError } from '../../src/hypervisor/exec.js';
import { createLogger } from '../../src/ops/logger.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.very-secret-bot-token-value';

/** A logger writing into memory; `lines()` parses what it wrote. */
function capture(level: 'info' | 'debug' = 'info') {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const log = createLogger({ level, name: 'test', destination: stream });
  return {
    log,
    raw: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}

test('the Discord token never reaches a log line, wherever it sits', () => {
  const c = capture();
  c.log.info({ token: TOKEN }, 'top level');
  c.log.info({ client: { token: TOKEN }, env: { DISCORD_TOKEN: TOKEN } }, 'one level down');
  c.log.info({ DISCORD_TOKEN: TOKEN }, 'env name');
  c.log.info({ req: { headers: { authorization: `Bot ${TOKEN}`, 'user-agent': 'x' } } }, 'request');
  c.log.info({ headers: { Authorization: `Bot ${TOKEN}` } }, 'outgoing request');
  c.log.info({ rest: { options: { token: TOKEN } } }, 'two levels down');

  assert.ok(!c.raw().includes(TOKEN), 'the token appears in the output');
  const [a, b, d, e, f, g] = c.lines();
  assert.equal(a!.token, '[Redacted]');
  assert.equal(b!.client.token, '[Redacted]');
  assert.equal(b!.env.DISCORD_TOKEN, '[Redacted]');
  assert.equal(d!.DISCORD_TOKEN, '[Redacted]');
  assert.equal(e!.req.headers.authorization, '[Redacted]');
  assert.equal(e!.req.headers['user-agent'], 'x', 'other headers stay');
  assert.equal(f!.headers.Authorization, '[Redacted]');
  assert.equal(g!.rest.options.token, '[Redacted]');
  assert.equal(a!.name, 'test');
  assert.equal(a!.msg, 'top level');
  assert.equal(typeof a!.time, 'string');
});

test('errors keep code, details and the cause chain, and nothing bulky', () => {
  const c = capture();
  const bulky = Object.assign(new Error('Command failed with exit code 1: virsh start web-01'), {
    stdout: 'x'.repeat(100_000),
    exitCode: 1,
  });
  const cmd = new CommandError('command-failed', 'Domain is already active', {
    argv: ['virsh', '--connect', 'qemu:///system', 'start', 'web-01'],
    exitCode: 1,
    stderr: 'error: Domain is already active\n',
    cause: bulky,
  });
  const outer = new KvmopsError('vm-running', 'web-01 is running', { cause: cmd, details: { vm: 'web-01' } });
  c.log.error({ err: outer, jobId: 7 }, 'job failed');
  c.log.error(new KvmopsError('host-unreachable', 'no libvirt', { details: { host: 'local' } }), 'as first argument');

  const [line, second] = c.lines();
  assert.equal(line!.jobId, 7);
  assert.equal(line!.err.type, 'KvmopsError');
  assert.equal(line!.err.code, 'vm-running');
  assert.deepEqual(line!.err.details, { vm: 'web-01' });
  assert.match(line!.err.stack, /web-01 is running/);
  assert.equal(line!.err.cause.type, 'CommandError');
  assert.equal(line!.err.cause.code, 'command-failed');
  assert.equal(line!.err.cause.details.command, 'virsh --connect qemu:///system start web-01');
  assert.equal(line!.err.cause.details.exitCode, 1);
  assert.equal(line!.err.cause.cause.message, 'Command failed with exit code 1: virsh start web-01');
  assert.equal(line!.err.cause.cause.stdout, undefined, 'a cause does not dump its stdout');
  assert.ok(c.raw().length < 20_000);

  assert.equal(second!.err.code, 'host-unreachable');
  assert.deepEqual(second!.err.details, { host: 'local' });
  assert.equal(second!.msg, 'as first argument');
});

test('a cyclic cause chain is cut off', () => {
  const c = capture();
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  (a as { cause?: unknown }).cause = b;
  c.log.error({ err: a }, 'cycle');
  const [line] = c.lines();
  let depth = 0;
  for (let e = line!.err; e?.cause; e = e.cause) depth++;
  assert.ok(depth <= 5);
});

test('the level filters', () => {
  const c = capture('info');
  c.log.debug('hidden');
  c.log.warn('shown');
  assert.deepEqual(
    c.lines().map((l) => l.msg),
    ['shown'],
  );
});

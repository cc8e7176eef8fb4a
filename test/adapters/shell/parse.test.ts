import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLine, tokenize } from '../../../src/adapters/shell/parse.js';

const hasSub = (c: string) => c !== 'deploy';

test('tokenize honours quotes and refuses an unclosed one', () => {
  assert.deepEqual(tokenize(`/snapshot create vm:a description:"two words" x:'y z'`), [
    '/snapshot',
    'create',
    'vm:a',
    'description:two words',
    'x:y z',
  ]);
  assert.deepEqual(tokenize('a "b'), { error: 'unclosed "' });
  assert.deepEqual(tokenize('a ""'), ['a', '']);
});

test('slash commands: flat and with subcommands, options as strings', () => {
  assert.deepEqual(parseLine('/deploy template:base name:web count:4', hasSub), {
    kind: 'command',
    command: 'deploy',
    subcommand: null,
    options: { template: 'base', name: 'web', count: '4' },
  });
  assert.deepEqual(parseLine('/template list', hasSub), { kind: 'command', command: 'template', subcommand: 'list', options: {} });
  assert.deepEqual(parseLine('/vm info vm:web-01 host:local', hasSub), {
    kind: 'command',
    command: 'vm',
    subcommand: 'info',
    options: { vm: 'web-01', host: 'local' },
  });
  assert.equal(parseLine('/deploy name', hasSub).kind, 'error');
  assert.equal(parseLine('/deploy name:a name:b', hasSub).kind, 'error');
});

test('react, as, and the small words', () => {
  assert.deepEqual(parseLine('react m12 ✅', hasSub), { kind: 'react', messageId: 'm12', emoji: '✅' });
  assert.deepEqual(parseLine('react m12 no', hasSub), { kind: 'react', messageId: 'm12', emoji: '❌' });
  assert.deepEqual(parseLine('react m3', hasSub), { kind: 'react', messageId: 'm3', emoji: '✅' });
  assert.equal(parseLine('react', hasSub).kind, 'error');
  assert.deepEqual(parseLine('as bob approver,viewer', hasSub), { kind: 'as', user: 'bob', roles: ['approver', 'viewer'] });
  assert.deepEqual(parseLine('as bob', hasSub), { kind: 'as', user: 'bob', roles: null });
  assert.equal(parseLine('as bob root', hasSub).kind, 'error');
  assert.equal(parseLine('   ', hasSub).kind, 'empty');
  assert.equal(parseLine('quit', hasSub).kind, 'quit');
  assert.equal(parseLine('rm -rf /', hasSub).kind, 'error');
});

test('more and back page the last list; nothing may follow them', () => {
  assert.deepEqual(parseLine('more', hasSub), { kind: 'page', direction: 'more' });
  assert.deepEqual(parseLine('  back ', hasSub), { kind: 'page', direction: 'back' });
  assert.deepEqual(parseLine('more 3', hasSub), { kind: 'error', message: 'usage: more' });
});

test('clock: +DURATION moves the schedules\' clock on, tick runs them as they are; anything else is refused', () => {
  assert.deepEqual(parseLine('clock +1h', hasSub), { kind: 'clock', advanceMs: 3_600_000 });
  assert.deepEqual(parseLine('clock +90m', hasSub), { kind: 'clock', advanceMs: 5_400_000 });
  assert.deepEqual(parseLine('clock tick', hasSub), { kind: 'clock', advanceMs: 0 });
  for (const bad of ['clock', 'clock 1h', 'clock -1h', 'clock +soon', 'clock +1h +1h', 'clock tick now']) assert.equal(parseLine(bad, hasSub).kind, 'error', bad);
});

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { USERS, makeWorld, type World } from './fixture.js';
import type { OptionDef, RawOptions, Reply } from '../../src/chat/types.js';

/**
 * What every subcommand answers, pinned: bad input of every kind the option definitions allow
 * (missing, unknown, wrong type, out of bounds, text from the shell), and a scripted run of
 * accepted jobs, reads and refusals, all as an admin on the command-layer world (real store,
 * fixed clock). Together with test/unit/chat/registration-pin.test.ts this holds the command
 * surface still while the way options are declared and validated changes underneath.
 * A deliberate change: KVMOPS_WRITE_FIXTURES=1 node --import tsx --test test/commands/replies-pin.test.ts
 */

const FIXTURE = new URL('./fixtures/replies.json', import.meta.url);

interface Probe {
  command: string;
  subcommand: string | null;
  options: RawOptions;
}

/** Values that a Discord client with the registered bounds could not send, or the shell sends as text. */
function probesFor(options: readonly OptionDef[]): RawOptions[] {
  const all = (f: (o: OptionDef) => RawOptions[string]) => Object.fromEntries(options.map((o) => [o.name, f(o)]));
  const each: RawOptions[] = [{}, { bogus: 'x' }, all((o) => (o.type === 'string' || o.type === 'user' ? 7 : o.type === 'integer' ? 'x' : 'maybe'))];
  for (const o of options) {
    if (o.maxLength !== undefined) each.push({ [o.name]: 'a'.repeat(o.maxLength + 1) });
    if (o.minLength !== undefined) each.push({ [o.name]: '' });
    if (o.choices) each.push({ [o.name]: 'nope' });
    if (o.type === 'integer') each.push({ [o.name]: 1.5 }, { [o.name]: '3' }, { [o.name]: -1 }, { [o.name]: 99 });
    if (o.type === 'boolean') each.push({ [o.name]: 'TRUE' }, { [o.name]: 1 });
  }
  return each;
}

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBI1xIdZJyPZNs3Kc9cR1u2+pS6ZKYkz6ZRgMb9BecV6 alice@laptop';

/** A run through the handlers, in order: accepted, approval, refused, read. */
const SCRIPT: Array<[string, string | null, RawOptions]> = [
  ['deploy', null, { template: 'base', name: 'web-02' }],
  ['deploy', null, { template: 'base', name: 'b', count: '3', mode: 'clone', start: 'true', host: 'local' }],
  ['deploy', null, { template: 'base', name: 'a'.repeat(61), count: 2 }],
  ['deploy', null, { template: 'base', name: 'a'.repeat(60), count: 2 }],
  ['deploy', null, { template: 'nope', name: 'x' }],
  ['deploy', null, { template: 'base', name: 'db' }],
  ['deploy', null, { template: 'base', name: 'web-02' }],
  ['deploy', null, { template: 'base', name: 'x', host: 'mars' }],
  ['host', 'list', {}],
  ['host', 'info', { host: 'remote' }],
  ['host', 'drain', { host: 'local' }],
  ['host', 'info', {}],
  ['host', 'drain', { host: 'remote', off: true }],
  ['host', 'drain', { host: 'mars' }],
  ['template', 'create', { vm: 'web-01', name: 't1' }],
  ['template', 'create', { vm: 'golden', name: 'base' }],
  ['template', 'create', { vm: 'golden', name: 'gold', seal: false }],
  ['template', 'list', {}],
  ['template', 'delete', { name: 'base' }],
  ['template', 'delete', { name: 'spare', host: 'local' }],
  ['snapshot', 'create', { vm: 'db', name: 's1', kind: 'external', description: 'before the upgrade' }],
  ['snapshot', 'create', { vm: 'web-01', name: 'clean' }],
  ['snapshot', 'create', { vm: 'db', name: 's2', description: 'two\nlines' }],
  ['snapshot', 'list', { vm: 'web-01' }],
  ['snapshot', 'revert', { vm: 'web-01', name: 'clean' }],
  ['snapshot', 'revert', { vm: 'web-01', name: 'nope' }],
  ['snapshot', 'delete', { vm: 'web-01', name: 'before-upgrade' }],
  ['vm', 'list', {}],
  ['vm', 'list', { host: 'remote' }],
  ['vm', 'info', { vm: 'web-01' }],
  ['vm', 'start', { vm: 'db' }],
  ['vm', 'start', { vm: 'ghost' }],
  ['vm', 'stop', { vm: 'web-01', force: true }],
  ['vm', 'delete', { vm: 'golden' }],
  ['job', 'status', { id: 1 }],
  ['job', 'status', { id: 999 }],
  ['job', 'list', {}],
  ['job', 'list', { state: 'awaiting_approval', mine: true }],
  ['job', 'cancel', { id: 2 }],
  ['audit', null, { user: '@erin', command: 'job list', since: '1h' }],
  ['audit', null, { command: '/vm start', since: '7d' }],
  ['audit', null, { since: 'soon' }],
  ['key', 'list', {}],
  ['key', 'add', { key: KEY }],
  ['key', 'add', { key: `${KEY.split(' ').slice(0, 2).join(' ')} other comment`, name: 'again' }],
  ['key', 'add', { key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBI1', name: 'short' }],
  ['key', 'add', { key: 'ssh-dss AAAAB3NzaC1kc3M=' }],
  ['key', 'add', { key: KEY, name: 'bad name!' }],
  ['key', 'list', {}],
  ['key', 'remove', { name: 'nope' }],
  ['key', 'remove', { name: 'alice@laptop' }],
  ['key', 'list', {}],
];

let w: World;
const recorded: Array<{ probe: Probe; reply: Reply }> = [];

async function record(command: string, subcommand: string | null, options: RawOptions): Promise<void> {
  const reply = await w.run(USERS.erin, command, subcommand, options);
  // random per job (src/jobs/migrations/003_request_ids.ts): its shape is pinned, not its value
  if (reply.requestId !== undefined) {
    assert.match(reply.requestId, /^req-[0-9a-f-]{36}$/);
    reply.requestId = '<request id>';
  }
  recorded.push({ probe: { command, subcommand, options }, reply });
}

describe('the replies of every subcommand', () => {
  before(() => {
    w = makeWorld({ rateLimit: 'off' });
  });
  after(() => w.close());

  it('to bad input, and to a scripted run, are the pinned ones', async () => {
    const surface = w.router.definitions().map((d) => ({
      command: d.name,
      subcommands: d.subcommands.map((s) => ({
        name: s.name,
        role: s.role,
        mutates: s.mutates,
        defer: w.router.needsDefer({ command: d.name, subcommand: s.name }),
        options: s.options.map((o) => [o.name, o.type, o.required ?? false, o.autocomplete ?? null]),
      })),
    }));
    for (const d of w.router.definitions()) {
      for (const s of d.subcommands) {
        for (const options of probesFor(s.options)) await record(d.name, d.flat ? null : s.name, options);
      }
    }
    for (const [command, subcommand, options] of SCRIPT) await record(command, subcommand, options);
    const body = `${JSON.stringify({ surface, replies: recorded }, null, 2)}\n`;
    if (process.env.KVMOPS_WRITE_FIXTURES === '1') writeFileSync(FIXTURE, body);
    assert.deepEqual(JSON.parse(body), JSON.parse(readFileSync(FIXTURE, 'utf8')));
  });
});

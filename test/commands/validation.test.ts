import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { USERS, fixtureUuid, makeWorld, type World } from './fixture.js';
import type { RawOptions } from '../../src/chat/types.js';

/**
 * Every command's options against the contract: bad input is refused ephemerally with
 * `invalid-input`, every issue listed, NO job in the store, and an audit `refused` row.
 */

let w: World;
beforeEach(() => {
  w = makeWorld({ rateLimit: { capacity: 1000 } });
});
afterEach(() => w.close());

const BAD_NAMES: Array<[string, string]> = [
  ['shell metacharacters', 'web;rm -rf /'],
  ['command substitution', '$(reboot)'],
  ['backticks', '`id`'],
  ['path traversal', '../etc'],
  ['slash', 'a/b'],
  ['space', 'two words'],
  ['64 characters', 'a'.repeat(64)],
  ['empty', ''],
  ['leading dot', '.hidden'],
  ['leading dash', '-rf'],
  ['quote', "it's"],
  ['newline', 'a\nb'],
];

/** Each (command, subcommand, valid options, the option that names something). */
const NAMED: Array<{ cmd: string; sub: string | null; ok: RawOptions; field: string; user: keyof typeof USERS }> = [
  { cmd: 'deploy', sub: null, ok: { template: 'base', name: 'new' }, field: 'name', user: 'alice' },
  { cmd: 'deploy', sub: null, ok: { template: 'base', name: 'new' }, field: 'template', user: 'alice' },
  { cmd: 'template', sub: 'create', ok: { vm: 'golden', name: 'tpl' }, field: 'vm', user: 'erin' },
  { cmd: 'template', sub: 'create', ok: { vm: 'golden', name: 'tpl' }, field: 'name', user: 'erin' },
  { cmd: 'template', sub: 'delete', ok: { name: 'spare' }, field: 'name', user: 'erin' },
  { cmd: 'snapshot', sub: 'create', ok: { vm: 'db', name: 's1' }, field: 'name', user: 'alice' },
  { cmd: 'snapshot', sub: 'create', ok: { vm: 'db', name: 's1' }, field: 'vm', user: 'alice' },
  { cmd: 'snapshot', sub: 'revert', ok: { vm: 'web-01', name: 'clean' }, field: 'name', user: 'alice' },
  { cmd: 'snapshot', sub: 'delete', ok: { vm: 'web-01', name: 'clean' }, field: 'vm', user: 'alice' },
  { cmd: 'vm', sub: 'start', ok: { vm: 'db' }, field: 'vm', user: 'alice' },
  { cmd: 'vm', sub: 'stop', ok: { vm: 'web-01' }, field: 'vm', user: 'alice' },
  { cmd: 'vm', sub: 'delete', ok: { vm: 'db' }, field: 'vm', user: 'alice' },
  { cmd: 'vm', sub: 'delete', ok: { vm: 'db', host: 'local' }, field: 'host', user: 'alice' },
];

describe('names are refused before a job exists', () => {
  for (const c of NAMED) {
    for (const [label, bad] of BAD_NAMES) {
      it(`/${c.cmd}${c.sub ? ` ${c.sub}` : ''} ${c.field}: ${label}`, async () => {
        const reply = await w.run(USERS[c.user], c.cmd, c.sub, { ...c.ok, [c.field]: bad });
        assert.equal(reply.code, 'invalid-input', JSON.stringify(reply));
        assert.equal(reply.visibility, 'ephemeral');
        assert.match(reply.lines.join('\n'), new RegExp(`${c.field}:`));
        assert.equal(w.jobCount(), 0);
        const [row] = w.audit();
        assert.equal(row?.outcome, 'refused');
        assert.equal(row?.code, 'invalid-input');
      });
    }
  }
});

/**
 * Names kvmops hides (libguestfs appliance domains, `guestfs-abc1`): a VM named like that would be
 * left out of every list and command after it was made, so the name is refused up front.
 */
describe('VM names kvmops would hide are refused before a job exists', () => {
  const HIDDEN_VM: Array<{ cmd: string; sub: string | null; options: RawOptions; user: keyof typeof USERS }> = [
    { cmd: 'deploy', sub: null, options: { template: 'base', name: 'guestfs-abc1' }, user: 'alice' },
    { cmd: 'deploy', sub: null, options: { template: 'base', name: 'guestfs', count: 2 }, user: 'alice' },
    { cmd: 'vm', sub: 'start', options: { vm: 'guestfs-abc1' }, user: 'alice' },
    { cmd: 'vm', sub: 'delete', options: { vm: 'guestfs-abc1' }, user: 'alice' },
    { cmd: 'snapshot', sub: 'create', options: { vm: 'guestfs-abc1', name: 's1' }, user: 'alice' },
    { cmd: 'template', sub: 'create', options: { vm: 'guestfs-abc1', name: 'tpl' }, user: 'erin' },
  ];
  for (const c of HIDDEN_VM) {
    it(`/${c.cmd}${c.sub ? ` ${c.sub}` : ''} ${JSON.stringify(c.options)}`, async () => {
      const reply = await w.run(USERS[c.user], c.cmd, c.sub, c.options);
      assert.equal(reply.code, 'invalid-input', JSON.stringify(reply));
      assert.equal(reply.visibility, 'ephemeral');
      assert.match(reply.lines.join('\n'), /(name|vm): .*libguestfs appliance.*kvmops hides such domains from every list and command/);
      assert.equal(w.jobCount(), 0);
      assert.equal(w.audit()[0]?.code, 'invalid-input');
    });
  }

  it('names that are not hidden stay valid: guestfs ×1, guestfs_web ×2, and a template named guestfs-abc1', async () => {
    const one = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'guestfs' });
    assert.equal(one.code, undefined, JSON.stringify(one));
    const batch = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'guestfs_web', count: 2 });
    assert.equal(batch.code, undefined, JSON.stringify(batch));
    const tpl = await w.run(USERS.erin, 'template', 'create', { vm: 'golden', name: 'guestfs-abc1' });
    assert.equal(tpl.code, undefined, JSON.stringify(tpl));
    assert.equal(w.jobCount(), 3);
  });
});

describe('/deploy options', () => {
  it('applies the contract defaults: thin, count 1, start false, first host', async () => {
    const reply = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web-02' });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    const job = w.store.get(reply.jobId!)!;
    assert.deepEqual(job.payload, { host: 'local', template: 'base', name: 'web-02', mode: 'thin', count: 1, start: false, templateCreatedAt: '2025-01-01T00:00:00Z' });
    assert.equal(job.state, 'queued');
  });

  for (const count of [0, 21, -1, 1.5]) {
    it(`refuses count ${count}`, async () => {
      const reply = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web', count });
      assert.equal(reply.code, 'invalid-input');
      assert.match(reply.lines.join('\n'), /count:/);
      assert.equal(w.jobCount(), 0);
    });
  }

  it('accepts count 20 and names the VMs name-01 … name-20', async () => {
    const reply = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'batch', count: 20, mode: 'clone', start: true });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    assert.deepEqual(w.store.get(reply.jobId!)!.payload, { host: 'local', template: 'base', name: 'batch', mode: 'clone', count: 20, start: true, templateCreatedAt: '2025-01-01T00:00:00Z' });
  });

  it('refuses a mode that is not thin|clone', async () => {
    const reply = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'x', mode: 'linked' });
    assert.equal(reply.code, 'invalid-input');
    assert.match(reply.lines.join('\n'), /mode:/);
  });

  it('lists every issue at once', async () => {
    const reply = await w.run(USERS.alice, 'deploy', null, { template: '../x', name: 'a;b', count: 99 });
    const text = reply.lines.join('\n');
    for (const f of ['template:', 'name:', 'count:']) assert.match(text, new RegExp(f));
    assert.equal(w.jobCount(), 0);
  });

  it('refuses a missing required option and an unknown one', async () => {
    const missing = await w.run(USERS.alice, 'deploy', null, { template: 'base' });
    assert.equal(missing.code, 'invalid-input');
    assert.match(missing.lines.join('\n'), /name: Required/);
    const unknown = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'x', colour: 'red' });
    assert.equal(unknown.code, 'invalid-input');
    assert.equal(w.jobCount(), 0);
  });

  it('refuses a 61-character name with count > 1 (the -NN suffix must fit 63)', async () => {
    const reply = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'a'.repeat(61), count: 2 });
    assert.equal(reply.code, 'invalid-input');
    assert.match(reply.lines.join('\n'), /name:/);
    assert.equal(w.jobCount(), 0);
  });

  it('takes text values from the shell ("3", "true")', async () => {
    const reply = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'txt', count: '3', start: 'true' });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    assert.equal(w.store.get(reply.jobId!)!.payload.count, 3);
    assert.equal(w.store.get(reply.jobId!)!.payload.start, true);
  });
});

describe('other defaults from the contract', () => {
  it('/template create: seal true', async () => {
    const r = await w.run(USERS.erin, 'template', 'create', { vm: 'golden', name: 'gold' });
    assert.deepEqual(w.store.get(r.jobId!)!.payload, { host: 'local', vm: 'golden', name: 'gold', seal: true, vmUuid: fixtureUuid('golden') });
  });
  it('/snapshot create: kind internal, description optional, max 500', async () => {
    const r = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's1' });
    assert.deepEqual(w.store.get(r.jobId!)!.payload, { host: 'local', vm: 'db', name: 's1', kind: 'internal', vmUuid: fixtureUuid('db') });
    const long = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's2', description: 'x'.repeat(501) });
    assert.equal(long.code, 'invalid-input');
    const bad = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's3', kind: 'both' });
    assert.equal(bad.code, 'invalid-input');
    assert.equal(w.jobCount(), 1);
  });
  it('/snapshot create: a description with control characters is refused, naming the character, before a job exists', async () => {
    const cases: Array<[string, RegExp]> = [
      ['clear \x1b[2J the screen', /U\+001B \(ESC\) at character 7/],
      ['two\nlines', /U\+000A \(newline\) at character 4/],
      ['bidi \u202etxt.exe', /U\+202E at character 6/],
      ['nul\u0000', /U\+0000 \(NUL\) at character 4/],
    ];
    for (const [description, why] of cases) {
      const r = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's1', description });
      assert.equal(r.code, 'invalid-input', JSON.stringify(r));
      assert.match(r.lines.join('\n'), /description: must not contain control characters/);
      assert.match(r.lines.join('\n'), why);
    }
    assert.equal(w.jobCount(), 0);
    const ok = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's1', description: 'before the upgrade 🚀 [x](https://example.com) @everyone' });
    assert.equal(ok.code, undefined, JSON.stringify(ok));
    assert.equal(w.store.get(ok.jobId!)!.payload.description, 'before the upgrade 🚀 [x](https://example.com) @everyone');
  });
  it('/vm stop: force false', async () => {
    const r = await w.run(USERS.alice, 'vm', 'stop', { vm: 'web-01' });
    assert.deepEqual(w.store.get(r.jobId!)!.payload, { host: 'local', vm: 'web-01', force: false, vmUuid: fixtureUuid('web-01') });
  });
  it('/job status and cancel: id is a positive integer', async () => {
    for (const id of [0, -3, 1.5, 'abc']) {
      assert.equal((await w.run(USERS.carol, 'job', 'status', { id })).code, 'invalid-input');
      assert.equal((await w.run(USERS.alice, 'job', 'cancel', { id })).code, 'invalid-input');
    }
  });
  it('/job list: state must be a job state', async () => {
    assert.equal((await w.run(USERS.carol, 'job', 'list', { state: 'done' })).code, 'invalid-input');
    assert.equal((await w.run(USERS.carol, 'job', 'list', { state: 'queued' })).code, undefined);
  });
});

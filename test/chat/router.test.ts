import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { z } from 'zod';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLACE, USERS, makeWorld, type World } from '../commands/fixture.js';
import { createCore } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { loadCommands } from '../../commands/index.js';
import { CommandRouter } from '../../src/chat/router.js';
import { defineCommand, subcommand } from '../../src/chat/command.js';
import { options } from '../../src/chat/options.js';
import { RolePolicy } from '../../src/chat/roles.js';

/** The router's central duties: place, roles, rate limit, errors, audit, defer, autocomplete. */

let w: World;
afterEach(() => w?.close());

describe('place', () => {
  it('refuses another guild and DMs when a guild is configured, with no job', async () => {
    w = makeWorld();
    for (const guildId of ['999', null]) {
      const r = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' }, { ...PLACE, guildId });
      assert.equal(r.code, 'wrong-guild');
      assert.equal(r.visibility, 'ephemeral');
      assert.equal(w.audit()[0]?.code, 'wrong-guild');
    }
    assert.equal(w.jobCount(), 0);
  });
  it('with no guild configured (the shell), any place is served', async () => {
    w = makeWorld({ guildId: null });
    const r = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' }, { adapter: 'shell', guildId: null, channelId: 'tty' });
    assert.equal(r.code, undefined);
  });
});

describe('roles', () => {
  it('each subcommand needs its contract role; the refusal names it; no job', async () => {
    w = makeWorld();
    const cases: Array<[keyof typeof USERS, string, string | null, Record<string, unknown>, string]> = [
      ['carol', 'deploy', null, { template: 'base', name: 'x' }, 'operator'],
      ['carol', 'vm', 'start', { vm: 'db' }, 'operator'],
      ['carol', 'snapshot', 'revert', { vm: 'web-01', name: 'clean' }, 'operator'],
      ['alice', 'template', 'create', { vm: 'golden', name: 't' }, 'admin'],
      ['alice', 'template', 'delete', { name: 'spare' }, 'admin'],
      ['dave', 'vm', 'list', {}, 'viewer'],
      ['dave', 'job', 'list', {}, 'viewer'],
      ['dave', 'job', 'cancel', { id: 1 }, 'viewer'],
      // approver is separate: it grants no level
      ['victor', 'vm', 'list', {}, 'viewer'],
      ['victor', 'vm', 'delete', { vm: 'db' }, 'operator'],
    ];
    for (const [who, cmd, sub, opts, role] of cases) {
      const r = await w.run(USERS[who], cmd, sub, opts as never);
      assert.equal(r.code, 'forbidden', `${who} /${cmd} ${sub}`);
      assert.match(r.lines.join('\n'), new RegExp(`needs the ${role} role`));
      assert.equal(w.audit()[0]?.outcome, 'refused');
    }
    assert.equal(w.jobCount(), 0);
  });

  it('hierarchy: admin may do what operator and viewer may', async () => {
    w = makeWorld();
    assert.equal((await w.run(USERS.erin, 'vm', 'start', { vm: 'db' })).code, undefined);
    assert.equal((await w.run(USERS.erin, 'vm', 'list', {})).code, undefined);
    assert.equal((await w.run(USERS.alice, 'vm', 'list', {})).code, undefined);
    // even a user whose roles were not expanded (defensive hasRole)
    const bare = { id: 'z', name: 'z', roles: new Set(['admin'] as const) };
    assert.equal((await w.run(bare, 'job', 'list', {})).code, undefined);
  });

  it('fail closed end to end: with no role ids configured, nobody may do anything', async () => {
    w = makeWorld();
    const policy = new RolePolicy({ viewer: [], operator: [], admin: [], approver: [] });
    const roles = policy.rolesFor(['1', '2', '3', '']);
    const nobody = { id: 'x', name: 'x', roles };
    assert.equal((await w.run(nobody, 'vm', 'list', {})).code, 'forbidden');
    assert.equal((await w.run(nobody, 'deploy', null, { template: 'base', name: 'y' })).code, 'forbidden');
  });
});

describe('rate limit', () => {
  it('N mutating commands per period per user (here 5/30s); reads do not use it up; refills over time', async () => {
    w = makeWorld({ rateLimit: { capacity: 5, windowMs: 30_000 } });
    for (let i = 0; i < 5; i++) {
      const r = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: `s${i}` });
      assert.equal(r.code, undefined, JSON.stringify(r));
    }
    const sixth = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's5' });
    assert.equal(sixth.code, 'rate-limited');
    assert.match(sixth.lines.join('\n'), /try again in 6s/);
    assert.equal(w.audit()[0]?.code, 'rate-limited');
    assert.equal(w.jobCount(), 5);
    // another user is not affected; reads have a limit of their own
    assert.equal((await w.run(USERS.bob, 'snapshot', 'create', { vm: 'db', name: 'b1' })).code, undefined);
    for (let i = 0; i < 10; i++) assert.equal((await w.run(USERS.alice, 'vm', 'list', {})).code, undefined);
    w.clock.advance(6_000);
    assert.equal((await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's6' })).code, undefined);
    assert.equal((await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's7' })).code, 'rate-limited');
  });

  it('the default (30/1m) takes an operator\'s sixth command and a thirtieth; the thirty-first waits, and is told how long', async () => {
    w = makeWorld();
    for (let i = 0; i < 30; i++) {
      const r = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: `s${i}` });
      assert.equal(r.code, undefined, `command ${i + 1}: ${JSON.stringify(r)}`);
    }
    const refused = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 's30' });
    assert.equal(refused.code, 'rate-limited');
    assert.match(refused.lines.join('\n'), /at most 30 per 1m\); try again in 2s\./);
    assert.equal(w.jobCount(), 30);
  });

  it('reads are not held back by the limit on changes, even the tightest', async () => {
    w = makeWorld({ rateLimit: { capacity: 1, windowMs: 3_600_000 }, readRateLimit: 'off' });
    assert.equal((await w.run(USERS.alice, 'vm', 'start', { vm: 'db' })).code, undefined);
    assert.equal((await w.run(USERS.alice, 'vm', 'stop', { vm: 'web-01' })).code, 'rate-limited');
    for (let i = 0; i < 50; i++) {
      for (const [cmd, sub, opts] of [['vm', 'list', {}], ['job', 'list', {}], ['snapshot', 'list', { vm: 'web-01' }], ['job', 'status', { id: 1 }]] as const) {
        assert.equal((await w.run(USERS.alice, cmd, sub, opts)).code, undefined, `/${cmd} ${sub}`);
      }
    }
  });

  it('a read flood is refused by its own limit (default 60/1m), with the wait; changes and other users go on', async () => {
    w = makeWorld();
    const reads = [['vm', 'list', {}], ['template', 'list', {}], ['snapshot', 'list', { vm: 'web-01' }], ['job', 'list', {}], ['vm', 'info', { vm: 'db' }]] as const;
    for (let i = 0; i < 60; i++) {
      const [cmd, sub, opts] = reads[i % reads.length]!;
      assert.equal((await w.run(USERS.carol, cmd, sub, opts)).code, undefined, `read ${i + 1}: /${cmd} ${sub}`);
    }
    const refused = await w.run(USERS.carol, 'template', 'list', {});
    assert.equal(refused.code, 'rate-limited');
    assert.equal(refused.visibility, 'ephemeral');
    assert.match(refused.lines.join('\n'), /Too many reads \(at most 60 per 1m\); try again in 1s\./);
    assert.equal(w.audit()[0]?.code, 'rate-limited');
    assert.equal(w.hv.reads.filter((r) => r === 'local:listTemplates').length, 12, 'the refused read never reached the host');
    // another viewer reads; a change by someone who has read a lot still goes (its own bucket)
    assert.equal((await w.run(USERS.erin, 'vm', 'list', {})).code, undefined);
    for (let i = 0; i < 60; i++) await w.run(USERS.alice, 'job', 'list', {});
    assert.equal((await w.run(USERS.alice, 'job', 'list', {})).code, 'rate-limited');
    assert.equal((await w.run(USERS.alice, 'vm', 'start', { vm: 'db' })).code, undefined);
    w.clock.advance(1_000);
    assert.equal((await w.run(USERS.carol, 'template', 'list', {})).code, undefined, 'one more a second');
    assert.equal((await w.run(USERS.carol, 'template', 'list', {})).code, 'rate-limited');
  });

  it("'off' limits nothing", async () => {
    w = makeWorld({ rateLimit: 'off' });
    for (let i = 0; i < 60; i++) assert.equal((await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: `s${i}` })).code, undefined);
  });

  const FROM_ENV = [
    { variable: 'KVMOPS_RATE_LIMIT', command: 'cancel', user: USERS.alice, refusal: /Too many commands that change things \(at most 2 per 1h\); try again in 1800s\./ },
    { variable: 'KVMOPS_READ_RATE_LIMIT', command: 'status', user: USERS.carol, refusal: /Too many reads \(at most 2 per 1h\); try again in 1800s\./ },
  ] as const;
  for (const c of FROM_ENV) {
    it(`${c.variable} from the environment reaches the router the app builds`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kvmops-ratelimit-'));
      const core = createCore(loadEnv({ KVMOPS_DB: join(dir, 'kvmops.db'), [c.variable]: '2/1h', KVMOPS_LOG_LEVEL: 'silent' }), { guildId: null });
      try {
        const job = () => core.router.handle({ command: 'job', subcommand: c.command, options: { id: 999 }, user: c.user, place: PLACE });
        assert.equal((await job()).code, 'job-not-found');
        assert.equal((await job()).code, 'job-not-found');
        const third = await job();
        assert.equal(third.code, 'rate-limited');
        assert.match(third.lines.join('\n'), c.refusal);
      } finally {
        core.store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** A flat command for viewers, with no options, whose handler is `handle`. */
function failing(name: string, handle: () => Promise<never>) {
  return defineCommand({
    name,
    description: 'Always fails',
    flat: true,
    subcommands: [subcommand({ name, description: 'Always fails', role: 'viewer', mutates: false, defer: false, options: options({}), handle })],
  });
}

describe('errors become replies', () => {
  it('an unknown command or subcommand is refused and audited', async () => {
    w = makeWorld();
    assert.equal((await w.run(USERS.erin, 'reboot', null)).code, 'invalid-input');
    assert.equal((await w.run(USERS.erin, 'vm', 'explode')).code, 'invalid-input');
    assert.equal((await w.run(USERS.erin, 'vm', null)).code, 'invalid-input');
    assert.equal(w.audit()[0]?.command, 'vm');
    assert.equal(w.audit()[1]?.command, 'vm explode');
  });

  it('an unexpected error is `internal` with a generic text, logged with its cause', async () => {
    w = makeWorld();
    const boom = failing('boom', async () => {
      throw new TypeError('secret internals: cannot read x of undefined');
    });
    const router = new CommandRouter({ commands: [boom], services: w.services });
    const r = await router.handle({ command: 'boom', options: {}, user: USERS.carol, place: PLACE });
    assert.equal(r.code, 'internal');
    assert.equal(r.visibility, 'ephemeral');
    assert.doesNotMatch(JSON.stringify(r), /secret internals/);
    const log = w.logs.find((l) => l.level === 'error')!;
    assert.ok(log);
    assert.match(String((log.obj as { err: Error }).err.message), /secret internals/);
    assert.equal(w.audit()[0]?.outcome, 'error');
  });

  it('a zod error from inside a handler is a fault, not the user\'s input: options are parsed once, at the edge', async () => {
    w = makeWorld();
    const bug = failing('bug', async () => {
      z.object({ size: z.number() }).parse({ size: 'big' });
      throw new Error('unreachable');
    });
    const router = new CommandRouter({ commands: [bug], services: w.services });
    const r = await router.handle({ command: 'bug', options: {}, user: USERS.carol, place: PLACE });
    assert.equal(r.code, 'internal', JSON.stringify(r));
    assert.doesNotMatch(JSON.stringify(r), /size/);
    assert.equal(w.audit()[0]?.outcome, 'error');
  });

  it('an audit failure does not lose the reply', async () => {
    w = makeWorld();
    const services = { ...w.services, audit: { ...w.services.audit, record: () => { throw new Error('disk full'); } } };
    const router = new CommandRouter({ commands: loadCommands(), services });
    const r = await router.handle({ command: 'vm', subcommand: 'list', options: {}, user: USERS.carol, place: PLACE });
    assert.equal(r.code, undefined);
    assert.ok(w.logs.some((l) => l.msg === 'audit write failed'));
  });
});

describe('needsDefer', () => {
  it('host reads and existence checks defer; store-only commands do not', () => {
    w = makeWorld();
    assert.equal(w.router.needsDefer({ command: 'deploy' }), true);
    assert.equal(w.router.needsDefer({ command: 'vm', subcommand: 'info' }), true); // a miss waits for a pass over the host
    assert.equal(w.router.needsDefer({ command: 'vm', subcommand: 'list' }), false); // the inventory's pages
    assert.equal(w.router.needsDefer({ command: 'snapshot', subcommand: 'revert' }), true);
    assert.equal(w.router.needsDefer({ command: 'job', subcommand: 'status' }), false);
    assert.equal(w.router.needsDefer({ command: 'job', subcommand: 'list' }), false);
    assert.equal(w.router.needsDefer({ command: 'nope' }), false);
  });
});

describe('autocomplete', () => {
  const ask = (focused: string, value: string, options: Record<string, string> = {}, command = 'vm', subcommand: string | null = 'start', who = USERS.alice) =>
    w.router.complete({ command, subcommand, options, user: who, place: PLACE, focused, value });

  it('VM names, filtered by a case-insensitive prefix, sorted', async () => {
    w = makeWorld();
    assert.deepEqual(await ask('vm', ''), ['db', 'golden', 'web-01'].map((n) => ({ name: n, value: n })));
    assert.deepEqual((await ask('vm', 'WE')).map((c) => c.value), ['web-01']);
    assert.deepEqual(await ask('vm', 'zzz'), []);
  });

  it('caps at 25', async () => {
    w = makeWorld();
    for (let i = 0; i < 40; i++) w.hv.inv().vms.set(`node-${String(i).padStart(2, '0')}`, 'running');
    const all = await ask('vm', 'node');
    assert.equal(all.length, 25);
    assert.equal(all[0]?.value, 'node-00');
  });

  it('offers only names a command accepts: none over 100 characters (Discord would refuse the whole answer), none with spaces', async () => {
    w = makeWorld();
    const long = `web-${'x'.repeat(120)}`; // made outside kvmops: libvirt allows it
    w.hv.inv().vms.set(long, 'shut off');
    w.hv.inv().vms.set('web old', 'shut off');
    assert.deepEqual((await ask('vm', 'web')).map((c) => c.value), ['web-01']);
  });

  it('templates, hosts, and the chosen VM on the chosen host', async () => {
    w = makeWorld();
    assert.deepEqual((await ask('template', '', {}, 'deploy', null)).map((c) => c.value), ['base', 'spare']);
    // /deploy may also be placed over the hosts (host:auto); elsewhere only the hosts
    assert.deepEqual((await ask('host', '', {}, 'deploy', null)).map((c) => c.value), ['auto', 'local', 'remote']);
    assert.deepEqual((await ask('host', '', {}, 'vm', 'start')).map((c) => c.value), ['local', 'remote']);
    assert.deepEqual((await ask('vm', '', { host: 'remote' })).map((c) => c.value), ['far']);
  });

  it('snapshots of the VM chosen in the same command; none before a VM is chosen', async () => {
    w = makeWorld();
    assert.deepEqual((await ask('name', '', { vm: 'web-01' }, 'snapshot', 'revert')).map((c) => c.value), ['before-upgrade', 'clean']);
    assert.deepEqual(await ask('name', '', {}, 'snapshot', 'revert'), []);
    assert.deepEqual(await ask('name', '', { vm: 'ghost' }, 'snapshot', 'revert'), []);
    assert.deepEqual(await ask('name', '', { vm: '../x' }, 'snapshot', 'revert'), []);
  });

  it('serves from the cache: one host read for many keystrokes, until invalidated', async () => {
    w = makeWorld();
    for (const v of ['', 'w', 'we', 'web']) await ask('vm', v);
    assert.equal(w.hv.reads.filter((r) => r === 'local:listVms').length, 1);
    w.hv.inv().vms.set('web-02', 'running');
    assert.deepEqual((await ask('vm', 'web')).map((c) => c.value), ['web-01']);
    w.catalog.invalidate('local');
    assert.deepEqual((await ask('vm', 'web')).map((c) => c.value), ['web-01', 'web-02']);
  });

  it('gives nothing to someone without the role, in the wrong guild, or for an option without a source', async () => {
    w = makeWorld();
    assert.deepEqual(await ask('vm', '', {}, 'vm', 'start', USERS.carol), []);
    assert.deepEqual(await w.router.complete({ command: 'vm', subcommand: 'start', options: {}, user: USERS.alice, place: { ...PLACE, guildId: '1' }, focused: 'vm', value: '' }), []);
    assert.deepEqual(await ask('name', '', {}, 'deploy', null), []);
    assert.deepEqual(await ask('vm', '', {}, 'nope', null), []);
  });

  it('a host that fails or hangs gives no choices rather than an error', async () => {
    w = makeWorld();
    w.hv.mode = 'unreachable';
    assert.deepEqual(await ask('vm', ''), []);
    w.hv.mode = 'hang';
    const router = new CommandRouter({ commands: loadCommands(), services: w.services, completeTimeoutMs: 50 });
    const t0 = Date.now();
    assert.deepEqual(await router.complete({ command: 'vm', subcommand: 'start', options: {}, user: USERS.alice, place: PLACE, focused: 'vm', value: '' }), []);
    assert.ok(Date.now() - t0 < 1000);
  });
});

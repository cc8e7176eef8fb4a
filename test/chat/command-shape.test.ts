import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { COMMAND_MODULES, loadCommands } from '../../commands/index.js';
import { nameOption, vmOption } from '../../src/chat/command-kit.js';
import { CommandShapeError } from '../../src/chat/command-shape.js';
import { defineCommand, subcommand, type CommandModule } from '../../src/chat/command.js';
import { choice, integer, options, text, type OptionSet } from '../../src/chat/options.js';

const ok = async () => ({ visibility: 'ephemeral' as const, title: '', lines: [], tone: 'info' as const });

/** A valid module to break one rule at a time. */
function good(opts: OptionSet = options({ vm: text('VM', z.string()) }), subs: string[] = ['do']): CommandModule {
  return defineCommand({
    name: 'thing',
    description: 'A thing',
    subcommands: subs.map((name) => subcommand({ name, description: 'Do it', role: 'viewer', mutates: false, defer: false, options: opts, handle: ok })),
  });
}

function rejects(m: CommandModule, pattern: RegExp) {
  assert.throws(
    () => loadCommands([m]),
    (e: unknown) => {
      assert.ok(e instanceof CommandShapeError, String(e));
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('the command loader', () => {
  it('accepts the real commands: /deploy, /template, /snapshot, /vm, /job, /key, /schedule, /host, /audit', () => {
    const loaded = loadCommands();
    assert.deepEqual(loaded.map((m) => m.def.name), ['deploy', 'template', 'snapshot', 'vm', 'job', 'key', 'schedule', 'host', 'audit']);
    assert.equal(COMMAND_MODULES.length, 9);
  });

  it('the real definitions match the contract', () => {
    const byName = new Map(loadCommands().map((m) => [m.def.name, m.def]));
    const subs = (c: string) => byName.get(c)!.subcommands.map((s) => s.name);
    assert.deepEqual(subs('template'), ['create', 'list', 'delete']);
    assert.deepEqual(subs('snapshot'), ['create', 'list', 'revert', 'delete']);
    assert.deepEqual(subs('vm'), ['list', 'info', 'start', 'stop', 'delete']);
    assert.deepEqual(subs('job'), ['status', 'list', 'cancel']);
    assert.deepEqual(subs('key'), ['add', 'list', 'remove']);
    for (const s of byName.get('key')!.subcommands) assert.equal(s.role, 'viewer', `key ${s.name}`);
    const deploy = byName.get('deploy')!;
    assert.equal(deploy.flat, true);
    const opts = deploy.subcommands[0]!.options;
    assert.deepEqual(opts.map((o) => o.name), ['template', 'name', 'mode', 'count', 'start', 'profile', 'host']);
    assert.deepEqual(opts.find((o) => o.name === 'count'), { name: 'count', description: 'How many VMs (1–20, default 1)', type: 'integer', minValue: 1, maxValue: 20 });
    assert.deepEqual(opts.find((o) => o.name === 'mode')!.choices!.map((c) => c.value), ['thin', 'clone']);
    assert.equal(opts.find((o) => o.name === 'template')!.autocomplete, 'template');
    // every name option is capped at 63; host is optional everywhere
    for (const def of byName.values()) {
      for (const s of def.subcommands) {
        for (const o of s.options) if (['vm', 'name', 'template', 'host'].includes(o.name)) assert.equal(o.maxLength, 63, `${def.name} ${s.name} ${o.name}`);
        const host = s.options.find((o) => o.name === 'host');
        if (host) assert.ok(!host.required);
      }
    }
    const role = (c: string, s: string) => byName.get(c)!.subcommands.find((x) => x.name === s)!.role;
    assert.equal(role('deploy', 'deploy'), 'operator');
    assert.equal(role('template', 'create'), 'admin');
    assert.equal(role('template', 'delete'), 'admin');
    assert.equal(role('template', 'list'), 'viewer');
    assert.equal(role('snapshot', 'revert'), 'operator');
    assert.equal(role('vm', 'delete'), 'operator');
    assert.equal(role('job', 'status'), 'viewer');
    assert.equal(role('audit', 'audit'), 'admin');
    const revert = byName.get('snapshot')!.subcommands.find((s) => s.name === 'revert')!;
    assert.equal(revert.options.find((o) => o.name === 'name')!.autocomplete, 'snapshot');
    const kind = byName.get('snapshot')!.subcommands[0]!.options.find((o) => o.name === 'kind')!;
    assert.deepEqual(kind.choices!.map((c) => c.value), ['internal', 'external']);
    const state = byName.get('job')!.subcommands.find((s) => s.name === 'list')!.options.find((o) => o.name === 'state')!;
    assert.deepEqual(state.choices!.map((c) => c.value), ['awaiting_approval', 'queued', 'running', 'succeeded', 'failed', 'cancelled']);
  });

  it('accepts a well-formed module', () => {
    assert.equal(loadCommands([good()]).length, 1);
  });

  it('rejects an uppercase or spaced name', () => {
    const m = good();
    m.def.name = 'Thing';
    rejects(m, /\/Thing: name: must match/);
    rejects(good(options({ 'my vm': text('VM', z.string()) })), /options\.0\.name/);
  });

  it('rejects an empty or over-long description', () => {
    const m = good();
    m.def.description = '';
    rejects(m, /description is empty/);
    const n = good();
    n.def.subcommands[0]!.description = 'x'.repeat(101);
    rejects(n, /over 100 characters/);
    rejects(good(options({ vm: text('x'.repeat(101), z.string()) })), /options\.0\.description: description is over 100/);
  });

  it('rejects more than 25 options or choices, and a choice over 100 characters', () => {
    const many = Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`o${i}`, text('o', z.string()).optional()]));
    rejects(good(options(many)), /at most 25 options/);
    const values = Array.from({ length: 26 }, (_, i) => `c${i}`) as [string, ...string[]];
    rejects(good(options({ vm: choice('VM', z.enum(values)) })), /at most 25 choices/);
    rejects(good(options({ vm: choice('VM', z.enum(['x'.repeat(101)])) })), /choices\.0\.name/);
  });

  it('rejects a required option after an optional one', () => {
    rejects(good(options({ a: text('a', z.string()).optional(), b: text('b', z.string()) })), /required options must come before optional ones/);
  });

  it('rejects bounds that exclude every value', () => {
    rejects(good(options({ n: integer('n', z.number().int().min(5).max(1)) })), /minValue > maxValue/);
    rejects(good(options({ s: text('s', z.string(), { minLength: 5, maxLength: 1 }) })), /minLength > maxLength/);
  });

  it('rejects snapshot autocomplete without a vm option', () => {
    rejects(good(options({ name: nameOption('n', 'snapshot') })), /needs a "vm" option/);
    assert.equal(loadCommands([good(options({ vm: vmOption(), name: nameOption('n', 'snapshot') }))]).length, 1);
  });

  it('rejects a flat command with a differently named subcommand, repeated subcommand and command names', () => {
    const f = good();
    f.def.flat = true;
    rejects(f, /flat command has exactly one subcommand/);
    rejects(good(undefined, ['do', 'do']), /subcommand names repeat/);
    assert.throws(() => loadCommands([good(), good()]), /\/thing: command name repeats/);
  });

  it('rejects a command over Discord\'s 4000 characters, listing every problem of every module', () => {
    const long = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`o${i}`, text('d'.repeat(100), z.string()).optional()]));
    const subs = Array.from({ length: 2 }, (_, i) => `s${i}`);
    rejects(good(options(long), subs), /exceed 4000 characters/);
    const a = good();
    a.def.description = '';
    assert.throws(() => loadCommands([a, a]), (e: unknown) => e instanceof CommandShapeError && e.problems.length === 3);
  });
});

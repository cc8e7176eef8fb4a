import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { COMMAND_MODULES, loadCommands } from '../../../commands/index.js';
import { CommandShapeError } from '../../../src/chat/command-shape.js';
import { defineCommand, subcommand, type CommandModule } from '../../../src/chat/command.js';
import type { OptionDef } from '../../../src/chat/types.js';

/** A valid module to break one rule at a time. */
function good(options: OptionDef[] = [{ name: 'vm', description: 'VM', type: 'string', required: true }], schema: z.AnyZodObject = z.object({ vm: z.string() })): CommandModule {
  return defineCommand({
    name: 'thing',
    description: 'A thing',
    subcommands: [
      subcommand({ name: 'do', description: 'Do it', role: 'viewer', mutates: false, defer: false, options, schema, handle: async () => ({ visibility: 'ephemeral', title: '', lines: [], tone: 'info' }) }),
    ],
  });
}

function rejects(m: unknown, pattern: RegExp) {
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
  it('accepts the real commands: /deploy, /template, /snapshot, /vm, /job', () => {
    const loaded = loadCommands();
    assert.deepEqual(loaded.map((m) => m.def.name), ['deploy', 'template', 'snapshot', 'vm', 'job']);
    assert.equal(COMMAND_MODULES.length, 5);
  });

  it('the real definitions match the contract', () => {
    const byName = new Map(loadCommands().map((m) => [m.def.name, m.def]));
    const subs = (c: string) => byName.get(c)!.subcommands.map((s) => s.name);
    assert.deepEqual(subs('template'), ['create', 'list', 'delete']);
    assert.deepEqual(subs('snapshot'), ['create', 'list', 'revert', 'delete']);
    assert.deepEqual(subs('vm'), ['list', 'info', 'start', 'stop', 'delete']);
    assert.deepEqual(subs('job'), ['status', 'list', 'cancel']);
    const deploy = byName.get('deploy')!;
    assert.equal(deploy.flat, true);
    const opts = deploy.subcommands[0]!.options;
    assert.deepEqual(opts.map((o) => o.name), ['template', 'name', 'mode', 'count', 'start', 'host']);
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
    rejects(m, /\/Thing: def\.name: must match/);
    const o = good([{ name: 'my vm', description: 'VM', type: 'string', required: true }], z.object({ 'my vm': z.string() }));
    rejects(o, /options\.0\.name/);
  });

  it('rejects an empty or over-long description', () => {
    const m = good();
    m.def.description = '';
    rejects(m, /description is empty/);
    const n = good();
    n.def.subcommands[0]!.description = 'x'.repeat(101);
    rejects(n, /over 100 characters/);
  });

  it('rejects more than 25 options or choices', () => {
    const many = Array.from({ length: 26 }, (_, i): OptionDef => ({ name: `o${i}`, description: 'o', type: 'string' }));
    rejects(good(many, z.object(Object.fromEntries(many.map((o) => [o.name, z.string().optional()])))), /at most 25 options/);
    const choices = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, value: `c${i}` }));
    rejects(good([{ name: 'vm', description: 'VM', type: 'string', choices }]), /at most 25 choices/);
  });

  it('rejects a required option after an optional one', () => {
    rejects(
      good(
        [
          { name: 'a', description: 'a', type: 'string' },
          { name: 'b', description: 'b', type: 'string', required: true },
        ],
        z.object({ a: z.string().optional(), b: z.string() }),
      ),
      /required options must come before optional ones/,
    );
  });

  it('rejects autocomplete on a non-string option, and with choices', () => {
    rejects(good([{ name: 'vm', description: 'VM', type: 'integer', autocomplete: 'vm' }]), /autocomplete is only for string options/);
    rejects(good([{ name: 'vm', description: 'VM', type: 'string', autocomplete: 'vm', choices: [{ name: 'a', value: 'a' }] }]), /either choices or autocomplete/);
  });

  it('rejects choices of the wrong type and min/max on the wrong type', () => {
    rejects(good([{ name: 'vm', description: 'VM', type: 'integer', choices: [{ name: 'a', value: 'a' }] }]), /integer value/);
    rejects(good([{ name: 'vm', description: 'VM', type: 'string', minValue: 1 }]), /minValue\/maxValue are for integer/);
    rejects(good([{ name: 'vm', description: 'VM', type: 'integer', minValue: 5, maxValue: 1 }]), /minValue > maxValue/);
    rejects(good([{ name: 'vm', description: 'VM', type: 'boolean', maxLength: 3 }]), /minLength\/maxLength are for string/);
  });

  it('rejects snapshot autocomplete without a vm option', () => {
    rejects(good([{ name: 'name', description: 'n', type: 'string', autocomplete: 'snapshot' }], z.object({ name: z.string() })), /needs a "vm" option/);
  });

  it('rejects a schema whose keys differ from the options, a missing handler, a non-zod schema', () => {
    rejects(good(undefined, z.object({ vm: z.string(), extra: z.string() })), /schema keys \[extra,vm\] differ from option names \[vm\]/);
    const m = good();
    delete m.handlers.do;
    rejects(m, /subcommand "do" has no handler/);
    const n = good();
    (n.handlers.do as { schema: unknown }).schema = { parse: () => ({}) };
    rejects(n, /schema must be a zod object/);
  });

  it('rejects a bad role, a flat command with a differently named subcommand, repeated names', () => {
    const m = good();
    (m.def.subcommands[0] as { role: string }).role = 'approver';
    rejects(m, /role/);
    const f = good();
    f.def.flat = true;
    rejects(f, /flat command has exactly one subcommand/);
    assert.throws(() => loadCommands([good(), good()]), /\/thing: command name repeats/);
  });

  it('rejects something that is not a module at all, listing every problem', () => {
    assert.throws(() => loadCommands([{ data: {}, execute() {} }]), (e: unknown) => e instanceof CommandShapeError && e.problems.length >= 2);
    assert.throws(() => loadCommands([null]), /module #0/);
  });
});

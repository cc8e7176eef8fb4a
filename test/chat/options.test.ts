import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { enqueues, hostOption, pinVm, vmOption } from '../../src/chat/command-kit.js';
import { subcommand } from '../../src/chat/command.js';
import { boolean, choice, integer, options, text, user } from '../../src/chat/options.js';
import { KvmopsError } from '../../src/domain/errors.js';

/**
 * An option declared once gives both its chat definition and its schema; the chat edge parses
 * with that schema once. The last block is checked by the compiler (`tsc --noEmit` covers
 * test/): what the types now prove instead of a run-time comparison.
 */

const set = options({
  vm: vmOption('VM'),
  count: integer('How many', z.number().int().min(1).max(20)).default(1),
  mode: choice('Mode', z.enum(['thin', 'clone'])).default('thin'),
  note: text('A note', z.string(), { maxLength: 5 }).optional(),
  start: boolean('Start').default(false),
});

function refusal(f: () => unknown): KvmopsError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof KvmopsError, String(e));
    return e;
  }
  assert.fail('not refused');
}

describe('options()', () => {
  it('a user option: Discord’s id, the shell’s @name or a pasted mention all give the id; anything else is refused', () => {
    const who = options({ who: user('Who') });
    assert.deepEqual(who.defs, [{ name: 'who', description: 'Who', type: 'user', required: true }]);
    for (const [given, id] of [
      ['123456789012345678', '123456789012345678'],
      ['<@123456789012345678>', '123456789012345678'],
      ['<@!123456789012345678>', '123456789012345678'],
      ['@alice', 'alice'],
      [' alice ', 'alice'],
    ]) assert.deepEqual(who.parse({ who: given }, 'x'), { who: id }, given);
    for (const bad of ['', '@', 'a b', '<@alice>', '<#123>', 'x'.repeat(65), 7]) {
      assert.equal(refusal(() => who.parse({ who: bad }, 'x')).code, 'invalid-input', String(bad));
    }
  });

  it('gives the definitions: required unless optional or defaulted, bounds and choices read off the schema', () => {
    assert.deepEqual(set.defs, [
      { name: 'vm', description: 'VM', type: 'string', required: true, maxLength: 63, autocomplete: 'vm' },
      { name: 'count', description: 'How many', type: 'integer', minValue: 1, maxValue: 20 },
      {
        name: 'mode',
        description: 'Mode',
        type: 'string',
        choices: [
          { name: 'thin', value: 'thin' },
          { name: 'clone', value: 'clone' },
        ],
      },
      { name: 'note', description: 'A note', type: 'string', maxLength: 5 },
      { name: 'start', description: 'Start', type: 'boolean' },
    ]);
  });

  it('gives the schema of the same options: defaults applied, optional ones left out', () => {
    assert.deepEqual(set.parse({ vm: 'web' }, 'x'), { vm: 'web', count: 1, mode: 'thin', start: false });
    assert.deepEqual(set.parse({ vm: 'web', count: 20, mode: 'clone', note: 'hi', start: true }, 'x'), {
      vm: 'web',
      count: 20,
      mode: 'clone',
      note: 'hi',
      start: true,
    });
  });

  it('refuses, as invalid-input listing every issue under the command, what its schema refuses', () => {
    const e = refusal(() => set.parse({ vm: '../x', count: 21, mode: 'linked', colour: 'red' }, 'thing do'));
    assert.equal(e.code, 'invalid-input');
    const [head, ...issues] = e.message.split('\n');
    assert.equal(head, 'Invalid options for /thing do:');
    assert.deepEqual(
      issues.map((l) => l.split(':')[0]),
      ['vm', 'count', 'mode', 'options'],
    );
    assert.deepEqual(e.details.issues, issues);
    assert.ok(e.cause instanceof z.ZodError);
  });

  it('takes text from the shell by the declared type only: "3" for an integer, "TRUE" for a boolean', () => {
    assert.deepEqual(set.parse({ vm: 'web', count: '3', start: 'TRUE', note: '3' }, 'x'), { vm: 'web', count: 3, mode: 'thin', note: '3', start: true });
    assert.equal(refusal(() => set.parse({ vm: 'web', count: '3x' }, 'x')).code, 'invalid-input');
    assert.equal(refusal(() => set.parse({ vm: 'web', start: 'yes' }, 'x')).code, 'invalid-input');
  });

  it('refuses an integer schema Discord cannot show: not .int(), or an exclusive bound', () => {
    assert.throws(() => integer('n', z.number()), /z\.number\(\)\.int\(\)/);
    assert.throws(() => integer('n', z.number().int().gt(0)), /inclusive bounds/);
    assert.deepEqual(options({ n: integer('n', z.number().int()) }).defs, [{ name: 'n', description: 'n', type: 'integer', required: true }]);
  });
});

describe('what the compiler proves', () => {
  it('an option builder allows only what its type has; a job subcommand\'s options give its payload', () => {
    const spec = { name: 'x', description: 'X', role: 'operator', mutates: true, defer: true } as const;
    // Compiled, never run: the @ts-expect-error lines are the assertions.
    const typeChecks = () => {
      // @ts-expect-error a text option's schema parses strings
      text('n', z.number());
      // @ts-expect-error choices come from an enum
      choice('n', z.string());
      // @ts-expect-error integer options have no completion source
      integer('n', z.number().int(), { autocomplete: 'vm' });
      // @ts-expect-error a boolean has no bounds
      boolean('b', { maxLength: 3 });

      subcommand({
        ...spec,
        options: options({ vm: vmOption(), host: hostOption }),
        // @ts-expect-error the vm.stop payload has `force`, which these options do not give
        handle: enqueues('vm.stop', (services, p) => pinVm(services, p.host, p.vm)),
      });
      subcommand({
        ...spec,
        options: options({ vm: text('VM', z.string()).optional(), host: hostOption }),
        // @ts-expect-error vm.start needs a vm: an optional one does not give it
        handle: enqueues('vm.start', (services, p) => pinVm(services, p.host, p.vm)),
      });
    };
    assert.equal(typeof typeChecks, 'function');
    const fine = subcommand({
      ...spec,
      options: options({ vm: vmOption(), host: hostOption }),
      handle: enqueues('vm.start', (services, p) => pinVm(services, p.host, p.vm)),
    });
    assert.equal(fine.options.defs.length, 2);
  });
});

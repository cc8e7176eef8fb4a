import { z } from 'zod';
import type { CommandModule } from './command.js';
import type { CommandDef } from './types.js';

/**
 * Discord's application-command rules that the types cannot prove, checked once at start-up so
 * a command Discord would reject at registration stops the process with a clear message
 * instead: names (lowercase, 1–32), description and choice lengths, counts, required options
 * before optional ones, the 4000-character total; plus two of ours (a flat command is its one
 * subcommand; snapshot names complete only next to a `vm` option).
 *
 * What the types do prove is not checked: every subcommand has its handler and parses exactly
 * its options (`defineCommand` makes both from one spec, `options()` both the definitions and
 * the schema from one declaration); option names are distinct (keys of one object); an
 * option's type fits its choices, bounds and completion (each builder allows only its own).
 */

const NAME = /^[a-z0-9_-]{1,32}$/;
const name = z.string().regex(NAME, 'must match ^[a-z0-9_-]{1,32}$ (lowercase)');
const description = z.string().min(1, 'description is empty').max(100, 'description is over 100 characters');

const choice = z.object({
  name: z.string().min(1).max(100),
  value: z.union([z.string().min(1).max(100), z.number()]),
});

const option = z
  .object({
    name,
    description,
    required: z.boolean().optional(),
    autocomplete: z.string().optional(),
    choices: z.array(choice).min(1).max(25, 'at most 25 choices').optional(),
    minValue: z.number().optional(),
    maxValue: z.number().optional(),
    minLength: z.number().int().min(0).max(6000).optional(),
    maxLength: z.number().int().min(1).max(6000).optional(),
  })
  .superRefine((o, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message: `option "${o.name}": ${message}` });
    if (o.choices && new Set(o.choices.map((c) => c.name)).size !== o.choices.length) bad('choice names repeat');
    if (o.minValue !== undefined && o.maxValue !== undefined && o.minValue > o.maxValue) bad('minValue > maxValue');
    if (o.minLength !== undefined && o.maxLength !== undefined && o.minLength > o.maxLength) bad('minLength > maxLength');
  });

const subcommandDef = z
  .object({
    name,
    description,
    options: z.array(option).max(25, 'at most 25 options'),
  })
  .superRefine((s, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message: `subcommand "${s.name}": ${message}` });
    const firstOptional = s.options.findIndex((o) => !o.required);
    if (firstOptional >= 0 && s.options.slice(firstOptional).some((o) => o.required)) {
      bad('required options must come before optional ones');
    }
    // Snapshot names only make sense for a chosen VM.
    if (s.options.some((o) => o.autocomplete === 'snapshot') && !s.options.some((o) => o.name === 'vm')) bad('snapshot autocomplete needs a "vm" option');
  });

/** Discord counts these characters of a command towards its 4000 limit. */
function commandChars(def: CommandDef): number {
  let n = def.name.length + def.description.length;
  for (const s of def.subcommands) {
    n += def.flat ? 0 : s.name.length + s.description.length;
    for (const o of s.options) {
      n += o.name.length + o.description.length;
      for (const c of o.choices ?? []) n += c.name.length + String(c.value).length;
    }
  }
  return n;
}

const commandDef = z
  .object({
    name,
    description,
    flat: z.boolean(),
    subcommands: z.array(subcommandDef).min(1).max(25, 'at most 25 subcommands'),
  })
  .superRefine((d, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    const subs = d.subcommands.map((s) => s.name);
    // defineCommand keys handlers by name: a repeated one would silently replace the first.
    if (new Set(subs).size !== subs.length) bad('subcommand names repeat');
    if (d.flat && (subs.length !== 1 || subs[0] !== d.name)) bad('a flat command has exactly one subcommand, named like the command');
    if (commandChars(d as CommandDef) > 4000) bad('name, descriptions, options and choices exceed 4000 characters');
  });

export class CommandShapeError extends Error {
  constructor(readonly problems: string[]) {
    super(`malformed command module(s):\n  ${problems.join('\n  ')}`);
    this.name = 'CommandShapeError';
  }
}

/**
 * Checks every module's definition and that command names are unique; throws CommandShapeError
 * listing every problem, each prefixed with the command it is in.
 */
export function checkCommandModules(modules: readonly CommandModule[]): CommandModule[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const m of modules) {
    const where = `/${m.def.name}`;
    const r = commandDef.safeParse(m.def);
    for (const issue of r.success ? [] : r.error.issues) problems.push(`${where}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
    if (seen.has(m.def.name)) problems.push(`${where}: command name repeats`);
    seen.add(m.def.name);
  }
  if (problems.length) throw new CommandShapeError(problems);
  return [...modules];
}

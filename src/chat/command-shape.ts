import { z } from 'zod';
import type { CommandModule } from './command.js';

/**
 * The shape every command module must have, checked once at start-up so a malformed command
 * stops the process with a clear message instead of being rejected by Discord at registration
 * (or worse, half-working in the shell). The rules are Discord's application-command rules
 * (names, lengths, counts, required-before-optional, choices, autocomplete only on strings),
 * plus our own: every subcommand has a handler, and its zod schema's keys are exactly its
 * option names (an option the schema does not know would be refused at every use).
 */

const NAME = /^[a-z0-9_-]{1,32}$/;
const name = z.string().regex(NAME, 'must match ^[a-z0-9_-]{1,32}$ (lowercase)');
const description = z.string().min(1, 'description is empty').max(100, 'description is over 100 characters');

const choice = z
  .object({
    name: z.string().min(1).max(100),
    value: z.union([z.string().min(1).max(100), z.number()]),
  })
  .strict();

const option = z
  .object({
    name,
    description,
    type: z.enum(['string', 'integer', 'boolean']),
    required: z.boolean().optional(),
    choices: z.array(choice).min(1).max(25, 'at most 25 choices').optional(),
    minValue: z.number().optional(),
    maxValue: z.number().optional(),
    minLength: z.number().int().min(0).max(6000).optional(),
    maxLength: z.number().int().min(1).max(6000).optional(),
    autocomplete: z.enum(['template', 'vm', 'snapshot', 'host']).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message: `option "${o.name}": ${message}` });
    if (o.autocomplete && o.type !== 'string') bad('autocomplete is only for string options');
    if (o.autocomplete && o.choices) bad('an option has either choices or autocomplete, not both');
    if (o.choices) {
      if (o.type === 'boolean') bad('boolean options have no choices');
      for (const c of o.choices) {
        if (o.type === 'string' && typeof c.value !== 'string') bad(`choice "${c.name}" must have a string value`);
        if (o.type === 'integer' && !Number.isInteger(c.value)) bad(`choice "${c.name}" must have an integer value`);
      }
      if (new Set(o.choices.map((c) => c.name)).size !== o.choices.length) bad('choice names repeat');
    }
    if ((o.minValue !== undefined || o.maxValue !== undefined) && o.type !== 'integer') bad('minValue/maxValue are for integer options');
    if (o.minValue !== undefined && o.maxValue !== undefined && o.minValue > o.maxValue) bad('minValue > maxValue');
    if ((o.minLength !== undefined || o.maxLength !== undefined) && o.type !== 'string') bad('minLength/maxLength are for string options');
    if (o.minLength !== undefined && o.maxLength !== undefined && o.minLength > o.maxLength) bad('minLength > maxLength');
  });

const subcommandDef = z
  .object({
    name,
    description,
    options: z.array(option).max(25, 'at most 25 options'),
    role: z.enum(['viewer', 'operator', 'admin']),
    mutates: z.boolean(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message: `subcommand "${s.name}": ${message}` });
    const names = s.options.map((o) => o.name);
    if (new Set(names).size !== names.length) bad('option names repeat');
    const firstOptional = s.options.findIndex((o) => !o.required);
    if (firstOptional >= 0 && s.options.slice(firstOptional).some((o) => o.required)) {
      bad('required options must come before optional ones');
    }
    // Snapshot names only make sense for a chosen VM.
    if (s.options.some((o) => o.autocomplete === 'snapshot') && !names.includes('vm')) bad('snapshot autocomplete needs a "vm" option');
  });

/** Discord counts these characters of a command towards its 4000 limit. */
function commandChars(def: z.infer<typeof commandDef>): number {
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
  .strict();

const handler = z
  .object({
    schema: z.custom<z.AnyZodObject>((v) => v instanceof z.ZodObject, 'schema must be a zod object (z.object)'),
    defer: z.boolean(),
    handle: z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'handle must be a function'),
  })
  .strict();

export const commandModuleSchema = z
  .object({ def: commandDef, handlers: z.record(handler) })
  .strict()
  .superRefine((m, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    const subs = m.def.subcommands.map((s) => s.name);
    if (new Set(subs).size !== subs.length) bad('subcommand names repeat');
    if (m.def.flat && (subs.length !== 1 || subs[0] !== m.def.name)) {
      bad('a flat command has exactly one subcommand, named like the command');
    }
    if (commandChars(m.def) > 4000) bad('name, descriptions, options and choices exceed 4000 characters');
    for (const s of m.def.subcommands) {
      const h = m.handlers[s.name];
      if (!h) {
        bad(`subcommand "${s.name}" has no handler`);
        continue;
      }
      const keys = Object.keys(h.schema.shape).sort();
      const opts = s.options.map((o) => o.name).sort();
      if (keys.join() !== opts.join()) bad(`subcommand "${s.name}": schema keys [${keys}] differ from option names [${opts}]`);
    }
    for (const k of Object.keys(m.handlers)) if (!subs.includes(k)) bad(`handler "${k}" has no subcommand`);
  });

export class CommandShapeError extends Error {
  constructor(readonly problems: string[]) {
    super(`malformed command module(s):\n  ${problems.join('\n  ')}`);
    this.name = 'CommandShapeError';
  }
}

/**
 * Checks every module and that command names are unique; throws CommandShapeError listing every
 * problem, each prefixed with the command it is in.
 */
export function checkCommandModules(modules: readonly unknown[]): CommandModule[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  modules.forEach((m, i) => {
    const label = (m as { def?: { name?: unknown } } | null)?.def?.name;
    const where = typeof label === 'string' ? `/${label}` : `module #${i}`;
    const r = commandModuleSchema.safeParse(m);
    if (!r.success) {
      for (const issue of r.error.issues) problems.push(`${where}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
      return;
    }
    if (seen.has(r.data.def.name)) problems.push(`${where}: command name repeats`);
    seen.add(r.data.def.name);
  });
  if (problems.length) throw new CommandShapeError(problems);
  return modules as CommandModule[];
}

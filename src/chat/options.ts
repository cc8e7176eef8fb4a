import { z } from 'zod';
import { KvmopsError } from '../domain/errors.js';
import type { AutocompleteSource, OptionDef, RawOptions } from './types.js';

/**
 * Slash-command options, each declared once. One declaration gives both what the chat platform
 * shows (the `OptionDef` Discord registers and the shell completes) and the zod schema the
 * value is parsed by, so the two cannot drift apart and nothing has to compare them at start-up.
 *
 * The value rules are not restated here: an option takes the domain's schema for its value
 * (a name is names.ts's `nameSchema`, a count is the deploy payload's own `count`), and adds
 * only what chat needs: a description, required or a default, and where completions come from.
 * Discord's bounds (min/max value, choices) are read off that schema, so what a client may
 * send and what the bot accepts are the same rule.
 *
 * Parsing happens once, at the chat edge (`OptionSet.parse`, called by the router): handlers
 * receive the parsed values and do not check them again.
 */

/** What an option shows, without its name (the key it is declared under names it). */
type Shown = Omit<OptionDef, 'name'>;

export class Option<S extends z.ZodTypeAny> {
  constructor(
    readonly shown: Shown,
    readonly schema: S,
  ) {}

  /** Not required; when not given, the handler sees `undefined`. */
  optional(): Option<z.ZodOptional<S>> {
    return new Option(notRequired(this.shown), this.schema.optional());
  }

  /** Not required; when not given, the handler sees `value` (the contract's default). */
  default(value: Exclude<z.input<S>, undefined>): Option<z.ZodDefault<S>> {
    return new Option(notRequired(this.shown), this.schema.default(value) as z.ZodDefault<S>);
  }
}

function notRequired({ required: _, ...rest }: Shown): Shown {
  return rest;
}

/**
 * A string option. `schema` is the value rule; the lengths and the completion source are what
 * Discord shows and enforces in its client (lengths the rule implies: a name's 63).
 */
export function text<S extends z.ZodType<string, z.ZodTypeDef, string>>(
  description: string,
  schema: S,
  ui: { minLength?: number; maxLength?: number; autocomplete?: AutocompleteSource } = {},
): Option<S> {
  return new Option({ description, type: 'string', required: true, ...ui }, schema);
}

/**
 * An integer option whose bounds Discord shows are `schema`'s own: `z.number().int()` with
 * inclusive `.min` / `.max` (an exclusive `.gt` / `.lt` has no Discord spelling, so it is refused).
 */
export function integer(description: string, schema: z.ZodNumber): Option<z.ZodNumber> {
  const exclusive = schema._def.checks.some((c) => (c.kind === 'min' || c.kind === 'max') && !c.inclusive);
  if (!schema.isInt || exclusive) throw new Error(`integer option "${description}": the schema must be z.number().int() with inclusive bounds`);
  return new Option(
    {
      description,
      type: 'integer',
      required: true,
      ...(schema.minValue !== null ? { minValue: schema.minValue } : {}),
      ...(schema.maxValue !== null ? { maxValue: schema.maxValue } : {}),
    },
    schema,
  );
}

export function boolean(description: string): Option<z.ZodBoolean> {
  return new Option({ description, type: 'boolean', required: true }, z.boolean());
}

/**
 * What a user option's value is once the platform's spelling is taken off: a user id. Discord
 * sends a snowflake; the shell's users are named (`as alice`), and their id is the name.
 */
export const userIdSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a user: a mention (<@id>), @name or an id');

/**
 * A user option: Discord shows a member picker and sends the member's id; the shell takes
 * `@name`, a name or an id. The handler gets the id (`coerce` takes off `@` and `<@…>`).
 */
export function user(description: string): Option<typeof userIdSchema> {
  return new Option({ description, type: 'user', required: true }, userIdSchema);
}

/** A string option with fixed choices: the enum's values, each shown as itself. */
export function choice<S extends z.ZodEnum<[string, ...string[]]>>(description: string, schema: S): Option<S> {
  const choices = schema.options.map((v) => ({ name: v, value: v }));
  return new Option({ description, type: 'string', required: true, choices }, schema);
}

type OptionShape = Record<string, Option<z.ZodTypeAny>>;
type SchemaOf<T extends OptionShape> = z.ZodObject<{ [K in keyof T]: T[K]['schema'] }, 'strict'>;

/** A subcommand's options: their definitions in declaration order, and the one schema of all of them. */
export interface OptionSet<S extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly defs: OptionDef[];
  readonly schema: S;
  /**
   * The chat edge: options as the platform delivered them → the parsed values, or an
   * `invalid-input` refusal listing every issue. `label` ("snapshot create") names the command.
   */
  parse(raw: RawOptions, label: string): z.output<S>;
}

/** The options of one subcommand, in the order given (required ones first: Discord's rule). */
export function options<T extends OptionShape>(shape: T): OptionSet<SchemaOf<T>> {
  const defs = Object.entries(shape).map(([name, o]): OptionDef => ({ name, ...o.shown }));
  const fields = Object.fromEntries(Object.entries(shape).map(([name, o]) => [name, o.schema])) as { [K in keyof T]: T[K]['schema'] };
  const schema = z.object(fields).strict();
  return {
    defs,
    schema,
    parse(raw, label) {
      const r = schema.safeParse(coerce(defs, raw));
      if (!r.success) throw invalidOptions(issueLines(r.error), r.error, label);
      return r.data;
    },
  };
}

/**
 * Platforms deliver typed values (Discord) or text (the shell): "3" for an integer option and
 * "true" for a boolean one become 3 and true, "@alice" or "<@123>" for a user option the id;
 * anything else is left for zod to refuse.
 */
function coerce(defs: readonly OptionDef[], raw: RawOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const def = defs.find((d) => d.name === k);
    if (def?.type === 'integer' && typeof v === 'string' && /^[+-]?\d{1,15}$/.test(v.trim())) out[k] = Number(v.trim());
    else if (def?.type === 'user' && typeof v === 'string') out[k] = userId(v);
    else if (def?.type === 'boolean' && typeof v === 'string' && /^(true|false)$/i.test(v.trim())) out[k] = v.trim().toLowerCase() === 'true';
    else out[k] = v;
  }
  return out;
}

/** `<@123>`, `<@!123>`, `@alice` → `123`, `alice`: the id a user option stands for (anything else as typed). */
function userId(v: string): string {
  const t = v.trim();
  const mention = /^<@!?(\d{1,20})>$/.exec(t);
  if (mention) return mention[1]!;
  return t.startsWith('@') ? t.slice(1) : t;
}

/** A failed parse as "option: message" lines, the way refusals list them. */
function issueLines(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'options'}: ${i.message}`);
}

/**
 * The user's `invalid-input` refusal listing every issue, one "option: message" line each;
 * `label` ("snapshot create") names the command when known.
 */
export function invalidOptions(issues: string[], cause: unknown, label?: string): KvmopsError {
  return new KvmopsError('invalid-input', `Invalid options${label ? ` for /${label}` : ''}:\n${issues.join('\n')}`, { cause, details: { issues } });
}

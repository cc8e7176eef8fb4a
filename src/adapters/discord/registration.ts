import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  Routes,
  type APIApplicationCommand,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandSubcommandOption,
  REST,
  type APIApplication,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { CommandDef, OptionDef } from '../../chat/types.js';

/**
 * CommandDef (chat-neutral, commands/) → Discord application command JSON. Pure, so the payload
 * is unit-tested against the contract; `registerCommands` sends it as one bulk overwrite of the
 * guild's commands (guild commands update at once; global ones take up to an hour).
 */

export type CommandJson = RESTPostAPIChatInputApplicationCommandsJSONBody;

const OPTION_TYPES: Record<
  OptionDef['type'],
  ApplicationCommandOptionType.String | ApplicationCommandOptionType.Integer | ApplicationCommandOptionType.Boolean | ApplicationCommandOptionType.User
> = {
  string: ApplicationCommandOptionType.String,
  integer: ApplicationCommandOptionType.Integer,
  boolean: ApplicationCommandOptionType.Boolean,
  // 6: Discord shows a member picker and delivers the member's id as the value.
  user: ApplicationCommandOptionType.User,
};

export function optionJson(o: OptionDef): APIApplicationCommandBasicOption {
  const out: Record<string, unknown> = { type: OPTION_TYPES[o.type], name: o.name, description: o.description };
  if (o.required) out.required = true;
  if (o.choices?.length) out.choices = o.choices.map((c) => ({ name: c.name, value: c.value }));
  if (o.type === 'integer') {
    if (o.minValue !== undefined) out.min_value = o.minValue;
    if (o.maxValue !== undefined) out.max_value = o.maxValue;
  }
  if (o.type === 'string') {
    if (o.minLength !== undefined) out.min_length = o.minLength;
    if (o.maxLength !== undefined) out.max_length = o.maxLength;
  }
  // Discord refuses autocomplete together with fixed choices.
  if (o.autocomplete && !o.choices?.length) out.autocomplete = true;
  return out as unknown as APIApplicationCommandBasicOption;
}

/** Discord refuses a required option after an optional one: required first, order kept otherwise. */
function options(defs: readonly OptionDef[]): APIApplicationCommandBasicOption[] {
  return [...defs.filter((d) => d.required), ...defs.filter((d) => !d.required)].map(optionJson);
}

export function commandJson(def: CommandDef): CommandJson {
  const base = { type: ApplicationCommandType.ChatInput as const, name: def.name, description: def.description };
  if (def.flat) {
    const only = def.subcommands[0];
    if (!only || def.subcommands.length !== 1) throw new Error(`/${def.name}: a flat command has exactly one definition`);
    return { ...base, options: options(only.options) };
  }
  const subs: APIApplicationCommandSubcommandOption[] = def.subcommands.map((s) => ({
    type: ApplicationCommandOptionType.Subcommand,
    name: s.name,
    description: s.description,
    options: options(s.options),
  }));
  return { ...base, options: subs };
}

export function commandsJson(defs: readonly CommandDef[]): CommandJson[] {
  return defs.map(commandJson);
}

/** One bulk PUT: the guild's command set becomes exactly `defs` (removed commands disappear). */
export async function registerCommands(rest: REST, applicationId: string, guildId: string, defs: readonly CommandDef[]): Promise<APIApplicationCommand[]> {
  return (await rest.put(Routes.applicationGuildCommands(applicationId, guildId), { body: commandsJson(defs) })) as APIApplicationCommand[];
}

/** `/deploy`, `/template create` … for a log line or `npm run register`'s output. */
export function commandLabels(defs: readonly CommandDef[]): string[] {
  return defs.flatMap((d) => (d.flat ? [`/${d.name}`] : d.subcommands.map((s) => `/${d.name} ${s.name}`)));
}

/**
 * `npm run register`: a REST client for the token (and DISCORD_API_URL), the application it
 * belongs to, and the bulk overwrite on the guild.
 */
export async function registerWithToken(opts: {
  token: string;
  apiUrl?: string | undefined;
  guildId: string;
  defs: readonly CommandDef[];
}): Promise<{ application: { id: string; name: string }; registered: APIApplicationCommand[] }> {
  const rest = new REST(opts.apiUrl ? { api: opts.apiUrl } : {}).setToken(opts.token);
  const app = (await rest.get(Routes.currentApplication())) as APIApplication;
  const registered = await registerCommands(rest, app.id, opts.guildId, opts.defs);
  return { application: { id: app.id, name: app.name }, registered };
}

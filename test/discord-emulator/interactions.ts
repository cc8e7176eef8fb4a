/**
 * INTERACTION_CREATE payloads as Discord builds them for a chat-input command, an autocomplete
 * request or a button click (message component): options nested [group → subcommand → options], typed from the registered command,
 * `resolved` entries for user/role/channel values, and every field discord.js v14 reads when it
 * builds a ChatInputCommandInteraction / AutocompleteInteraction.
 */
import { randomBytes } from 'node:crypto';
import type { APIApplicationCommand, APIApplicationCommandOption } from 'discord.js';
import { ApplicationCommandOptionType, Locale, MessageFlags } from 'discord.js';
import { isRecord, snowflake } from './state.js';
import type { EmulatorState, InteractionKind, StoredInteraction } from './state.js';
import type { ComponentInput, OptionValue, SlashCommandInput } from './types.js';

const CHAT_INPUT = 1;
const MESSAGE_COMPONENT = 3;
const BUTTON = 2;
const GUILD_INSTALL = 0;

/**
 * Creates and stores the interaction and its payload. Throws when the input could not have come
 * from a Discord client (unknown member/channel; for a registered command: unknown option,
 * missing required option, a value outside its choices or bounds).
 */
export function createInteraction(
  state: EmulatorState,
  kind: InteractionKind,
  input: SlashCommandInput,
  focused: string | null,
): { interaction: StoredInteraction; payload: Record<string, unknown> } {
  state.requireMember(input.user);
  const channelId = input.channelId ?? state.firstChannelId;
  const channel = state.requireChannel(channelId);
  const registered = findCommand(state, input.name);
  const { options, resolved } = buildOptions(state, input, registered, focused);

  const interaction: StoredInteraction = {
    id: snowflake(),
    token: `aW50ZXJhY3Rpb246${randomBytes(48).toString('base64url')}`,
    kind,
    userId: input.user,
    channelId,
    commandName: input.name,
    messageId: null,
    dispatchedAt: Date.now(),
    callback: null,
    originalMessageId: null,
    followupIds: [],
    waiters: [],
  };
  state.interactions.set(interaction.id, interaction);
  state.interactionsByToken.set(interaction.token, interaction);

  const payload = {
    id: interaction.id,
    application_id: state.applicationId,
    type: kind === 'command' ? 2 : 4,
    token: interaction.token,
    version: 1,
    data: {
      id: registered?.id ?? snowflake(),
      name: input.name,
      type: CHAT_INPUT,
      ...(registered?.guild_id !== undefined ? { guild_id: registered.guild_id } : {}),
      ...(options.length > 0 ? { options } : {}),
      ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
    },
    ...context(state, channel, input.user, input.locale),
  };
  return { interaction, payload };
}

/**
 * A member clicks a button (INTERACTION_CREATE type 3, MESSAGE_COMPONENT): `data` carries the
 * button's `custom_id` and `component_type` 2, `message` the message it is on, `member` the
 * clicking member with their roles. Throws when a Discord client could not have sent it: an
 * unknown member, a message that is not there, no button with that custom_id on it, or a
 * disabled or link button (neither sends an interaction).
 */
export function createComponentInteraction(state: EmulatorState, input: ComponentInput): { interaction: StoredInteraction; payload: Record<string, unknown> } {
  state.requireMember(input.user);
  const channelId = input.channelId ?? state.firstChannelId;
  const channel = state.requireChannel(channelId);
  const message = state.messages.get(input.messageId);
  if (!message || message.deleted || message.channelId !== channelId) {
    throw new Error(`discord-emulator: no message ${input.messageId} in channel ${channelId} to click on`);
  }
  if ((message.flags & MessageFlags.Ephemeral) !== 0 && message.interactionId !== null && state.interactions.get(message.interactionId)?.userId !== input.user) {
    throw new Error(`discord-emulator: ${input.user} cannot see the ephemeral message ${message.id}`);
  }
  const button = buttonsOf(message.components).find((b) => b.custom_id === input.customId);
  if (!button) throw new Error(`discord-emulator: message ${message.id} has no button with custom_id "${input.customId}"`);
  if (button.disabled === true) throw new Error(`discord-emulator: the button "${input.customId}" is disabled: a Discord client cannot click it`);

  const interaction: StoredInteraction = {
    id: snowflake(),
    token: `aW50ZXJhY3Rpb246${randomBytes(48).toString('base64url')}`,
    kind: 'component',
    userId: input.user,
    channelId,
    commandName: `component ${input.customId}`,
    messageId: message.id,
    dispatchedAt: Date.now(),
    callback: null,
    originalMessageId: message.id,
    followupIds: [],
    waiters: [],
  };
  state.interactions.set(interaction.id, interaction);
  state.interactionsByToken.set(interaction.token, interaction);
  const payload = {
    id: interaction.id,
    application_id: state.applicationId,
    type: MESSAGE_COMPONENT,
    token: interaction.token,
    version: 1,
    data: { custom_id: input.customId, component_type: BUTTON },
    message: state.apiMessage(message),
    ...context(state, channel, input.user, input.locale),
  };
  return { interaction, payload };
}

/** What every interaction carries: where (guild, channel), who (the member with roles), and what discord.js reads unconditionally. */
function context(state: EmulatorState, channel: ReturnType<EmulatorState['requireChannel']>, userId: string, locale: string | undefined): Record<string, unknown> {
  const channelJson = state.apiChannel(channel);
  return {
    guild: { id: state.guildId, locale: Locale.EnglishUS, features: [] },
    guild_id: state.guildId,
    guild_locale: Locale.EnglishUS,
    // discord.js takes interaction.channelId from `channel.id` (not from `channel_id`).
    channel: { ...channelJson, permissions: state.permissionsOf(userId).toString() },
    channel_id: channelJson.id,
    member: state.apiInteractionMember(userId),
    app_permissions: state.permissionsOf(state.botUserId).toString(),
    locale: locale ?? Locale.EnglishUS,
    // discord.js reads these unconditionally: entitlements.reduce(...) and integration owners[0].
    entitlements: [],
    authorizing_integration_owners: { [GUILD_INSTALL]: state.guildId },
    context: 0,
    attachment_size_limit: 10_485_760,
  };
}

/** The buttons of a message's action rows. */
export function buttonsOf(components: unknown[]): Array<{ custom_id?: string; disabled?: boolean; label?: string; style?: number }> {
  return components.flatMap((row) => (isRecord(row) && Array.isArray(row.components) ? row.components : [])).filter((c) => isRecord(c) && c.type === BUTTON) as Array<{
    custom_id?: string;
    disabled?: boolean;
    label?: string;
    style?: number;
  }>;
}

/** The registered chat-input command of that name (guild commands first, then global ones). */
function findCommand(state: EmulatorState, name: string): APIApplicationCommand | undefined {
  const byName = (list: APIApplicationCommand[] | undefined) => list?.find((c) => c.name === name && (c.type ?? CHAT_INPUT) === CHAT_INPUT);
  return byName(state.commands.get(state.guildId)) ?? byName(state.commands.get('global'));
}

/**
 * Builds `data.options` as Discord nests them: [group → [subcommand → [options]]], typed from
 * the registered definition when there is one, plus `data.resolved` for user/role/channel values.
 */
function buildOptions(
  state: EmulatorState,
  input: SlashCommandInput,
  registered: APIApplicationCommand | undefined,
  focused: string | null,
): { options: Array<Record<string, unknown>>; resolved: Record<string, Record<string, unknown>> } {
  const where = `/${[input.name, input.group, input.subcommand].filter(Boolean).join(' ')}`;
  let defs: APIApplicationCommandOption[] | undefined = registered?.options ?? (registered ? [] : undefined);
  const descend = (type: ApplicationCommandOptionType, name: string | undefined): void => {
    if (defs === undefined) return;
    const nested = defs.filter((d) => d.type === type);
    if (name === undefined) {
      // No group given: fine (top-level subcommands may sit beside groups). No subcommand given
      // although the command (or group) has some: a Discord client cannot send that.
      if (type === ApplicationCommandOptionType.Subcommand && nested.length > 0) {
        throw new Error(`discord-emulator: ${where} needs a subcommand (${nested.map((d) => d.name).join(', ')})`);
      }
      return;
    }
    const found = nested.find((d) => d.name === name);
    if (!found) throw new Error(`discord-emulator: ${where}: "${name}" is not a registered ${type === ApplicationCommandOptionType.SubcommandGroup ? 'group' : 'subcommand'}`);
    defs = 'options' in found && Array.isArray(found.options) ? (found.options as APIApplicationCommandOption[]) : [];
  };
  descend(ApplicationCommandOptionType.SubcommandGroup, input.group);
  descend(ApplicationCommandOptionType.Subcommand, input.subcommand);

  const resolved: Record<string, Record<string, unknown>> = {};
  const put = (kind: string, id: string, value: unknown): void => {
    resolved[kind] ??= {};
    (resolved[kind] as Record<string, unknown>)[id] = value;
  };
  const leaf: Array<Record<string, unknown>> = [];
  const given: Record<string, OptionValue> = { ...(input.options ?? {}) };
  if (focused !== null && !(focused in given)) given[focused] = '';
  for (const [name, value] of Object.entries(given)) {
    const def = defs?.find((d) => d.name === name);
    if (defs !== undefined && !def) {
      throw new Error(`discord-emulator: ${where} has no option "${name}" (registered: ${defs.map((d) => d.name).join(', ') || 'none'})`);
    }
    const type = def?.type ?? inferType(value);
    if (name === focused) {
      // While typing, Discord sends the raw text, whatever the option's type.
      leaf.push({ name, type, value: String(value), focused: true });
      continue;
    }
    const coerced = coerce(type, value, `${where} option "${name}"`);
    if (def && 'choices' in def && Array.isArray(def.choices) && def.choices.length > 0 && !def.choices.some((c: { value: unknown }) => c.value === coerced)) {
      throw new Error(`discord-emulator: ${where} option "${name}" = ${String(coerced)} is not one of its choices`);
    }
    if (def) checkBounds(def, coerced, `${where} option "${name}"`);
    if (type === ApplicationCommandOptionType.User || type === ApplicationCommandOptionType.Mentionable) {
      const id = String(coerced);
      if (state.users.has(id)) {
        put('users', id, state.apiUser(id));
        if (state.members.has(id)) {
          const { user: _user, ...member } = state.apiInteractionMember(id);
          put('members', id, member);
        }
      } else if (state.roles.has(id)) {
        const role = state.roles.get(id);
        if (role) put('roles', id, state.apiRole(role));
      } else {
        throw new Error(`discord-emulator: ${where} option "${name}": unknown user ${id}`);
      }
    } else if (type === ApplicationCommandOptionType.Role) {
      const role = state.roles.get(String(coerced));
      if (!role) throw new Error(`discord-emulator: ${where} option "${name}": unknown role ${String(coerced)}`);
      put('roles', role.id, state.apiRole(role));
    } else if (type === ApplicationCommandOptionType.Channel) {
      const channel = state.channels.get(String(coerced));
      if (!channel) throw new Error(`discord-emulator: ${where} option "${name}": unknown channel ${String(coerced)}`);
      const { id, name: channelName, type: channelType, parent_id, nsfw, topic, last_message_id, rate_limit_per_user, flags } = state.apiChannel(channel);
      put('channels', id, { id, name: channelName, type: channelType, parent_id, nsfw, topic, last_message_id, rate_limit_per_user, flags, permissions: state.permissionsOf(input.user).toString() });
    }
    leaf.push({ name, type, value: coerced });
  }
  if (focused === null && defs !== undefined) {
    const missing = defs.filter((d) => 'required' in d && d.required === true && !(d.name in given)).map((d) => d.name);
    if (missing.length > 0) throw new Error(`discord-emulator: ${where} is missing required option(s): ${missing.join(', ')}`);
  }

  let options = leaf;
  if (input.subcommand !== undefined) {
    options = [{ name: input.subcommand, type: ApplicationCommandOptionType.Subcommand, options: leaf }];
  }
  if (input.group !== undefined) {
    if (input.subcommand === undefined) throw new Error(`discord-emulator: ${where}: a group needs a subcommand`);
    options = [{ name: input.group, type: ApplicationCommandOptionType.SubcommandGroup, options }];
  }
  return { options, resolved };
}


function inferType(value: OptionValue): ApplicationCommandOptionType {
  if (typeof value === 'boolean') return ApplicationCommandOptionType.Boolean;
  if (typeof value === 'number') return Number.isInteger(value) ? ApplicationCommandOptionType.Integer : ApplicationCommandOptionType.Number;
  return ApplicationCommandOptionType.String;
}

function coerce(type: ApplicationCommandOptionType, value: OptionValue, what: string): OptionValue {
  switch (type) {
    case ApplicationCommandOptionType.String:
      return String(value);
    case ApplicationCommandOptionType.Integer: {
      const n = Number(value);
      if (!Number.isInteger(n)) throw new Error(`discord-emulator: ${what} must be an integer, got ${String(value)}`);
      return n;
    }
    case ApplicationCommandOptionType.Number: {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`discord-emulator: ${what} must be a number, got ${String(value)}`);
      return n;
    }
    case ApplicationCommandOptionType.Boolean:
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw new Error(`discord-emulator: ${what} must be a boolean, got ${String(value)}`);
    default:
      // User, Channel, Role, Mentionable, Attachment: ids as strings.
      return String(value);
  }
}

/** The Discord client enforces min/max value and length before sending; so does the emulator. */
function checkBounds(def: APIApplicationCommandOption, value: OptionValue, what: string): void {
  const bounds = def as { min_value?: number; max_value?: number; min_length?: number; max_length?: number };
  if (typeof value === 'number') {
    if (bounds.min_value !== undefined && value < bounds.min_value) throw new Error(`discord-emulator: ${what} = ${value} is below min_value ${bounds.min_value}`);
    if (bounds.max_value !== undefined && value > bounds.max_value) throw new Error(`discord-emulator: ${what} = ${value} is above max_value ${bounds.max_value}`);
  }
  if (typeof value === 'string' && def.type === ApplicationCommandOptionType.String) {
    if (bounds.min_length !== undefined && value.length < bounds.min_length) throw new Error(`discord-emulator: ${what} is shorter than min_length ${bounds.min_length}`);
    if (bounds.max_length !== undefined && value.length > bounds.max_length) throw new Error(`discord-emulator: ${what} is longer than max_length ${bounds.max_length}`);
  }
}

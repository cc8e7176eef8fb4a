/**
 * The REST routes the bot uses, answering with the objects Discord returns and the errors it
 * raises (10003 Unknown Channel, 10008 Unknown Message, 10062 Unknown interaction, 40060 already
 * acknowledged, …). Side effects Discord would push over the gateway (MESSAGE_CREATE for the
 * bot's own messages, MESSAGE_REACTION_ADD for its own reactions) go through `RouteHooks`.
 */
import type { APIApplicationCommand, APIAttachment } from 'discord.js';
import { MessageFlags, MessageType } from 'discord.js';
import { DiscordError, compareSnowflakes, isRecord, parseEmoji, snowflake, unknownMessage } from './state.js';
import type { EmulatorState, StoredInteraction, StoredMessage } from './state.js';
import type { RouteContext, RouteDef, RouteResult } from './rest.js';
import type { DiscordEmulatorOptions, InteractionCallbackRecord } from './types.js';
import { isPlausibleUnicodeEmoji, validateAutocompleteData, validateCommand, validateMessageBody } from './validate.js';

export interface RouteHooks {
  gatewayUrl(): string;
  messageCreated(message: StoredMessage): void;
  messageUpdated(message: StoredMessage): void;
  messageDeleted(message: StoredMessage): void;
  reactionAdded(message: StoredMessage, emojiSegment: string, userId: string): void;
  reactionRemoved(message: StoredMessage, emojiSegment: string, userId: string): void;
  /** All reactions (emojiSegment null) or all of one emoji were removed. */
  reactionsCleared(message: StoredMessage, emojiSegment: string | null): void;
  interactionAnswered(interaction: StoredInteraction, record: InteractionCallbackRecord): void;
  /** An answer Discord refused (4xx): waiters see it, the interaction stays unanswered. */
  interactionRefused(interaction: StoredInteraction, record: InteractionCallbackRecord): void;
}

const ok = (body?: unknown): RouteResult => (body === undefined ? { status: 204 } : { status: 200, body });

/** Flags a bot may set on a message it creates. */
const CREATABLE_FLAGS = MessageFlags.Ephemeral | MessageFlags.SuppressEmbeds | MessageFlags.SuppressNotifications | MessageFlags.IsComponentsV2;

function bodyRecord(ctx: RouteContext): Record<string, unknown> {
  if (!isRecord(ctx.body)) throw new DiscordError(400, 50035, 'Invalid Form Body', { _errors: [{ code: 'MODEL_TYPE_CONVERT', message: 'Only dictionaries may be used in a ModelType' }] });
  return ctx.body;
}

/** An interaction callback's message is its `data`: Discord's error tree names fields below it. */
function underData(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof DiscordError && error.code === 50035) throw new DiscordError(error.status, error.code, error.message, { data: error.errors });
    throw error;
  }
}

function attachmentsOf(ctx: RouteContext): APIAttachment[] {
  return ctx.files.map((f, i) => {
    const id = snowflake();
    return {
      id,
      filename: f.name || `file${i}`,
      size: f.size,
      url: `https://cdn.discordapp.com/attachments/0/${id}/${encodeURIComponent(f.name)}`,
      proxy_url: `https://media.discordapp.net/attachments/0/${id}/${encodeURIComponent(f.name)}`,
      ...(f.contentType !== '' ? { content_type: f.contentType } : {}),
    };
  });
}

export function buildRoutes(state: EmulatorState, options: DiscordEmulatorOptions, hooks: RouteHooks): RouteDef[] {
  const deadlineMs = options.interactionDeadlineMs ?? 3000;
  const tokenTtlMs = options.interactionTokenTtlMs ?? 15 * 60_000;

  const requireGuild = (ctx: RouteContext): void => {
    if (ctx.param('guild') !== state.guildId) throw new DiscordError(404, 10004, 'Unknown Guild');
  };
  const requireApp = (ctx: RouteContext): void => {
    if (ctx.param('app') !== state.applicationId) throw new DiscordError(404, 10002, 'Unknown Application');
  };
  const channelMessage = (ctx: RouteContext): StoredMessage => state.requireChannelMessage(ctx.param('channel'), ctx.param('message'));
  const checkEmoji = (segment: string): void => {
    const { emoji } = parseEmoji(segment);
    // The emulated guild has no custom emoji, so any `name:id` is unknown, as on Discord.
    if (emoji.id !== null || !isPlausibleUnicodeEmoji(segment)) throw new DiscordError(400, 10014, 'Unknown Emoji');
  };

  const application = () => ({
    id: state.applicationId,
    name: state.users.get(state.botUserId)?.username ?? 'kvmops',
    icon: null,
    description: '',
    summary: '',
    type: null,
    bot_public: false,
    bot_require_code_grant: false,
    verify_key: '0'.repeat(64),
    flags: 0,
    hook: true,
    owner: state.apiUser(state.ownerId),
    team: null,
    bot: state.apiUser(state.botUserId),
    redirect_uris: [],
    interactions_endpoint_url: null,
    approximate_guild_count: 1,
    integration_types_config: { 0: {} },
  });

  // --- application commands -------------------------------------------------------------------

  const commandKey = (ctx: RouteContext): string => {
    requireApp(ctx);
    if (ctx.path.includes('/guilds/')) {
      requireGuild(ctx);
      return state.guildId;
    }
    return 'global';
  };
  const toCommand = (raw: Record<string, unknown>, key: string, previous: APIApplicationCommand[]): APIApplicationCommand => {
    const type = typeof raw.type === 'number' ? raw.type : 1;
    const existing = previous.find((c) => c.name === raw.name && c.type === type);
    return {
      ...raw,
      id: existing?.id ?? snowflake(),
      application_id: state.applicationId,
      ...(key === 'global' ? {} : { guild_id: key }),
      name: String(raw.name),
      name_localizations: (raw.name_localizations as Record<string, string> | undefined) ?? null,
      description: typeof raw.description === 'string' ? raw.description : '',
      description_localizations: (raw.description_localizations as Record<string, string> | undefined) ?? null,
      type,
      default_member_permissions: typeof raw.default_member_permissions === 'string' ? raw.default_member_permissions : null,
      nsfw: raw.nsfw === true,
      version: snowflake(),
      integration_types: [0],
      contexts: null,
    } as APIApplicationCommand;
  };
  const listCommands = (ctx: RouteContext): RouteResult => ok(state.commands.get(commandKey(ctx)) ?? []);
  const bulkOverwrite = (ctx: RouteContext): RouteResult => {
    const key = commandKey(ctx);
    if (!Array.isArray(ctx.body)) throw new DiscordError(400, 50035, 'Invalid Form Body', { _errors: [{ code: 'BASE_TYPE_ARRAY', message: 'Must be an array.' }] });
    ctx.body.forEach((c: unknown, i: number) => validateCommand(c, i));
    const previous = state.commands.get(key) ?? [];
    const commands = ctx.body.map((c: unknown) => toCommand(isRecord(c) ? c : {}, key, previous));
    state.commands.set(key, commands);
    state.bulkOverwrites += 1;
    state.onChange();
    return ok(commands);
  };
  const createCommand = (ctx: RouteContext): RouteResult => {
    const key = commandKey(ctx);
    validateCommand(ctx.body, null);
    const previous = state.commands.get(key) ?? [];
    const command = toCommand(bodyRecord(ctx), key, previous);
    state.commands.set(key, [...previous.filter((c) => c.id !== command.id), command]);
    state.onChange();
    return { status: previous.some((c) => c.id === command.id) ? 200 : 201, body: command };
  };
  const oneCommand = (ctx: RouteContext): { key: string; command: APIApplicationCommand } => {
    const key = commandKey(ctx);
    const command = (state.commands.get(key) ?? []).find((c) => c.id === ctx.param('command'));
    if (!command) throw new DiscordError(404, 10063, 'Unknown application command');
    return { key, command };
  };

  // --- interactions -----------------------------------------------------------------------------

  const interactionCallback = (ctx: RouteContext): RouteResult => {
    const interaction = state.interactions.get(ctx.param('interaction'));
    if (!interaction || interaction.token !== ctx.param('token')) throw new DiscordError(404, 10062, 'Unknown interaction');
    const body = bodyRecord(ctx);
    const type = typeof body.type === 'number' ? body.type : -1;
    const data = isRecord(body.data) ? body.data : null;
    const flags = typeof data?.flags === 'number' ? data.flags : 0;
    const receivedAt = Date.now();
    const record: InteractionCallbackRecord = {
      type,
      data: data === null ? null : structuredClone(data),
      flags,
      ephemeral: (flags & MessageFlags.Ephemeral) !== 0,
      receivedAt,
      receivedAfterMs: receivedAt - interaction.dispatchedAt,
      late: receivedAt - interaction.dispatchedAt > deadlineMs,
      status: 0,
    };
    // After the deadline Discord has forgotten an unanswered interaction: 10062 from then on.
    if (interaction.callback?.late === true) throw new DiscordError(404, 10062, 'Unknown interaction');
    if (interaction.callback) throw new DiscordError(400, 40060, 'Interaction has already been acknowledged.');
    if (record.late) {
      record.status = 404;
      hooks.interactionAnswered(interaction, record);
      throw new DiscordError(404, 10062, 'Unknown interaction');
    }
    // Discord's table of response types per interaction type: 6 and 7 (update the message the
    // component is on) exist only for components, 8 only for autocomplete.
    const allowed = interaction.kind === 'autocomplete' ? [8] : interaction.kind === 'component' ? [4, 5, 6, 7, 9, 10, 12] : [4, 5, 9, 10, 12];
    if (!allowed.includes(type)) {
      throw new DiscordError(400, 50035, 'Invalid Form Body', { type: { _errors: [{ code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: 'Interaction response type is not valid for this interaction.' }] } });
    }
    // A refused answer does not acknowledge the interaction (the bot may still answer in time),
    // but whoever waits for the answer learns it was refused.
    const refused = (check: () => void): void => {
      try {
        check();
      } catch (error) {
        if (error instanceof DiscordError) {
          record.status = error.status;
          hooks.interactionRefused(interaction, record);
        }
        throw error;
      }
    };
    let message: StoredMessage | null = null;
    if (type === 4) {
      refused(() => {
        if (data === null) throw new DiscordError(400, 50006, 'Cannot send an empty message');
        underData(() => validateMessageBody(data, { create: true, hasFiles: ctx.files.length > 0 }));
      });
      message = state.createMessage({
        channelId: interaction.channelId,
        authorId: state.botUserId,
        body: data ?? {},
        type: MessageType.ChatInputCommand,
        flags: flags & CREATABLE_FLAGS,
        webhookId: state.applicationId,
        interactionId: interaction.id,
        attachments: attachmentsOf(ctx),
      });
    } else if (type === 5) {
      // Discord shows "<bot> is thinking…": a real (loading) message, edited later by editReply.
      message = state.createMessage({
        channelId: interaction.channelId,
        authorId: state.botUserId,
        body: {},
        type: MessageType.ChatInputCommand,
        flags: (flags & MessageFlags.Ephemeral) | MessageFlags.Loading,
        webhookId: state.applicationId,
        interactionId: interaction.id,
      });
    } else if (type === 8) {
      refused(() => validateAutocompleteData(data));
    }
    // 6 (DEFERRED_UPDATE_MESSAGE) shows nothing; 7 (UPDATE_MESSAGE) edits the message the
    // component is on, with the checks of a message edit. Either way `@original` is that message.
    let updated: StoredMessage | null = null;
    if (type === 6 || type === 7) {
      const target = interaction.messageId === null ? undefined : state.messages.get(interaction.messageId);
      if (!target || target.deleted) {
        refused(() => {
          throw unknownMessage();
        });
      }
      if (type === 7) {
        refused(() => {
          if (data === null) throw new DiscordError(400, 50035, 'Invalid Form Body', { data: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: 'This field is required' }] } });
          underData(() => validateMessageBody(data, { create: false }));
        });
        updated = state.editMessage(target!, data ?? {});
      }
    }
    record.status = ctx.query.get('with_response') === 'true' ? 200 : 204;
    interaction.originalMessageId = message?.id ?? (interaction.kind === 'component' ? interaction.messageId : null);
    hooks.interactionAnswered(interaction, record);
    if (message && (message.flags & MessageFlags.Ephemeral) === 0) hooks.messageCreated(message);
    if (updated && (updated.flags & MessageFlags.Ephemeral) === 0) hooks.messageUpdated(updated);
    if (record.status === 204) return ok();
    return ok({
      interaction: {
        id: interaction.id,
        type: interaction.kind === 'autocomplete' ? 4 : interaction.kind === 'component' ? 3 : 2,
        ...(message
          ? {
              response_message_id: message.id,
              response_message_loading: (message.flags & MessageFlags.Loading) !== 0,
              response_message_ephemeral: (message.flags & MessageFlags.Ephemeral) !== 0,
            }
          : {}),
      },
      resource: { type, ...(message ?? updated ? { message: state.apiMessage((message ?? updated)!) } : {}) },
    });
  };

  /** The interaction behind a webhook token (the app id must match; tokens die after 15 min). */
  const webhookInteraction = (ctx: RouteContext): StoredInteraction => {
    const interaction = state.interactionsByToken.get(ctx.param('token'));
    if (ctx.param('app') !== state.applicationId || !interaction) throw new DiscordError(404, 10015, 'Unknown Webhook');
    if (Date.now() - interaction.dispatchedAt > tokenTtlMs) throw new DiscordError(401, 50027, 'Invalid Webhook Token');
    return interaction;
  };
  const webhookMessage = (ctx: RouteContext): StoredMessage => {
    const interaction = webhookInteraction(ctx);
    const id = ctx.param('message') === '@original' ? interaction.originalMessageId : ctx.param('message');
    const message = id === null ? undefined : state.messages.get(id);
    // A component interaction's @original is the message the component is on.
    const own = message !== undefined && (message.interactionId === interaction.id || (interaction.kind === 'component' && message.id === interaction.messageId));
    if (!message || message.deleted || !own) throw unknownMessage();
    return message;
  };
  const isPublic = (message: StoredMessage): boolean => (message.flags & MessageFlags.Ephemeral) === 0;

  // --- messages ---------------------------------------------------------------------------------

  const listMessages = (ctx: RouteContext): RouteResult => {
    const channelId = ctx.param('channel');
    state.requireChannel(channelId);
    const limit = Math.min(100, Math.max(1, Number(ctx.query.get('limit') ?? 50) || 50));
    const before = ctx.query.get('before');
    const after = ctx.query.get('after');
    const around = ctx.query.get('around');
    let list = [...state.messages.values()]
      .filter((m) => m.channelId === channelId && !m.deleted && isPublic(m))
      .sort((a, b) => compareSnowflakes(b.id, a.id)); // newest first, as Discord returns them
    if (before !== null) list = list.filter((m) => compareSnowflakes(m.id, before) < 0);
    if (after !== null) list = list.filter((m) => compareSnowflakes(m.id, after) > 0).slice(-limit);
    if (around !== null) {
      const index = list.findIndex((m) => compareSnowflakes(m.id, around) <= 0);
      const start = Math.max(0, (index === -1 ? list.length : index) - Math.floor(limit / 2));
      list = list.slice(start);
    }
    return ok(list.slice(0, limit).map((m) => state.apiMessage(m)));
  };

  const createMessage = (ctx: RouteContext): RouteResult => {
    const body = bodyRecord(ctx);
    validateMessageBody(body, { create: true, hasFiles: ctx.files.length > 0 });
    // enforce_nonce: the same author and nonce within a few minutes returns the first message.
    const nonce = body.nonce;
    const enforced = body.enforce_nonce === true && (typeof nonce === 'string' || typeof nonce === 'number');
    if (enforced) {
      state.requireChannel(ctx.param('channel'));
      const first = state.messageByNonce(state.botUserId, nonce);
      if (first) return ok(state.apiMessage(first));
    }
    const reference = isRecord(body.message_reference) ? body.message_reference : null;
    const message = state.createMessage({
      channelId: ctx.param('channel'),
      authorId: state.botUserId,
      body,
      type: reference ? MessageType.Reply : MessageType.Default,
      flags: (typeof body.flags === 'number' ? body.flags : 0) & CREATABLE_FLAGS & ~MessageFlags.Ephemeral,
      attachments: attachmentsOf(ctx),
    });
    if (enforced) state.rememberNonce(message);
    hooks.messageCreated(message);
    return ok(state.apiMessage(message));
  };

  const editMessage = (message: StoredMessage, ctx: RouteContext): RouteResult => {
    if (message.authorId !== state.botUserId) throw new DiscordError(403, 50005, 'Cannot edit a message authored by another user');
    const body = bodyRecord(ctx);
    validateMessageBody(body, { create: false });
    state.editMessage(message, body);
    // Files uploaded with the edit join the attachments the body kept.
    if (ctx.files.length > 0) message.attachments.push(...attachmentsOf(ctx));
    if (isPublic(message)) hooks.messageUpdated(message);
    return ok(state.apiMessage(message));
  };

  const deleteMessage = (message: StoredMessage): RouteResult => {
    state.deleteMessage(message);
    if (isPublic(message)) hooks.messageDeleted(message);
    return ok();
  };

  const addReaction = (ctx: RouteContext): RouteResult => {
    const message = channelMessage(ctx);
    const emoji = ctx.param('emoji');
    checkEmoji(emoji);
    if (state.addReaction(message, emoji, state.botUserId)) hooks.reactionAdded(message, emoji, state.botUserId);
    return ok();
  };

  const removeReaction = (ctx: RouteContext, userId: string): RouteResult => {
    const message = channelMessage(ctx);
    const emoji = ctx.param('emoji');
    checkEmoji(emoji);
    if (state.removeReaction(message, emoji, userId)) hooks.reactionRemoved(message, emoji, userId);
    return ok();
  };

  const reactionUsers = (ctx: RouteContext): RouteResult => {
    const message = channelMessage(ctx);
    const emoji = ctx.param('emoji');
    checkEmoji(emoji);
    const limit = Math.min(100, Math.max(1, Number(ctx.query.get('limit') ?? 25) || 25));
    const after = ctx.query.get('after');
    // Super-reactions (type=1) are not emulated: none exist.
    const ids = ctx.query.get('type') === '1' ? [] : [...(message.reactions.get(parseEmoji(emoji).key)?.userIds ?? [])];
    const users = ids
      .sort(compareSnowflakes)
      .filter((id) => after === null || compareSnowflakes(id, after) > 0)
      .slice(0, limit)
      .map((id) => state.apiUser(id));
    return ok(users);
  };

  const clearReactions = (ctx: RouteContext, emojiSegment: string | null): RouteResult => {
    const message = channelMessage(ctx);
    if (emojiSegment === null) message.reactions.clear();
    else message.reactions.delete(parseEmoji(emojiSegment).key);
    state.onChange();
    hooks.reactionsCleared(message, emojiSegment);
    return ok();
  };

  // --- the table (literal segments such as @me before :params of the same shape) ---------------

  const CM = '/channels/:channel/messages/:message';
  return [
    { method: 'GET', template: '/gateway', auth: false, handle: () => ok({ url: hooks.gatewayUrl() }) },
    {
      method: 'GET',
      template: '/gateway/bot',
      handle: () =>
        ok({
          url: hooks.gatewayUrl(),
          shards: 1,
          // discord.js caches this response for reset_after ms and sizes its identify throttle by max_concurrency.
          session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
        }),
    },
    { method: 'GET', template: '/users/@me', handle: () => ok({ ...state.apiUser(state.botUserId), bot: true, verified: true, mfa_enabled: false, email: null, locale: 'en-US' }) },
    {
      method: 'GET',
      template: '/users/@me/guilds',
      handle: () => ok([{ id: state.guildId, name: state.guildName, icon: null, banner: null, owner: state.ownerId === state.botUserId, permissions: state.permissionsOf(state.botUserId).toString(), features: [] }]),
    },
    {
      method: 'GET',
      template: '/users/:user',
      handle: (ctx) => {
        if (!state.users.has(ctx.param('user'))) throw new DiscordError(404, 10013, 'Unknown User');
        return ok(state.apiUser(ctx.param('user')));
      },
    },
    { method: 'GET', template: '/applications/@me', handle: () => ok(application()) },
    { method: 'GET', template: '/oauth2/applications/@me', handle: () => ok(application()) },

    { method: 'GET', template: '/applications/:app/commands', handle: listCommands },
    { method: 'PUT', template: '/applications/:app/commands', handle: bulkOverwrite },
    { method: 'POST', template: '/applications/:app/commands', handle: createCommand },
    { method: 'GET', template: '/applications/:app/commands/:command', handle: (ctx) => ok(oneCommand(ctx).command) },
    {
      method: 'DELETE',
      template: '/applications/:app/commands/:command',
      handle: (ctx) => {
        const { key, command } = oneCommand(ctx);
        state.commands.set(key, (state.commands.get(key) ?? []).filter((c) => c.id !== command.id));
        return ok();
      },
    },
    { method: 'GET', template: '/applications/:app/guilds/:guild/commands', handle: listCommands },
    { method: 'PUT', template: '/applications/:app/guilds/:guild/commands', handle: bulkOverwrite },
    { method: 'POST', template: '/applications/:app/guilds/:guild/commands', handle: createCommand },
    { method: 'GET', template: '/applications/:app/guilds/:guild/commands/:command', handle: (ctx) => ok(oneCommand(ctx).command) },
    {
      method: 'DELETE',
      template: '/applications/:app/guilds/:guild/commands/:command',
      handle: (ctx) => {
        const { key, command } = oneCommand(ctx);
        state.commands.set(key, (state.commands.get(key) ?? []).filter((c) => c.id !== command.id));
        return ok();
      },
    },

    { method: 'POST', template: '/interactions/:interaction/:token/callback', auth: false, handle: interactionCallback },
    {
      method: 'POST',
      template: '/webhooks/:app/:token',
      auth: false,
      handle: (ctx) => {
        const interaction = webhookInteraction(ctx);
        // Follow-ups need the interaction acknowledged first.
        if (!interaction.callback || interaction.callback.late) throw new DiscordError(404, 10015, 'Unknown Webhook');
        const body = bodyRecord(ctx);
        validateMessageBody(body, { create: true, hasFiles: ctx.files.length > 0 });
        const message = state.createMessage({
          channelId: interaction.channelId,
          authorId: state.botUserId,
          body,
          type: MessageType.ChatInputCommand,
          flags: (typeof body.flags === 'number' ? body.flags : 0) & CREATABLE_FLAGS,
          webhookId: state.applicationId,
          interactionId: interaction.id,
          attachments: attachmentsOf(ctx),
        });
        interaction.followupIds.push(message.id);
        if (isPublic(message)) hooks.messageCreated(message);
        return ctx.query.get('wait') === 'false' ? ok() : ok(state.apiMessage(message));
      },
    },
    { method: 'GET', template: '/webhooks/:app/:token/messages/:message', auth: false, handle: (ctx) => ok(state.apiMessage(webhookMessage(ctx))) },
    { method: 'PATCH', template: '/webhooks/:app/:token/messages/:message', auth: false, handle: (ctx) => editMessage(webhookMessage(ctx), ctx) },
    { method: 'DELETE', template: '/webhooks/:app/:token/messages/:message', auth: false, handle: (ctx) => deleteMessage(webhookMessage(ctx)) },

    { method: 'GET', template: '/channels/:channel', handle: (ctx) => ok(state.apiChannel(state.requireChannel(ctx.param('channel')))) },
    { method: 'POST', template: '/channels/:channel/typing', handle: (ctx) => (state.requireChannel(ctx.param('channel')), ok()) },
    { method: 'GET', template: '/channels/:channel/messages', handle: listMessages },
    { method: 'POST', template: '/channels/:channel/messages', handle: createMessage },
    { method: 'GET', template: CM, handle: (ctx) => ok(state.apiMessage(channelMessage(ctx))) },
    { method: 'PATCH', template: CM, handle: (ctx) => editMessage(channelMessage(ctx), ctx) },
    { method: 'DELETE', template: CM, handle: (ctx) => deleteMessage(channelMessage(ctx)) },
    { method: 'DELETE', template: `${CM}/reactions`, handle: (ctx) => clearReactions(ctx, null) },
    { method: 'GET', template: `${CM}/reactions/:emoji`, handle: reactionUsers },
    { method: 'DELETE', template: `${CM}/reactions/:emoji`, handle: (ctx) => clearReactions(ctx, ctx.param('emoji')) },
    { method: 'PUT', template: `${CM}/reactions/:emoji/@me`, handle: addReaction },
    { method: 'DELETE', template: `${CM}/reactions/:emoji/@me`, handle: (ctx) => removeReaction(ctx, state.botUserId) },
    { method: 'DELETE', template: `${CM}/reactions/:emoji/:user`, handle: (ctx) => removeReaction(ctx, ctx.param('user')) },

    {
      method: 'GET',
      template: '/guilds/:guild',
      handle: (ctx) => {
        requireGuild(ctx);
        const counts = ctx.query.get('with_counts') === 'true' ? { approximate_member_count: state.members.size, approximate_presence_count: 0 } : {};
        return ok({ ...state.apiGuild(), ...counts });
      },
    },
    { method: 'GET', template: '/guilds/:guild/channels', handle: (ctx) => (requireGuild(ctx), ok([...state.channels.values()].map((c) => state.apiChannel(c)))) },
    { method: 'GET', template: '/guilds/:guild/roles', handle: (ctx) => (requireGuild(ctx), ok([...state.roles.values()].map((r) => state.apiRole(r)))) },
    {
      method: 'GET',
      template: '/guilds/:guild/members',
      handle: (ctx) => {
        requireGuild(ctx);
        const limit = Math.min(1000, Math.max(1, Number(ctx.query.get('limit') ?? 1) || 1));
        const after = ctx.query.get('after') ?? '0';
        const ids = [...state.members.keys()].sort(compareSnowflakes).filter((id) => compareSnowflakes(id, after) > 0);
        return ok(ids.slice(0, limit).map((id) => state.apiMember(id)));
      },
    },
    {
      method: 'GET',
      template: '/guilds/:guild/members/:user',
      handle: (ctx) => {
        requireGuild(ctx);
        if (!state.members.has(ctx.param('user'))) throw new DiscordError(404, 10007, 'Unknown Member');
        return ok(state.apiMember(ctx.param('user')));
      },
    },
  ];
}

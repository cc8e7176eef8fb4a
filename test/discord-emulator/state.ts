/**
 * The emulator's world: one guild with its channels, roles and members, the messages in those
 * channels (with every edit and reaction), interactions and registered commands.
 *
 * It lives in the emulator object, not in a connection, so a bot that restarts (a new discord.js
 * Client) finds the same messages and reactions. The `api*` methods render the stored records as
 * the JSON objects Discord sends, typed with discord.js's re-export of discord-api-types so the
 * compiler checks the shapes the client relies on.
 */
import type {
  APIApplicationCommand,
  APIAttachment,
  APIGuild,
  APIEmbed,
  APIGuildMember,
  APIInteractionGuildMember,
  APIMessage,
  APIMessageTopLevelComponent,
  APIReaction,
  APIRole,
  APITextChannel,
  APIUser,
} from 'discord.js';
import { ChannelType, Locale, MessageFlags, MessageType } from 'discord.js';
import type { DiscordEmulatorOptions, InteractionCallbackRecord, MessageRecord } from './types.js';

// ---------------------------------------------------------------------------------------------
// Snowflakes: real ones (timestamp << 22), because discord.js derives createdAt from the id.

const DISCORD_EPOCH = 1420070400000n;
let lastMs = 0n;
let increment = 0n;

export function snowflake(at: number = Date.now()): string {
  let ms = BigInt(at) - DISCORD_EPOCH;
  if (ms < lastMs) ms = lastMs;
  if (ms === lastMs) {
    increment = (increment + 1n) & 0xfffn;
    if (increment === 0n) ms += 1n; // 4096 ids in one ms: borrow the next ms
  } else {
    increment = 0n;
  }
  lastMs = ms;
  return ((ms << 22n) | (1n << 17n) | increment).toString();
}

export function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * An empty flags bitfield. discord-api-types types flags as enums without a 0 member, while
 * Discord sends 0; one cast here instead of one per object.
 */
const NO_FLAGS = 0 as never;

// ---------------------------------------------------------------------------------------------
// Permissions (bit positions from Discord's documentation).

export const Perm = {
  CreateInstantInvite: 1n << 0n,
  Administrator: 1n << 3n,
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  UseExternalEmojis: 1n << 18n,
  ChangeNickname: 1n << 26n,
  UseApplicationCommands: 1n << 31n,
} as const;

const ALL_PERMISSIONS = (1n << 53n) - 1n;

/** What @everyone can do in a freshly created server's text channels. */
const EVERYONE_DEFAULT =
  Perm.CreateInstantInvite |
  Perm.AddReactions |
  Perm.ViewChannel |
  Perm.SendMessages |
  Perm.EmbedLinks |
  Perm.AttachFiles |
  Perm.ReadMessageHistory |
  Perm.UseExternalEmojis |
  Perm.ChangeNickname |
  Perm.UseApplicationCommands;

/** The bot's managed integration role: what an invite with sensible scopes grants. */
const BOT_ROLE_PERMISSIONS =
  Perm.ViewChannel |
  Perm.SendMessages |
  Perm.EmbedLinks |
  Perm.AttachFiles |
  Perm.ReadMessageHistory |
  Perm.AddReactions |
  Perm.ManageMessages |
  Perm.UseApplicationCommands;

// ---------------------------------------------------------------------------------------------
// Stored records.

export interface StoredUser {
  id: string;
  username: string;
  bot: boolean;
}

export interface StoredMember {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: number;
}

export interface StoredRole {
  id: string;
  name: string;
  permissions: string;
  position: number;
  managed: boolean;
  botId: string | null;
}

export interface StoredChannel {
  id: string;
  name: string;
  position: number;
  lastMessageId: string | null;
}

export interface StoredReaction {
  /** Unicode emoji, or `name:id` for custom emoji (the URL form Discord accepts). */
  key: string;
  emoji: { id: string | null; name: string };
  userIds: string[];
}

export interface StoredMessage {
  id: string;
  channelId: string;
  authorId: string;
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachments: APIAttachment[];
  flags: number;
  type: number;
  /** Interaction responses: Discord sets webhook_id = application id on them. */
  webhookId: string | null;
  interactionId: string | null;
  createdAt: number;
  editedAt: number | null;
  edits: Array<{ at: number; body: Record<string, unknown>; content: string }>;
  reactions: Map<string, StoredReaction>;
  deleted: boolean;
  allowedMentions: unknown;
  nonce: string | number | null;
}

export type InteractionKind = 'command' | 'autocomplete' | 'component';

export interface StoredInteraction {
  id: string;
  token: string;
  kind: InteractionKind;
  userId: string;
  channelId: string;
  /** The command's name; for a component, `component <custom_id>` (for error messages). */
  commandName: string;
  /** A component interaction: the message the clicked component is on (its `@original`). */
  messageId: string | null;
  dispatchedAt: number;
  callback: InteractionCallbackRecord | null;
  originalMessageId: string | null;
  followupIds: string[];
  /** Resolvers waiting in `InteractionHandle.response()`. */
  waiters: Array<(record: InteractionCallbackRecord) => void>;
}

/** Raised by state mutations; the REST layer turns it into Discord's error JSON. */
export class DiscordError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: unknown,
  ) {
    super(message);
    this.name = 'DiscordError';
  }
}

export const unknownMessage = (): DiscordError => new DiscordError(404, 10008, 'Unknown Message');
export const unknownChannel = (): DiscordError => new DiscordError(404, 10003, 'Unknown Channel');

/** Turns the emoji segment of a reaction route (already percent-decoded) into a stored key. */
export function parseEmoji(segment: string): { key: string; emoji: { id: string | null; name: string } } {
  const custom = /^<?a?:?([\w~-]+):(\d{15,25})>?$/.exec(segment);
  if (custom?.[1] !== undefined && custom[2] !== undefined) {
    return { key: `${custom[1]}:${custom[2]}`, emoji: { id: custom[2], name: custom[1] } };
  }
  return { key: segment, emoji: { id: null, name: segment } };
}

export class EmulatorState {
  readonly guildId: string;
  readonly guildName: string;
  readonly applicationId: string;
  readonly botUserId: string;
  readonly ownerId: string;
  readonly createdAt = Date.now();

  readonly users = new Map<string, StoredUser>();
  readonly members = new Map<string, StoredMember>();
  readonly roles = new Map<string, StoredRole>();
  readonly channels = new Map<string, StoredChannel>();
  /** Insertion order = creation order. */
  readonly messages = new Map<string, StoredMessage>();
  /** `author\0nonce` → the message created with it (enforce_nonce). */
  readonly nonces = new Map<string, { messageId: string; at: number }>();
  readonly interactions = new Map<string, StoredInteraction>();
  readonly interactionsByToken = new Map<string, StoredInteraction>();
  /** Registered commands per guild id ('global' for application-wide ones). */
  readonly commands = new Map<string, APIApplicationCommand[]>();
  bulkOverwrites = 0;

  /** Called after every mutation (drives `waitFor`). */
  onChange: () => void = () => {};

  constructor(options: DiscordEmulatorOptions) {
    this.guildId = options.guildId ?? snowflake();
    this.guildName = options.guildName ?? 'kvmops-test';
    this.applicationId = options.applicationId ?? options.botUserId ?? snowflake();
    this.botUserId = options.botUserId ?? this.applicationId;

    const everyone = options.roles?.find((r) => r.id === this.guildId);
    this.roles.set(this.guildId, {
      id: this.guildId,
      name: '@everyone',
      permissions: everyone?.permissions ?? EVERYONE_DEFAULT.toString(),
      position: 0,
      managed: false,
      botId: null,
    });
    let position = 1;
    for (const role of options.roles ?? []) {
      if (role.id === this.guildId) continue;
      this.roles.set(role.id, {
        id: role.id,
        name: role.name,
        permissions: role.permissions ?? '0',
        position: role.position ?? position,
        managed: false,
        botId: null,
      });
      position += 1;
    }
    const botUsername = options.botUsername ?? 'kvmops';
    const botRoleId = snowflake();
    this.roles.set(botRoleId, {
      id: botRoleId,
      name: botUsername,
      permissions: BOT_ROLE_PERMISSIONS.toString(),
      position: position + 1,
      managed: true,
      botId: this.botUserId,
    });

    this.users.set(this.botUserId, { id: this.botUserId, username: botUsername, bot: true });
    this.members.set(this.botUserId, { userId: this.botUserId, roles: [botRoleId], nick: null, joinedAt: this.createdAt });
    for (const member of options.members ?? []) this.addMember(member);
    this.ownerId = options.ownerId ?? options.members?.[0]?.id ?? this.botUserId;

    const channels = options.channels ?? ['general'];
    channels.forEach((c, index) => {
      const init = typeof c === 'string' ? { id: /^\d+$/.test(c) ? c : snowflake(), name: /^\d+$/.test(c) ? `channel-${index}` : c } : c;
      this.channels.set(init.id, { id: init.id, name: init.name ?? `channel-${index}`, position: index, lastMessageId: null });
    });
  }

  addMember(member: { id: string; username: string; roles?: string[]; nick?: string | null; bot?: boolean }): StoredMember {
    for (const role of member.roles ?? []) {
      if (!this.roles.has(role)) throw new Error(`discord-emulator: member ${member.id} has unknown role ${role}`);
    }
    this.users.set(member.id, { id: member.id, username: member.username, bot: member.bot ?? false });
    const stored: StoredMember = { userId: member.id, roles: [...(member.roles ?? [])], nick: member.nick ?? null, joinedAt: Date.now() };
    this.members.set(member.id, stored);
    return stored;
  }

  get firstChannelId(): string {
    const first = this.channels.keys().next();
    if (first.done === true) throw new Error('discord-emulator: no channel');
    return first.value;
  }

  requireMember(userId: string): StoredMember {
    const member = this.members.get(userId);
    if (!member) throw new Error(`discord-emulator: unknown member ${userId} (known: ${[...this.members.keys()].join(', ')})`);
    return member;
  }

  requireChannel(channelId: string): StoredChannel {
    const channel = this.channels.get(channelId);
    if (!channel) throw unknownChannel();
    return channel;
  }

  /** A message visible through the channel routes (not deleted, not ephemeral, right channel). */
  requireChannelMessage(channelId: string, messageId: string): StoredMessage {
    this.requireChannel(channelId);
    const message = this.messages.get(messageId);
    if (!message || message.deleted || message.channelId !== channelId || (message.flags & MessageFlags.Ephemeral) !== 0) {
      throw unknownMessage();
    }
    return message;
  }

  /** Base permissions of a member in the guild (no channel overwrites exist in the emulator). */
  permissionsOf(userId: string): bigint {
    if (userId === this.ownerId) return ALL_PERMISSIONS;
    const member = this.members.get(userId);
    let bits = BigInt(this.roles.get(this.guildId)?.permissions ?? '0');
    for (const roleId of member?.roles ?? []) bits |= BigInt(this.roles.get(roleId)?.permissions ?? '0');
    return (bits & Perm.Administrator) !== 0n ? ALL_PERMISSIONS : bits;
  }

  // -------------------------------------------------------------------------------------------
  // Messages

  createMessage(input: {
    channelId: string;
    authorId: string;
    body: Record<string, unknown>;
    type?: number;
    flags?: number;
    webhookId?: string | null;
    interactionId?: string | null;
    attachments?: APIAttachment[];
  }): StoredMessage {
    const channel = this.requireChannel(input.channelId);
    const now = Date.now();
    const message: StoredMessage = {
      id: snowflake(now),
      channelId: input.channelId,
      authorId: input.authorId,
      content: typeof input.body.content === 'string' ? input.body.content : '',
      embeds: normalizeEmbeds(input.body.embeds),
      components: Array.isArray(input.body.components) ? input.body.components : [],
      attachments: input.attachments ?? [],
      flags: input.flags ?? (typeof input.body.flags === 'number' ? input.body.flags : 0),
      type: input.type ?? MessageType.Default,
      webhookId: input.webhookId ?? null,
      interactionId: input.interactionId ?? null,
      createdAt: now,
      editedAt: null,
      edits: [],
      reactions: new Map(),
      deleted: false,
      allowedMentions: input.body.allowed_mentions ?? null,
      nonce: typeof input.body.nonce === 'string' || typeof input.body.nonce === 'number' ? input.body.nonce : null,
    };
    this.messages.set(message.id, message);
    if ((message.flags & MessageFlags.Ephemeral) === 0) channel.lastMessageId = message.id;
    this.onChange();
    return message;
  }

  /** Applies a PATCH body (only the keys present; null clears) and records the edit. */
  editMessage(message: StoredMessage, body: Record<string, unknown>): StoredMessage {
    if ('content' in body) message.content = typeof body.content === 'string' ? body.content : '';
    if ('embeds' in body) message.embeds = normalizeEmbeds(body.embeds);
    if ('components' in body) message.components = Array.isArray(body.components) ? body.components : [];
    if ('allowed_mentions' in body) message.allowedMentions = body.allowed_mentions;
    if ('attachments' in body && Array.isArray(body.attachments)) {
      const keep = new Set(body.attachments.map((a: unknown) => (isRecord(a) ? String(a.id) : '')));
      message.attachments = message.attachments.filter((a) => keep.has(a.id));
    }
    // Editing a deferred ("thinking…") response turns it into a normal message.
    message.flags &= ~MessageFlags.Loading;
    const at = Date.now();
    message.editedAt = at;
    message.edits.push({ at, body: structuredClone(body), content: message.content });
    this.onChange();
    return message;
  }

  deleteMessage(message: StoredMessage): void {
    message.deleted = true;
    this.onChange();
  }

  /** Returns false when the user had already reacted with that emoji (Discord: no-op, no event). */
  addReaction(message: StoredMessage, emojiSegment: string, userId: string): boolean {
    const { key, emoji } = parseEmoji(emojiSegment);
    let reaction = message.reactions.get(key);
    if (!reaction) {
      reaction = { key, emoji, userIds: [] };
      message.reactions.set(key, reaction);
    }
    if (reaction.userIds.includes(userId)) return false;
    reaction.userIds.push(userId);
    this.onChange();
    return true;
  }

  removeReaction(message: StoredMessage, emojiSegment: string, userId: string): boolean {
    const { key } = parseEmoji(emojiSegment);
    const reaction = message.reactions.get(key);
    if (!reaction?.userIds.includes(userId)) return false;
    reaction.userIds = reaction.userIds.filter((id) => id !== userId);
    if (reaction.userIds.length === 0) message.reactions.delete(key);
    this.onChange();
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Rendering as Discord JSON

  apiUser(userId: string): APIUser {
    const user = this.users.get(userId);
    return {
      id: userId,
      username: user?.username ?? `user-${userId}`,
      discriminator: '0',
      global_name: user?.bot === true ? null : (user?.username ?? null),
      avatar: null,
      ...(user?.bot === true ? { bot: true } : {}),
      public_flags: NO_FLAGS,
      flags: NO_FLAGS,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
      collectibles: null,
      primary_guild: null,
    };
  }

  apiMember(userId: string): APIGuildMember & { user: APIUser } {
    const member = this.requireMember(userId);
    return {
      user: this.apiUser(userId),
      nick: member.nick,
      avatar: null,
      banner: null,
      roles: [...member.roles],
      joined_at: iso(member.joinedAt),
      premium_since: null,
      deaf: false,
      mute: false,
      flags: NO_FLAGS,
      pending: false,
      communication_disabled_until: null,
    };
  }

  /** The member object inside an interaction: the member plus their permissions. */
  apiInteractionMember(userId: string): APIInteractionGuildMember {
    return { ...this.apiMember(userId), permissions: this.permissionsOf(userId).toString() };
  }

  apiRole(role: StoredRole): APIRole {
    return {
      id: role.id,
      name: role.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: role.position,
      permissions: role.permissions,
      managed: role.managed,
      mentionable: false,
      flags: NO_FLAGS,
      ...(role.botId !== null ? { tags: { bot_id: role.botId } } : {}),
    };
  }

  apiChannel(channel: StoredChannel): APITextChannel {
    return {
      id: channel.id,
      type: ChannelType.GuildText,
      guild_id: this.guildId,
      name: channel.name,
      position: channel.position,
      permission_overwrites: [],
      parent_id: null,
      nsfw: false,
      topic: null,
      last_message_id: channel.lastMessageId,
      rate_limit_per_user: 0,
      flags: NO_FLAGS,
    };
  }

  /** The guild as GET /guilds/:id returns it (GUILD_CREATE adds the gateway-only fields). */
  apiGuild(): APIGuild {
    return {
      id: this.guildId,
      name: this.guildName,
      icon: null,
      icon_hash: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: this.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      widget_channel_id: null,
      verification_level: 0,
      default_message_notifications: 1,
      explicit_content_filter: 0,
      roles: [...this.roles.values()].map((r) => this.apiRole(r)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: this.firstChannelId,
      system_channel_flags: NO_FLAGS,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      max_presences: null,
      max_members: 500000,
      max_video_channel_users: 25,
      max_stage_video_channel_users: 50,
      vanity_url_code: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: Locale.EnglishUS,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      hub_type: null,
      incidents_data: null,
    };
  }

  apiReactions(message: StoredMessage): APIReaction[] {
    return [...message.reactions.values()].map((r) => ({
      emoji: r.emoji,
      count: r.userIds.length,
      count_details: { burst: 0, normal: r.userIds.length },
      burst_colors: [],
      me: r.userIds.includes(this.botUserId),
      me_burst: false,
    }));
  }

  /**
   * A message as REST returns it. With `gateway: true`, the MESSAGE_CREATE/UPDATE form: REST
   * objects have no guild_id/member, gateway ones do (discord.js uses guild_id to find the guild).
   */
  apiMessage(message: StoredMessage, opts: { gateway?: boolean } = {}): APIMessage & { guild_id?: string; member?: APIGuildMember } {
    const interaction = message.interactionId !== null ? this.interactions.get(message.interactionId) : undefined;
    const mentions = mentionedUserIds(message.content)
      .filter((id) => this.users.has(id))
      .map((id) => this.apiUser(id));
    const reactions = this.apiReactions(message);
    const out: APIMessage & { guild_id?: string; member?: APIGuildMember } = {
      id: message.id,
      type: message.type,
      channel_id: message.channelId,
      author: this.apiUser(message.authorId),
      content: message.content,
      timestamp: iso(message.createdAt),
      edited_timestamp: message.editedAt === null ? null : iso(message.editedAt),
      tts: false,
      mention_everyone: pingsOf(message).everyone,
      mentions,
      mention_roles: [...message.content.matchAll(/<@&(\d+)>/g)].map((m) => m[1] ?? '').filter((id) => this.roles.has(id)),
      attachments: message.attachments,
      embeds: message.embeds as APIEmbed[],
      components: message.components as APIMessageTopLevelComponent[],
      pinned: false,
      flags: message.flags,
      ...(reactions.length > 0 ? { reactions } : {}),
      ...(message.nonce !== null ? { nonce: message.nonce } : {}),
    };
    if (message.webhookId !== null) {
      out.webhook_id = message.webhookId;
      out.application_id = this.applicationId;
    }
    if (interaction) {
      const user = this.apiUser(interaction.userId);
      const type = interaction.kind === 'component' ? 3 : 2;
      out.interaction_metadata = {
        id: interaction.id,
        type,
        user,
        authorizing_integration_owners: { 0: this.guildId },
        ...(interaction.messageId !== null ? { interacted_message_id: interaction.messageId } : {}),
      } as NonNullable<APIMessage['interaction_metadata']>;
      out.interaction = { id: interaction.id, type, name: interaction.commandName, user };
    }
    if (opts.gateway === true) {
      out.guild_id = this.guildId;
      if (message.webhookId === null && this.members.has(message.authorId)) {
        const { user: _user, ...member } = this.apiMember(message.authorId);
        out.member = member as APIGuildMember;
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots for tests

  messageRecord(message: StoredMessage): MessageRecord {
    return {
      id: message.id,
      channelId: message.channelId,
      authorId: message.authorId,
      content: message.content,
      embeds: structuredClone(message.embeds),
      components: structuredClone(message.components),
      flags: message.flags,
      type: message.type,
      ephemeral: (message.flags & MessageFlags.Ephemeral) !== 0,
      interactionId: message.interactionId,
      createdAt: message.createdAt,
      editedAt: message.editedAt,
      edits: message.edits.map((e) => ({ at: e.at, body: structuredClone(e.body), content: e.content })),
      reactions: [...message.reactions.values()].map((r) => ({ emoji: r.key, userIds: [...r.userIds] })),
      deleted: message.deleted,
      allowedMentions: structuredClone(message.allowedMentions),
      mentionUserIds: mentionedUserIds(message.content),
      pings: pingsOf(message),
      nonce: message.nonce,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Nonces (enforce_nonce)

  /** The live message created by `authorId` with `nonce` within NONCE_TTL_MS, if any. */
  messageByNonce(authorId: string, nonce: string | number): StoredMessage | undefined {
    const seen = this.nonces.get(`${authorId}\0${nonce}`);
    if (!seen || Date.now() - seen.at > NONCE_TTL_MS) return undefined;
    const message = this.messages.get(seen.messageId);
    return message && !message.deleted ? message : undefined;
  }

  rememberNonce(message: StoredMessage): void {
    if (message.nonce === null) return;
    this.nonces.set(`${message.authorId}\0${message.nonce}`, { messageId: message.id, at: message.createdAt });
  }
}

/** How long Discord remembers a nonce for enforce_nonce ("the past few minutes"). */
export const NONCE_TTL_MS = 5 * 60_000;

/** Who a message notifies (MessageRecord.pings): content mentions that allowed_mentions lets through. */
function pingsOf(message: StoredMessage): { users: string[]; roles: string[]; everyone: boolean } {
  const am = message.allowedMentions;
  const fallback = message.webhookId !== null ? ['users'] : ['users', 'roles', 'everyone'];
  const given = isRecord(am);
  const parse: unknown[] = given ? (Array.isArray(am.parse) ? am.parse : []) : fallback;
  const listed = (kind: 'users' | 'roles'): string[] => (given && Array.isArray(am[kind]) ? am[kind].map(String) : []);
  const users = mentionedUserIds(message.content).filter((id) => parse.includes('users') || listed('users').includes(id));
  const roles = [...new Set([...message.content.matchAll(/<@&(\d+)>/g)].map((m) => m[1] ?? ''))].filter((id) => parse.includes('roles') || listed('roles').includes(id));
  return { users, roles, everyone: parse.includes('everyone') && /(?<!\\)@(everyone|here)/.test(message.content) };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mentionedUserIds(content: string): string[] {
  // `\<@id>` is shown as text, not as a mention.
  return [...new Set([...content.matchAll(/(?<!\\)<@!?(\d+)>/g)].map((m) => m[1] ?? ''))];
}

/** Discord stores embeds with `type: "rich"` filled in. */
function normalizeEmbeds(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [];
  return value.map((e: unknown) => (isRecord(e) ? { type: 'rich', ...e } : e));
}

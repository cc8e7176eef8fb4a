/**
 * Public types of the Discord API emulator: constructor options and the records the tests read.
 *
 * Everything a test reads is a plain snapshot (copied out of the emulator's state), so a test
 * can keep it, compare it later, or mutate it without changing what the bot sees.
 */

/** A guild member the emulator knows from the start (or added later with `addMember`). */
export interface EmulatorMemberInit {
  id: string;
  username: string;
  /** Role ids (not names). `@everyone` (= the guild id) is implied, as on Discord. */
  roles?: string[];
  nick?: string | null;
  bot?: boolean;
}

export interface EmulatorRoleInit {
  id: string;
  name: string;
  /**
   * Permission bitfield as a decimal string, as Discord sends it. Default "0" for ordinary roles;
   * `@everyone` gets the usual text-channel basics (view, send, read history, add reactions, use
   * application commands) unless a role with the guild's id is passed explicitly.
   */
  permissions?: string;
  position?: number;
}

export interface EmulatorChannelInit {
  id: string;
  name?: string;
}

/** A per-route rate limit the emulator enforces for real (429 when exceeded) and advertises in headers. */
export interface RouteRateLimit {
  /** Same syntax as `failNext` string patterns: `"PATCH /channels/:channel/messages/:message"`. */
  route: string;
  limit: number;
  windowMs: number;
}

export interface DiscordEmulatorOptions {
  guildId?: string;
  guildName?: string;
  /** Text channels of the guild; the first one is the system channel. Default: one `#general`. */
  channels?: Array<string | EmulatorChannelInit>;
  /** Application id; for modern bots it equals the bot user id (Discord's own rule), so both default to one value. */
  applicationId?: string;
  botUserId?: string;
  botUsername?: string;
  /** When set, REST calls (Authorization: Bot …) and IDENTIFY/RESUME must carry this token (401 / close 4004 otherwise). */
  token?: string;
  members?: EmulatorMemberInit[];
  roles?: EmulatorRoleInit[];
  /** Guild owner; default: the first member, or the bot when there is none. */
  ownerId?: string;
  /** HELLO's heartbeat_interval. Discord sends 41250; tests may use a few hundred ms. */
  heartbeatIntervalMs?: number;
  /**
   * Interaction callbacks arriving later than this (after dispatch) are refused with
   * 404 / 10062 "Unknown interaction", as Discord does after 3 seconds. Default 3000.
   */
  interactionDeadlineMs?: number;
  /** Interaction tokens (webhook routes: editReply, followUp) die after this. Default 15 min. */
  interactionTokenTtlMs?: number;
  /**
   * Rate limits. Default for every route: 50 requests per 1000 ms, advertised in
   * x-ratelimit-* headers. Entries here override matching routes (first match wins), and come
   * before `DISCORD_RATE_LIMITS` (message creates: 5 per 5 s per channel), which apply unless
   * `discordRateLimits` is false.
   */
  rateLimits?: RouteRateLimit[];
  /** Enforce Discord's per-channel message-create limit (`DISCORD_RATE_LIMITS`). Default true. */
  discordRateLimits?: boolean;
  /** Default window for routes without an entry in `rateLimits`. */
  defaultRateLimit?: { limit: number; windowMs: number };
  /**
   * Which members GUILD_CREATE carries. `realistic` (default) is what Discord does: only the bot's
   * own member unless the GuildPresences intent is set; then everyone. `all`: every member always.
   * Either way, interactions and reaction events carry the acting member, and REST/op 8 serve all.
   */
  guildCreateMembers?: 'realistic' | 'all';
  /**
   * Privileged intents the "developer portal" allows. Identifying with a privileged intent that is
   * not allowed closes the gateway with 4014 (Disallowed intents). Default: all allowed.
   */
  privilegedIntents?: { guildMembers?: boolean; guildPresences?: boolean; messageContent?: boolean };
  /** Called for every request that matched no route (default: a loud console.error). */
  onUnknownRoute?: (request: RecordedRequest) => void;
}

export interface RecordedRequest {
  /** 1, 2, 3… in arrival order. */
  seq: number;
  method: string;
  /** Path below `/api/v10`, percent-decoded per segment, without the query: `/channels/1/messages`. */
  path: string;
  /** The matched route template (`/channels/:channel/messages`), or null for an unknown route. */
  route: string | null;
  query: Record<string, string>;
  /** Request body: parsed JSON, or `{ payload_json, files }` for multipart uploads, or null. */
  body: unknown;
  status: number;
  /** What the emulator answered (null for 204). */
  response: unknown;
  /** Date.now() when the request arrived. */
  at: number;
  /** `fail` = an injected failNext failure; `ratelimit` = a real 429 from an exhausted bucket. */
  injected: 'fail' | 'ratelimit' | null;
  unknownRoute: boolean;
}

export interface MessageEdit {
  at: number;
  /** The PATCH body as sent. */
  body: Record<string, unknown>;
  /** Content after the edit. */
  content: string;
}

export interface ReactionRecord {
  /** Unicode emoji itself, or `name:id` for a custom emoji. */
  emoji: string;
  /** User ids in the order they reacted. */
  userIds: string[];
}

export interface MessageRecord {
  id: string;
  channelId: string;
  authorId: string;
  content: string;
  embeds: unknown[];
  components: unknown[];
  flags: number;
  /** Discord message type: 0 default, 20 chat-input command reply. */
  type: number;
  ephemeral: boolean;
  /** Set on the original response / follow-ups of an interaction. */
  interactionId: string | null;
  createdAt: number;
  editedAt: number | null;
  /** Every PATCH, in order (interaction editReply included). */
  edits: MessageEdit[];
  reactions: ReactionRecord[];
  /** Deleted messages stay listed here (and vanish from the REST API). */
  deleted: boolean;
  /** Raw `allowed_mentions` of the last create/edit, if any. */
  allowedMentions: unknown;
  /** User ids mentioned with `<@id>` in the content (as Discord fills `mentions`). */
  mentionUserIds: string[];
  /**
   * Who the message notifies: mentions in the content (never in embeds) that `allowed_mentions`
   * lets through. Without `allowed_mentions` Discord parses everything in a channel message, and
   * only users in an interaction response or webhook message.
   */
  pings: { users: string[]; roles: string[]; everyone: boolean };
  /** The nonce the message was created with, if any. */
  nonce: string | number | null;
}

export interface InteractionCallbackRecord {
  /** 4 reply, 5 deferred reply, 6 deferred update, 7 update, 8 autocomplete result, 9 modal. */
  type: number;
  data: Record<string, unknown> | null;
  flags: number;
  /** flags has 64 (EPHEMERAL). */
  ephemeral: boolean;
  receivedAt: number;
  /** Milliseconds from the emulator dispatching INTERACTION_CREATE to the callback arriving. */
  receivedAfterMs: number;
  /** Arrived after `interactionDeadlineMs`; Discord (and the emulator) refused it with 10062. */
  late: boolean;
  /** HTTP status the emulator answered. */
  status: number;
}

export interface AutocompleteChoice {
  name: string;
  value: string | number;
  name_localizations?: Record<string, string> | null;
}

export type OptionValue = string | number | boolean;

export interface SlashCommandInput {
  /** Member id of the invoking user (must be a known member). */
  user: string;
  name: string;
  group?: string;
  subcommand?: string;
  /**
   * Option values by name. Types come from the registered command when there is one (so
   * `count: 3` becomes an INTEGER option and user/role/channel ids get `resolved` entries);
   * otherwise strings → STRING, booleans → BOOLEAN, integers → INTEGER, other numbers → NUMBER.
   */
  options?: Record<string, OptionValue>;
  /** Default: the first channel. */
  channelId?: string;
  locale?: string;
}

export interface AutocompleteInput extends SlashCommandInput {
  /** Name of the option being typed; its partial value is `options[focused]` (default ""). */
  focused: string;
}

/** A member clicking a button on a message. */
export interface ComponentInput {
  /** Member id of the clicking user. */
  user: string;
  messageId: string;
  /** The button's custom_id (it must be on that message and not disabled). */
  customId: string;
  /** Default: the first channel. */
  channelId?: string;
  locale?: string;
}

export interface InteractionHandle {
  id: string;
  token: string;
  /** Date.now() at dispatch. */
  dispatchedAt: number;
  /** Resolves with the interaction callback (rejects after `timeoutMs`, default 5000). */
  response(timeoutMs?: number): Promise<InteractionCallbackRecord>;
  /** The original response message as it is now (edits included), or null (none / autocomplete). */
  original(): MessageRecord | null;
  /** Follow-up messages (POST /webhooks/:app/:token), oldest first. */
  followups(): MessageRecord[];
}

export interface FailOptions {
  status: 429 | 500 | 502 | 503 | 504;
  /** How many matching requests fail. Default 1. */
  count?: number;
  /** 429 only: seconds, sent in `retry-after` and in the body's `retry_after`. Default 0.1. */
  retryAfter?: number;
  /** 429 only: a global rate limit (x-ratelimit-global header, body global:true). */
  global?: boolean;
  /**
   * 5xx only: the request is carried out first (a message really is created or edited) and only
   * then answered with the failure — Discord wrote it, but the answer was lost on the way back.
   * discord.js then retries the same request; only a nonce with `enforce_nonce` keeps a create
   * from happening twice.
   */
  afterWrite?: boolean;
}

/** `"METHOD /route/:param"` (method may be `*`, params match one segment, `*` any rest), a RegExp tested against `"METHOD /path"`, or a predicate. */
export type RoutePattern = string | RegExp | ((request: { method: string; path: string }) => boolean);

export interface DropGatewayOptions {
  /** true (default): the session survives and the client RESUMEs; false: RESUME is refused (op 9) and it re-identifies. */
  resumable?: boolean;
  /** Close code sent to the client. Default 4000 (Discord "unknown error": discord.js resumes). */
  code?: number;
}

export interface GatewayEventRecord {
  /** Date.now() when dispatched (or sent, for replays). */
  at: number;
  sessionId: string;
  s: number;
  t: string;
  /** false when the session had no socket then (buffered for RESUME). */
  delivered: boolean;
  replay: boolean;
}

export interface GatewayConnectionRecord {
  at: number;
  url: string;
  query: Record<string, string>;
}

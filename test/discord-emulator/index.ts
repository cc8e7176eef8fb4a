/**
 * DiscordEmulator: a Discord API (REST v10 + JSON gateway) on 127.0.0.1 that the real discord.js
 * Client talks to, with controls for tests.
 *
 *   const discord = await new DiscordEmulator({ members: [{ id: ALICE, username: 'alice', roles: [OPS] }],
 *                                              roles: [{ id: OPS, name: 'operator' }] }).start();
 *   const client = new Client({ intents, partials, rest: { api: discord.restUrl } });
 *   await client.login('any-token');              // GET /gateway/bot → ws://127.0.0.1:PORT
 *   const cmd = discord.sendSlashCommand({ user: ALICE, name: 'vm', subcommand: 'start', options: { vm: 'web1' } });
 *   const ack = await cmd.response();             // { type: 4, ephemeral: false, receivedAfterMs: 12, … }
 *   await discord.stop();
 *
 * State (messages, reactions, commands) belongs to the emulator, not to a connection, so a bot
 * that restarts (a new Client) sees what the previous one left.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { APIApplicationCommand, APIApplicationCommandOption } from 'discord.js';
import { ApplicationCommandOptionType, GatewayIntentBits, Locale, MessageFlags } from 'discord.js';
import { Gateway } from './gateway.js';
import type { DispatchData, GatewaySession } from './gateway.js';
import { RestApi, compilePattern } from './rest.js';
import { buildRoutes } from './routes.js';
import type { RouteHooks } from './routes.js';
import { EmulatorState, isRecord, mentionedUserIds, parseEmoji, snowflake } from './state.js';
import type { InteractionKind, StoredInteraction, StoredMessage } from './state.js';
import type {
  AutocompleteChoice,
  AutocompleteInput,
  DiscordEmulatorOptions,
  DropGatewayOptions,
  EmulatorMemberInit,
  FailOptions,
  GatewayConnectionRecord,
  GatewayEventRecord,
  InteractionCallbackRecord,
  InteractionHandle,
  MessageRecord,
  OptionValue,
  RecordedRequest,
  RoutePattern,
  SlashCommandInput,
} from './types.js';

export type * from './types.js';

/** What `waitFor` resolves with: the predicate's value minus the falsy cases. */
export type Truthy<T> = Exclude<T, null | undefined | false | 0 | ''>;

const CHAT_INPUT = 1;
const GUILD_INSTALL = 0;

export class DiscordEmulator {
  private readonly options: DiscordEmulatorOptions;
  private readonly state: EmulatorState;
  private readonly rest: RestApi;
  private readonly changes = new EventEmitter();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly pendingRejects = new Set<(error: Error) => void>();
  private server: Server | null = null;
  private gateway: Gateway | null = null;
  private port = 0;

  constructor(options: DiscordEmulatorOptions = {}) {
    this.options = options;
    this.state = new EmulatorState(options);
    this.changes.setMaxListeners(0);
    this.state.onChange = () => this.changes.emit('change');
    this.rest = new RestApi(buildRoutes(this.state, options, this.routeHooks()), options, () => this.changes.emit('change'));
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Listens on 127.0.0.1 on an ephemeral port (HTTP and the gateway websocket share it). */
  async start(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => {
      this.rest.handle(req, res).catch((error: unknown) => {
        console.error('[discord-emulator] request failed', error);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: '500: Internal Server Error', code: 0 }));
      });
    });
    this.gateway = new Gateway(server, this.state, this.options, () => this.changes.emit('change'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.gateway.url = this.gatewayUrl;
    return this;
  }

  /** Closes every socket (gateway and keep-alive HTTP) so the test process can exit. */
  async stop(): Promise<void> {
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    for (const reject of this.pendingRejects) reject(new Error('discord-emulator stopped'));
    this.pendingRejects.clear();
    const server = this.server;
    this.server = null;
    if (this.gateway) await this.gateway.close();
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
  }

  /** REST base for discord.js: `new Client({ rest: { api: emulator.restUrl } })` (it appends `/v10`). */
  get restUrl(): string {
    return `http://127.0.0.1:${this.requirePort()}/api`;
  }

  /** What GET /gateway/bot returns as `url` (and READY as `resume_gateway_url`). */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.requirePort()}`;
  }

  get guildId(): string {
    return this.state.guildId;
  }

  get applicationId(): string {
    return this.state.applicationId;
  }

  get botUserId(): string {
    return this.state.botUserId;
  }

  /** The first (default) channel. */
  get channelId(): string {
    return this.state.firstChannelId;
  }

  get channelIds(): string[] {
    return [...this.state.channels.keys()];
  }

  // ---------------------------------------------------------------------------------------------
  // Interactions

  /**
   * Dispatches INTERACTION_CREATE for a chat-input command as Discord would after `user` ran it.
   * Throws when no bot session exists (the bot is not logged in), or when the input could not
   * have come from a Discord client (unknown option, missing required option, a value outside
   * the registered choices) if the command is registered.
   */
  sendSlashCommand(input: SlashCommandInput): InteractionHandle {
    const interaction = this.dispatchInteraction('command', input, null);
    return {
      id: interaction.id,
      token: interaction.token,
      dispatchedAt: interaction.dispatchedAt,
      response: (timeoutMs = 5000) => this.awaitCallback(interaction, timeoutMs),
      original: () => {
        const message = interaction.originalMessageId === null ? undefined : this.state.messages.get(interaction.originalMessageId);
        return message ? this.state.messageRecord(message) : null;
      },
      followups: () =>
        interaction.followupIds.flatMap((id) => {
          const message = this.state.messages.get(id);
          return message ? [this.state.messageRecord(message)] : [];
        }),
    };
  }

  /** Dispatches an APPLICATION_COMMAND_AUTOCOMPLETE interaction and resolves with the choices the bot returned. */
  async sendAutocomplete(input: AutocompleteInput, timeoutMs = 5000): Promise<AutocompleteChoice[]> {
    const interaction = this.dispatchInteraction('autocomplete', input, input.focused);
    const record = await this.awaitCallback(interaction, timeoutMs);
    const choices = record.data?.choices;
    if (record.status >= 400 || !Array.isArray(choices)) {
      throw new Error(`discord-emulator: autocomplete answered with type ${record.type} / HTTP ${record.status}, not choices`);
    }
    return choices.filter(isRecord).map((c) => ({
      name: String(c.name),
      value: typeof c.value === 'number' ? c.value : String(c.value),
      ...(c.name_localizations !== undefined ? { name_localizations: c.name_localizations as Record<string, string> | null } : {}),
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // Members acting in the guild

  /**
   * `user` adds a reaction: stored (so GET …/reactions/:emoji lists it) and dispatched as
   * MESSAGE_REACTION_ADD to sessions with the GuildMessageReactions intent. With no bot
   * connected it is only stored, like a reaction made while the bot was down.
   * Returns false when that user had already reacted so (Discord ignores it: no event).
   */
  react(userId: string, channelId: string, messageId: string, emoji = '✅'): boolean {
    const member = this.state.requireMember(userId);
    const message = this.visibleMessage(channelId, messageId);
    if (!this.state.addReaction(message, emoji, member.userId)) return false;
    this.routeHooks().reactionAdded(message, emoji, userId);
    return true;
  }

  /** `user` removes their reaction (MESSAGE_REACTION_REMOVE). Returns false when there was none. */
  unreact(userId: string, channelId: string, messageId: string, emoji = '✅'): boolean {
    this.state.requireMember(userId);
    const message = this.visibleMessage(channelId, messageId);
    if (!this.state.removeReaction(message, emoji, userId)) return false;
    this.routeHooks().reactionRemoved(message, emoji, userId);
    return true;
  }

  /** `user` posts a message in a channel (MESSAGE_CREATE). */
  postMessage(userId: string, channelId: string, content: string): MessageRecord {
    this.state.requireMember(userId);
    const message = this.state.createMessage({ channelId, authorId: userId, body: { content } });
    this.routeHooks().messageCreated(message);
    return this.state.messageRecord(message);
  }

  /** A member joins (GUILD_MEMBER_ADD, GuildMembers intent). */
  addMember(member: EmulatorMemberInit): void {
    this.state.addMember(member);
    this.gatewayOrThrow().dispatch('GUILD_MEMBER_ADD', { ...this.state.apiMember(member.id), guild_id: this.guildId }, GatewayIntentBits.GuildMembers);
  }

  /** Replaces a member's roles (GUILD_MEMBER_UPDATE, GuildMembers intent), e.g. to revoke a role mid-test. */
  setMemberRoles(userId: string, roles: string[]): void {
    const member = this.state.requireMember(userId);
    for (const role of roles) if (!this.state.roles.has(role)) throw new Error(`discord-emulator: unknown role ${role}`);
    member.roles = [...roles];
    this.state.onChange();
    this.gatewayOrThrow().dispatch('GUILD_MEMBER_UPDATE', { ...this.state.apiMember(userId), guild_id: this.guildId }, GatewayIntentBits.GuildMembers);
  }

  /** Escape hatch: dispatch any event (numbered, buffered for RESUME like the others). Returns the number of sessions. */
  dispatch(t: string, d: unknown, intent: number | null = null): number {
    return this.gatewayOrThrow().dispatch(t, d, intent);
  }

  // ---------------------------------------------------------------------------------------------
  // Reading the state

  /**
   * Messages of a channel, oldest first, with every edit and the current reactions. Deleted
   * messages stay (deleted: true). Ephemeral interaction responses are left out unless asked for
   * (nobody but the invoking user sees them; read them through the interaction handle).
   */
  messages(channelId: string = this.channelId, options: { includeEphemeral?: boolean } = {}): MessageRecord[] {
    return [...this.state.messages.values()]
      .filter((m) => m.channelId === channelId && (options.includeEphemeral === true || (m.flags & MessageFlags.Ephemeral) === 0))
      .map((m) => this.state.messageRecord(m));
  }

  message(messageId: string): MessageRecord | null {
    const message = this.state.messages.get(messageId);
    return message ? this.state.messageRecord(message) : null;
  }

  /** The commands last registered (bulk overwrite or create) for a guild, or 'global'; null if never. */
  registeredCommands(guildId: string = this.guildId): APIApplicationCommand[] | null {
    const commands = this.state.commands.get(guildId);
    return commands ? structuredClone(commands) : null;
  }

  /** How many bulk overwrites (PUT …/commands) arrived. */
  get commandOverwriteCount(): number {
    return this.state.bulkOverwrites;
  }

  /** Every REST request so far (optionally only those matching a pattern), oldest first. */
  requests(pattern?: RoutePattern): RecordedRequest[] {
    const match = pattern === undefined ? () => true : compilePattern(pattern);
    return this.rest.requests.filter((r) => match({ method: r.method, path: r.path })).map((r) => structuredClone(r));
  }

  /** Requests no route answered (404/405). Tests should end with this empty. */
  unknownRoutes(): RecordedRequest[] {
    return this.requests().filter((r) => r.unknownRoute);
  }

  // ---------------------------------------------------------------------------------------------
  // Fault injection

  /**
   * The next `count` requests matching `pattern` fail with `status` before reaching their route:
   * 429 with retry-after (header and JSON), 5xx with Discord's JSON (502: Cloudflare's HTML).
   * discord.js waits and retries 429s without limit, and retries 5xx 3 times, immediately.
   */
  failNext(pattern: RoutePattern, options: FailOptions): void {
    this.rest.failNext(pattern, options);
  }

  /** The next `count` matching requests are answered `ms` later (e.g. to push an ack past the deadline). */
  delayNext(pattern: RoutePattern, ms: number, count = 1): void {
    this.rest.delayNext(pattern, ms, count);
  }

  /** Injected failures not consumed yet. */
  get pendingFailures(): number {
    return this.rest.pendingFailures();
  }

  /**
   * Closes the bot's gateway socket(s). Resumable (default): the client reconnects after ~500 ms
   * and RESUMEs; events dispatched meanwhile are replayed. Not resumable: its RESUME gets op 9
   * and it IDENTIFYs again (discord.js's identify throttle may hold that for up to ~6.5 s).
   * Returns the number of sockets closed.
   */
  dropGateway(options: DropGatewayOptions = {}): number {
    const dropped = this.gatewayOrThrow().drop(options);
    if (dropped === 0) throw new Error('discord-emulator: dropGateway: no connected session');
    return dropped;
  }

  get identifyCount(): number {
    return this.gateway?.identifyCount ?? 0;
  }

  /** Successful RESUMEs. */
  get resumeCount(): number {
    return this.gateway?.resumeCount ?? 0;
  }

  /** RESUMEs refused with op 9. */
  get failedResumeCount(): number {
    return this.gateway?.failedResumeCount ?? 0;
  }

  get heartbeatCount(): number {
    return this.gateway?.heartbeatCount ?? 0;
  }

  /** Sessions with an open socket right now. */
  get connectedSessions(): number {
    return this.gateway?.connectedCount ?? 0;
  }

  gatewayConnections(): GatewayConnectionRecord[] {
    return structuredClone(this.gateway?.connections ?? []);
  }

  /** Dispatches sent (or buffered), oldest first; `replay: true` for those re-sent on RESUME. */
  gatewayEvents(): GatewayEventRecord[] {
    return structuredClone(this.gateway?.events ?? []);
  }

  // ---------------------------------------------------------------------------------------------
  // Waiting

  /**
   * Resolves with the predicate's first truthy result. It is re-evaluated on every state change
   * and every 15 ms; a predicate that throws (e.g. an assert) counts as "not yet" and its last
   * error is shown on timeout, with the recent requests and gateway events.
   */
  waitFor<T>(predicate: () => T, timeoutMs = 5000, what = 'condition'): Promise<Truthy<T>> {
    return new Promise<Truthy<T>>((resolve, reject) => {
      let lastError: unknown = null;
      let done = false;
      const check = (): void => {
        if (done) return;
        try {
          const value = predicate();
          if (value !== null && value !== undefined && value !== false && value !== 0 && value !== '') {
            finish();
            resolve(value as Truthy<T>);
          }
        } catch (error) {
          lastError = error;
        }
      };
      const finish = (): void => {
        done = true;
        clearInterval(poll);
        clearTimeout(timer);
        this.pendingTimers.delete(timer);
        this.pendingRejects.delete(fail);
        this.changes.off('change', check);
      };
      const fail = (error: Error): void => {
        finish();
        reject(error);
      };
      const poll = setInterval(check, 15);
      const timer = setTimeout(() => {
        const cause = lastError instanceof Error ? `\nlast predicate error: ${lastError.message}` : '';
        fail(new Error(`discord-emulator: waitFor(${what}) timed out after ${timeoutMs} ms${cause}\n${this.describeRecent()}`));
      }, timeoutMs);
      this.pendingTimers.add(timer);
      this.pendingRejects.add(fail);
      this.changes.on('change', check);
      check();
    });
  }

  /** The last requests and gateway events, for error messages. */
  describeRecent(count = 15): string {
    const t0 = this.state.createdAt;
    const requests = this.rest.requests
      .slice(-count)
      .map((r) => `  #${r.seq} +${r.at - t0}ms ${r.method} ${r.path} → ${r.status}${r.injected ? ` (${r.injected})` : ''}${r.unknownRoute ? ' UNKNOWN ROUTE' : ''}`);
    const events = (this.gateway?.events ?? [])
      .slice(-count)
      .map((e) => `  +${e.at - t0}ms s=${e.s} ${e.t}${e.delivered ? '' : ' (buffered)'}${e.replay ? ' (replay)' : ''}`);
    return [
      `recent requests (${this.rest.requests.length} in all):`,
      ...(requests.length > 0 ? requests : ['  none']),
      `recent gateway dispatches; connected sessions: ${this.connectedSessions}, identifies: ${this.identifyCount}, resumes: ${this.resumeCount}`,
      ...(events.length > 0 ? events : ['  none']),
    ].join('\n');
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private requirePort(): number {
    if (this.port === 0) throw new Error('discord-emulator: call start() first');
    return this.port;
  }

  private gatewayOrThrow(): Gateway {
    if (!this.gateway) throw new Error('discord-emulator: call start() first');
    return this.gateway;
  }

  private visibleMessage(channelId: string, messageId: string): StoredMessage {
    try {
      return this.state.requireChannelMessage(channelId, messageId);
    } catch {
      throw new Error(`discord-emulator: no message ${messageId} in channel ${channelId}`);
    }
  }

  private awaitCallback(interaction: StoredInteraction, timeoutMs: number): Promise<InteractionCallbackRecord> {
    if (interaction.callback) return Promise.resolve(structuredClone(interaction.callback));
    return new Promise<InteractionCallbackRecord>((resolve, reject) => {
      const fail = (error: Error): void => {
        clearTimeout(timer);
        this.pendingTimers.delete(timer);
        this.pendingRejects.delete(fail);
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new Error(`discord-emulator: no callback for interaction /${interaction.commandName} (${interaction.kind}) within ${timeoutMs} ms\n${this.describeRecent()}`));
      }, timeoutMs);
      this.pendingTimers.add(timer);
      this.pendingRejects.add(fail);
      interaction.waiters.push((record) => {
        clearTimeout(timer);
        this.pendingTimers.delete(timer);
        this.pendingRejects.delete(fail);
        resolve(structuredClone(record));
      });
    });
  }

  private dispatchInteraction(kind: InteractionKind, input: SlashCommandInput, focused: string | null): StoredInteraction {
    const gateway = this.gatewayOrThrow();
    if (gateway.sessionCount === 0) throw new Error('discord-emulator: no bot session (log the client in first)');
    const state = this.state;
    state.requireMember(input.user);
    const channelId = input.channelId ?? state.firstChannelId;
    const channel = state.requireChannel(channelId);
    const registered = this.findCommand(input.name);
    const { options, resolved } = this.buildOptions(input, registered, focused);

    const interaction: StoredInteraction = {
      id: snowflake(),
      token: `aW50ZXJhY3Rpb246${randomBytes(48).toString('base64url')}`,
      kind,
      userId: input.user,
      channelId,
      commandName: input.name,
      dispatchedAt: Date.now(),
      callback: null,
      originalMessageId: null,
      followupIds: [],
      waiters: [],
    };
    state.interactions.set(interaction.id, interaction);
    state.interactionsByToken.set(interaction.token, interaction);

    const permissions = state.permissionsOf(input.user).toString();
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
      guild: { id: state.guildId, locale: Locale.EnglishUS, features: [] },
      guild_id: state.guildId,
      guild_locale: Locale.EnglishUS,
      // discord.js takes interaction.channelId from `channel.id` (not from `channel_id`).
      channel: { ...state.apiChannel(channel), permissions },
      channel_id: channelId,
      member: state.apiInteractionMember(input.user),
      app_permissions: state.permissionsOf(state.botUserId).toString(),
      locale: input.locale ?? Locale.EnglishUS,
      // discord.js reads these unconditionally: entitlements.reduce(...) and integration owners[0].
      entitlements: [],
      authorizing_integration_owners: { [GUILD_INSTALL]: state.guildId },
      context: 0,
      attachment_size_limit: 10_485_760,
    };
    interaction.dispatchedAt = Date.now();
    gateway.dispatch('INTERACTION_CREATE', payload, null);
    return interaction;
  }

  private findCommand(name: string): APIApplicationCommand | undefined {
    const byName = (list: APIApplicationCommand[] | undefined) => list?.find((c) => c.name === name && (c.type ?? CHAT_INPUT) === CHAT_INPUT);
    return byName(this.state.commands.get(this.state.guildId)) ?? byName(this.state.commands.get('global'));
  }

  /**
   * Builds `data.options` as Discord nests them: [group → [subcommand → [options]]], typed from
   * the registered definition when there is one, plus `data.resolved` for user/role/channel values.
   */
  private buildOptions(
    input: SlashCommandInput,
    registered: APIApplicationCommand | undefined,
    focused: string | null,
  ): { options: Array<Record<string, unknown>>; resolved: Record<string, Record<string, unknown>> } {
    const state = this.state;
    const where = `/${[input.name, input.group, input.subcommand].filter(Boolean).join(' ')}`;
    let defs: APIApplicationCommandOption[] | undefined = registered?.options ?? (registered ? [] : undefined);
    const descend = (type: ApplicationCommandOptionType, name: string | undefined): void => {
      if (defs === undefined) return;
      const nested = defs.filter((d) => d.type === type);
      if (name === undefined) {
        if (nested.length > 0) throw new Error(`discord-emulator: ${where} needs a ${type === ApplicationCommandOptionType.SubcommandGroup ? 'subcommand group' : 'subcommand'} (${nested.map((d) => d.name).join(', ')})`);
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

  /** What the emulator pushes over the gateway when the state changes through REST or a test control. */
  private routeHooks(): RouteHooks {
    const state = this.state;
    const gateway = (): Gateway | null => this.gateway;
    const send = (t: string, d: DispatchData, intent: number | null): void => {
      gateway()?.dispatch(t, d, intent);
    };
    /** Without MessageContent, others' messages arrive with empty content unless they mention the bot. */
    const messagePayload = (message: StoredMessage) => (session: GatewaySession) => {
      const full = state.apiMessage(message, { gateway: true });
      const readable =
        (session.intents & GatewayIntentBits.MessageContent) !== 0 ||
        message.authorId === state.botUserId ||
        mentionedUserIds(message.content).includes(state.botUserId);
      return readable ? full : { ...full, content: '', embeds: [], attachments: [], components: [] };
    };
    return {
      gatewayUrl: () => this.gatewayUrl,
      messageCreated: (message) => send('MESSAGE_CREATE', messagePayload(message), GatewayIntentBits.GuildMessages),
      messageUpdated: (message) => send('MESSAGE_UPDATE', messagePayload(message), GatewayIntentBits.GuildMessages),
      messageDeleted: (message) =>
        send('MESSAGE_DELETE', { id: message.id, channel_id: message.channelId, guild_id: state.guildId }, GatewayIntentBits.GuildMessages),
      reactionAdded: (message, emojiSegment, userId) =>
        send(
          'MESSAGE_REACTION_ADD',
          {
            user_id: userId,
            channel_id: message.channelId,
            message_id: message.id,
            guild_id: state.guildId,
            // discord.js resolves the reacting user from member.user when guild_id is present.
            member: state.apiMember(userId),
            emoji: parseEmoji(emojiSegment).emoji,
            message_author_id: message.authorId,
            burst: false,
            burst_colors: [],
            type: 0,
          },
          GatewayIntentBits.GuildMessageReactions,
        ),
      reactionRemoved: (message, emojiSegment, userId) =>
        send(
          'MESSAGE_REACTION_REMOVE',
          { user_id: userId, channel_id: message.channelId, message_id: message.id, guild_id: state.guildId, emoji: parseEmoji(emojiSegment).emoji, burst: false, type: 0 },
          GatewayIntentBits.GuildMessageReactions,
        ),
      reactionsCleared: (message, emojiSegment) =>
        emojiSegment === null
          ? send('MESSAGE_REACTION_REMOVE_ALL', { channel_id: message.channelId, message_id: message.id, guild_id: state.guildId }, GatewayIntentBits.GuildMessageReactions)
          : send(
              'MESSAGE_REACTION_REMOVE_EMOJI',
              { channel_id: message.channelId, message_id: message.id, guild_id: state.guildId, emoji: parseEmoji(emojiSegment).emoji },
              GatewayIntentBits.GuildMessageReactions,
            ),
      interactionAnswered: (interaction, record) => {
        interaction.callback = record;
        const waiters = interaction.waiters.splice(0);
        for (const waiter of waiters) waiter(record);
        state.onChange();
      },
    };
  }
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

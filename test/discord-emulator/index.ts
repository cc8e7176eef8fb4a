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
import type { APIApplicationCommand } from 'discord.js';
import { GatewayIntentBits, MessageFlags } from 'discord.js';
import { gatewayHooks } from './dispatches.js';
import { Gateway } from './gateway.js';
import { createComponentInteraction, createInteraction } from './interactions.js';
import { RestApi, compilePattern } from './rest.js';
import { buildRoutes } from './routes.js';
import type { RouteHooks } from './routes.js';
import { EmulatorState, isRecord } from './state.js';
import type { InteractionKind, StoredInteraction, StoredMessage } from './state.js';
import type {
  AutocompleteChoice,
  AutocompleteInput,
  ComponentInput,
  DiscordEmulatorOptions,
  DropGatewayOptions,
  EmulatorMemberInit,
  FailOptions,
  GatewayConnectionRecord,
  GatewayEventRecord,
  InteractionCallbackRecord,
  InteractionHandle,
  MessageRecord,
  RecordedRequest,
  RoutePattern,
  SlashCommandInput,
} from './types.js';

export type * from './types.js';

/** What `waitFor` resolves with: the predicate's value minus the falsy cases. */
export type Truthy<T> = Exclude<T, null | undefined | false | 0 | ''>;

export class DiscordEmulator {
  private readonly options: DiscordEmulatorOptions;
  private readonly state: EmulatorState;
  private readonly rest: RestApi;
  private readonly hooks: RouteHooks;
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
    this.hooks = gatewayHooks(this.state, () => this.gateway, () => this.gatewayUrl);
    this.rest = new RestApi(buildRoutes(this.state, options, this.hooks), options, () => this.changes.emit('change'));
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

  /**
   * Closes every socket (gateway and keep-alive HTTP) so the test process can exit. Destroy the
   * discord.js clients first: a client whose gateway vanishes keeps trying to reconnect.
   */
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
    return this.handleOf(this.dispatchInteraction('command', input, null));
  }

  private handleOf(interaction: StoredInteraction): InteractionHandle {
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

  /**
   * `user` clicks a button (INTERACTION_CREATE type 3, MESSAGE_COMPONENT) on a message. Throws
   * when a Discord client could not have sent it (no such button, or it is disabled). The
   * handle's `response()` is the bot's callback (4 reply — ephemeral with flags 64 —, 6 deferred
   * update, 7 update message), `original()` the message the button is on, `followups()` the rest.
   */
  clickButton(input: ComponentInput): InteractionHandle {
    const gateway = this.gatewayOrThrow();
    if (gateway.sessionCount === 0) throw new Error('discord-emulator: no bot session (log the client in first)');
    const { interaction, payload } = createComponentInteraction(this.state, input);
    interaction.dispatchedAt = Date.now();
    gateway.dispatch('INTERACTION_CREATE', payload, null);
    return this.handleOf(interaction);
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
    this.hooks.reactionAdded(message, emoji, userId);
    return true;
  }

  /** `user` removes their reaction (MESSAGE_REACTION_REMOVE). Returns false when there was none. */
  unreact(userId: string, channelId: string, messageId: string, emoji = '✅'): boolean {
    this.state.requireMember(userId);
    const message = this.visibleMessage(channelId, messageId);
    if (!this.state.removeReaction(message, emoji, userId)) return false;
    this.hooks.reactionRemoved(message, emoji, userId);
    return true;
  }

  /** `user` posts a message in a channel (MESSAGE_CREATE). */
  postMessage(userId: string, channelId: string, content: string): MessageRecord {
    this.state.requireMember(userId);
    const message = this.state.createMessage({ channelId, authorId: userId, body: { content } });
    this.hooks.messageCreated(message);
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

  /**
   * 429s served because a rate-limit bucket was exhausted (injected `failNext` 429s not
   * counted). discord.js reads the x-ratelimit-* headers and waits before a bucket runs dry, so
   * with one client this stays 0 and a flood shows as latency instead.
   */
  get rateLimitedCount(): number {
    return this.rest.rateLimited;
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

  private dispatchInteraction(kind: InteractionKind, input: SlashCommandInput, focused: string | null): StoredInteraction {
    const gateway = this.gatewayOrThrow();
    if (gateway.sessionCount === 0) throw new Error('discord-emulator: no bot session (log the client in first)');
    const { interaction, payload } = createInteraction(this.state, kind, input, focused);
    interaction.dispatchedAt = Date.now();
    gateway.dispatch('INTERACTION_CREATE', payload, null);
    return interaction;
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
}

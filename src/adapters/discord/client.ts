import { Client, GatewayIntentBits, Partials, Status, type RateLimitData } from 'discord.js';
import type { DiscordStatus } from '../../ops/index.js';

/**
 * The discord.js client kvmops needs, and nothing more.
 *
 * Intents (none privileged): Guilds (channels, roles, the guild itself), GuildMessages,
 * GuildMessageReactions (✅ / ❌ on approval requests). Members' roles arrive with every
 * interaction and with every MESSAGE_REACTION_ADD (`member`), and are fetched over REST for
 * start-up reconciliation, so the privileged GuildMembers intent is not needed.
 *
 * Partials Message, Channel, Reaction, User, GuildMember: a reaction on a message the client
 * never cached (posted before a restart) is only emitted with them (docs/architecture.md).
 *
 * No zlib-sync: without it the gateway stays plain JSON, which the emulator speaks too.
 */
export interface ClientOptions {
  /** DISCORD_API_URL: REST base (discord.js appends `/v10`); the gateway URL comes from GET /gateway/bot. */
  apiUrl?: string | undefined;
  /**
   * 429s waited for longer than this are thrown (RateLimitError) instead of waited out inside
   * discord.js, so one long rate limit cannot stall the notifier; it retries with backoff.
   */
  maxRateLimitWaitMs?: number;
}

export function createDiscordClient(opts: ClientOptions = {}): Client {
  const maxWait = opts.maxRateLimitWaitMs ?? 10_000;
  return new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions],
    partials: [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User, Partials.GuildMember],
    rest: {
      ...(opts.apiUrl ? { api: opts.apiUrl } : {}),
      rejectOnRateLimit: (data: RateLimitData) => data.retryAfter > maxWait,
    },
    // Nothing we post pings anyone unless a message says so (the completion message does).
    allowedMentions: { parse: [] },
  });
}

/**
 * The gateway state as /healthz reports it. The manager's own status stays Ready after the first
 * READY, so the shards are what tell a dropped, resuming connection apart.
 */
export function discordStatusOf(client: Client): DiscordStatus {
  const shards = [...client.ws.shards.values()];
  if (shards.length === 0) return client.ws.status === Status.Ready ? 'connected' : 'disconnected';
  if (shards.every((s) => s.status === Status.Ready)) return 'connected';
  return 'reconnecting';
}

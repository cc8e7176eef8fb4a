import { Events, type APIApplicationCommand, type Client } from 'discord.js';
import type { ChatCore } from '../../chat/adapter-port.js';
import type { DiscordStatus } from '../../ops/index.js';
import type { ReconcileResult } from '../../chat/approval-reactions.js';
import { ChannelApi } from './channel-api.js';
import { createDiscordClient, discordStatusOf } from './client.js';
import { createInteractionHandler } from './interactions.js';
import { createReactionHandler, reconcileApprovals } from './reactions.js';
import { commandLabels, registerCommands } from './registration.js';
import { DiscordSink } from './sink.js';

/**
 * The Discord adapter, wired: log in, wait for READY, register the guild commands, read the
 * reactions on pending approval requests, and from then on answer interactions and reactions.
 * Its `sink` goes to `startApp` (the notifier), its `status` to /healthz.
 */

export interface DiscordAdapterOptions {
  token: string;
  guildId: string;
  /** DISCORD_API_URL (default Discord's). */
  apiUrl?: string | undefined;
  /** Bulk-overwrite the guild's commands at start-up (default true). */
  registerCommands?: boolean;
  /** Give up when READY has not come by then (default 30 s). */
  readyTimeoutMs?: number;
  /** Defer a command that has not answered after this long (default 1500 ms). */
  safetyDeferMs?: number;
  /** Role ids mentioned on approval requests: KVMOPS_ROLE_APPROVER, or none when KVMOPS_NOTIFY_APPROVERS=false. */
  approverRoles?: readonly string[];
}

export interface DiscordAdapter {
  readonly client: Client<true>;
  readonly sink: DiscordSink;
  /** What the bulk overwrite returned (empty when registration was off). */
  readonly registered: APIApplicationCommand[];
  /** Decisions taken from reactions made while the bot was down. */
  readonly reconciled: ReconcileResult[];
  status(): DiscordStatus;
  /** Counts REST error responses in kvmops_discord_rest_errors_total (the App's metrics exist after the adapter). */
  attachMetrics(metrics: { discordRestError(status: number | string): void }): void;
  /** Stop taking commands: they are answered "restarting" (before the worker drains). */
  pause(): void;
  stop(): Promise<void>;
}

export async function startDiscord(core: ChatCore, opts: DiscordAdapterOptions): Promise<DiscordAdapter> {
  const log = core.logger.child({ adapter: 'discord' });
  const client = createDiscordClient({ apiUrl: opts.apiUrl });
  const api = new ChannelApi(client.rest);
  let metrics: { discordRestError(status: number | string): void } | undefined;
  const restError = (status: number | string) => metrics?.discordRestError(status);
  client.rest.on('response', (request, response) => {
    if (response.status >= 400) {
      restError(response.status);
      log.debug({ method: request.method, path: request.path, status: response.status }, 'discord REST error response');
    }
  });
  client.rest.on('rateLimited', (info) => log.info({ route: info.route, retryAfterMs: info.retryAfter, global: info.global }, 'discord rate limit'));

  let paused = false;
  const onInteraction = createInteractionHandler({
    router: core.router,
    roles: core.roles,
    approvals: core.services.approvals,
    jobs: core.services.jobs,
    services: core.services,
    approverRoles: opts.approverRoles ?? [],
    api,
    botUserId: () => client.user?.id ?? '0',
    log,
    ...(opts.safetyDeferMs !== undefined ? { safetyDeferMs: opts.safetyDeferMs } : {}),
    refuseAll: () => (paused ? 'kvmops is restarting; try again in a minute.' : null),
  });
  const sink = new DiscordSink(api, { onRestError: restError });
  const reactionDeps = { client, services: core.services, roles: core.roles, api, guildId: opts.guildId, log };
  const onReaction = createReactionHandler(reactionDeps);

  client.on(Events.InteractionCreate, (i) => void onInteraction(i));
  client.on(Events.MessageReactionAdd, (r, u) => void onReaction(r, u));
  client.on(Events.Error, (e) => log.error({ err: e }, 'discord client error'));
  client.on(Events.Warn, (m) => log.warn({ msg: m }, 'discord client warning'));
  client.on(Events.ShardDisconnect, (ev, shard) => log.warn({ code: ev.code, shard }, 'discord gateway disconnected'));
  client.on(Events.ShardReconnecting, (shard) => log.info({ shard }, 'discord gateway reconnecting'));
  client.on(Events.ShardResume, (shard, replayed) => log.info({ shard, replayed }, 'discord gateway resumed'));

  try {
    const ready = readyWithin(client, opts.readyTimeoutMs ?? 30_000);
    await client.login(opts.token);
    await ready;
    if (!client.guilds.cache.has(opts.guildId)) {
      log.warn({ guildId: opts.guildId }, 'the bot is not in DISCORD_GUILD_ID (invite it with the bot and applications.commands scopes)');
    }
    let registered: APIApplicationCommand[] = [];
    if (opts.registerCommands ?? true) {
      const defs = core.router.definitions();
      registered = await registerCommands(client.rest, client.application!.id, opts.guildId, defs);
      log.info({ commands: commandLabels(defs).length }, 'slash commands registered');
    }
    const reconciled = await reconcileApprovals(reactionDeps);
    const decided = reconciled.filter((r) => r.outcome.kind !== 'ignored');
    if (reconciled.length) log.info({ pending: reconciled.length, decided: decided.length }, 'approval reactions reconciled');

    let stopped: Promise<void> | undefined;
    return {
      client: client as Client<true>,
      sink,
      registered,
      reconciled,
      status: () => (stopped ? 'disconnected' : discordStatusOf(client)),
      attachMetrics: (m) => {
        metrics = m;
      },
      pause: () => {
        paused = true;
      },
      stop: () => (stopped ??= client.destroy()),
    };
  } catch (e) {
    await client.destroy();
    throw e;
  }
}

function readyWithin(client: Client, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Discord: no READY within ${ms} ms (check DISCORD_TOKEN and the network)`)), ms);
    timer.unref();
    client.once(Events.ClientReady, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

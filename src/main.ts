/**
 * `npm start`: the Discord bot and its worker in one process (SQLite has one writer).
 *
 * Start: .env (if present) → environment (one zod schema; a bad value stops here with one
 * line) → core (store, hypervisor, router) → Discord (login, register commands, reconcile
 * pending approvals) → worker, notifier, approval sweeper, /healthz.
 * Stop (SIGTERM / SIGINT): stop taking commands, let running jobs finish within the grace
 * period, flush notifications, close the database, log out of Discord, exit 0. A second signal
 * exits at once with 1.
 */
import { createCore, startApp } from './app.js';
import { EnvError, loadDotEnv, loadEnv, requireDiscord } from './config/env.js';
import { startDiscord } from './adapters/discord/adapter.js';

const GRACE_MS = 30_000;

function oneLine(e: unknown): string {
  if (e instanceof EnvError) return `invalid environment: ${e.issues.join('; ')}`;
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, '; ');
}


async function main(): Promise<void> {
  loadDotEnv();
  const env = loadEnv();
  const { token, guildId } = requireDiscord(env);
  const core = createCore(env);
  const log = core.logger;

  let discord;
  try {
    discord = await startDiscord(core, {
      token,
      guildId,
      apiUrl: env.DISCORD_API_URL,
      approverRoles: env.KVMOPS_NOTIFY_APPROVERS ? env.KVMOPS_ROLE_APPROVER : [],
    });
  } catch (e) {
    core.store.close();
    throw e;
  }
  const app = await startApp(core, { sinks: [discord.sink], discordStatus: discord.status });
  discord.attachMetrics(app.ops.metrics);
  log.info({ guildId, hosts: core.hypervisor.hostNames(), user: discord.client.user.tag }, 'kvmops is up');

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, graceMs: GRACE_MS }, 'stopping: running jobs get the grace period');
    discord.pause();
    void (async () => {
      try {
        await app.stop({ graceMs: GRACE_MS });
        await discord.stop();
        log.info('stopped');
        process.exit(0);
      } catch (e) {
        log.error({ err: e }, 'stop failed');
        process.exit(1);
      }
    })();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((e: unknown) => {
  console.error(`kvmops: ${oneLine(e)}`);
  process.exit(1);
});

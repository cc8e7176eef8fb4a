/**
 * `npm start`: the Discord bot and its worker in one process (SQLite has one writer).
 *
 * Start: .env (if present) → environment (one zod schema; a bad value stops here with one
 * line) → core (store, hypervisor, router) → Discord (login, register commands, reconcile
 * pending approvals) → worker, notifier, approval sweeper, /healthz.
 *
 * Stop (SIGTERM / SIGINT, also while starting): stop taking commands, let running jobs finish
 * within the grace period, abort and hand back the rest (their virsh / qemu-img children take
 * the abort), flush notifications, close the database, log out of Discord, exit 0 — all within
 * KVMOPS_STOP_TIMEOUT (stopBudget splits it). If anything still hangs then, the process exits 0
 * anyway: a job it could not hand back keeps its lease until it expires, and the next start
 * reaps it and runs it again (never lost); the children die with the process (pdeathsig).
 *
 * Signals that repeat within REPEAT_MS of the first belong to the same stop: `npm start` passes
 * the signal on to node, so Ctrl-C (the whole process group) or a cgroup-wide SIGTERM arrives
 * twice. A later second signal is a person insisting: exit 1 at once (the same recovery).
 */
import { createCore, startApp, stopBudget, type App } from './app.js';
import { EnvError, loadDotEnv, loadEnv, requireDiscord } from './config/env.js';
import { startDiscord, type DiscordAdapter } from './adapters/discord/adapter.js';
import { readProfiles } from './config/profiles.js';
import { readTeamKeys } from './config/team-keys.js';

const REPEAT_MS = 1_000;

function oneLine(e: unknown): string {
  if (e instanceof EnvError) return `invalid environment: ${e.issues.join('; ')}`;
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, '; ');
}

async function main(): Promise<void> {
  loadDotEnv();
  const env = loadEnv();
  const { token, guildId } = requireDiscord(env);
  const core = createCore(env, { teamKeys: await readTeamKeys(env.KVMOPS_SSH_KEYS_FILE), profiles: await readProfiles(env.KVMOPS_PROFILES_DIR) });
  const log = core.logger;
  const timeoutMs = env.KVMOPS_STOP_TIMEOUT;
  const budget = stopBudget(timeoutMs);

  let discord: DiscordAdapter | undefined;
  let app: App | undefined;
  let requested: { signal: NodeJS.Signals; at: number } | undefined;
  let stopping: Promise<void> | undefined;

  /** Runs once, after start-up got as far as it will: stops what exists, then exits 0. */
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      try {
        discord?.pause();
        if (app) await app.stop(budget);
        else core.store.close();
        await discord?.stop();
        log.info({ ms: Date.now() - requested!.at }, 'stopped');
        process.exit(0);
      } catch (e) {
        log.error({ err: e }, 'stop failed');
        process.exit(1);
      }
    })());

  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      if (Date.now() - requested.at < REPEAT_MS) return;
      log.warn({ signal }, 'second signal: exiting now; unfinished jobs are recovered at the next start');
      process.exit(1);
    }
    requested = { signal, at: Date.now() };
    log.info({ signal, stopTimeoutMs: timeoutMs, ...budget, running: app?.worker.runningJobIds() ?? [] }, 'stopping: running jobs get the grace period');
    setTimeout(() => {
      log.error(
        { stopTimeoutMs: timeoutMs, running: app?.worker.runningJobIds() ?? [] },
        'stop timeout: exiting; jobs not handed back keep their lease until it expires and run again at the next start',
      );
      process.exit(0);
    }, timeoutMs).unref();
    if (app || !discord) void stop(); // before Discord is up there is nothing to wait for
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  log.info({ pid: process.pid, stopTimeoutMs: timeoutMs }, 'starting: logging in to Discord');

  try {
    discord = await startDiscord(core, {
      token,
      guildId,
      apiUrl: env.DISCORD_API_URL,
      approverRoles: env.KVMOPS_NOTIFY_APPROVERS ? env.KVMOPS_ROLE_APPROVER : [],
    });
  } catch (e) {
    if (requested) return; // stop() closed the store and exits
    core.store.close();
    throw e;
  }
  if (requested) return void stop();
  app = await startApp(core, { sinks: [discord.sink], discordStatus: discord.status });
  discord.attachMetrics(app.ops.metrics);
  if (requested) return void stop();
  log.info({ guildId, hosts: core.hypervisor.hostNames(), user: discord.client.user.tag }, 'kvmops is up');
}

main().catch((e: unknown) => {
  console.error(`kvmops: ${oneLine(e)}`);
  process.exit(1);
});

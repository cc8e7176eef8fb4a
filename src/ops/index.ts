import type { Env } from '../config/env.js';
import type { Database } from '../jobs/db.js';
import { checkDatabase, jobStats } from '../jobs/stats.js';
import type { JobStore } from '../jobs/types.js';
import { startOpsServerFromEnv, type DiscordStatus, type HostHealth, type OpsServer, type PingableHosts } from './http.js';
import type { AppLogger } from './logger.js';
import { createMetrics, type HostFigures, type OpsMetrics } from './metrics.js';

/**
 * The operations side of the bot's process in one call (for src/main.ts): metrics on the job
 * database, every finished job's duration observed from the store, and the 127.0.0.1 endpoint
 * when KVMOPS_HTTP_PORT is set.
 */

export { createLogger, type AppLogger, type LogLevel } from './logger.js';
export { createMetrics, type HostFigures, type OpsMetrics } from './metrics.js';
export { startOpsServer, startOpsServerFromEnv, type DiscordStatus, type Health, type HostHealth, type OpsServer } from './http.js';

export interface OpsOptions {
  env: Pick<Env, 'KVMOPS_HTTP_PORT'>;
  /** The bot's own connection (the store's `db`). */
  db: Database;
  store: Pick<JobStore, 'onChange'>;
  hypervisor?: PingableHosts;
  /** Per-host health (/healthz) and figures (/metrics) from the host probe. */
  hosts?: { health(): Promise<HostHealth[]>; figures(): HostFigures[] };
  /** From the Discord adapter; omit for the shell (→ `not-configured`). */
  discordStatus?: () => DiscordStatus;
  logger: AppLogger;
}

export interface Ops {
  metrics: OpsMetrics;
  /** Undefined when KVMOPS_HTTP_PORT is unset. */
  server: OpsServer | undefined;
  close(): Promise<void>;
}

export async function startOps(opts: OpsOptions): Promise<Ops> {
  const log = opts.logger;
  const metrics = createMetrics({
    stats: () => jobStats(opts.db),
    onStatsError: (err) => log.warn({ err }, 'metrics: reading job stats failed'),
    ...(opts.hosts ? { hosts: () => opts.hosts!.figures() } : {}),
  });
  const unwatch = metrics.watch(opts.store);
  const server = await startOpsServerFromEnv(opts.env, {
    metrics,
    checkDatabase: () => checkDatabase(opts.db),
    ...(opts.hypervisor ? { hosts: opts.hypervisor } : {}),
    ...(opts.hosts ? { hostHealth: () => opts.hosts!.health() } : {}),
    ...(opts.discordStatus ? { discordStatus: opts.discordStatus } : {}),
    logger: log,
  });
  return {
    metrics,
    server,
    close: async () => {
      unwatch();
      await server?.close();
    },
  };
}

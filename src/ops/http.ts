import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Env } from '../config/env.js';
import type { HostDriver } from '../hypervisor/types.js';
import type { AppLogger } from './logger.js';
import type { OpsMetrics } from './metrics.js';

/**
 * The operations endpoint: `GET /healthz` and `GET /metrics` on 127.0.0.1 only (there is no
 * authentication: whoever can reach it is on the host; expose it further through a reverse proxy
 * or a Prometheus agent on the host, on purpose). Anything else is 404.
 *
 * /healthz answers 200 only when everything is ok, else 503, with
 *   { status: 'ok' | 'degraded' | 'down', database: {ok, detail}, hosts: [{name, ok, detail}],
 *     discord: {status} }
 * - `down`: the database does not answer (nothing can work);
 * - `degraded`: the database answers but a libvirt host does not, or Discord is not connected;
 * - `ok`: all answer (Discord `not-configured`, e.g. the shell adapter, counts as fine).
 *
 * Hosts: with `hostHealth` (the app's host probe: cached, bounded, shared with `/host list`)
 * each host entry also says since when it is unreachable, its versions, memory and storage,
 * and whether it is drained. Without it, host pings run `virsh version` on each host: bounded by
 * `pingTimeoutMs`, cached for `hostCacheMs`, and concurrent requests share one round of pings,
 * so a scraper (or someone with curl in a loop) cannot hammer libvirt.
 */

export type DiscordStatus = 'connected' | 'reconnecting' | 'disconnected' | 'not-configured';

export interface HealthCheck {
  ok: boolean;
  detail: string;
}

export interface Health {
  status: 'ok' | 'degraded' | 'down';
  database: HealthCheck;
  hosts: HostHealth[];
  discord: { status: DiscordStatus };
}

/** One host in /healthz: `name`, `ok`, `detail` always; the rest when the host probe gives them. */
export interface HostHealth extends HealthCheck {
  name: string;
  /** ISO 8601: the first failed probe after the last success. */
  unreachableSince?: string;
  libvirt?: string;
  hypervisor?: string;
  memory?: { total: number; available: number };
  storage?: { total: number; available: number } | null;
  drained?: boolean;
}

/** What /healthz needs of the hypervisor layer (a `Hypervisor` fits). */
export interface PingableHosts {
  hostNames(): string[];
  host(name: string): Pick<HostDriver, 'ping'>;
}

export interface OpsServerOptions {
  /** 0 = an ephemeral port (tests). */
  port: number;
  metrics: OpsMetrics;
  /** `() => checkDatabase(db)` (src/jobs/stats.ts): a SELECT 1 on the bot's connection. */
  checkDatabase: () => HealthCheck | Promise<HealthCheck>;
  hosts?: PingableHosts;
  /** Every host's health from the host probe (bounded by its wait); replaces the pings of `hosts`. */
  hostHealth?: () => Promise<HostHealth[]>;
  /** Provided by the Discord adapter; omitted → `not-configured`. */
  discordStatus?: () => DiscordStatus;
  /** Per host ping; default 3 s. */
  pingTimeoutMs?: number;
  /** How long host results are reused; default 5 s. */
  hostCacheMs?: number;
  logger?: AppLogger;
}

export interface OpsServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Health as /healthz computes it (for the shell, or a start-up log line). */
  health(): Promise<Health>;
  close(): Promise<void>;
}

const BIND = '127.0.0.1';

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const pingHosts = opts.hostHealth ?? hostPinger(opts.hosts, opts.pingTimeoutMs ?? 3_000, opts.hostCacheMs ?? 5_000);

  const health = async (): Promise<Health> => {
    const [database, hosts] = await Promise.all([
      Promise.resolve()
        .then(opts.checkDatabase)
        .catch((e: unknown) => ({ ok: false, detail: errorText(e) })),
      pingHosts(),
    ]);
    let discord: DiscordStatus = 'not-configured';
    try {
      discord = opts.discordStatus?.() ?? 'not-configured';
    } catch (e) {
      opts.logger?.warn({ err: e }, 'discord status callback failed');
      discord = 'disconnected';
    }
    const discordOk = discord === 'connected' || discord === 'not-configured';
    const status = !database.ok ? 'down' : hosts.every((h) => h.ok) && discordOk ? 'ok' : 'degraded';
    return { status, database, hosts, discord: { status: discord } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const known = req.method === 'GET' || req.method === 'HEAD';
    if (known && path === '/healthz') {
      const h = await health();
      send(res, h.status === 'ok' ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify(h) + '\n', req);
    } else if (known && path === '/metrics') {
      send(res, 200, opts.metrics.contentType, await opts.metrics.render(), req);
    } else {
      send(res, 404, 'text/plain; charset=utf-8', 'not found: GET /healthz or /metrics\n', req);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      opts.logger?.error({ err: e, path: req.url }, 'ops endpoint failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', req);
      else res.destroy();
    });
  });
  // A local scraper needs none of Node's generous defaults; a stuck client should not linger.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, BIND, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${BIND}:${port}`;
  opts.logger?.info({ url }, 'ops endpoint listening (/healthz, /metrics)');

  return {
    url,
    port,
    health,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** `startOpsServer` when KVMOPS_HTTP_PORT is set; undefined (off) otherwise. */
export async function startOpsServerFromEnv(
  env: Pick<Env, 'KVMOPS_HTTP_PORT'>,
  opts: Omit<OpsServerOptions, 'port'>,
): Promise<OpsServer | undefined> {
  if (env.KVMOPS_HTTP_PORT === undefined) return undefined;
  return startOpsServer({ ...opts, port: env.KVMOPS_HTTP_PORT });
}

function send(res: ServerResponse, status: number, type: string, body: string, req: IncomingMessage): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Pings every host with a timeout; results are cached for `cacheMs` and one round is shared by
 * concurrent callers. A driver that ignores the abort signal is still cut off by the timeout
 * (its late answer is dropped).
 */
function hostPinger(hosts: PingableHosts | undefined, timeoutMs: number, cacheMs: number) {
  let cached: { at: number; result: Health['hosts'] } | undefined;
  let inflight: Promise<Health['hosts']> | undefined;

  const pingOne = async (name: string): Promise<{ name: string } & HealthCheck> => {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<HealthCheck>((resolve) => {
      timer = setTimeout(() => {
        ac.abort();
        resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    try {
      const r = await Promise.race([
        Promise.resolve()
          .then(() => hosts!.host(name).ping({ signal: ac.signal }))
          .then((p) => ({ ok: p.ok === true, detail: String(p.detail) }))
          .catch((e: unknown) => ({ ok: false, detail: errorText(e) })),
        timeout,
      ]);
      return { name, ...r };
    } finally {
      clearTimeout(timer);
    }
  };

  return async (): Promise<Health['hosts']> => {
    if (!hosts) return [];
    if (cached && Date.now() - cached.at < cacheMs) return cached.result;
    inflight ??= Promise.all(hosts.hostNames().map(pingOne))
      .then((result) => {
        cached = { at: Date.now(), result };
        return result;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
}

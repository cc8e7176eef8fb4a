import { existsSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { hostNameSchema } from '../domain/names.js';
import { AUTO_HOST } from '../domain/placement.js';

export { parseDuration };

/**
 * The environment, parsed once at start by one schema (the t3-env way): empty strings count as
 * unset, booleans are spelled out (`z.coerce.boolean()` would turn "false" into true), and a
 * bad value stops the process with every problem listed.
 */

const emptyAsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const opt = <T extends z.ZodTypeAny>(s: T) => z.preprocess(emptyAsUnset, s.optional());

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const roleIds = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^\d{1,20}$/, 'role ids are Discord snowflakes (digits)')));

/**
 * KVMOPS_RETENTION and KVMOPS_AUDIT_RETENTION: a duration (`90d`, `1y`, `12w`), or `off` / `0`
 * to keep everything (null). At least one hour: a shorter one is surely a typo (`90` for `90d`
 * is refused as not a duration), and would prune a job's history before anyone reads it.
 */
export function parseRetention(s: string): number | null {
  const text = s.trim().toLowerCase();
  if (text === 'off' || text === '0') return null;
  const ms = parseDuration(text);
  if (ms < 3_600_000) throw new Error(`"${s}": keep history at least 1h (or say off to keep everything)`);
  return ms;
}
/** A string variable read by `parse`; what it throws becomes the variable's issue. */
const parsedBy = <T>(parse: (s: string) => T) =>
  z.string().transform((s, ctx) => {
    try {
      return parse(s);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
  });

const duration = parsedBy((s) => {
  const ms = parseDuration(s);
  if (ms <= 0) throw new Error('must be positive');
  return ms;
});

/** A per-user flood guard (on commands that change things, or on reads): N per period, or none. */
export type RateLimitSetting = { capacity: number; windowMs: number } | 'off';

/**
 * KVMOPS_RATE_LIMIT and KVMOPS_READ_RATE_LIMIT: `30/1m` (30 commands per minute), `5/30s`,
 * `100/1h`, `30/m` (a bare unit means one of it), or `off`. Each user may send N commands at
 * once, and one more every PERIOD/N after that (a token bucket).
 */
export function parseRateLimit(s: string): RateLimitSetting {
  const text = s.trim().toLowerCase();
  if (text === 'off') return 'off';
  const m = /^(\d+)\s*\/\s*(\d*)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`"${s}" is not N/PERIOD (e.g. 30/1m, 5/30s, 100/1h) or off`);
  const capacity = Number(m[1]);
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new Error(`"${s}": N must be at least 1 (to turn the limit off, say off)`);
  const windowMs = parseDuration(`${m[2] || '1'}${m[3]}`);
  if (windowMs < 1_000) throw new Error(`"${s}": the period must be at least 1s`);
  return { capacity, windowMs };
}
const rateLimit = parsedBy(parseRateLimit);
const retention = parsedBy(parseRetention);

export interface HostConfig {
  name: string;
  uri: string;
  /**
   * Drained in KVMOPS_HOSTS (`name=uri;drain`): `/deploy host:auto` never places a VM there.
   * Commands that name the host (`host:NAME`) still run on it.
   */
  drain?: boolean;
}

/**
 * `name=uri,name=uri` → ordered hosts; the first is the default host. An entry may end in
 * `;drain` (`lab=qemu+ssh://root@lab/system;drain`): a `;` can never be part of an accepted URI
 * (the URI check refuses it, since virsh and ssh read it specially), so the flag cannot clash
 * with one — while `=`, `&` and `?` can, and do (`?keyfile=…&no_verify=1`).
 */
export function parseHosts(s: string): HostConfig[] {
  const hosts = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((entry) => {
      const [pair, ...flags] = entry.split(';').map((x) => x.trim());
      const i = pair!.indexOf('=');
      if (i <= 0) throw new Error(`"${pair}" is not name=uri`);
      const name = hostNameSchema.parse(pair!.slice(0, i));
      if (name === AUTO_HOST) throw new Error(`"${AUTO_HOST}" is not a host name: /deploy host:auto means "place it for me"`);
      const uri = pair!.slice(i + 1);
      if (!/^[a-z0-9+]+:\/\/[^\s;'"`$\\]*$/.test(uri)) throw new Error(`"${uri}" is not a libvirt URI`);
      for (const f of flags) if (f !== 'drain') throw new Error(`"${f}" (host ${name}) is not a host flag: the one flag is ;drain`);
      return { name, uri, ...(flags.length ? { drain: true } : {}) };
    });
  if (hosts.length === 0) throw new Error('no hosts');
  if (new Set(hosts.map((h) => h.name)).size !== hosts.length) throw new Error('host names repeat');
  return hosts;
}
const hosts = parsedBy(parseHosts);

export const envSchema = z.object({
  DISCORD_TOKEN: opt(z.string()),
  DISCORD_GUILD_ID: opt(z.string().regex(/^\d{1,20}$/)),
  DISCORD_API_URL: opt(z.string().url()),
  KVMOPS_ROLE_VIEWER: z.preprocess(emptyAsUnset, roleIds.default('')),
  KVMOPS_ROLE_OPERATOR: z.preprocess(emptyAsUnset, roleIds.default('')),
  KVMOPS_ROLE_ADMIN: z.preprocess(emptyAsUnset, roleIds.default('')),
  KVMOPS_ROLE_APPROVER: z.preprocess(emptyAsUnset, roleIds.default('')),
  KVMOPS_TWO_PERSON: z.preprocess(emptyAsUnset, booleanString.default('true')),
  /** Approval requests mention the approver role(s) (allowed_mentions: those roles only). */
  KVMOPS_NOTIFY_APPROVERS: z.preprocess(emptyAsUnset, booleanString.default('true')),
  KVMOPS_APPROVAL_TTL: z.preprocess(emptyAsUnset, duration.default('30m')),
  KVMOPS_DB: z.preprocess(emptyAsUnset, z.string().default('./data/kvmops.db')),
  KVMOPS_HOSTS: z.preprocess(emptyAsUnset, hosts.default('local=qemu:///system')),
  KVMOPS_STORAGE_DIR: z.preprocess(
    emptyAsUnset,
    z.string().refine((p) => p.startsWith('/'), 'must be an absolute path').default('/var/lib/kvmops'),
  ),
  /**
   * Team SSH public keys (authorized_keys lines) put into every deployed VM's cloud-init seed,
   * beside the requester's `/key` keys. Read once at start-up (team-keys.ts); unset = none.
   */
  KVMOPS_SSH_KEYS_FILE: opt(z.string()),
  KVMOPS_PROFILES_DIR: opt(z.string()),
  /** Per-user flood guard on commands that change things. */
  KVMOPS_RATE_LIMIT: z.preprocess(emptyAsUnset, rateLimit.default('30/1m')),
  /** Per-user flood guard of its own on reads (lists read the host fresh), same syntax. */
  KVMOPS_READ_RATE_LIMIT: z.preprocess(emptyAsUnset, rateLimit.default('60/1m')),
  /**
   * The most VMs one VM pattern (`vm:web-*`) may match: one job each, one batch, one approval
   * that lists them all (50 short lines fit one Discord message).
   */
  KVMOPS_MAX_BATCH: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(200).default(50)),
  /** How long finished jobs (with their events and approvals) are kept; null = off, keep all. */
  KVMOPS_RETENTION: z.preprocess(emptyAsUnset, retention.default('90d')),
  /** How long audit rows are kept; null = off, keep all. */
  KVMOPS_AUDIT_RETENTION: z.preprocess(emptyAsUnset, retention.default('1y')),
  /**
   * How often the inventory (src/inventory) is reconciled with each host: a cheap diff of the
   * domain list, whole reads only of what is new or changed. The first start on a host imports
   * it in the background.
   */
  KVMOPS_RECONCILE: z.preprocess(emptyAsUnset, duration.default('60s')),
  /** How long `/deploy start:true` and `/vm start` wait for each VM's IPv4 (none in time is not a failure). */
  KVMOPS_ADDRESS_WAIT: z.preprocess(emptyAsUnset, duration.default('3m')),
  /** 127.0.0.1 port for /healthz and /metrics; unset = off. */
  KVMOPS_HTTP_PORT: opt(z.coerce.number().int().min(1).max(65535)),
  KVMOPS_LOG_LEVEL: z.preprocess(
    emptyAsUnset,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  /** Worker limits: jobs at once in all, and per host. */
  KVMOPS_CONCURRENCY: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(64).default(4)),
  KVMOPS_HOST_CONCURRENCY: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(64).default(2)),
  /**
   * SIGTERM/SIGINT → exit 0 within this: running jobs finish or are handed back to the queue
   * (stopBudget in src/app.ts splits it); what is still unfinished at the end is left for
   * recovery (its lease expires and the next start runs it again).
   */
  KVMOPS_STOP_TIMEOUT: z.preprocess(emptyAsUnset, duration.default('30s')),
});

export type Env = z.infer<typeof envSchema>;

export class EnvError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid environment:\n  ${issues.join('\n  ')}`);
    this.name = 'EnvError';
  }
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const r = envSchema.safeParse(source);
  if (!r.success) {
    throw new EnvError(r.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return r.data;
}

/**
 * For the small command-line tools (`npm run backup`, `npm run audit`): `.env` then the
 * environment; an invalid one goes to `usage` (which prints it and exits 2).
 */
export function loadToolEnv(usage: (problem: string) => never): Env {
  loadDotEnv();
  try {
    return loadEnv();
  } catch (e) {
    if (e instanceof EnvError) usage(e.message);
    throw e;
  }
}

/** For the Discord adapter only: its two required variables, checked where they are needed. */
export function requireDiscord(env: Env): { token: string; guildId: string } {
  const missing = (['DISCORD_TOKEN', 'DISCORD_GUILD_ID'] as const).filter((k) => !env[k]);
  if (missing.length) throw new EnvError(missing.map((k) => `${k}: required for the Discord adapter`));
  return { token: env.DISCORD_TOKEN!, guildId: env.DISCORD_GUILD_ID! };
}

/** `.env` in the working directory when present (process.loadEnvFile, Node ≥ 20.12); variables already set win. */
export function loadDotEnv(file = '.env'): void {
  if (!existsSync(file)) return;
  if (typeof process.loadEnvFile !== 'function') {
    throw new Error(`${file} found but this Node has no process.loadEnvFile (needs Node ≥ 20.12); export the variables instead`);
  }
  process.loadEnvFile(file);
}

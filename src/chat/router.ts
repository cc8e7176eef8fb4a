import { AUTO_HOST } from '../domain/placement.js';
import { KvmopsError, type ErrorCode } from '../domain/errors.js';
import { isValidName } from '../domain/names.js';
import { cut } from '../domain/text.js';
import type { AuditEntry } from '../jobs/types.js';
import type { CommandModule, SubcommandHandler } from './command.js';
import { formatDuration } from './format.js';
import { DEFAULT_READ_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { hasRole } from './roles.js';
import type { Services } from './services.js';
import type { ChatPlace, ChatUser, Choice, CommandDef, OptionDef, RawOptions, Reply, SubcommandDef } from './types.js';

/**
 * The one central place between a chat adapter and the command handlers. Every invocation, from
 * Discord or the shell, goes through `handle`, in this order:
 *
 *   find the command → check the place (guild) → authorize (role) → rate-limit (writes, reads)
 *   → validate options (zod) → run the handler → turn any error into an ephemeral reply
 *   → write one audit row (accepted with jobId / refused with code / read / error).
 *
 * Every refusal happens before the handler enqueues anything, so a refusal never leaves a job.
 * `handle` never throws: whatever goes wrong becomes a Reply (an unknown error as `internal`,
 * logged with its cause; the user sees a generic text, not our stack).
 */

export interface Invocation {
  command: string;
  /** null/undefined for a flat command (`/deploy`); its own name is accepted too. */
  subcommand?: string | null;
  options: RawOptions;
  user: ChatUser;
  place: ChatPlace;
  /** A paged list's page (Reply.page): the item it starts at; absent = the first page. */
  offset?: number;
}

export interface CompletionRequest extends Invocation {
  /** The option being typed. */
  focused: string;
  /** What has been typed so far. */
  value: string;
}

export interface RouterOptions {
  commands: readonly CommandModule[];
  services: Services;
  /** Per-user token bucket on mutating subcommands (KVMOPS_RATE_LIMIT); default 30 per minute; 'off': none. */
  rateLimit?: RateLimitOptions | 'off';
  /** Per-user token bucket of its own on reads (KVMOPS_READ_RATE_LIMIT); default 60 per minute; 'off': none. Autocomplete is not counted. */
  readRateLimit?: RateLimitOptions | 'off';
  /** Autocomplete gives up (answers nothing) after this long; default 2000 ms (Discord allows 3 s). */
  completeTimeoutMs?: number;
}

/** Discord shows at most 25 choices. */
export const MAX_CHOICES = 25;

/** Codes that mean "something broke" rather than "we said no": audited as `error`. */
const FAULT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'internal',
  'host-unreachable',
  'command-failed',
  'command-timeout',
  'unexpected-output',
  'aborted',
  'shutting-down',
  'db-busy',
]);

interface Resolved {
  module: CommandModule;
  def: SubcommandDef;
  handler: SubcommandHandler;
  /** "snapshot revert", "deploy": what the audit and messages call it. */
  label: string;
}

export class CommandRouter {
  readonly services: Services;
  private readonly commands = new Map<string, CommandModule>();
  private readonly limiter: RateLimiter | null;
  private readonly readLimiter: RateLimiter | null;
  private readonly completeTimeoutMs: number;

  constructor(opts: RouterOptions) {
    this.services = opts.services;
    for (const m of opts.commands) this.commands.set(m.def.name, m);
    this.limiter = opts.rateLimit === 'off' ? null : new RateLimiter(opts.rateLimit);
    this.readLimiter = opts.readRateLimit === 'off' ? null : new RateLimiter(opts.readRateLimit ?? DEFAULT_READ_RATE_LIMIT);
    this.completeTimeoutMs = opts.completeTimeoutMs ?? 2000;
  }

  /** The definitions to register (Discord) or to offer for completion (shell). */
  definitions(): CommandDef[] {
    return [...this.commands.values()].map((m) => m.def);
  }

  /**
   * Should the adapter acknowledge before calling `handle`? Yes when the handler may read a host,
   * and when it changes things: its write may have to wait for a database another process
   * holds locked (it is retried until it lands, see createServices), so ack first, write after.
   */
  needsDefer(inv: Pick<Invocation, 'command' | 'subcommand'>): boolean {
    const r = this.resolve(inv);
    return r ? r.handler.defer || r.def.mutates : false;
  }

  async handle(inv: Invocation): Promise<Reply> {
    const { services } = this;
    const resolved = this.resolve(inv);
    const label = resolved?.label ?? [inv.command, inv.subcommand].filter(Boolean).join(' ');
    let auditJobId: number | undefined;
    let reply: Reply;
    let outcome: AuditEntry['outcome'];
    let code: string | undefined;
    try {
      if (!resolved) throw new KvmopsError('invalid-input', `Unknown command /${label}.`);
      this.checkPlace(inv.place);
      this.authorize(inv.user, resolved.def.role, label);
      if (resolved.def.mutates) this.rateLimit(inv, this.limiter, 'commands that change things');
      else this.rateLimit(inv, this.readLimiter, 'reads');
      const options = this.validate(resolved, inv.options);
      reply = await resolved.handler.handle({
        options,
        user: inv.user,
        place: inv.place,
        services,
        offset: pageOffset(inv.offset),
        auditJob: (id: number) => {
          auditJobId = id;
        },
      });
      auditJobId = reply.jobId ?? reply.approvalJobId ?? auditJobId;
      outcome = resolved.def.mutates ? 'accepted' : 'read';
    } catch (e) {
      const err = this.asKvmopsError(e);
      reply = errorReply(err);
      code = err.code;
      outcome = FAULT_CODES.has(err.code) ? 'error' : 'refused';
      if (FAULT_CODES.has(err.code)) {
        services.log?.error({ err: e, command: label, user: inv.user.id }, `/${label} failed: ${err.code}`);
      }
    }
    await this.audit({
      at: services.now(),
      userId: inv.user.id,
      userName: inv.user.name,
      command: label,
      options: auditOptions(inv.options),
      outcome,
      code,
      jobId: auditJobId,
    });
    return reply;
  }

  /**
   * Autocomplete: names from the catalog (the inventory, or a short-lived cache), filtered by a case-insensitive
   * prefix, sorted, at most 25. Never throws and never refuses: someone not allowed to run the
   * command, in the wrong place, or a host that does not answer in time simply gets no choices.
   */
  async complete(req: CompletionRequest): Promise<Choice[]> {
    const resolved = this.resolve(req);
    if (!resolved) return [];
    const option = resolved.def.options.find((o) => o.name === req.focused);
    if (!option?.autocomplete) return [];
    try {
      this.checkPlace(req.place);
      this.authorize(req.user, resolved.def.role, resolved.label);
    } catch {
      return [];
    }
    let names: string[];
    try {
      names = await withTimeout(this.candidates(option, req.options, req.value), this.completeTimeoutMs);
      // /deploy's host may also be `auto` (placement): offered after the hosts
      if (option.autocomplete === 'host' && resolved.label === 'deploy') names = [...names, AUTO_HOST];
    } catch (e) {
      this.services.log?.warn({ err: e, command: resolved.label, option: option.name }, 'autocomplete failed');
      return [];
    }
    const prefix = req.value.toLowerCase();
    // Only names a command accepts: one made outside kvmops ("my vm", 120 characters) would be
    // refused once chosen, and Discord refuses a whole answer holding a choice over 100.
    return [...new Set(names)]
      .filter((n) => isValidName(n) && n.toLowerCase().startsWith(prefix))
      .sort((a, b) => a.localeCompare(b))
      .slice(0, MAX_CHOICES)
      .map((n) => ({ name: n, value: n }));
  }

  // ---- steps ----------------------------------------------------------------------------------

  private resolve(inv: Pick<Invocation, 'command' | 'subcommand'>): Resolved | undefined {
    const module = this.commands.get(inv.command);
    if (!module) return undefined;
    const subName = module.def.flat ? module.def.name : inv.subcommand;
    if (module.def.flat && inv.subcommand && inv.subcommand !== module.def.name) return undefined;
    if (!subName) return undefined;
    const def = module.def.subcommands.find((s) => s.name === subName);
    const handler = module.handlers[subName];
    if (!def || !handler) return undefined;
    return { module, def, handler, label: module.def.flat ? module.def.name : `${module.def.name} ${def.name}` };
  }

  /** docs/commands.md: one guild is served; other guilds and DMs are refused. */
  private checkPlace(place: ChatPlace): void {
    const guildId = this.services.config.guildId;
    if (guildId !== null && place.guildId !== guildId) {
      throw new KvmopsError('wrong-guild', place.guildId === null ? 'kvmops does not take commands in direct messages.' : 'kvmops does not serve this server.', {
        details: { guildId: place.guildId },
      });
    }
  }

  private authorize(user: ChatUser, role: SubcommandDef['role'], label: string): void {
    if (!hasRole(user, role)) {
      throw new KvmopsError('forbidden', `/${label} needs the ${role} role.`, { details: { role } });
    }
  }

  private rateLimit(inv: Invocation, limiter: RateLimiter | null, what: string): void {
    if (!limiter) return;
    const r = limiter.take(`${inv.place.adapter}:${inv.user.id}`, this.services.now());
    if (!r.ok) {
      const s = Math.ceil(r.retryAfterMs / 1000);
      const limit = `at most ${limiter.capacity} per ${formatDuration(limiter.windowMs)}`;
      throw new KvmopsError('rate-limited', `Too many ${what} (${limit}); try again in ${s}s.`, {
        details: { retryAfterMs: r.retryAfterMs, capacity: limiter.capacity, windowMs: limiter.windowMs },
      });
    }
  }

  /** The chat edge: the one parse of what the platform delivered; handlers get its result. */
  private validate(resolved: Resolved, raw: RawOptions): unknown {
    return resolved.handler.options.parse(raw, resolved.label);
  }

  /** Names to offer: from the inventory (one indexed query, never the host) when it runs. */
  private async candidates(option: OptionDef, raw: RawOptions, prefix: string): Promise<string[]> {
    const { catalog } = this.services;
    const hosts = catalog.hosts();
    if (option.autocomplete === 'host') return hosts;
    if (option.autocomplete === 'profile') return this.services.profiles?.names() ?? [];
    const host = typeof raw.host === 'string' && hosts.includes(raw.host) ? raw.host : catalog.defaultHost();
    switch (option.autocomplete) {
      case 'vm':
        return catalog.vmNames(host, prefix);
      case 'template':
        return catalog.templateNames(host, prefix);
      case 'snapshot': {
        // Snapshots of the VM chosen in the same command; none until a VM is chosen.
        const vm = raw.vm;
        if (typeof vm !== 'string') return [];
        return (await catalog.knownSnapshots(host, vm)).map((s) => s.name);
      }
      default:
        return [];
    }
  }

  private asKvmopsError(e: unknown): KvmopsError {
    if (e instanceof KvmopsError) return e;
    return new KvmopsError('internal', 'Something went wrong on our side; it has been logged.', { cause: e });
  }

  private async audit(entry: AuditEntry): Promise<void> {
    try {
      await this.services.audit.record(entry);
    } catch (e) {
      // The reply still goes out: failing the user because the audit table failed helps nobody.
      this.services.log?.error({ err: e, entry }, 'audit write failed');
    }
  }
}

/** A refusal or error as the user sees it: ephemeral, with its code. */
export function errorReply(err: KvmopsError): Reply {
  const [first, ...rest] = err.message.split('\n');
  const fault = FAULT_CODES.has(err.code);
  return {
    visibility: 'ephemeral',
    title: fault ? `Error (${err.code})` : `Refused (${err.code})`,
    lines: [first ?? '', ...rest].filter((l) => l !== ''),
    tone: fault ? 'error' : 'warning',
    code: err.code,
  };
}

/** An offset from a click or a typed `more`: a whole number, or the first page. */
function pageOffset(offset: number | undefined): number {
  return offset !== undefined && Number.isSafeInteger(offset) && offset > 0 ? offset : 0;
}

/** Options as given, for the audit row (long strings cut: the audit is not a dump). */
function auditOptions(raw: RawOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k] = typeof v === 'string' ? cut(v, 201) : v;
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

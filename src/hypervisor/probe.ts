import type { HostFacts, OpContext } from './types.js';

/**
 * A cached, bounded look at each host (its `facts`), so that `/host list`, placement and the
 * ops endpoint answer within Discord's 3 seconds even when a host hangs: every read is given
 * `timeoutMs`, a host's answer is reused for `ttlMs`, one read per host runs at a time (callers
 * share it), and a caller waits at most `waitMs` for a read — then it gets what is known (the
 * last facts, or "unreachable since …", or "not read yet") while the read goes on.
 *
 * Reachability: a failed read (no answer in time, ssh refused, libvirtd down) marks the host
 * unreachable from the moment of the first failure after its last success, until a read
 * succeeds again.
 */

export interface ProbedHosts {
  hostNames(): string[];
  host(name: string): {
    facts(ctx?: OpContext & { timeoutMs?: number }): Promise<HostFacts>;
    templateMemory(template: string, ctx?: OpContext): Promise<number>;
  };
}

export interface HostProbeState {
  host: string;
  /** null: no read has ended yet. */
  reachable: boolean | null;
  /** The last facts read (kept while the host is unreachable: "last seen …"). */
  facts: HostFacts | null;
  /** Epoch ms of the last successful read. */
  readAt: number | null;
  /** Epoch ms of the first failed read after the last success; null while reachable. */
  unreachableSince: number | null;
  /** Why the last read failed. */
  error: string | null;
  /** A read is running now (the state may be about to change). */
  probing: boolean;
  /** Epoch ms the last read ended, success or not. */
  lastTriedAt?: number;
}

export interface HostProbeOptions {
  /** How long a read is reused. Default 15 s. */
  ttlMs?: number;
  /** Longest a read may take before the host counts as unreachable. Default 5 s. */
  timeoutMs?: number;
  /** Longest `get`/`all` wait for a read before answering with what is known. Default 1.5 s. */
  waitMs?: number;
  now?: () => number;
}

interface Entry {
  state: HostProbeState;
  inflight?: Promise<void>;
  /** template name@createdAt → bytes: a template's memory never changes under one identity. */
  templateMemory: Map<string, number>;
}

export class HostProbe {
  readonly ttlMs: number;
  readonly timeoutMs: number;
  readonly waitMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly hosts: ProbedHosts,
    opts: HostProbeOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 15_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.waitMs = opts.waitMs ?? 1_500;
    this.#now = opts.now ?? Date.now;
  }

  hostNames(): string[] {
    return this.hosts.hostNames();
  }

  /** What is known of `host` now, without waiting; starts a read when the last one is old. */
  peek(host: string): HostProbeState {
    const e = this.#entry(host);
    if (this.#stale(e)) this.#refresh(host, e);
    return { ...e.state, probing: e.inflight !== undefined };
  }

  /** `host`'s state, after a read when the last is older than the TTL — waiting at most `waitMs`. */
  async get(host: string, opts: { waitMs?: number; fresh?: boolean } = {}): Promise<HostProbeState> {
    const e = this.#entry(host);
    if (opts.fresh || this.#stale(e)) {
      const read = this.#refresh(host, e);
      await bounded(read, opts.waitMs ?? this.waitMs);
    }
    return { ...e.state, probing: e.inflight !== undefined };
  }

  /** Every host's state (KVMOPS_HOSTS order), the reads side by side, within one `waitMs`. */
  all(opts: { waitMs?: number; fresh?: boolean } = {}): Promise<HostProbeState[]> {
    return Promise.all(this.hosts.hostNames().map((h) => this.get(h, opts)));
  }

  /** The memory (bytes) of a VM from `template` on `host`, read once per template identity (`createdAt`). */
  async templateMemory(host: string, template: string, createdAt: string): Promise<number> {
    const e = this.#entry(host);
    const key = `${template}@${createdAt}`;
    const known = e.templateMemory.get(key);
    if (known !== undefined) return known;
    const bytes = await withTimeout((signal) => this.hosts.host(host).templateMemory(template, { signal }), this.timeoutMs * 2, `reading template ${template}'s memory on ${host}`);
    e.templateMemory.set(key, bytes);
    return bytes;
  }

  #entry(host: string): Entry {
    let e = this.#entries.get(host);
    if (!e) {
      this.hosts.host(host); // an unknown host throws here (host-not-found), not later
      e = {
        state: { host, reachable: null, facts: null, readAt: null, unreachableSince: null, error: null, probing: false },
        templateMemory: new Map(),
      };
      this.#entries.set(host, e);
    }
    return e;
  }

  #stale(e: Entry): boolean {
    const last = e.state.reachable === false ? e.state.lastTriedAt : e.state.readAt;
    return last === null || last === undefined || this.#now() - last >= this.ttlMs;
  }

  #refresh(host: string, e: Entry): Promise<void> {
    e.inflight ??= withTimeout((signal) => this.hosts.host(host).facts({ signal, timeoutMs: this.timeoutMs }), this.timeoutMs, `reading ${host}`)
      .then(
        (facts) => {
          e.state = { ...e.state, reachable: true, facts, readAt: this.#now(), unreachableSince: null, error: null };
        },
        (err: unknown) => {
          const now = this.#now();
          e.state = {
            ...e.state,
            reachable: false,
            unreachableSince: e.state.reachable === false ? (e.state.unreachableSince ?? now) : now,
            error: err instanceof Error ? err.message : String(err),
          };
        },
      )
      .finally(() => {
        e.state.lastTriedAt = this.#now();
        e.inflight = undefined;
      });
    return e.inflight;
  }
}

/** Resolves when `p` settles or after `ms`, whichever is first (never rejects). */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * `op` given an abort signal, cut off after `ms`: the signal is aborted (a program it runs is
 * killed) and the promise rejects at once, even if `op` ignores the signal.
 */
async function withTimeout<T>(op: (signal: AbortSignal) => Promise<T>, ms: number, what: string): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => op(ac.signal)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

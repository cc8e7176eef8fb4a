import { matchesFilter } from '../domain/name-filter.js';
import { FINAL_STATES } from '../domain/job-states.js';
import type { SnapshotInfo, TemplateInfo, VmSummary } from '../hypervisor/types.js';
import type { Job } from '../jobs/types.js';
import type { HypervisorReader } from './hypervisor-reader.js';
import { importingNote, type InventoryPort, type InventoryTemplateView } from './inventory-port.js';

/**
 * What exists on a host, for checks, lists and autocomplete. With an inventory (the app: always)
 * template, VM-name and snapshot answers come from it — one indexed query each, never a host
 * scan — and a fresh read is `inventory.refresh(host)` (a cheap reconcile diff) and then the
 * inventory. While a host's first import runs a fresh read waits for it a bounded time (it reads
 * the whole host): then the answer is what is known, and `importing(host)` says how far it is.
 *
 * Without an inventory (tests of the command layer), and for what the inventory does not hold —
 * `/vm list` (vms()) and one VM's snapshot details (snapshots(..., { fresh: true })) — it is a
 * short-lived, per-host cache of host reads: VMs (with state), templates, snapshots per VM.
 *
 * Why: autocomplete must answer in well under Discord's 3 s, and `virsh` over ssh may not; and
 * mutating commands check existence before enqueueing. Why it may be stale: it is a hint, not
 * the truth — executors check the real state again. So a *positive* answer is trusted (the job
 * will fail cleanly if it vanished), while a refusal is only given after a fresh read
 * (`{ fresh: true }`): a VM made seconds ago must not be refused from an old list.
 *
 * Host reads are shared: concurrent misses share one read (no thundering herd on `virsh list`),
 * and so do concurrent fresh reads (the inventory's `refresh` shares its passes the same way).
 * What "fresh" promises: the answer comes from a read that started after the request was made,
 * so it sees everything done before the user asked. A fresh request therefore never joins a read
 * already under way; it joins the next one, which starts at the end of the current event-loop
 * turn (so requests made together share it) and only once the read under way has ended (so a
 * host's list is read once at a time, whatever the number of viewers: one under way, at most
 * one waiting). Errors are not cached. `invalidate(host)` drops a host's entries: call it when a
 * job on that host ends.
 */
export interface CatalogOptions {
  /** Default 15 s. */
  ttlMs?: number;
  now?: () => number;
  /** Where answers come from when it runs (src/app.ts wires the real one). */
  inventory?: InventoryPort;
  /** How long a fresh read waits for a host's first import before answering from what is known. Default 20 s. */
  importPatienceMs?: number;
}

/** A snapshot as checks and pins need it (the inventory keeps no description or current mark). */
export type KnownSnapshot = Pick<SnapshotInfo, 'name' | 'kind' | 'parent' | 'createdAt' | 'files'>;

/** Autocomplete reads this many names (the router keeps the valid ones, at most 25). */
const NAMES_READ = 100;

/** Template autocomplete waits this long at most for a first import's template step (the router gives up at 2 s). */
const TEMPLATES_WAIT_MS = 1_500;

export interface ReadOptions {
  /** Skip the cache and read the host now (the result is cached). */
  fresh?: boolean;
}

interface Entry<T> {
  /** When its read started (or was asked for, until it starts): the age of what it holds. */
  at: number;
  value: Promise<T>;
  /** The host is being (or has been) read: a fresh request made now may not share it. */
  started: boolean;
}

export class Catalog {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry<unknown>>();
  private readonly inventory: InventoryPort | undefined;
  private readonly importPatienceMs: number;

  constructor(
    private readonly hypervisor: HypervisorReader,
    opts: CatalogOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 15_000;
    this.now = opts.now ?? Date.now;
    this.inventory = opts.inventory;
    this.importPatienceMs = opts.importPatienceMs ?? 20_000;
  }

  /** "inventory: importing 1,200 / 3,000 domains" while `host`'s first import runs, else null. */
  importing(host: string): string | null {
    return this.inventory ? importingNote(this.inventory.status(host)) : null;
  }

  /** Host names, KVMOPS_HOSTS order (from config: never stale). */
  hosts(): string[] {
    return this.hypervisor.hostNames();
  }

  /** The default host: the first one. */
  defaultHost(): string {
    const first = this.hosts()[0];
    if (first === undefined) throw new Error('no hosts configured');
    return first;
  }

  vms(host: string, opts?: ReadOptions): Promise<VmSummary[]> {
    return this.read(`${host}\0vms`, opts, () => this.hypervisor.host(host).listVms());
  }

  /** The VM of that name, or undefined (judge a refusal on `{ fresh: true }`). */
  async vm(host: string, name: string, opts?: ReadOptions): Promise<VmSummary | undefined> {
    return (await this.vmsNamed(host, [name], opts))[0];
  }

  /** The VMs bearing any of `names` (a deploy's names taken?): one indexed query per name. */
  async vmsNamed(host: string, names: readonly string[], opts?: ReadOptions): Promise<VmSummary[]> {
    const inv = this.inventory;
    if (!inv) return (await this.vms(host, opts)).filter((v) => names.includes(v.name));
    this.knownHost(host);
    if (opts?.fresh) await this.refresh(inv, host);
    return names.flatMap((n) => inv.vmsNamed(host, n).slice(0, 1));
  }

  /**
   * The VMs whose whole name matches the glob `pattern` (name-filter.ts), by name, at most
   * `limit`, and how many match: one indexed query with an inventory (a pattern's batch, judged
   * on `{ fresh: true }` before a refusal), else the cached host list.
   */
  async vmsMatching(host: string, pattern: string, limit: number, opts?: ReadOptions): Promise<{ names: string[]; total: number }> {
    const inv = this.inventory;
    if (!inv) {
      const matches = matchesFilter(pattern);
      const all = (await this.vms(host, opts)).map((v) => v.name).filter(matches).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return { names: all.slice(0, limit), total: all.length };
    }
    this.knownHost(host);
    if (opts?.fresh) await this.refresh(inv, host);
    const { vms, total } = inv.vmPage(host, { offset: 0, limit, filter: pattern });
    return { names: vms.map((v) => v.name), total };
  }

  /** Autocomplete: VM names starting with `prefix` (case ignored); never a host scan with an inventory. */
  async vmNames(host: string, prefix: string): Promise<string[]> {
    if (!this.inventory) return (await this.vms(host)).map((v) => v.name);
    this.knownHost(host);
    return this.inventory.vmNames(host, prefix, NAMES_READ);
  }

  /** Every template with its thin dependents (the inventory counts them from its VM disks). */
  async templates(host: string, opts?: ReadOptions): Promise<TemplateInfo[]> {
    const inv = this.inventory;
    if (!inv) return this.read(`${host}\0templates`, opts, () => this.hypervisor.host(host).listTemplates());
    this.knownHost(host);
    if (opts?.fresh) await this.refresh(inv, host);
    return inv.templates(host).map((t) => this.templateInfo(inv, host, t));
  }

  /**
   * What `/template list` shows: the inventory as it stands (one query: kvmops' own work is in
   * it at once, a change behind its back after one reconcile), or without one a host read.
   */
  listTemplates(host: string): Promise<TemplateInfo[]> {
    return this.templates(host, { fresh: !this.inventory });
  }

  /**
   * Autocomplete: template names starting with `prefix` (case ignored). Right after the first
   * start, while the import still lists the host, no template is known yet: it waits for the
   * import's template step (first in the pass) `TEMPLATES_WAIT_MS` at most, within Discord's 3 s.
   */
  async templateNames(host: string, prefix: string): Promise<string[]> {
    const inv = this.inventory;
    if (!inv) return (await this.templates(host)).map((t) => t.name);
    this.knownHost(host);
    for (const until = Date.now() + TEMPLATES_WAIT_MS; inv.status(host).importing?.total === 0 && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 25));
    }
    return inv.templateNames(host, prefix, NAMES_READ);
  }

  /**
   * One VM's snapshots as checks, pins and autocomplete need them: from the inventory (by the
   * VM's uuid) when it runs, else from the cache. [] for a VM not known.
   */
  async knownSnapshots(host: string, vm: string): Promise<KnownSnapshot[]> {
    const found = await this.vm(host, vm);
    if (!found) return [];
    return this.inventory ? this.inventory.snapshots(host, found.uuid) : this.snapshots(host, vm);
  }

  /**
   * One VM's snapshots in full (description, current mark, captured state), read from the host:
   * O(that VM), never the host's. What `/snapshot list` shows and a snapshot refusal rests on.
   */
  snapshots(host: string, vm: string, opts?: ReadOptions): Promise<SnapshotInfo[]> {
    return this.read(`${host}\0snapshots\0${vm}`, opts, () => this.hypervisor.host(host).listSnapshots(vm));
  }

  /** A configured host, or `host-not-found` (the inventory would just answer "nothing"). */
  private knownHost(host: string): void {
    this.hypervisor.host(host);
  }

  /**
   * The fresh read: a reconcile pass that starts now. On a host never imported that pass is (or
   * follows) the whole import: it is waited for `importPatienceMs` at most (a small host is
   * imported by then — a command right after the first start is not refused), then the answer
   * is what is known, and the caller says "inventory: importing …". The pass goes on.
   */
  private async refresh(inv: InventoryPort, host: string): Promise<void> {
    const imported = inv.status(host).importedAt !== null;
    const pass = inv.refresh(host);
    if (imported) {
      await pass;
      return;
    }
    pass.catch(() => {}); // given up on below: its failure is the reconciler's to log
    let timer: ReturnType<typeof setTimeout> | undefined;
    const patience = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.importPatienceMs);
    });
    try {
      await Promise.race([pass, patience]);
    } finally {
      clearTimeout(timer);
    }
  }

  private templateInfo(inv: InventoryPort, host: string, t: InventoryTemplateView): TemplateInfo {
    return {
      name: t.name,
      sourceVm: t.sourceVm,
      sealed: t.sealed,
      cloudInit: t.cloudInit,
      createdAt: t.createdAt,
      disks: t.disks,
      // names only where there are any: one indexed query per template in use
      dependents: t.dependents > 0 ? inv.dependentsOf(host, t.name) : [],
    };
  }

  /** Drops everything cached for `host` (all hosts when omitted). */
  invalidate(host?: string): void {
    if (host === undefined) {
      this.entries.clear();
      return;
    }
    for (const key of this.entries.keys()) if (key.startsWith(`${host}\0`)) this.entries.delete(key);
  }

  private read<T>(key: string, opts: ReadOptions | undefined, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = this.entries.get(key) as Entry<T> | undefined;
    if (hit && !opts?.fresh && now - hit.at < this.ttlMs) return hit.value;
    // not started yet: it reads the host after this request was made — fresh enough for anyone
    if (hit && !hit.started) return hit.value;
    const entry: Entry<T> = { at: now, started: false, value: undefined as unknown as Promise<T> };
    // after the read under way (if any) has ended, and after this turn's other requests joined
    const under = hit?.value.then(
      () => undefined,
      () => undefined,
    );
    entry.value = (under ?? Promise.resolve())
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        entry.started = true;
        entry.at = this.now();
        return load();
      });
    this.entries.set(key, entry);
    // A failed read must not stick: the next caller tries again.
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry.value;
  }
}

/**
 * Drops a host's cached names whenever one of its jobs ends (it may have made or removed VMs,
 * templates or snapshots). Wire it to the store once: `invalidateOnJobEnd(catalog, (l) => store.onChange(l))`.
 * Returns the unsubscribe function.
 */
export function invalidateOnJobEnd(
  catalog: Pick<Catalog, 'invalidate'>,
  onChange: (listener: (job: Pick<Job, 'state' | 'payload'>) => void) => () => void,
): () => void {
  return onChange((job) => {
    if (!FINAL_STATES.has(job.state)) return;
    const host = job.payload.host;
    catalog.invalidate(typeof host === 'string' ? host : undefined);
  });
}

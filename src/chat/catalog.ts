import { FINAL_STATES } from '../domain/job-states.js';
import type { SnapshotInfo, TemplateInfo, VmSummary } from '../hypervisor/types.js';
import type { Job } from '../jobs/types.js';
import type { HypervisorReader } from './hypervisor-reader.js';

/**
 * A short-lived, per-host cache of what exists: VMs (with state), templates, snapshots per VM.
 *
 * Why: autocomplete must answer in well under Discord's 3 s, and `virsh` over ssh may not; and
 * mutating commands check existence before enqueueing. Why it may be stale: it is a hint, not
 * the truth — executors check the real state again. So a *positive* cached answer is trusted
 * (the job will fail cleanly if it vanished), while a refusal is only given after a fresh read
 * (`{ fresh: true }`): a VM made seconds ago must not be refused from an old list.
 *
 * Reads are shared: concurrent misses share one read (no thundering herd on `virsh list`), and
 * so do concurrent fresh reads (ten people asking `/template list` at once is one host scan).
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
}

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

  constructor(
    private readonly hypervisor: HypervisorReader,
    opts: CatalogOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 15_000;
    this.now = opts.now ?? Date.now;
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

  templates(host: string, opts?: ReadOptions): Promise<TemplateInfo[]> {
    return this.read(`${host}\0templates`, opts, () => this.hypervisor.host(host).listTemplates());
  }

  snapshots(host: string, vm: string, opts?: ReadOptions): Promise<SnapshotInfo[]> {
    return this.read(`${host}\0snapshots\0${vm}`, opts, () => this.hypervisor.host(host).listSnapshots(vm));
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

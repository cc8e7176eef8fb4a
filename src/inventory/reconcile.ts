import { isKvmopsError } from '../domain/errors.js';
import { retryWhileBusy } from '../jobs/retry.js';
import { stderrLogger, type Logger } from '../domain/logger.js';
import type { Hypervisor, ListedVm } from '../hypervisor/types.js';
import type { InventoryChange } from '../kinds/kind.js';
import type { InventoryStore } from './store.js';

/**
 * Keeps the inventory true from the host WITHOUT rescanning it. Each pass, per host:
 *
 * 1. the cheap diff: one `list --all --uuid --name` with libvirt-filtered states, every domain's
 *    disks (`domstats --block`) and the templates pool's volume list (ONE virsh process,
 *    whatever the number of domains) against the inventory's rows;
 * 2. templates (names from the same listing): new ones read, vanished ones removed, and the one
 *    seen longest ago read again — before the domains: they are few and cheap, so template
 *    answers (autocomplete, /deploy's check) are right early in an import;
 * 3. domains that are new, renamed, changed state or disks, or marked stale by a job are read
 *    whole (definition, disks and their chains, snapshots) — in batches, each batch written in
 *    its own transaction; rows of domains no longer listed are removed;
 * 4. besides, the `rotate` rows read longest ago are read again: a change no listing shows (a
 *    snapshot taken by hand) is caught within ⌈VMs / rotate⌉ passes, without ever reading the
 *    whole host at once.
 *
 * The first pass on a host never imported is the import: every domain is new, read in batches
 * in the background, with progress in the log and in `importing(host)` ("1,200 / 3,000"; from
 * the pass's start, total 0 while it lists the host, so a fresh answer knows not to wait);
 * commands answer from what is known meanwhile. A pass that fails (host unreachable) is logged
 * and the next one tries again; what was written stays.
 *
 * A write never undoes newer knowledge (src/inventory/write.ts): the pass's rows carry the time
 * it listed the host, a job's the time it finished.
 *
 * libvirt's events (with `events: true`: one `virsh event --all --loop` per host, kept running by
 * the hypervisor layer, src/hypervisor/events.ts) make it sooner: an event is a HINT — it marks
 * that domain (by name) to be read whole in the next pass and asks for a pass over its host
 * `debounceMs` later (a burst of events → one pass); the pass's listing stays the truth (a hint
 * for a domain no longer listed reads nothing). libvirt raises some events before the operation
 * behind them is complete (a snapshot of a running VM: `Suspended`, `Resumed`, then the snapshot's
 * metadata is saved), so a hinted domain is read once more in a settling pass `settleMs` later.
 * A stream that (re)starts asks for a pass too: what happened while none ran is unknown.
 */

export interface ReconcilerOptions {
  hypervisor: Hypervisor;
  store: InventoryStore;
  /** KVMOPS_RECONCILE: between the end of one pass and the start of the next. */
  everyMs: number;
  logger?: Logger;
  /** Domains read whole per batch (one transaction each). Default 100. */
  batch?: number;
  /** Unchanged rows re-read per pass, oldest first. Default 25. */
  rotate?: number;
  now?: () => number;
  /** Follow each host's event stream while started (where the hypervisor offers one). Default false. */
  events?: boolean;
  /** After an event, the pass over its host starts this much later (events meanwhile share it). Default 200 ms. */
  debounceMs?: number;
  /** A hinted domain is read again this much after its first read (default 1 s). */
  settleMs?: number;
  /** The event stream's restart pauses (default 1 s … 60 s). */
  eventBackoff?: { baseMs: number; capMs: number };
}

/** A host's event stream, for logs, health and tests. */
export interface EventStreamStatus {
  /** The running virsh's pid; null between streams. */
  pid: number | null;
  /** Streams started so far (1 = the first still runs or ran). */
  starts: number;
  events: number;
}

export interface ImportProgress {
  done: number;
  total: number;
}

export interface ReconcileStats {
  host: string;
  listed: number;
  read: number;
  gone: number;
  templatesRead: number;
  templatesGone: number;
  imported: boolean;
  ms: number;
}

export class Reconciler {
  readonly #opts: Required<Omit<ReconcilerOptions, 'logger' | 'eventBackoff'>> & { logger: Logger; eventBackoff?: ReconcilerOptions['eventBackoff'] };
  readonly #importing = new Map<string, ImportProgress>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<unknown> | null = null;
  #abort = new AbortController();
  #stopped = true;
  /** Per host: the pass running or asked for (one pass per host at a time). */
  readonly #passes = new Map<string, { started: boolean; rotate: boolean; done: Promise<ReconcileStats> }>();
  /** Per host: the domains the last listing showed that are not VMs (not kept as rows). */
  readonly #others = new Map<string, Array<{ uuid: string; name: string }>>();

  /** Per host: domain names events asked to read whole, and in how many more passes (2: the next and a settling one). */
  readonly #hinted = new Map<string, Map<string, number>>();
  /** Per host: the debounce timer of an asked-for pass. */
  readonly #soon = new Map<string, { timer: ReturnType<typeof setTimeout>; due: number }>();
  readonly #streams = new Map<string, EventStreamStatus>();
  #watchers: Promise<void>[] = [];

  constructor(opts: ReconcilerOptions) {
    this.#opts = { batch: 100, rotate: 25, now: Date.now, logger: stderrLogger, events: false, debounceMs: 200, settleMs: 1000, ...opts };
  }

  /** The host's event stream, while events are followed. */
  eventStream(host: string): EventStreamStatus | undefined {
    const s = this.#streams.get(host);
    return s && { ...s };
  }

  /**
   * An event about `domain` on `host`: read it whole in the next pass, and have that pass start
   * within `debounceMs`. Never the truth itself: the pass lists the host first.
   */
  hint(host: string, domain: string): void {
    if (this.#stopped) return;
    this.#addHints(host, new Map([[domain, 2]]));
    this.#passSoon(host, this.#opts.debounceMs);
  }

  #addHints(host: string, names: ReadonlyMap<string, number>): void {
    let known = this.#hinted.get(host);
    if (!known) this.#hinted.set(host, (known = new Map()));
    for (const [name, passes] of names) known.set(name, Math.max(passes, known.get(name) ?? 0));
  }

  /** A pass over `host` in `ms` (one for everything asked meanwhile; a pass already due sooner stands). */
  #passSoon(host: string, ms: number): void {
    if (this.#stopped) return;
    const due = performance.now() + ms;
    const pending = this.#soon.get(host);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#soon.delete(host);
      if (this.#stopped) return;
      this.refresh(host).catch((e: unknown) => {
        if (!this.#abort.signal.aborted) this.#opts.logger.warn({ host, err: isKvmopsError(e) ? e.message : e }, 'inventory: a pass after an event failed; the next one tries again');
      });
    }, ms);
    timer.unref();
    this.#soon.set(host, { timer, due });
  }

  #followEvents(): void {
    const { hypervisor, logger } = this.#opts;
    const signal = this.#abort.signal;
    for (const name of hypervisor.hostNames()) {
      const watch = hypervisor.host(name).inventory.watchEvents;
      if (!watch) continue;
      const status: EventStreamStatus = { pid: null, starts: 0, events: 0 };
      this.#streams.set(name, status);
      this.#watchers.push(
        watch({
          signal,
          ...(this.#opts.eventBackoff ? { backoff: this.#opts.eventBackoff } : {}),
          onStart: (pid) => {
            status.pid = pid;
            status.starts++;
            logger.info({ host: name, pid, starts: status.starts }, status.starts === 1 ? 'inventory: following libvirt events' : 'inventory: libvirt event stream started again');
            // whatever happened while no stream ran is unknown: a pass (after this one subscribes)
            if (status.starts > 1) this.#passSoon(name, this.#opts.debounceMs);
          },
          onEvent: (e) => {
            status.events++;
            this.hint(name, e.domain);
          },
          onEnd: (err, retryInMs) => {
            status.pid = null;
            if (err) logger.warn({ host: name, err: err.message, retryInMs }, 'inventory: libvirt event stream ended; starting it again');
          },
        }),
      );
    }
  }

  /** The first import's progress on `host`, while it runs. */
  importing(host: string): ImportProgress | undefined {
    const p = this.#importing.get(host);
    return p && { ...p };
  }

  /**
   * The domains the last pass over `host` listed that are not VMs (libguestfs appliances): the
   * inventory keeps no rows for them, yet they may hold a disk open — a destructive step reads
   * them too (referrers.ts).
   */
  others(host: string): Array<{ uuid: string; name: string }> {
    return [...(this.#others.get(host) ?? [])];
  }

  /** Starts passes: the first at once (in the background), then every `everyMs` after each one ends. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#abort = new AbortController();
    this.#schedule(0);
    if (this.#opts.events) this.#followEvents();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const t of this.#soon.values()) clearTimeout(t.timer);
    this.#soon.clear();
    this.#abort.abort();
    // the event streams' children are killed by the abort; wait until they are gone
    const watchers = this.#watchers;
    this.#watchers = [];
    await Promise.all([this.#running?.catch(() => {}), ...watchers, ...[...this.#passes.values()].map((p) => p.done.catch(() => {}))]);
    this.#streams.clear();
  }

  /** One pass over every host now (after the one running, if any). */
  async reconcileNow(): Promise<ReconcileStats[]> {
    while (this.#running) await this.#running.catch(() => {});
    const p = this.#passAll();
    this.#running = p;
    try {
      return await p;
    } finally {
      if (this.#running === p) this.#running = null;
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.reconcileNow()
        .catch((e: unknown) => this.#opts.logger.error({ err: e }, 'inventory: reconcile failed'))
        .finally(() => this.#schedule(this.#opts.everyMs));
    }, ms);
    this.#timer.unref();
  }

  async #passAll(): Promise<ReconcileStats[]> {
    const out: ReconcileStats[] = [];
    for (const host of this.#opts.hypervisor.hostNames()) {
      try {
        out.push(await this.refresh(host, { rotate: true }));
      } catch (e) {
        if (this.#abort.signal.aborted) break;
        this.#opts.logger.warn({ host, err: isKvmopsError(e) ? e.message : e }, 'inventory: reconcile of a host failed; next pass tries again');
      }
    }
    return out;
  }

  /**
   * A pass over `host` that starts after this call — what "fresh" means for a command's refusal
   * or a destructive job's candidates: it sees everything done on the host before the caller
   * asked. Passes over one host never overlap: a refresh asked while one runs waits for its end
   * and then runs; callers that ask while a pass is waiting to start share that pass (ten viewers
   * → one pass). A first import under way is waited for (it reads the host whole).
   *
   * Only the timer's passes rotate (`rotate: true`: re-read the oldest unchanged rows and the
   * template seen longest ago). Everyone else — a destructive step's candidates, a command's
   * fresh look, a pass after libvirt's events — needs the diff, and its cost should not include
   * 25 other domains. A shared pass rotates when any caller asked.
   */
  refresh(hostName: string, opts: { rotate?: boolean } = {}): Promise<ReconcileStats> {
    const rotate = opts.rotate ?? false;
    const last = this.#passes.get(hostName);
    if (last && !last.started) {
      last.rotate ||= rotate;
      return last.done;
    }
    const entry = { started: false, rotate, done: undefined as unknown as Promise<ReconcileStats> };
    entry.done = (last ? last.done.then(noop, noop) : Promise.resolve()).then(() => {
      entry.started = true;
      return this.#pass(hostName, entry.rotate);
    });
    this.#passes.set(hostName, entry);
    entry.done
      .finally(() => {
        if (this.#passes.get(hostName) === entry) this.#passes.delete(hostName);
      })
      .catch(noop);
    return entry.done;
  }

  /** One pass over one host as the timer makes it (with its rotation), in turn with the others over it (`refresh`). */
  pass(hostName: string): Promise<ReconcileStats> {
    return this.refresh(hostName, { rotate: true });
  }

  async #pass(hostName: string, rotating: boolean): Promise<ReconcileStats> {
    const { store, now } = this.#opts;
    const host = this.#opts.hypervisor.host(hostName);
    const signal = this.#abort.signal;
    const started = now();
    const importing = store.hostStatus(hostName).importedAt === null;
    // the domains events named before this pass started: read whole whatever the listing says
    const hinted = this.#hinted.get(hostName) ?? new Map<string, number>();
    this.#hinted.delete(hostName);
    // an import shows from its start ("listing the host"): a fresh answer must not wait for it
    const progress: ImportProgress = { done: 0, total: 0 };
    if (importing) this.#importing.set(hostName, progress);
    let stats: ReconcileStats;
    try {
      stats = await this.#passWith(hostName, host, signal, started, importing, new Set(hinted.keys()), rotating, progress);
    } catch (e) {
      this.#addHints(hostName, hinted); // not read after all: the next pass reads them
      throw e;
    } finally {
      if (importing) this.#importing.delete(hostName);
    }
    const settle = new Map([...hinted].filter(([, n]) => n > 1).map(([name, n]) => [name, n - 1]));
    if (settle.size) {
      this.#addHints(hostName, settle);
      this.#passSoon(hostName, this.#opts.settleMs);
    }
    return stats;
  }

  async #passWith(
    hostName: string,
    host: ReturnType<Hypervisor['host']>,
    signal: AbortSignal,
    started: number,
    importing: boolean,
    hinted: ReadonlySet<string>,
    rotating: boolean,
    progress: ImportProgress,
  ): Promise<ReconcileStats> {
    const { store, now, logger, batch, rotate } = this.#opts;

    const { vms: listed, templates: templateNames, others = [] } = await host.inventory.listing({ signal });
    this.#others.set(hostName, others);
    const at = started;
    const known = new Map(store.reads.vms(hostName).map((v) => [v.uuid, v]));
    const listedUuids = new Set(listed.map((l) => l.uuid));
    const gone: InventoryChange[] = [...known.values()].filter((k) => !listedUuids.has(k.uuid)).map((k) => ({ type: 'vm-gone', host: hostName, uuid: k.uuid }));
    if (gone.length) await this.#write(() => store.write(gone, at), signal);

    const changed: ListedVm[] = [];
    const unchanged: ListedVm[] = [];
    for (const l of listed) {
      const k = known.get(l.uuid);
      // a disk sign that differs (or none stored: a job wrote the row) means the definition may have changed
      const blocksChanged = l.blocks !== undefined && k?.blocks !== l.blocks;
      (!k || k.stale || k.name !== l.name || k.state !== l.state || blocksChanged || hinted.has(l.name) ? changed : unchanged).push(l);
    }
    const rotated = unchanged.sort((a, b) => known.get(a.uuid)!.readAt - known.get(b.uuid)!.readAt).slice(0, importing || !rotating ? 0 : rotate);
    const toRead = [...changed, ...rotated];

    // Templates first: they are few and cheap, so template answers (autocomplete, /deploy's
    // check) are right early in an import, while the domains are still being read.
    const t = await this.#templates(hostName, templateNames, at, signal, rotating);
    progress.total = toRead.length;
    if (importing) logger.info({ host: hostName, total: toRead.length }, `inventory: importing ${hostName}: 0 / ${fmt(toRead.length)} domains`);
    for (let i = 0; i < toRead.length; i += batch) {
      const slice = toRead.slice(i, i + batch);
      const batchAt = now();
      const vms = await host.inventory.readVms(slice, { signal });
      const found = new Set(vms.map((v) => v.uuid));
      const changes: InventoryChange[] = [
        ...vms.map((vm): InventoryChange => {
          const sign = slice.find((s) => s.uuid === vm.uuid)?.blocks;
          return { type: 'vm', host: hostName, vm: sign !== undefined ? { ...vm, blocks: sign } : vm };
        }),
        ...slice.filter((s) => !found.has(s.uuid)).map((s): InventoryChange => ({ type: 'vm-gone', host: hostName, uuid: s.uuid })),
      ];
      await this.#write(() => store.write(changes, batchAt), signal);
      progress.done += slice.length;
      if (importing) logger.info({ host: hostName, done: progress.done, total: progress.total }, `inventory: importing ${hostName}: ${fmt(progress.done)} / ${fmt(progress.total)} domains`);
    }
    await this.#write(() => store.markReconciled(hostName, now(), true), signal);
    const stats: ReconcileStats = {
      host: hostName,
      listed: listed.length,
      read: toRead.length,
      gone: gone.length,
      templatesRead: t.read,
      templatesGone: t.gone,
      imported: importing,
      ms: now() - started,
    };
    if (importing) logger.info({ ...stats }, `inventory: ${hostName} imported: ${fmt(listed.length)} domains in ${stats.ms} ms`);
    else if (stats.read > rotated.length || stats.gone || t.read || t.gone) logger.info({ ...stats }, 'inventory: reconciled');
    return stats;
  }

  /**
   * A pass's write, retried on timers while another process holds the database (`db-busy`
   * guarantees nothing was written): a command waiting for a fresh pass then waits for the lock
   * too, instead of failing with db-busy.
   */
  #write<T>(write: () => T, signal: AbortSignal): Promise<T> {
    return retryWhileBusy(write, { signal, maxWaitMs: 10 * 60_000 });
  }

  async #templates(hostName: string, names: readonly string[], at: number, signal: AbortSignal, rotating: boolean): Promise<{ read: number; gone: number }> {
    const { store } = this.#opts;
    const host = this.#opts.hypervisor.host(hostName);
    const present = new Set(names);
    const known = store.reads.templates(hostName);
    const knownNames = new Set(known.map((t) => t.name));
    const gone = known.filter((t) => !present.has(t.name)).map((t): InventoryChange => ({ type: 'template-gone', host: hostName, name: t.name }));
    // new ones, and (rotating) the one seen longest ago (made anew under its name by hand, say)
    const oldest = rotating ? store.reads.templateSeenOldest(hostName) : undefined;
    const toRead = [...names.filter((n) => !knownNames.has(n)), ...(oldest && present.has(oldest) ? [oldest] : [])];
    const templates = await host.inventory.readTemplates(toRead, { signal });
    await this.#write(() => store.write([...gone, ...templates.map((template): InventoryChange => ({ type: 'template', host: hostName, template }))], at), signal);
    return { read: templates.length, gone: gone.length };
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');

const noop = (): void => {};

import { isKvmopsError } from '../domain/errors.js';
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
  readonly #opts: Required<Omit<ReconcilerOptions, 'logger'>> & { logger: Logger };
  readonly #importing = new Map<string, ImportProgress>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<unknown> | null = null;
  #abort = new AbortController();
  #stopped = true;
  /** Per host: the pass running or asked for (one pass per host at a time). */
  readonly #passes = new Map<string, { started: boolean; done: Promise<ReconcileStats> }>();

  constructor(opts: ReconcilerOptions) {
    this.#opts = { batch: 100, rotate: 25, now: Date.now, logger: stderrLogger, ...opts };
  }

  /** The first import's progress on `host`, while it runs. */
  importing(host: string): ImportProgress | undefined {
    const p = this.#importing.get(host);
    return p && { ...p };
  }

  /** Starts passes: the first at once (in the background), then every `everyMs` after each one ends. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#abort = new AbortController();
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#abort.abort();
    await this.#running?.catch(() => {});
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
        out.push(await this.refresh(host));
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
   */
  refresh(hostName: string): Promise<ReconcileStats> {
    const last = this.#passes.get(hostName);
    if (last && !last.started) return last.done;
    const entry = { started: false, done: undefined as unknown as Promise<ReconcileStats> };
    entry.done = (last ? last.done.then(noop, noop) : Promise.resolve()).then(() => {
      entry.started = true;
      return this.#pass(hostName);
    });
    this.#passes.set(hostName, entry);
    entry.done
      .finally(() => {
        if (this.#passes.get(hostName) === entry) this.#passes.delete(hostName);
      })
      .catch(noop);
    return entry.done;
  }

  /** One pass over one host, in turn with the others over it (`refresh`). */
  pass(hostName: string): Promise<ReconcileStats> {
    return this.refresh(hostName);
  }

  async #pass(hostName: string): Promise<ReconcileStats> {
    const { store, now } = this.#opts;
    const signal = this.#abort.signal;
    const started = now();
    const importing = store.hostStatus(hostName).importedAt === null;
    // an import shows from its start ("listing the host"): a fresh answer must not wait for it
    const progress: ImportProgress = { done: 0, total: 0 };
    if (importing) this.#importing.set(hostName, progress);
    try {
      return await this.#passListed(hostName, { started, importing, progress, signal });
    } finally {
      if (importing) this.#importing.delete(hostName);
    }
  }

  async #passListed(
    hostName: string,
    { started, importing, progress, signal }: { started: number; importing: boolean; progress: ImportProgress; signal: AbortSignal },
  ): Promise<ReconcileStats> {
    const { store, now, logger, batch, rotate } = this.#opts;
    const host = this.#opts.hypervisor.host(hostName);
    const { vms: listed, templates: templateNames } = await host.inventory.listing({ signal });
    const at = started;
    const known = new Map(store.reads.vms(hostName).map((v) => [v.uuid, v]));
    const listedUuids = new Set(listed.map((l) => l.uuid));
    const gone: InventoryChange[] = [...known.values()].filter((k) => !listedUuids.has(k.uuid)).map((k) => ({ type: 'vm-gone', host: hostName, uuid: k.uuid }));
    if (gone.length) store.write(gone, at);

    const changed: ListedVm[] = [];
    const unchanged: ListedVm[] = [];
    for (const l of listed) {
      const k = known.get(l.uuid);
      // a disk sign that differs (or none stored: a job wrote the row) means the definition may have changed
      const blocksChanged = l.blocks !== undefined && k?.blocks !== l.blocks;
      (!k || k.stale || k.name !== l.name || k.state !== l.state || blocksChanged ? changed : unchanged).push(l);
    }
    const rotated = unchanged.sort((a, b) => known.get(a.uuid)!.readAt - known.get(b.uuid)!.readAt).slice(0, importing ? 0 : rotate);
    const toRead = [...changed, ...rotated];

    // Templates first: they are few and cheap, so template answers (autocomplete, /deploy's
    // check) are right early in an import, while the domains are still being read.
    const t = await this.#templates(hostName, templateNames, at, signal);
    progress.total = toRead.length;
    if (importing) logger.info({ host: hostName, total: toRead.length }, `inventory: importing ${hostName}: 0 / ${fmt(toRead.length)} domains`);
    for (let i = 0; i < toRead.length; i += batch) {
      const slice = toRead.slice(i, i + batch);
      const batchAt = now();
      const vms = await host.inventory.readVms(slice, { signal });
      const found = new Set(vms.map((v) => v.uuid));
      store.write(
        [
          ...vms.map((vm): InventoryChange => {
            const sign = slice.find((s) => s.uuid === vm.uuid)?.blocks;
            return { type: 'vm', host: hostName, vm: sign !== undefined ? { ...vm, blocks: sign } : vm };
          }),
          ...slice.filter((s) => !found.has(s.uuid)).map((s): InventoryChange => ({ type: 'vm-gone', host: hostName, uuid: s.uuid })),
        ],
        batchAt,
      );
      progress.done += slice.length;
      if (importing) logger.info({ host: hostName, done: progress.done, total: progress.total }, `inventory: importing ${hostName}: ${fmt(progress.done)} / ${fmt(progress.total)} domains`);
    }
    store.markReconciled(hostName, now(), true);
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

  async #templates(hostName: string, names: readonly string[], at: number, signal: AbortSignal): Promise<{ read: number; gone: number }> {
    const { store } = this.#opts;
    const host = this.#opts.hypervisor.host(hostName);
    const present = new Set(names);
    const known = store.reads.templates(hostName);
    const knownNames = new Set(known.map((t) => t.name));
    const gone = known.filter((t) => !present.has(t.name)).map((t): InventoryChange => ({ type: 'template-gone', host: hostName, name: t.name }));
    // new ones, and the one seen longest ago (made anew under its name by hand, say)
    const oldest = store.reads.templateSeenOldest(hostName);
    const toRead = [...names.filter((n) => !knownNames.has(n)), ...(oldest && present.has(oldest) ? [oldest] : [])];
    const templates = await host.inventory.readTemplates(toRead, { signal });
    store.write([...gone, ...templates.map((template): InventoryChange => ({ type: 'template', host: hostName, template }))], at);
    return { read: templates.length, gone: gone.length };
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');

const noop = (): void => {};

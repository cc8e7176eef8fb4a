import { KvmopsError } from '../domain/errors.js';
import type { Referrers } from '../hypervisor/types.js';
import type { Reconciler } from './reconcile.js';
import type { InventoryStore } from './store.js';

/**
 * The inventory's answer to a destructive step's question "which domains might use these
 * files?" (`OpContext.referrers`): a reconcile pass over the host that starts after the call —
 * so a domain defined by hand a moment ago is in it — then one indexed read (`referrers` in
 * read.ts: the domains whose chains reference a file, the unreadable and the stale ones) plus
 * the non-VM domains that pass listed. The step re-reads exactly those on disk and fails closed
 * on any it cannot read (hypervisor/references.ts).
 *
 * A pass that fails (host unreachable, reconciler stopping) gives null: the step reads the whole
 * host as it did before the inventory — never an answer from an inventory that may be behind.
 * So does a host whose first import has not completed: that pass reads every domain anyway (at
 * 3,000 domains, minutes), and the whole-host read costs the step only what it always did.
 */
export function inventoryReferrers(reconciler: Reconciler, store: InventoryStore): (host: string, files: readonly string[], ctx: { signal?: AbortSignal }) => ReturnType<Referrers> {
  return async (host, files, ctx) => {
    if (store.hostStatus(host).importedAt === null) return null;
    try {
      await abortable(reconciler.refresh(host, { rotate: false }), ctx.signal);
    } catch (e) {
      if (ctx.signal?.aborted) throw new KvmopsError('aborted', 'cancelled while the inventory was brought up to date', { cause: e });
      return null;
    }
    const seen = new Set<string>();
    const domains = [...store.reads.referrers(host, files), ...reconciler.others(host)].filter((d) => !seen.has(d.uuid) && !!seen.add(d.uuid));
    return { domains };
  };
}

/** The pass is shared with other callers: a cancelled job stops waiting for it, never stops it. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

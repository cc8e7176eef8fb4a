import type { HostContext } from './host-context.js';
import { okStdout, throwFirstError } from './multi.js';
import { parseNameList } from './parse.js';
import type { OpContext } from './types.js';
import { virshArgs, type VirshArgs } from './virsh-args.js';

/**
 * The storage dir's two libvirt dir pools (templates, vms): defined, built, started and
 * autostarted, idempotently, in at most two virsh processes. Everything kvmops puts on disk is
 * a volume of one of these pools, so a remote host is driven through libvirt's volume API.
 */

const ensured = new WeakMap<HostContext, Promise<void>>();

/** Once per host context (and again after a failure); cheap after the first call. */
export function ensurePools(h: HostContext, ctx: OpContext = {}): Promise<void> {
  let p = ensured.get(h);
  if (!p) {
    p = ensurePoolsNow(h, ctx);
    ensured.set(h, p);
    p.catch(() => ensured.delete(h));
  }
  return p;
}

/** Forget that the pools were ensured (after someone removed them, e.g. in tests). */
export function forgetPools(h: HostContext): void {
  ensured.delete(h);
}

export async function ensurePoolsNow(h: HostContext, ctx: OpContext = {}): Promise<void> {
  const [all, active] = await h.virsh.multi([virshArgs.poolListAll(), virshArgs.poolListActive()], {
    timeoutMs: 30_000,
    signal: ctx.signal,
  });
  const defined = new Set(parseNameList(okStdout(all)));
  const running = new Set(parseNameList(okStdout(active)));
  const pools = [
    [h.storage.templatesPool, h.storage.templatesDir],
    [h.storage.vmsPool, h.storage.vmsDir],
  ] as const;
  // A running pool whose folder was removed behind libvirt's back (`rm -rf data/`) still looks
  // active; its refresh fails and libvirt 9.0 then deactivates it. Probe, and start it again
  // (pool-build makes the folder).
  const probed = pools.filter(([pool]) => running.has(pool));
  if (probed.length) {
    const refreshed = await h.virsh.multi(probed.map(([pool]) => virshArgs.poolRefresh(pool)), {
      timeoutMs: 30_000,
      signal: ctx.signal,
    });
    probed.forEach(([pool], i) => {
      if (refreshed[i]?.error) running.delete(pool);
    });
  }
  const cmds: VirshArgs[] = [];
  for (const [pool, dir] of pools) {
    if (!defined.has(pool)) cmds.push(virshArgs.poolDefineDir(pool, dir), virshArgs.poolAutostart(pool));
    if (!running.has(pool)) cmds.push(virshArgs.poolBuild(pool), virshArgs.poolStart(pool));
  }
  if (cmds.length === 0) return;
  throwFirstError(await h.virsh.multi(cmds, { timeoutMs: 60_000, signal: ctx.signal }));
}

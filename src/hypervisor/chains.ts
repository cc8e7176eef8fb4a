import { createHash } from 'node:crypto';
import path from 'node:path';
import type { HostContext } from './host-context.js';
import { isVolumeMissing } from './multi.js';
import { parseNameList, parseVolumeXml, type VolumeXmlInfo } from './parse.js';
import { backingChain } from './qemu-img.js';
import { eachLimited } from './each-limited.js';
import { exists } from './local-files.js';
import { remoteShell, type RemoteShell } from './remote-exec.js';
import type { ChainEntry, OpContext } from './types.js';
import { virshArgs, type VirshArgs } from './virsh-args.js';

/**
 * Backing chains of disk files, and which ones could not be read. Local hosts ask qemu-img
 * (the whole real chain, also for files outside any pool); remote hosts ask libvirt level by
 * level (`vol-dumpxml` shows one backing level), all files of a level in one batch, and a
 * qemu+ssh host qemu-img there over ssh for chains that leave every pool.
 *
 * Fail closed: a file whose chain cannot be read is in `unreadable`, never treated as a file
 * with no backing file — what it depends on is unknown, so nothing it might depend on may be
 * deleted. A file that does not exist (local) depends on nothing: its chain is `[]`.
 */

/** Deeper than this, a chain is unreadable (a loop, or nothing kvmops made). */
const MAX_CHAIN_DEPTH = 32;
/** Rounds of transient probe pools for files outside every pool (each round may find more folders). */
const MAX_PROBE_ROUNDS = 8;

export interface DiskRef {
  file: string;
  /** The format the domain XML declares, when it does: checked against the image. */
  format?: string | null | undefined;
}

export interface ChainRead {
  /** file → its chain, top first (`[]`: the file does not exist). */
  chains: Map<string, ChainEntry[]>;
  /** file → why its chain could not be read. */
  unreadable: Map<string, string>;
}

export interface ChainReadOptions {
  /**
   * For a read a destructive step decides on (a removal, a refusal): on a remote host both
   * storage pools are refreshed in the same virsh process as, and right before, the first
   * level's reads, and a refresh that fails fails the read (`pool-refresh`'s error). Without it
   * a pool is refreshed only when a file of the storage dir answers "no such volume" (then the
   * files are read again); a refresh that fails then leaves those files unreadable.
   */
  fresh?: boolean;
}

export async function readChains(h: HostContext, disks: readonly DiskRef[], ctx: OpContext = {}, opts: ChainReadOptions = {}): Promise<ChainRead> {
  const formats = new Map<string, string | undefined>();
  for (const d of disks) if (!formats.has(d.file) || !formats.get(d.file)) formats.set(d.file, d.format ?? undefined);
  return h.local ? localChains(formats, ctx) : remoteChains(h, formats, ctx, opts);
}

async function localChains(formats: Map<string, string | undefined>, ctx: OpContext): Promise<ChainRead> {
  const out: ChainRead = { chains: new Map(), unreadable: new Map() };
  await eachLimited([...formats], 4, async ([file, format]) => {
    try {
      if (!(await exists(file))) {
        out.chains.set(file, []);
        return;
      }
      out.chains.set(file, await backingChain(file, { signal: ctx.signal, ...(format ? { format } : {}) }));
    } catch (e) {
      if (ctx.signal?.aborted) throw e;
      // removed while we looked (its VM deleted meanwhile): it depends on nothing now; a file
      // that cannot even be looked at (EACCES, EIO) is unreadable, never "absent"
      if (!(await exists(file).catch(() => true))) out.chains.set(file, []);
      else out.unreadable.set(file, e instanceof Error ? e.message : String(e));
    }
  });
  return out;
}

/**
 * Remote: libvirt sees a file only as a volume of a pool. A file outside every pool (not found,
 * outside the storage dir) is looked at through a transient dir pool on its folder, made for
 * this read and destroyed after it; a folder that cannot be made a pool leaves the file
 * unreadable.
 */
async function remoteChains(h: HostContext, formats: Map<string, string | undefined>, ctx: OpContext, opts: ChainReadOptions): Promise<ChainRead> {
  const shell = remoteShell(h);
  if (shell) return sshChains(h, shell, formats, ctx, opts);
  const probes: string[] = [];
  const tried = new Set<string>();
  let refreshed = false;
  try {
    for (let round = 0; ; round++) {
      const walk = await freshWalk(h, formats, ctx, round === 0 ? opts : {});
      if (walk.outsidePools.size > 0 && !refreshed) {
        // A file inside another pool whose volume list is stale (made with qemu-img behind
        // libvirt's back) is "not found" as well, and its folder can't be probed (it is that
        // pool's target): refresh every active pool once, then look again.
        refreshed = true;
        await refreshActivePools(h, ctx);
        continue;
      }
      const dirs = [...new Set([...walk.outsidePools].map((p) => path.posix.dirname(p)))].filter((d) => !tried.has(d));
      if (dirs.length === 0 || round >= MAX_PROBE_ROUNDS) return walk.read;
      for (const d of dirs) tried.add(d);
      const pools = dirs.map((d) => [`kvmops-probe-${createHash('sha256').update(d).digest('hex').slice(0, 12)}`, d] as const);
      const rs = await h.virsh.multi(pools.map(([pool, dir]) => virshArgs.poolCreateDir(pool, dir)), { timeoutMs: 60_000, signal: ctx.signal });
      pools.forEach(([pool], i) => {
        if (!rs[i]!.error) probes.push(pool);
      });
    }
  } finally {
    if (probes.length) await h.virsh.multi(probes.map((p) => virshArgs.poolDestroy(p)), { timeoutMs: 60_000 }).catch(() => {});
  }
}

/**
 * A qemu+ssh host: libvirt level by level, as above, then every chain that reaches a file
 * outside every pool read whole by `qemu-img info --backing-chain` run there over ssh — not by
 * transient probe pools: two readers at once (a delete's references and the inventory's pass
 * after its events) would both make the same folder a pool, libvirt refuses the second, and
 * that reader would find the chain unreadable and keep every file (fail closed, but a leak).
 */
async function sshChains(h: HostContext, shell: RemoteShell, formats: Map<string, string | undefined>, ctx: OpContext, opts: ChainReadOptions): Promise<ChainRead> {
  let walk = await freshWalk(h, formats, ctx, opts);
  if (walk.outsidePools.size > 0) {
    await refreshActivePools(h, ctx);
    walk = await walkVolumes(h, formats, ctx);
  }
  const read = walk.read;
  await eachLimited([...walk.blockedOutside], 4, async (top) => {
    const format = formats.get(top);
    try {
      read.chains.set(top, await backingChain(top, { signal: ctx.signal, remote: shell, ...(format ? { format } : {}) }));
      read.unreadable.delete(top);
    } catch (e) {
      if (ctx.signal?.aborted) throw e;
      read.unreadable.set(top, e instanceof Error ? e.message : String(e));
    }
  });
  return read;
}

/**
 * A walk whose "no such volume" inside the storage dir means absent: libvirt lists a file of a
 * pool's folder only after a `pool-refresh` (an overlay made by qemu-img by hand, or by libvirt
 * for another domain's disk-only snapshot, is unknown until then; and a listed volume's
 * `vol-dumpxml` shows what the last refresh read: a file rewritten with a backing file shows
 * none until the next, libvirt 9.0). `fresh`: both storage pools refreshed in the first level's
 * virsh process, failing closed. Otherwise: a walk that met an unlisted file of the storage dir
 * is done again after a refresh; when that refresh fails, those files' chains are unreadable.
 */
async function freshWalk(h: HostContext, formats: Map<string, string | undefined>, ctx: OpContext, opts: ChainReadOptions): Promise<Walk> {
  if (opts.fresh) return walkVolumes(h, formats, ctx, { refresh: 'throw' });
  const walk = await walkVolumes(h, formats, ctx);
  if (walk.missingInside.size === 0) return walk;
  return walkVolumes(h, formats, ctx, { refresh: 'unreadable' });
}

/** The storage dir's two pools, refreshed (commands for the first batch of a walk). */
function storageRefresh(h: HostContext): VirshArgs[] {
  return [virshArgs.poolRefresh(h.storage.vmsPool), virshArgs.poolRefresh(h.storage.templatesPool)];
}

interface Walk {
  read: ChainRead;
  /** Paths libvirt did not find, outside the storage dir. */
  outsidePools: Set<string>;
  /** Tops whose chain stopped at a file outside every pool (and for no other reason). */
  blockedOutside: Set<string>;
  /** Paths of the storage dir libvirt did not find (absent, or not listed yet). */
  missingInside: Set<string>;
}

/** `pool-refresh` of every active pool (harmless: it re-reads the folder). Failures are ignored. */
async function refreshActivePools(h: HostContext, ctx: OpContext): Promise<void> {
  const [list] = await h.virsh.multi([virshArgs.poolListActive()], { timeoutMs: 60_000, signal: ctx.signal });
  const pools = list && !list.error ? parseNameList(list.stdout) : [];
  if (pools.length) await h.virsh.multi(pools.map((p) => virshArgs.poolRefresh(p)), { timeoutMs: 60_000, signal: ctx.signal });
}

/**
 * One pass over the chains, level by level. `refresh`: the storage pools refreshed first, in the
 * first level's virsh process; when that fails, `throw` fails the read, `unreadable` makes every
 * file of the storage dir libvirt did not find unreadable (its absence is not proven).
 */
async function walkVolumes(h: HostContext, formats: Map<string, string | undefined>, ctx: OpContext, opts: { refresh?: 'throw' | 'unreadable' } = {}): Promise<Walk> {
  const out: ChainRead = { chains: new Map(), unreadable: new Map() };
  const outsidePools = new Set<string>();
  const blockedOutside = new Set<string>();
  const missingInside = new Set<string>();
  let refresh = opts.refresh ? storageRefresh(h) : [];
  let refreshFailed: string | null = null;
  const partial = new Map<string, ChainEntry[]>([...formats.keys()].map((f) => [f, []]));
  let frontier = new Map<string, string[]>([...formats.keys()].map((f) => [f, [f]])); // path → tops waiting for it
  const info = new Map<string, VolumeXmlInfo | { error: string; missing: boolean }>();
  /** top → the format the file above the next one to read records for it */
  const backingFormat = new Map<string, string>();
  for (let depth = 0; frontier.size > 0; depth++) {
    if (depth >= MAX_CHAIN_DEPTH) {
      for (const tops of frontier.values()) for (const t of tops) out.unreadable.set(t, `backing chain deeper than ${MAX_CHAIN_DEPTH} files`);
      break;
    }
    const paths = [...frontier.keys()].filter((p) => !info.has(p));
    const batch = await h.virsh.multi([...refresh, ...paths.map((p) => virshArgs.volDumpxml(p))], { timeoutMs: 60_000, signal: ctx.signal });
    const failed = batch.slice(0, refresh.length).find((r) => r.error);
    if (failed && opts.refresh === 'throw') throw failed.error!;
    if (failed) refreshFailed = `the storage pools could not be refreshed, so libvirt's "no such volume" proves nothing: ${failed.error!.message}`;
    const results = batch.slice(refresh.length);
    refresh = [];
    paths.forEach((p, i) => {
      const r = results[i]!;
      // "not found" proves absence only inside the storage dir, and only once its pools were
      // refreshed (freshWalk); elsewhere the file may exist outside every pool, where libvirt
      // cannot see it
      const missing = r.error !== undefined && isVolumeMissing(r);
      if (missing && !h.storage.contains(p)) outsidePools.add(p);
      if (missing && h.storage.contains(p)) missingInside.add(p);
      const error = refreshFailed !== null && missing ? refreshFailed : r.error?.message;
      info.set(p, error !== undefined ? { error, missing: missing && refreshFailed === null && h.storage.contains(p) } : parseVolumeXml(r.stdout));
    });
    const next = new Map<string, string[]>();
    for (const [p, tops] of frontier) {
      const v = info.get(p)!;
      for (const top of tops) {
        if ('error' in v) {
          if (p === top && v.missing) out.chains.set(top, []);
          else out.unreadable.set(top, v.error);
          if (outsidePools.has(p)) blockedOutside.add(top);
          partial.delete(top);
          continue;
        }
        // the top's format as its domain says; a backing file's as the file above it records
        // it (what QEMU opens it as): a damaged qcow2 reads as raw, and its chain is unknown
        const declared = p === top ? formats.get(top) : backingFormat.get(top);
        if (declared && !formatsAgree(declared, v.format)) {
          out.unreadable.set(top, p === top ? `${top} is ${v.format}, its domain says ${declared}` : `${p} is ${v.format}, the file above it says ${declared}`);
          partial.delete(top);
          continue;
        }
        partial.get(top)?.push({ file: v.path, format: v.format, virtualSize: v.capacity, actualSize: v.allocation });
        if (v.backing) {
          next.set(v.backing.path, [...(next.get(v.backing.path) ?? []), top]);
          backingFormat.set(top, v.backing.format);
        }
      }
    }
    frontier = new Map([...next].map(([p, tops]) => [p, tops.filter((t) => partial.has(t))] as const).filter(([, t]) => t.length > 0));
  }
  for (const [f, c] of partial) if (!out.unreadable.has(f)) out.chains.set(f, c);
  return { read: out, outsidePools, blockedOutside, missingInside };
}

/** Chains that could be read (for display: vmInfo, template sizes); unreadable files are left out. */
export async function diskChains(h: HostContext, files: readonly string[], ctx: OpContext = {}): Promise<Map<string, ChainEntry[]>> {
  return (await readChains(h, files.map((file) => ({ file })), ctx)).chains;
}

/**
 * The format a domain declares for a disk against the one libvirt's storage pool reports. They
 * must be the same — a qcow2 read as raw (or the reverse) is how a guest reads its host's files —
 * except that a pool calls an ISO 9660 image `iso` where a domain attaches it as `raw` (a
 * cloud-init seed, an installer CD): the same bytes, no backing chain. Pure.
 */
export function formatsAgree(declared: string, found: string): boolean {
  return declared === found || (declared === 'raw' && found === 'iso');
}

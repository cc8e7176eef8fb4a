import { isKvmopsError } from '../domain/errors.js';
import type { HostContext } from './host-context.js';
import { readChains, type DiskRef } from './chains.js';
import { domainDisks, domainName, parseDomainXml } from './domain-xml.js';
import { eachLimited } from './each-limited.js';
import { okStdout } from './multi.js';
import { parseDomBlkList, parseDomState, parseNameList, type BlkEntry } from './parse.js';
import { asDomainUuid, type DomainUuid } from './domain-uuid.js';
import { listDomains, parseDomainList, type DomainRef } from './domains.js';
import { domainFiles, sourceFiles, VOLUME_REF } from './references.js';
import { orderTree } from './snapshots/list.js';
import { load } from './snapshots/state.js';
import type { HostListing, InventoryDisk, InventoryVm, ListedVm, OpContext, VmState } from './types.js';
import { ensurePools } from './pools.js';
import { templateNamesOf } from './templates.js';
import { isVmDomain } from './vms.js';
import { virshArgs } from './virsh-args.js';
import { parseXml, type XmlElement } from './xml.js';

/**
 * Reading domains' definitions: XML and file disks of chosen domains, by uuid, batched (one
 * virsh process per chunk, not one per domain). What the whole host references is
 * references.ts; backing chains are chains.ts.
 */

export interface DomainView {
  uuid: DomainUuid;
  name: string;
  xml: XmlElement;
  /** File-backed disks (device disk), with the path libvirt resolves (also for volume disks). */
  disks: { target: string; file: string; format: string }[];
}

/**
 * XML (live for running domains: it reflects the disks in use now) and disks of the given
 * domains, addressed by uuid, in as few virsh processes as the batch's size allows. Domains
 * that vanished meanwhile are left out.
 */
export async function domainViews(h: HostContext, domains: readonly DomainRef[], ctx: OpContext = {}): Promise<DomainView[]> {
  if (domains.length === 0) return [];
  const results = await h.virsh.multi(
    domains.flatMap((d) => [virshArgs.dumpxml(d.uuid), virshArgs.domblklist(d.uuid)]),
    { timeoutMs: 60_000, signal: ctx.signal },
  );
  const views: DomainView[] = [];
  domains.forEach((d, i) => {
    const x = results[2 * i]!;
    const b = results[2 * i + 1]!;
    if (x.error?.code === 'vm-not-found' || b.error?.code === 'vm-not-found') return;
    const xml = parseDomainXml(okStdout(x));
    const blk = parseDomBlkList(okStdout(b));
    views.push({ uuid: d.uuid, name: d.name, xml, disks: fileDisks(xml, blk) });
  });
  return views;
}

export async function allDomainViews(h: HostContext, ctx: OpContext = {}): Promise<DomainView[]> {
  return domainViews(h, await listDomains(h, ctx), ctx);
}

function fileDisks(xml: XmlElement, blk: BlkEntry[]): DomainView['disks'] {
  const fmt = new Map(domainDisks(xml).map((d) => [d.target, d]));
  return blk
    .filter((b) => b.device === 'disk' && b.source !== null && (b.type === 'file' || b.type === 'volume'))
    .map((b) => ({ target: b.target, file: b.source!, format: fmt.get(b.target)?.format ?? 'raw' }));
}

// --- what the inventory reads (src/inventory: the reconcile loop and the jobs' reports) ----------

/**
 * Every VM domain with its state, in ONE virsh process: `list --all --uuid --name` (the truth of
 * which domains exist, by uuid) and `domstats --state --block --nowait` (every domain's state and
 * disks, by name; server-side, no job on the domain). Domains the stats leave out (defined
 * between the two, or a libvirt that cannot say) get their state from libvirt-filtered state
 * lists, then a `domstate` each for the rest. Appliance domains are left out (vms.ts).
 */
export async function listDomainStates(h: HostContext, ctx: OpContext = {}): Promise<ListedVm[]> {
  return (await hostListing(h, ctx, { templates: false })).vms;
}

/**
 * The reconcile's whole cheap diff in ONE virsh process: the domain listing above and, with
 * `templates`, the template names (a refresh and a volume list of the templates pool; pools
 * ensured first).
 */
export async function hostListing(h: HostContext, ctx: OpContext = {}, opts = { templates: true }): Promise<HostListing> {
  if (opts.templates) await ensurePools(h, ctx);
  const tpl = opts.templates ? [virshArgs.poolRefresh(h.storage.templatesPool), virshArgs.volList(h.storage.templatesPool)] : [];
  const rs = await h.virsh.multi([virshArgs.listDomains(), ...tpl, virshArgs.domstatsStateBlock()], {
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  const templates = opts.templates ? (okStdout(rs[1]), templateNamesOf(okStdout(rs[2]))) : [];
  // a libvirt that cannot say leaves the signs out: then only names and states tell changes
  const stats = rs.at(-1)!;
  const byName = stats.error ? new Map<string, DomainStats>() : parseDomstats(stats.stdout);
  const all = parseDomainList(okStdout(rs[0]));
  const domains = all.filter((d) => isVmDomain(d.name));
  const others = all.filter((d) => !isVmDomain(d.name)).map((d) => ({ uuid: d.uuid, name: d.name }));
  const stateOf = new Map<string, VmState>();
  for (const d of domains) {
    const state = byName.get(d.name)?.state;
    if (state) stateOf.set(d.uuid, state);
  }
  let rest = domains.filter((d) => !stateOf.has(d.uuid));
  if (rest.length > 20) {
    // many without stats (an old libvirt): libvirt-filtered state lists, as cheap as the name list
    const states = ['running', 'paused', 'shutoff'] as const;
    const lists = await h.virsh.multi(states.map((s) => virshArgs.listUuidsInState(s)), { timeoutMs: 60_000, signal: ctx.signal });
    states.forEach((s, i) => {
      for (const u of parseNameList(okStdout(lists[i]))) stateOf.set(asDomainUuid(u), s === 'shutoff' ? 'shut off' : s);
    });
    rest = domains.filter((d) => !stateOf.has(d.uuid));
  }
  if (rest.length) {
    const rr = await h.virsh.multi(rest.map((d) => virshArgs.domstate(d.uuid)), { timeoutMs: 60_000, signal: ctx.signal });
    rest.forEach((d, i) => {
      const r = rr[i]!;
      if (r.error?.code === 'vm-not-found') return; // undefined meanwhile
      stateOf.set(d.uuid, parseDomState(okStdout(r)).state);
    });
  }
  const vms = domains.flatMap((d) => {
    const state = stateOf.get(d.uuid);
    const b = byName.get(d.name)?.blocks;
    return state ? [{ uuid: d.uuid, name: d.name, state, ...(b !== undefined ? { blocks: b } : {}) }] : [];
  });
  return { vms, templates, others };
}

/** libvirt's `virDomainState` numbers (`state.state=N` in domstats) as virsh names them. */
const DOMSTATS_STATES: Record<string, VmState> = {
  '1': 'running',
  '2': 'idle',
  '3': 'paused',
  '4': 'in shutdown',
  '5': 'shut off',
  '6': 'crashed',
  '7': 'pmsuspended',
};

export interface DomainStats {
  /** Absent for a state this list does not know (0, "no state"): read it with domstate. */
  state?: VmState;
  /** The disks' sign: `target=path` a line, in libvirt's order. */
  blocks: string;
}

/** `domstats --state --block` → domain name → its state and disks' sign. Pure. */
export function parseDomstats(out: string): Map<string, DomainStats> {
  const states = new Map<string, VmState>();
  let name: string | null = null;
  for (const line of out.split('\n')) {
    const dom = /^Domain: '(.*)'$/.exec(line);
    if (dom) name = dom[1]!;
    const m = /^\s+state\.state=(\d+)$/.exec(line);
    if (m && name !== null && DOMSTATS_STATES[m[1]!]) states.set(name, DOMSTATS_STATES[m[1]!]!);
  }
  const out2 = new Map<string, DomainStats>();
  for (const [n, blocks] of parseDomstatsBlocks(out)) {
    const state = states.get(n);
    out2.set(n, { blocks, ...(state ? { state } : {}) });
  }
  return out2;
}

/**
 * `domstats --block` → domain name → its disks' sign, `target=path` a line in libvirt's order
 * (a disk without a path, an empty cdrom, as `target=`). Pure.
 */
export function parseDomstatsBlocks(out: string): Map<string, string> {
  const signs = new Map<string, string>();
  let name: string | null = null;
  let disks = new Map<number, { target?: string; path?: string }>();
  const close = () => {
    if (name === null) return;
    const lines = [...disks.entries()].sort((a, b) => a[0] - b[0]).map(([, d]) => `${d.target ?? '?'}=${d.path ?? ''}`);
    signs.set(name, lines.join('\n'));
  };
  for (const line of out.split('\n')) {
    const dom = /^Domain: '(.*)'$/.exec(line);
    if (dom) {
      close();
      name = dom[1]!;
      disks = new Map();
      continue;
    }
    const m = /^\s+block\.(\d+)\.(name|path)=(.*)$/.exec(line);
    if (!m || name === null) continue;
    const d = disks.get(Number(m[1])) ?? {};
    if (m[2] === 'name') d.target = m[3]!;
    else d.path = m[3]!;
    disks.set(Number(m[1]), d);
  }
  close();
  return signs;
}

/**
 * These domains read whole: state, live XML, file disks, snapshot names in one batch (chunked,
 * two chunks side by side); the snapshots of the ones that have any; the chains of their disks
 * (which template each thin disk hangs on). Cost: O(the given domains' disks and snapshots).
 * Domains that vanished meanwhile are left out. A domain whose definition cannot be read is
 * kept with its listed name and `unreadable` set on a placeholder disk (fail closed: what it
 * uses is unknown).
 */
export async function readInventoryVms(h: HostContext, refs: readonly { uuid: string; name: string }[], ctx: OpContext = {}): Promise<InventoryVm[]> {
  if (refs.length === 0) return [];
  const doms = refs.map((r) => ({ uuid: asDomainUuid(r.uuid), name: r.name }));
  const rs = await h.virsh.multi(
    doms.flatMap((d) => [virshArgs.domstate(d.uuid), virshArgs.dumpxml(d.uuid), virshArgs.domblklist(d.uuid), virshArgs.snapshotListNames(d.uuid)]),
    { timeoutMs: 120_000, signal: ctx.signal, parallel: 2 },
  );
  interface Partial {
    ref: DomainRef;
    state: VmState;
    disks: { target: string; file: string; format: string }[];
    /** The live definition's disk sources, raw (`volume:pool/vol` for volume disks). */
    liveRefs: Set<string>;
    unreadable?: string;
    hasSnapshots: boolean;
  }
  const partial: Partial[] = [];
  doms.forEach((d, i) => {
    const group = rs.slice(4 * i, 4 * i + 4);
    if (group.some((r) => r.error?.code === 'vm-not-found')) return;
    try {
      const state = parseDomState(okStdout(group[0])).state;
      const xml = parseDomainXml(okStdout(group[1]));
      const name = domainName(xml) || d.name;
      const disks = fileDisks(xml, parseDomBlkList(okStdout(group[2])));
      const hasSnapshots = parseNameList(okStdout(group[3])).length > 0;
      partial.push({ ref: { uuid: d.uuid, name }, state, disks, liveRefs: new Set(domainFiles(xml).map((f) => f.file)), hasSnapshots });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      // its state when that much could be read; else "shut off" (nothing claims it runs)
      let state: VmState = 'shut off';
      try {
        state = parseDomState(okStdout(group[0])).state;
      } catch {
        // keep the default
      }
      partial.push({ ref: d, state, disks: [], liveRefs: new Set(), unreadable: why, hasSnapshots: false });
    }
  });
  // What else each domain references besides its live disks: its persistent definition (a
  // running domain may have been redefined with other disks) and every snapshot's recorded
  // disks and overlays. Not shown as disks; kept as `uses`, which a destructive step looks up.
  const extra = new Map<string, DiskRef[]>();
  const extraWhy = new Map<string, string>();
  const persistent = (p: Partial, xmlText: string) => {
    const refs = domainFiles(parseDomainXml(xmlText)).filter((f) => !p.liveRefs.has(f.file));
    for (const f of refs) {
      // a volume disk only the persistent definition has: its path is not resolved here (fail closed)
      if (f.file.startsWith(VOLUME_REF)) extraWhy.set(p.ref.uuid, `persistent definition's disk ${f.file} was not resolved`);
      else extra.set(p.ref.uuid, [...(extra.get(p.ref.uuid) ?? []), f]);
    }
  };
  const snapshots = new Map<string, InventoryVm['snapshots']>();
  await eachLimited(
    partial.filter((p) => p.hasSnapshots),
    2,
    async (p) => {
      try {
        const l = await load(h, p.ref, ctx.signal);
        snapshots.set(p.ref.uuid, orderTree(l).map((s) => ({ name: s.name, kind: s.kind, parent: s.parent, createdAt: s.createdAt, files: s.files })));
        persistent(p, l.domainXml);
        for (const s of l.snapshots) extra.set(p.ref.uuid, [...(extra.get(p.ref.uuid) ?? []), ...sourceFiles(parseXml(s.xml))]);
      } catch (e) {
        if (ctx.signal?.aborted) throw e;
        if (isKvmopsError(e, 'vm-not-found')) return;
        extraWhy.set(p.ref.uuid, e instanceof Error ? e.message : String(e));
      }
    },
  );
  // running domains without snapshots: their persistent definition, one batch
  const running = partial.filter((p) => !p.hasSnapshots && p.unreadable === undefined && p.state !== 'shut off');
  if (running.length) {
    const xs = await h.virsh.multi(running.map((p) => virshArgs.dumpxml(p.ref.uuid, { inactive: true })), { timeoutMs: 120_000, signal: ctx.signal, parallel: 2 });
    running.forEach((p, i) => {
      const r = xs[i]!;
      if (r.error?.code === 'vm-not-found') return;
      try {
        persistent(p, okStdout(r));
      } catch (e) {
        extraWhy.set(p.ref.uuid, e instanceof Error ? e.message : String(e));
      }
    });
  }
  const chains = await readChains(h, [...partial.flatMap((p) => p.disks.map((d) => ({ file: d.file, format: d.format }))), ...[...extra.values()].flat()], ctx);
  const chainOf = (file: string) => (chains.chains.get(file) ?? []).map((c) => c.file);
  return partial.map((p) => {
    const disks: InventoryDisk[] = p.disks.map((d) => {
      const why = chains.unreadable.get(d.file);
      const chain = chainOf(d.file);
      const template = chain.map((f) => h.storage.templateOf(f)).find((t) => t !== null) ?? null;
      return { target: d.target, file: d.file, format: d.format, chain, template, ...(why !== undefined ? { unreadable: why } : {}) };
    });
    const more = extra.get(p.ref.uuid) ?? [];
    const moreWhy = more.map((f) => chains.unreadable.get(f.file)).find((w) => w !== undefined);
    const why = p.unreadable ?? extraWhy.get(p.ref.uuid) ?? (moreWhy !== undefined ? `a chain its persistent definition or a snapshot names: ${moreWhy}` : undefined);
    // Unreadable definition, snapshots or a chain only they name: a placeholder disk says so
    // (fail closed for later checks).
    if (why !== undefined) disks.push({ target: '?', file: '', format: '', chain: [], template: null, unreadable: why });
    const uses = new Set<string>();
    for (const f of [...p.disks, ...more]) {
      uses.add(f.file);
      for (const c of chainOf(f.file)) uses.add(c);
    }
    return { uuid: p.ref.uuid, name: p.ref.name, state: p.state, disks, snapshots: snapshots.get(p.ref.uuid) ?? [], uses: [...uses].sort() };
  });
}

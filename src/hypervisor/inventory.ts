import type { HostContext } from './host-context.js';
import { domainDisks, parseDomainXml } from './domain-xml.js';
import { eachLimited } from './each-limited.js';
import { okStdout, virshMulti } from './multi.js';
import { parseDomBlkList, parseVolumeXml, type BlkEntry } from './parse.js';
import type { DomainUuid } from './domain-uuid.js';
import { listDomains, type DomainRef } from './domains.js';
import { backingChain } from './qemu-img.js';
import type { ChainEntry, OpContext } from './types.js';
import { virshArgs } from './virsh-args.js';
import type { XmlElement } from './xml.js';

/**
 * Reading the host's real state: domains with their XML and disks, and disk backing chains.
 * Reads are batched into as few virsh processes as possible (one per question, not
 * one per domain or per disk).
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
  const results = await virshMulti(
    h,
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

/**
 * Backing chains (top first) of many disk files. Local hosts ask qemu-img (the whole real
 * chain, also for files outside any pool); remote hosts ask libvirt level by level
 * (`vol-dumpxml` shows one backing level), all files of a level in one virsh process.
 * Files that cannot be read are missing from the result.
 */
export async function diskChains(
  h: HostContext,
  files: readonly string[],
  ctx: OpContext = {},
): Promise<Map<string, ChainEntry[]>> {
  const unique = [...new Set(files)];
  const out = new Map<string, ChainEntry[]>();
  if (h.local) {
    await eachLimited(unique, 4, async (f) => {
      try {
        out.set(f, await backingChain(f, { signal: ctx.signal }));
      } catch (e) {
        if (ctx.signal?.aborted) throw e;
      }
    });
    return out;
  }
  // remote: walk the chains one level at a time
  const chains = new Map<string, ChainEntry[]>(unique.map((f) => [f, []]));
  let frontier = new Map<string, string[]>(unique.map((f) => [f, [f]])); // path → tops waiting for it
  const info = new Map<string, ReturnType<typeof parseVolumeXml> | null>();
  for (let depth = 0; depth < 32 && frontier.size > 0; depth++) {
    const paths = [...frontier.keys()].filter((p) => !info.has(p));
    const results = await virshMulti(h, paths.map((p) => virshArgs.volDumpxml(p)), {
      timeoutMs: 60_000,
      signal: ctx.signal,
    });
    paths.forEach((p, i) => {
      const r = results[i]!;
      info.set(p, r.error ? null : parseVolumeXml(r.stdout));
    });
    const nextFrontier = new Map<string, string[]>();
    for (const [p, tops] of frontier) {
      const v = info.get(p);
      for (const top of tops) {
        if (!v) {
          if (p === top) chains.delete(top);
          continue;
        }
        chains.get(top)!.push({ file: v.path, format: v.format, virtualSize: v.capacity, actualSize: v.allocation });
        if (v.backing) nextFrontier.set(v.backing.path, [...(nextFrontier.get(v.backing.path) ?? []), top]);
      }
    }
    frontier = nextFrontier;
  }
  for (const [f, c] of chains) if (c.length) out.set(f, c);
  return out;
}

/**
 * VMs whose disk chains use each of `files` (template disks): the REAL chains, so a VM whose
 * overlay was rebased elsewhere is not counted and one that depends through a snapshot overlay is.
 */
export async function dependentsOf(
  h: HostContext,
  files: readonly string[],
  ctx: OpContext = {},
  views?: DomainView[],
): Promise<Map<string, string[]>> {
  const wanted = new Set(files);
  const result = new Map<string, string[]>(files.map((f) => [f, []]));
  const doms = views ?? (await allDomainViews(h, ctx));
  const chains = await diskChains(h, doms.flatMap((d) => d.disks.map((x) => x.file)), ctx);
  for (const d of doms) {
    const used = new Set<string>();
    for (const disk of d.disks) {
      const chain = chains.get(disk.file) ?? [{ file: disk.file, format: disk.format, virtualSize: 0 }];
      for (const e of chain) if (wanted.has(e.file)) used.add(e.file);
    }
    for (const f of used) result.get(f)!.push(d.name);
  }
  return result;
}

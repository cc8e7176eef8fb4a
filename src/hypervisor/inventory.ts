import type { HostContext } from './host-context.js';
import { domainDisks, parseDomainXml } from './domain-xml.js';
import { okStdout } from './multi.js';
import { parseDomBlkList, type BlkEntry } from './parse.js';
import type { DomainUuid } from './domain-uuid.js';
import { listDomains, type DomainRef } from './domains.js';
import type { OpContext } from './types.js';
import { virshArgs } from './virsh-args.js';
import type { XmlElement } from './xml.js';

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

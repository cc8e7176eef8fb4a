import { KvmopsError } from '../domain/errors.js';
import type { HostContext } from './host-context.js';
import { okStdout } from './multi.js';
import { parseNodeInfo, parseNodeMemStats, parsePoolInfo, parseVersion } from './parse.js';
import { loadTemplates } from './templates.js';
import type { HostFacts, OpContext } from './types.js';
import { virshArgs } from './virsh-args.js';
import { find, textOf } from './xml.js';
import { parseDomainXml } from './domain-xml.js';

/**
 * What a host is now, for `/host list|info`, placement (`/deploy host:auto`) and the ops
 * endpoint: libvirt and QEMU versions, CPUs, memory, and the storage dir's filesystem — read in
 * ONE virsh process (one ssh connection on a remote host: ~0.5 s; locally ~0.06 s). The
 * storage figures are the kvmops VM pool's (`pool-info --bytes`: a dir pool reports its
 * filesystem's size and free space); a host kvmops has not used yet has no pool: `storage` null.
 */
export async function readHostFacts(h: HostContext, ctx: OpContext & { timeoutMs?: number } = {}): Promise<HostFacts> {
  const [version, node, mem, pool] = await h.virsh.multi(
    [virshArgs.version(), virshArgs.nodeinfo(), virshArgs.nodememstats(), virshArgs.poolInfo(h.storage.vmsPool)],
    { timeoutMs: ctx.timeoutMs ?? 10_000, signal: ctx.signal },
  );
  const v = parseVersion(okStdout(version));
  const n = parseNodeInfo(okStdout(node));
  const m = parseNodeMemStats(okStdout(mem));
  const p = pool && !pool.error ? parsePoolInfo(pool.stdout) : undefined;
  return {
    libvirt: v.libvirt,
    hypervisor: v.hypervisor,
    cpus: n.cpus,
    cpuModel: n.cpuModel,
    memory: {
      total: m.total,
      // what a new guest can have without pushing anything out: free plus the page cache
      available: m.free + m.buffers + m.cached,
      free: m.free,
    },
    storage: p?.capacity !== undefined && p.available !== undefined ? { total: p.capacity, available: p.available } : null,
  };
}

/**
 * The memory (bytes) a VM deployed from `template` gets: its stored domain XML's `<memory>`.
 * One vol-download of the XML volume (read over the host's connection, as the deploy reads it).
 */
export async function readTemplateMemory(h: HostContext, template: string, ctx: OpContext = {}): Promise<number> {
  const [t] = await loadTemplates(h, [template], ctx);
  if (!t) throw new KvmopsError('template-not-found', `template ${template} does not exist on host ${h.name}`);
  return domainMemoryBytes(t.xml);
}

const UNIT_BYTES: Record<string, number> = {
  b: 1, bytes: 1,
  k: 1024, kib: 1024, kb: 1000,
  m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
  t: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4,
};

/** `<memory unit='KiB'>65536</memory>` in bytes (libvirt's default unit is KiB). Pure. */
export function domainMemoryBytes(xml: string): number {
  const el = find(parseDomainXml(xml), 'memory');
  const text = textOf(el).trim();
  const unit = (el?.attrs.unit ?? 'KiB').toLowerCase();
  const scale = UNIT_BYTES[unit];
  if (!el || !/^\d+$/.test(text) || scale === undefined) {
    throw new KvmopsError('unexpected-output', `a domain XML's <memory> is not a size: ${JSON.stringify(text)} ${unit}`);
  }
  return Number(text) * scale;
}

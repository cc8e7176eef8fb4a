import { KvmopsError } from '../domain/errors.js';
import { readChains, type DiskRef } from './chains.js';
import { asDomainUuid, type DomainUuid } from './domain-uuid.js';
import { listDomains, type DomainRef } from './domains.js';
import type { HostContext } from './host-context.js';
import { okStdout, type MultiResult } from './multi.js';
import { parseNameList } from './parse.js';
import type { OpContext } from './types.js';
import { virshArgs, type VirshArgs } from './virsh-args.js';
import { elements, parseXml, type XmlElement } from './xml.js';

/**
 * What the host's domains reference: every file in the backing chain of every disk of every
 * domain — its live definition, its persistent one, and every snapshot it has. The question
 * behind every removal ("does anything still use this file?") and every template-in-use check.
 *
 * Fail closed: a domain whose XML or a chain of whose files cannot be read is in `unreadable`;
 * while there is any, the answer for every file is "maybe", and callers keep files / refuse.
 *
 * Cost: virsh batches grow with the number of domains read and their snapshots, and are chunked
 * (multi.ts); one qemu-img per distinct file (4 at a time) on local hosts. A destructive step
 * asks `referencesTo` instead, which reads only the candidates the inventory names.
 */

export interface HostReferences {
  /** file → the domains whose chains (current or in a snapshot) include it. */
  users: Map<string, DomainRef[]>;
  /** Domains whose references are unknown, with the file or XML that could not be read. */
  unreadable: Array<{ domain: DomainRef; what: string; reason: string }>;
}

export interface ReferenceOptions {
  /** Leave this domain out (the one being deleted; a caller that reads its own state itself). */
  except?: DomainUuid;
  /** Only this domain: what it uses itself (its own files, before deleting it). */
  only?: DomainRef;
  /**
   * Only these domains (the candidates a fresh inventory named; `except` still applies), each
   * read whole: live and persistent definitions, every snapshot, every chain. No listing of the
   * host. A domain gone meanwhile uses nothing.
   */
  domains?: readonly DomainRef[];
  /**
   * A destructive step decides on this read: on a remote host the storage pools are refreshed
   * right before the chains are read, in the same virsh process (chains.ts `fresh`), and a
   * refresh that fails fails the read. `referencesTo` always reads fresh.
   */
  fresh?: boolean;
}

export async function hostReferences(h: HostContext, ctx: OpContext = {}, opts: ReferenceOptions = {}): Promise<HostReferences> {
  const chosen = opts.only ? [opts.only] : opts.domains?.filter((d) => d.uuid !== opts.except);
  const out: HostReferences = { users: new Map(), unreadable: [] };
  if (chosen?.length === 0) return out;
  // Chosen domains: every one is asked for its persistent definition and snapshots (cheaper
  // than listing the host to learn which are running or have snapshots).
  const [active, withSnapshots] = chosen ? [null, null] : await uuidSets(h, ctx);
  const domains = chosen ?? (await listDomains(h, ctx)).filter((d) => d.uuid !== opts.except);
  const files = new Map<DomainUuid, DiskRef[]>();
  const add = (d: DomainRef, refs: DiskRef[]) => files.set(d.uuid, [...(files.get(d.uuid) ?? []), ...refs]);

  // 1. the definitions (live and persistent) and snapshot names, per domain
  const cmds: Array<{ d: DomainRef; kind: 'xml' | 'names'; args: VirshArgs }> = [];
  for (const d of domains) {
    cmds.push({ d, kind: 'xml', args: virshArgs.dumpxml(d.uuid) });
    if (!active || active.has(d.uuid)) cmds.push({ d, kind: 'xml', args: virshArgs.dumpxml(d.uuid, { inactive: true }) });
    if (!withSnapshots || withSnapshots.has(d.uuid)) cmds.push({ d, kind: 'names', args: virshArgs.snapshotListNames(d.uuid) });
  }
  const snaps: Array<{ d: DomainRef; args: VirshArgs }> = [];
  const gone = new Set<DomainUuid>();
  (await readBatch(h, cmds.map((c) => c.args), ctx)).forEach((r, i) => {
    const { d, kind } = cmds[i]!;
    if (r.error?.code === 'vm-not-found') return void gone.add(d.uuid); // undefined meanwhile: uses nothing
    if (r.error) return void out.unreadable.push({ domain: d, what: r.args.join(' '), reason: r.error.message });
    if (kind === 'names') {
      for (const s of parseNameList(r.stdout)) snaps.push({ d, args: virshArgs.snapshotDumpxml(d.uuid, s) });
      return;
    }
    readXml(out, d, r, (root) => add(d, domainFiles(root)));
  });

  // 2. every snapshot's XML: the files it recorded (its domain's disks, external overlays)
  (await readBatch(h, snaps.map((s) => s.args), ctx)).forEach((r, i) => {
    const { d } = snaps[i]!;
    if (r.error?.code === 'vm-not-found' || r.error?.code === 'snapshot-not-found') return;
    if (r.error) return void out.unreadable.push({ domain: d, what: r.args.join(' '), reason: r.error.message });
    readXml(out, d, r, (root) => add(d, sourceFiles(root)));
  });

  // 3. volume disks (`<source pool volume>`) → their paths
  const volumes = [...files.values()].flat().filter((f) => f.file.startsWith(VOLUME));
  if (volumes.length) {
    const rs = await readBatch(h, volumes.map((v) => virshArgs.volPath(...volumeOf(v.file))), ctx);
    const paths = new Map(volumes.map((v, i) => [v.file, rs[i]!]));
    for (const [uuid, refs] of files) {
      const d = domains.find((x) => x.uuid === uuid)!;
      files.set(
        uuid,
        refs.flatMap((f) => {
          const r = paths.get(f.file);
          if (!r) return [f];
          if (r.error) {
            out.unreadable.push({ domain: d, what: f.file.slice(VOLUME.length), reason: r.error.message });
            return [];
          }
          return [{ file: r.stdout.trim(), format: f.format }];
        }),
      );
    }
  }

  // 4. chains
  const chains = await readChains(h, [...files.values()].flat(), ctx, { fresh: opts.fresh === true });
  for (const d of domains) {
    if (gone.has(d.uuid)) continue;
    const used = new Set<string>();
    for (const f of files.get(d.uuid) ?? []) {
      used.add(f.file);
      const why = chains.unreadable.get(f.file);
      if (why !== undefined) out.unreadable.push({ domain: d, what: f.file, reason: why });
      for (const e of chains.chains.get(f.file) ?? []) used.add(e.file);
    }
    for (const f of used) out.users.set(f, [...(out.users.get(f) ?? []), d]);
  }
  return out;
}

/**
 * What references any of `files`, for a step about to remove or change them. With the
 * inventory's port (`ctx.referrers`, a job in the worker): only the domains it names after a
 * fresh diff are read — whole, on disk, with the same fail-closed rule — so the cost follows the
 * candidates, not the host. Without it, or when it has no fresh answer: the whole host, as
 * `hostReferences` reads it. `except`: the domain the caller reads itself. Always `fresh`.
 */
export async function referencesTo(
  h: HostContext,
  files: readonly string[],
  ctx: OpContext = {},
  opts: { except?: DomainUuid } = {},
): Promise<HostReferences> {
  if (files.length === 0) return { users: new Map(), unreadable: [] };
  const found = ctx.referrers ? await ctx.referrers(files, { signal: ctx.signal }) : null;
  if (!found) return hostReferences(h, ctx, { ...opts, fresh: true });
  const seen = new Set<string>();
  const domains = found.domains.filter((d) => !seen.has(d.uuid) && !!seen.add(d.uuid)).map((d) => ({ uuid: asDomainUuid(d.uuid), name: d.name }));
  return hostReferences(h, ctx, { ...opts, domains, fresh: true });
}

/** `template-in-use`-style refusal when references are unknown: `chain-unreadable`, naming them. */
export function assertReadable(refs: HostReferences, what: string): void {
  if (refs.unreadable.length === 0) return;
  const list = refs.unreadable.map((u) => `${u.domain.name}: ${u.what} (${u.reason})`);
  throw new KvmopsError(
    'chain-unreadable',
    `cannot tell whether ${what}: kvmops could not read ${refs.unreadable.length === 1 ? 'a disk chain' : 'disk chains'} of ${[...new Set(refs.unreadable.map((u) => u.domain.name))].join(', ')} — ${list[0]}`,
    { details: { unreadable: list } },
  );
}

async function uuidSets(h: HostContext, ctx: OpContext): Promise<[Set<DomainUuid>, Set<DomainUuid>]> {
  const [a, s] = await h.virsh.multi([virshArgs.listActiveUuids(), virshArgs.listUuidsWithSnapshots()], {
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  const set = (r: MultiResult | undefined) => new Set(parseNameList(okStdout(r)).map(asDomainUuid));
  return [set(a), set(s)];
}

/** Read-only batches: two chunks at a time (measured with 3,000 domains: ~1.6× faster than one). */
function readBatch(h: HostContext, commands: VirshArgs[], ctx: OpContext): Promise<MultiResult[]> {
  return h.virsh.multi(commands, { timeoutMs: 120_000, signal: ctx.signal, parallel: 2 });
}

function readXml(out: HostReferences, d: DomainRef, r: MultiResult, fn: (root: XmlElement) => void): void {
  try {
    fn(parseXml(r.stdout));
  } catch (e) {
    out.unreadable.push({ domain: d, what: r.args.join(' '), reason: e instanceof Error ? e.message : String(e) });
  }
}

/** Marks a volume disk until its path is known: `volume:<pool>/<volume>`. */
export const VOLUME_REF = 'volume:';
const VOLUME = VOLUME_REF;
function volumeOf(ref: string): [string, string] {
  const rest = ref.slice(VOLUME.length);
  const i = rest.indexOf('/');
  return [rest.slice(0, i), rest.slice(i + 1)];
}

/** File-backed (and volume) disks of a `<domain>`: `<disk type='file|volume'>` of any device. */
export function domainFiles(root: XmlElement): DiskRef[] {
  const out: DiskRef[] = [];
  for (const devices of elements(root, 'devices')) {
    for (const disk of elements(devices, 'disk')) {
      const src = elements(disk, 'source')[0];
      const format = elements(disk, 'driver')[0]?.attrs.type ?? null;
      const type = disk.attrs.type ?? 'file';
      if (type === 'file' && src?.attrs.file) out.push({ file: src.attrs.file, format });
      if (type === 'volume' && src?.attrs.pool && src.attrs.volume) out.push({ file: `${VOLUME}${src.attrs.pool}/${src.attrs.volume}`, format });
    }
  }
  return out;
}

/** Every `<source file>` anywhere below `el` (a snapshot names its domain's disks and its overlays), with the sibling `<driver type>`. */
export function sourceFiles(el: XmlElement, out: DiskRef[] = []): DiskRef[] {
  for (const c of elements(el)) {
    const src = elements(c, 'source')[0];
    if (src?.attrs.file) out.push({ file: src.attrs.file, format: elements(c, 'driver')[0]?.attrs.type ?? null });
    sourceFiles(c, out);
  }
  return out;
}

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import { isValidName } from '../domain/names.js';
import { detectCloudInit } from './cloud-init.js';
import { copyFlat, makeReadOnly } from './disk-copy.js';
import { domainDisks, parseDomainXml, readTemplateMeta, templateXml, type TemplateMeta } from './domain-xml.js';
import { resolveVm } from './domains.js';
import type { HostContext } from './host-context.js';
import { diskChains } from './chains.js';
import { assertReadable, hostReferences, referencesTo, type HostReferences } from './references.js';
import { isVolumeMissing, okStdout, throwFirstError } from './multi.js';
import { remoteShell } from './remote-exec.js';
import { parseDomBlkList, parseDomState, parseVolList, parseVolumeXml } from './parse.js';
import { ensurePools } from './pools.js';
import { sysprep, sysprepSetup, type SysprepOptions } from './sysprep.js';
import { withTempDir } from './tempdir.js';
import type { CreateTemplateRequest, InventoryTemplate, OpContext, TemplateInfo, TemplatePin } from './types.js';
import { assertName, vmTarget } from './validate.js';
import { deleteVolumes } from './removal.js';
import { virshArgs } from './virsh-args.js';

/**
 * Templates: read-only, chain-free qcow2 disks plus the domain XML with its identity removed,
 * all stored as volumes of the storage dir's templates pool (so a remote host keeps them the
 * same way):
 *
 *   templates/<tpl>--<target>.qcow2   one per disk
 *   templates/<tpl>.xml               raw volume holding the template's domain XML; written LAST,
 *                                     so a template exists exactly when its XML does
 */

export interface StoredTemplate {
  name: string;
  xml: string;
  meta: TemplateMeta;
  /** target → template disk path */
  disks: { target: string; file: string; capacity: number }[];
}

export function templateXmlVolume(name: string): string {
  return `${name}.xml`;
}
export function templateDiskPath(h: HostContext, name: string, target: string): string {
  return h.storage.templateDisk(name, target);
}

/** A template as stored (its XML volume's text), checked: kvmops metadata present, disks inside the templates dir. */
export function storedTemplateFromXml(h: HostContext, name: string, xml: string): StoredTemplate {
  // a raw volume may be padded with NULs after the document
  const text = xml.replace(/\0+$/, '');
  const root = parseDomainXml(text);
  const meta = readTemplateMeta(root);
  if (!meta || meta.name !== name) throw new KvmopsError('unexpected-output', `template ${name}: its XML has no kvmops template metadata`);
  const capacity = new Map(meta.disks.map((d) => [d.target, d.capacity]));
  const disks = domainDisks(root)
    .filter((d) => d.device === 'disk')
    .map((d) => {
      const file = d.file ?? '';
      if (!h.storage.isTemplateFile(file)) throw new KvmopsError('unexpected-output', `template ${name}: disk ${d.target} is not a template file`);
      return { target: d.target, file, capacity: capacity.get(d.target) ?? 0 };
    });
  return { name, xml: text, meta, disks };
}

/** Read many templates' XML in one virsh process. Missing ones are absent from the result. */
export async function loadTemplates(h: HostContext, names: readonly string[], ctx: OpContext = {}): Promise<StoredTemplate[]> {
  if (names.length === 0) return [];
  return withTempDir(async (dir) => {
    const files = names.map((n) => path.join(dir, templateXmlVolume(n)));
    const rs = await h.virsh.multi(
      names.map((n, i) => virshArgs.volDownload(h.storage.templatesPool, templateXmlVolume(n), files[i]!)),
      { timeoutMs: 60_000, signal: ctx.signal },
    );
    const out: StoredTemplate[] = [];
    for (let i = 0; i < names.length; i++) {
      const r = rs[i]!;
      if (isVolumeMissing(r)) continue;
      okStdout(r);
      out.push(storedTemplateFromXml(h, names[i]!, await readFile(files[i]!, 'utf8')));
    }
    return out;
  });
}

export async function loadTemplate(h: HostContext, name: string, ctx: OpContext = {}): Promise<StoredTemplate> {
  const [t] = await loadTemplates(h, [name], ctx);
  if (!t) throw new KvmopsError('template-not-found', `template ${name} does not exist on host ${h.name}`);
  return t;
}

/** The template names present (an `<name>.xml` volume with a valid name). */
export async function templateNames(h: HostContext, ctx: OpContext = {}): Promise<string[]> {
  const [refresh, list] = await h.virsh.multi(
    [virshArgs.poolRefresh(h.storage.templatesPool), virshArgs.volList(h.storage.templatesPool)],
    { timeoutMs: 30_000, signal: ctx.signal },
  );
  okStdout(refresh);
  return templateNamesOf(okStdout(list));
}

/** The template names in a `vol-list` of the templates pool: its `<name>.xml` volumes with a valid name. Pure. */
export function templateNamesOf(volList: string): string[] {
  return parseVolList(volList)
    .map((v) => v.name)
    .filter((n) => n.endsWith('.xml'))
    .map((n) => n.slice(0, -4))
    .filter(isValidName)
    .sort();
}

export async function listTemplates(h: HostContext, ctx: OpContext = {}): Promise<TemplateInfo[]> {
  await ensurePools(h, ctx);
  const stored = await loadTemplates(h, await templateNames(h, ctx), ctx);
  const files = stored.flatMap((t) => t.disks.map((d) => d.file));
  // templateNames refreshed the pool just now: no second refresh
  const [sizes, refs] = await Promise.all([volumeSizes(h, files, ctx, { refresh: false }), hostReferences(h, ctx)]);
  const unreadable = [...new Set(refs.unreadable.map((u) => u.domain.name))].sort();
  return stored.map((t) => ({
    name: t.name,
    sourceVm: t.meta.sourceVm,
    sealed: t.meta.sealed,
    cloudInit: t.meta.cloudInit,
    createdAt: t.meta.createdAt,
    disks: t.disks.map((d) => ({
      target: d.target,
      file: d.file,
      virtualSize: sizes.get(d.file)?.capacity ?? d.capacity,
      actualSize: sizes.get(d.file)?.allocation ?? 0,
    })),
    dependents: usersOf(refs, t),
    ...(unreadable.length ? { unreadable } : {}),
  }));
}

/**
 * For the inventory (src/inventory): these templates read whole — stored XML and sizes, no
 * dependents (the inventory counts those from its VM disks) — without the host-wide chain scan
 * `listTemplates` makes. Missing ones are left out. `refresh`: look at the pool again first
 * (false right after templateNames, which just did).
 */
export async function readInventoryTemplates(h: HostContext, names: readonly string[], ctx: OpContext = {}, opts = { refresh: true }): Promise<InventoryTemplate[]> {
  if (names.length === 0) return [];
  await ensurePools(h, ctx);
  const stored = await loadTemplates(h, names, ctx);
  const sizes = await volumeSizes(h, stored.flatMap((t) => t.disks.map((d) => d.file)), ctx, opts);
  return stored.map((t) => {
    const disks = t.disks.map((d) => ({
      target: d.target,
      file: d.file,
      virtualSize: sizes.get(d.file)?.capacity ?? d.capacity,
      actualSize: sizes.get(d.file)?.allocation ?? 0,
    }));
    return {
      name: t.name,
      sourceVm: t.meta.sourceVm,
      sealed: t.meta.sealed,
      cloudInit: t.meta.cloudInit,
      createdAt: t.meta.createdAt,
      disks,
      size: disks.reduce((n, d) => n + d.actualSize, 0),
    };
  });
}

/** `refresh`: files written by qemu-img are volumes only once the pool has looked. */
async function volumeSizes(
  h: HostContext,
  files: readonly string[],
  ctx: OpContext,
  opts: { refresh: boolean },
): Promise<Map<string, { capacity: number; allocation: number }>> {
  if (files.length === 0) return new Map();
  const refresh = opts.refresh ? [virshArgs.poolRefresh(h.storage.templatesPool)] : [];
  const rs = await h.virsh.multi([...refresh, ...files.map((f) => virshArgs.volDumpxml(f))], {
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  const out = new Map<string, { capacity: number; allocation: number }>();
  files.forEach((f, i) => {
    const r = rs[refresh.length + i]!;
    if (!r.error) out.set(f, parseVolumeXml(r.stdout));
  });
  return out;
}

export interface CreateTemplateOptions {
  sysprep?: SysprepOptions;
}

/**
 * From a shut-off VM: each disk copied (flattened) into the templates pool, sealed when asked,
 * made read-only; then the identity-free XML written as the last step. A failure or an abort
 * removes everything this call made; leftovers of an earlier crashed attempt (disk files
 * without an XML volume) are removed before starting.
 */
export async function createTemplate(
  h: HostContext,
  req: CreateTemplateRequest,
  ctx: OpContext = {},
  opts: CreateTemplateOptions = {},
): Promise<TemplateInfo> {
  const { vm, vmUuid } = vmTarget(req);
  const name = assertName(req.name, 'template');
  // sealing runs where the disks are: here, or on a remote host over its ssh transport
  const shell = remoteShell(h);
  if (req.seal) {
    if (!h.local && !shell) {
      throw new KvmopsError('sysprep-unavailable', `cannot seal on host ${h.name}: virt-sysprep runs there over ssh, and its URI ${h.uri} is not qemu+ssh://; create the template with seal:false`, {
        details: { missing: 'ssh transport' },
      });
    }
    await sysprepSetup(opts.sysprep, shell); // fail before copying anything
  }
  await ensurePools(h, ctx);
  const { uuid } = await resolveVm(h, vm, ctx, vmUuid);
  const [stateR, xmlR, blkR, refreshR, listR] = await h.virsh.multi(
    [
      virshArgs.domstate(uuid),
      virshArgs.dumpxml(uuid, { inactive: true }),
      virshArgs.domblklist(uuid),
      virshArgs.poolRefresh(h.storage.templatesPool),
      virshArgs.volList(h.storage.templatesPool),
    ],
    { timeoutMs: 30_000, signal: ctx.signal },
  );
  const state = parseDomState(okStdout(stateR)).state;
  const sourceXml = okStdout(xmlR);
  const blk = parseDomBlkList(okStdout(blkR));
  okStdout(refreshR);
  const existing = new Set(parseVolList(okStdout(listR)).map((v) => v.path));
  if (state !== 'shut off') throw new KvmopsError('vm-running', `VM ${vm} is ${state}: shut it off before making a template from it`);
  if (existing.has(`${h.storage.templatesDir}/${templateXmlVolume(name)}`)) {
    throw new KvmopsError('name-taken', `a template named ${name} already exists on host ${h.name}`, { details: { names: [name] } });
  }
  const formats = new Map(domainDisks(parseDomainXml(sourceXml)).map((d) => [d.target, d.format]));
  const disks = blk.filter((b) => b.device === 'disk');
  for (const d of disks) {
    if (!d.source || (d.type !== 'file' && d.type !== 'volume')) {
      throw new KvmopsError('unsupported', `disk ${d.target} of ${vm} is a ${d.type} disk; templates take file-backed disks only`);
    }
  }
  if (disks.length === 0) throw new KvmopsError('unsupported', `VM ${vm} has no disk to make a template from`);
  const plan = disks.map((d) => ({ target: d.target, src: d.source!, format: formats.get(d.target) ?? 'raw', dst: templateDiskPath(h, name, d.target) }));

  // leftovers of a crashed attempt with the same name: its disk files without its XML — unless
  // something uses them (a hand-made domain), or it cannot be told
  const leftovers = plan.map((p) => p.dst).filter((f) => existing.has(f));
  if (leftovers.length) {
    const refs = await referencesTo(h, leftovers, ctx);
    const used = leftovers.filter((f) => refs.users.has(f));
    if (used.length) {
      const by = [...new Set(used.flatMap((f) => refs.users.get(f)!.map((u) => u.name)))].sort();
      throw new KvmopsError('template-in-use', `files of an earlier attempt at template ${name} are used by ${by.join(', ')}`, {
        details: { dependents: by, files: used },
      });
    }
    assertReadable(refs, `files of an earlier attempt at template ${name} are unused`);
    await deleteVolumes(h, leftovers);
  }

  const made: string[] = [];
  try {
    for (const [i, p] of plan.entries()) {
      ctx.signal?.throwIfAborted();
      made.push(p.dst);
      const step = `copying ${p.target} (${i + 1}/${plan.length})`;
      ctx.onProgress?.({ step, fraction: 0 });
      await copyFlat(h, { file: p.src, format: p.format }, h.storage.templatesPool, p.dst, {
        signal: ctx.signal,
        mode: '0444',
        onFraction: (fraction) => ctx.onProgress?.({ step, fraction }),
      });
    }
    const chains = await diskChains(h, plan.map((p) => p.dst), ctx);
    const capacities = plan.map((p) => {
      const c = chains.get(p.dst);
      if (!c || c.length !== 1) throw new KvmopsError('internal', `template disk ${p.dst} is not a single chain-free file`);
      return { target: p.target, file: p.dst, capacity: c[0]!.virtualSize };
    });
    if (req.seal) {
      ctx.onProgress?.({ step: 'sealing (virt-sysprep)' });
      await sysprep(
        plan.map((p) => p.dst),
        { ...opts.sysprep, remote: shell, signal: ctx.signal, onLine: (l) => ctx.onProgress?.({ step: `sealing: ${l.replace(/^\[\s*[\d.]+\]\s*/, '').slice(0, 80)}` }) },
      );
    }
    // after sealing, which does not touch programs: the template as its VMs will see it
    ctx.onProgress?.({ step: 'looking for cloud-init in the guest' });
    const { cloudInit } = await detectCloudInit(h, capacities, ctx);
    const meta: TemplateMeta = {
      name,
      sourceVm: vm,
      sealed: req.seal,
      cloudInit,
      createdAt: new Date().toISOString(),
      disks: capacities.map((c) => ({ target: c.target, capacity: c.capacity })),
    };
    await makeReadOnly(h, plan.map((p) => p.dst), ctx.signal);
    ctx.signal?.throwIfAborted();
    const xml = templateXml({ sourceXml, meta, diskPaths: new Map(plan.map((p) => [p.target, p.dst])) });
    const xmlPath = `${h.storage.templatesDir}/${templateXmlVolume(name)}`;
    made.push(xmlPath);
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'template.xml');
      await writeFile(file, xml);
      throwFirstError(
        await h.virsh.multi(
          [
            virshArgs.volCreateAs(h.storage.templatesPool, templateXmlVolume(name), Buffer.byteLength(xml), 'raw'),
            virshArgs.volUpload(h.storage.templatesPool, templateXmlVolume(name), file),
          ],
          { timeoutMs: 60_000, signal: ctx.signal },
        ),
      );
    });
    const sizes = await volumeSizes(h, plan.map((p) => p.dst), {}, { refresh: true });
    return {
      name,
      sourceVm: vm,
      sealed: req.seal,
      cloudInit,
      createdAt: meta.createdAt,
      disks: plan.map((p) => ({
        target: p.target,
        file: p.dst,
        virtualSize: sizes.get(p.dst)?.capacity ?? 0,
        actualSize: sizes.get(p.dst)?.allocation ?? 0,
      })),
      dependents: [],
    };
  } catch (e) {
    // half-made template: remove what this call made (not bound to the aborted signal)
    await deleteVolumes(h, made).catch(() => {});
    if (ctx.signal?.aborted && !(e instanceof KvmopsError)) {
      throw new KvmopsError('aborted', `making template ${name} was cancelled`, { cause: e });
    }
    throw e;
  }
}

/** Names of the domains whose chains (current or in a snapshot) use one of the template's disks. */
function usersOf(refs: HostReferences, t: StoredTemplate): string[] {
  return [...new Set(t.disks.flatMap((d) => (refs.users.get(d.file) ?? []).map((u) => u.name)))].sort();
}

/**
 * A template a job pinned at request time: its creation time must be the one recorded then, or
 * the template under the name was made anew since → `target-changed` (nothing is done).
 */
export function assertTemplatePin(h: HostContext, name: string, createdAt: string, pin: TemplatePin | undefined): void {
  if (pin === undefined || pin.createdAt === createdAt) return;
  throw new KvmopsError('target-changed', `template ${name} on ${h.name} was made anew (${createdAt}) after this job was asked for (it pinned the one made ${pin.createdAt}); nothing was done`, {
    details: { template: name, pinned: pin.createdAt, now: createdAt },
  });
}

/**
 * Refused with `template-in-use` while any domain's real disk chain (live, persistent or in a
 * snapshot) uses one of its disks, and with `chain-unreadable` while the chain of a domain that
 * might use them cannot be read (fail closed). Which domains are read: with the inventory's
 * port (`ctx.referrers`), the candidates it names after a fresh diff; without it, all. Removes
 * only the files that carry this template's name (`<name>--<target>.qcow2`, `<name>.xml`).
 */
export async function deleteTemplate(h: HostContext, name: string, ctx: OpContext = {}, pin?: TemplatePin): Promise<void> {
  assertName(name, 'template');
  await ensurePools(h, ctx);
  const t = await loadTemplate(h, name, ctx);
  assertTemplatePin(h, name, t.meta.createdAt, pin);
  // who uses its disks: with the inventory, the candidates it names after a fresh diff (every
  // domain whose known chains hold a template disk, and every one it could not read), each
  // re-read on disk here; without it, every domain of the host
  const refs = await referencesTo(h, t.disks.map((d) => d.file), ctx);
  const users = usersOf(refs, t);
  if (users.length) {
    throw new KvmopsError('template-in-use', `template ${name} is used by ${users.join(', ')}: delete those VMs first`, {
      details: { dependents: users },
    });
  }
  assertReadable(refs, `template ${name} is still in use`);
  const files = t.disks.filter((d) => d.file === templateDiskPath(h, name, d.target)).map((d) => d.file);
  // disks first, the XML last: a crash in between leaves a listed template, and deleting it again finishes the job
  await deleteVolumes(h, [...files, `${h.storage.templatesDir}/${templateXmlVolume(name)}`]);
}

import { setTimeout as sleep } from 'node:timers/promises';
import { KvmopsError, isKvmopsError } from '../domain/errors.js';
import { domainDisks, parseDomainXml, readVmMeta } from './domain-xml.js';
import type { HostContext } from './host-context.js';
import type { DomainUuid } from './domain-uuid.js';
import { findByName, listDomains, resolveVm } from './domains.js';
import { diskChains, domainViews } from './inventory.js';
import { isVolumeMissing, okStdout, throwFirstError, virshMulti } from './multi.js';
import { ensurePools } from './pools.js';
import { parseDomBlkList, parseDomInfo, parseDomList, parseDomState, parseNameList, type DomState } from './parse.js';
import { snapshotsOf } from './snapshots/list.js';
import type { DeleteVmResult, OpContext, StopRequest, VmInfo, VmSummary } from './types.js';
import { assertName } from './validate.js';
import { virshArgs } from './virsh-args.js';
import { elements, findAll, parseXml, type XmlElement } from './xml.js';

/** VM lifecycle: list, info, start, stop, delete. */

/**
 * Domains libvirt lists that are not VMs: libguestfs' transient appliance domains
 * (`guestfs-…`, made by virt-sysprep & co with the libvirt backend) are tools, not machines.
 */
export function isVmDomain(name: string): boolean {
  return !/^guestfs-[a-z0-9]+$/.test(name);
}

export async function listVms(h: HostContext, ctx: OpContext = {}): Promise<VmSummary[]> {
  const out = await h.virsh.run(virshArgs.listAll(), { timeoutMs: 30_000, signal: ctx.signal });
  return parseDomList(out)
    .filter((d) => isVmDomain(d.name))
    .map((d) => ({ name: d.name, state: d.state }));
}

export async function domState(h: HostContext, vm: DomainUuid, ctx: OpContext = {}): Promise<DomState> {
  return parseDomState(await h.virsh.run(virshArgs.domstate(vm), { timeoutMs: 30_000, signal: ctx.signal }));
}

export async function vmInfo(h: HostContext, vm: string, ctx: OpContext = {}): Promise<VmInfo> {
  assertName(vm, 'VM');
  const ref = await resolveVm(h, vm, ctx);
  const [info, xml, blk] = await virshMulti(
    h,
    [virshArgs.dominfo(ref.uuid), virshArgs.dumpxml(ref.uuid), virshArgs.domblklist(ref.uuid)],
    { timeoutMs: 30_000, signal: ctx.signal },
  );
  const di = parseDomInfo(okStdout(info));
  const root = parseDomainXml(okStdout(xml));
  const disks = parseDomBlkList(okStdout(blk)).filter((b) => b.device === 'disk' && b.source !== null);
  const formats = new Map(domainDisks(root).map((d) => [d.target, d.format]));
  const [chains, snapshots] = await Promise.all([diskChains(h, disks.map((d) => d.source!), ctx), snapshotsOf(h, ref, ctx)]);
  const meta = readVmMeta(root);
  return {
    name: di.name,
    uuid: di.uuid,
    state: di.state,
    vcpus: di.vcpus,
    memoryKiB: di.maxMemoryKiB,
    disks: disks.map((d) => {
      const format = formats.get(d.target) ?? 'raw';
      return {
        target: d.target,
        file: d.source!,
        format,
        chain: chains.get(d.source!) ?? [{ file: d.source!, format, virtualSize: 0 }],
      };
    }),
    snapshots,
    ...(meta ? { deployedFrom: { template: meta.template, mode: meta.mode } } : {}),
  };
}

/** Idempotent: a VM that is already running counts as started (a recovered job may repeat). */
export async function startVm(h: HostContext, vm: string, ctx: OpContext = {}): Promise<void> {
  assertName(vm, 'VM');
  const { uuid } = await resolveVm(h, vm, ctx);
  try {
    await h.virsh.run(virshArgs.start(uuid), { timeoutMs: 60_000, signal: ctx.signal });
  } catch (e) {
    if (isKvmopsError(e, 'vm-running')) return;
    throw e;
  }
}

const DEFAULT_STOP_TIMEOUT_MS = 120_000;
const POLL_MS = 250;

/**
 * ACPI shutdown, then poll `domstate` until shut off, at most `timeoutMs` (a guest without
 * ACPI support — e.g. one sitting in SeaBIOS — never stops: `command-timeout`, then use force).
 * `force`: destroy. Already shut off: done (idempotent).
 */
export async function stopVm(h: HostContext, req: StopRequest, ctx: OpContext = {}): Promise<void> {
  const vm = assertName(req.vm, 'VM');
  const timeoutMs = req.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const { uuid } = await resolveVm(h, vm, ctx);
  const first = await domState(h, uuid, ctx);
  if (first.state === 'shut off') return;
  const ignoreNotRunning = (e: unknown) => {
    if (!isKvmopsError(e, 'vm-not-running')) throw e;
  };
  if (req.force) {
    await h.virsh.run(virshArgs.destroy(uuid), { timeoutMs: 60_000, signal: ctx.signal }).catch(ignoreNotRunning);
    return;
  }
  await h.virsh.run(virshArgs.shutdown(uuid), { timeoutMs: 30_000, signal: ctx.signal }).catch(ignoreNotRunning);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await domState(h, uuid, ctx);
    if (s.state === 'shut off') return;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new KvmopsError(
        'command-timeout',
        `${vm} did not shut down within ${Math.round(timeoutMs / 1000)} s of the ACPI request (state: ${s.state}); the guest may ignore ACPI — use force to destroy it`,
        { details: { vm, state: s.state, timeoutMs } },
      );
    }
    try {
      await sleep(Math.min(POLL_MS, left), undefined, { signal: ctx.signal });
    } catch {
      throw new KvmopsError('aborted', `stopping ${vm} was cancelled`);
    }
  }
}

/** Every `file` attribute of every `<source>` anywhere below `el` (snapshot XML names overlays and bases). */
function sourceFiles(el: XmlElement, out: Set<string>): Set<string> {
  for (const c of elements(el)) {
    if (c.name === 'source' && c.attrs.file) out.add(c.attrs.file);
    sourceFiles(c, out);
  }
  return out;
}

/**
 * Destroy (if running), undefine with its snapshot metadata (and UEFI vars), then remove its
 * files that are in the storage dir's vms pool: the disks' current chains and every file its
 * snapshots name (external overlays). Never removed, reported in `kept`: template disks, files
 * outside the storage dir, and files another domain's chain still uses.
 */
export async function deleteVm(h: HostContext, vm: string, ctx: OpContext = {}): Promise<DeleteVmResult> {
  assertName(vm, 'VM');
  await ensurePools(h, ctx);
  const domains = await listDomains(h, ctx);
  const ref = findByName(domains, vm);
  if (!ref) throw new KvmopsError('vm-not-found', `VM ${vm} does not exist on host ${h.name}`);
  const views = await domainViews(h, domains, ctx);
  const self = views.find((v) => v.uuid === ref.uuid);
  if (!self) throw new KvmopsError('vm-not-found', `VM ${vm} does not exist on host ${h.name}`);
  const others = views.filter((v) => v.uuid !== ref.uuid);

  // Files its snapshots name (external overlays and their bases).
  const [stateR, snapsR] = await virshMulti(h, [virshArgs.domstate(ref.uuid), virshArgs.snapshotListNames(ref.uuid)], {
    timeoutMs: 30_000,
    signal: ctx.signal,
  });
  const state = parseDomState(okStdout(stateR)).state;
  const snapNames = parseNameList(okStdout(snapsR));
  const candidates = new Set<string>();
  if (snapNames.length) {
    const snapXml = await virshMulti(h, snapNames.map((s) => virshArgs.snapshotDumpxml(ref.uuid, s)), {
      timeoutMs: 60_000,
      signal: ctx.signal,
    });
    for (const r of snapXml) if (!r.error) sourceFiles(parseXml(r.stdout), candidates);
  }
  const chains = await diskChains(h, [...self.disks.map((d) => d.file), ...others.flatMap((o) => o.disks.map((d) => d.file))], ctx);
  for (const d of self.disks) {
    candidates.add(d.file);
    for (const e of chains.get(d.file) ?? []) candidates.add(e.file);
  }
  const usedByOthers = new Set<string>();
  for (const o of others) {
    for (const d of o.disks) {
      usedByOthers.add(d.file);
      for (const e of chains.get(d.file) ?? []) usedByOthers.add(e.file);
    }
  }

  const remove: string[] = [];
  const kept: string[] = [];
  for (const f of candidates) {
    const inVms = h.storage.contains(f) && f.startsWith(h.storage.vmsDir + '/') && !h.storage.isTemplateFile(f);
    if (inVms && !usedByOthers.has(f)) remove.push(h.storage.assertInside(f));
    else kept.push(f);
  }

  if (state !== 'shut off') {
    await h.virsh.run(virshArgs.destroy(ref.uuid), { timeoutMs: 60_000 }).catch((e) => {
      if (!isKvmopsError(e, 'vm-not-running')) throw e;
    });
  }
  const hasNvram = findAll(self.xml, 'os/nvram').length > 0 || findAll(self.xml, 'os/loader').some((l) => l.attrs.type === 'pflash');
  await h.virsh.run(virshArgs.undefine(ref.uuid, { nvram: hasNvram }), { timeoutMs: 60_000 });

  // The domain is gone: finish the file removal even if the job is being cancelled now.
  const removed = await deleteVolumes(h, remove);
  return { removed, kept: kept.sort() };
}

/**
 * Removes files of the storage dir through the pool API (`pool-refresh` so files made by
 * qemu-img are volumes, then `vol-delete` by path), all in one virsh process. Files already
 * gone count as removed. Returns the files that are gone now.
 */
export async function deleteVolumes(h: HostContext, files: readonly string[], ctx: OpContext = {}): Promise<string[]> {
  if (files.length === 0) return [];
  for (const f of files) h.storage.assertInside(f);
  const results = await virshMulti(
    h,
    [virshArgs.poolRefresh(h.storage.vmsPool), virshArgs.poolRefresh(h.storage.templatesPool), ...files.map((f) => virshArgs.volDelete(f))],
    { timeoutMs: 120_000, signal: ctx.signal },
  );
  // with both pools freshly refreshed, "volume not found" means the file is not there (any more)
  throwFirstError(results.slice(0, 2));
  const failures = results.slice(2).filter((r) => r.error && !isVolumeMissing(r));
  if (failures.length) throw failures[0]!.error!;
  return [...files].sort();
}

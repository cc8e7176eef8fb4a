import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError, isKvmopsError } from '../domain/errors.js';
import { deployNames } from '../domain/names.js';
import { copySparseLocal, volCreateFrom } from './disk-copy.js';
import { eachLimited } from './each-limited.js';
import { interfaceCount, newMac, readVmMeta, vmXml } from './domain-xml.js';
import type { HostContext } from './host-context.js';
import { allDomainViews, domainViews } from './inventory.js';
import { isVolumeMissing, okStdout, throwFirstError, virshMulti } from './multi.js';
import { parseVolList } from './parse.js';
import { newDomainUuid, type DomainUuid } from './domain-uuid.js';
import { listDomains, parseDomainList } from './domains.js';
import { ensurePools } from './pools.js';
import { StorageLayout } from './storage.js';
import { withTempDir } from './tempdir.js';
import { storedTemplateFromXml, templateXmlVolume } from './templates.js';
import type { DeployRequest, DeployResult, OpContext } from './types.js';
import { assertName } from './validate.js';
import { deleteVolumes } from './vms.js';
import { qemuImg } from './qemu-img.js';
import { qemuImgArgs, virshArgs, type VirshArgs } from './virsh-args.js';

/**
 * Deploy N VMs from a template.
 *
 *   thin   per disk a qcow2 overlay in the vms pool whose backing file is the template disk,
 *          backing format given explicitly (remote: `vol-create-as … --backing-vol P
 *          --backing-vol-format qcow2`; local: `qemu-img create -b P -F qcow2`, measured faster)
 *   clone  per disk a full, independent, sparse copy (local: `cp --sparse=always`, measured
 *          faster than libvirt's vol-create-from here; remote: vol-create-from)
 *
 * Fixed costs are paid once per batch, not once per VM: one virsh process reads the state
 * (domains, VM volumes, the template's XML), one makes every overlay (remote) and defines
 * every domain.
 *
 * Crash recovery (the worker may call again for the same request): with `requestId`, each VM's
 * kvmops metadata records it. On a repeated call a domain of a target name is
 *   - ours and whole  (metadata: same request, template and mode; every disk `<vm>--<target>.qcow2`
 *                      exists in the vms pool and the domain points at it) → kept;
 *   - ours but half-made (a disk missing)                                   → removed and redone;
 *   - anything else                                                          → `name-taken`.
 * A disk file `<vm>--<target>.qcow2` in the vms pool with no domain of that name is what a
 * crash between disk creation and define leaves: removed and redone (unless another domain
 * uses it: then `name-taken`). All refusals happen before anything is touched. On abort or
 * failure, everything this call made is removed.
 */

export const MAX_DEPLOY_COUNT = 20;

export interface DeployOptions {
  /** How a local host copies clone disks: `auto` (= cp) or `libvirt` (vol-create-from). Remote hosts always use libvirt. */
  cloneCopier?: 'auto' | 'libvirt';
  /** How a local host makes thin overlays: `auto` (= qemu-img create, 4 at a time) or `libvirt` (vol-create-as). Remote hosts always use libvirt. */
  overlayCreator?: 'auto' | 'libvirt';
}

interface VmPlan {
  vm: string;
  uuid: DomainUuid;
  disks: { target: string; src: string; capacity: number; dst: string }[];
  xml: string;
}

export function vmDiskPath(h: HostContext, vm: string, target: string): string {
  return `${h.storage.vmsDir}/${StorageLayout.fileName(vm, target)}.qcow2`;
}

function validate(req: DeployRequest): { template: string; names: string[]; requestId: string | undefined } {
  const template = assertName(req.template, 'template');
  const base = assertName(req.name, 'VM');
  if (!Number.isInteger(req.count) || req.count < 1 || req.count > MAX_DEPLOY_COUNT) {
    throw new KvmopsError('invalid-input', `count must be 1–${MAX_DEPLOY_COUNT}, not ${req.count}`);
  }
  if (req.mode !== 'thin' && req.mode !== 'clone') throw new KvmopsError('invalid-input', `mode must be thin or clone, not ${String(req.mode)}`);
  const requestId = req.requestId === undefined ? undefined : assertName(req.requestId, 'request id');
  const names = deployNames(base, req.count).map((n) => assertName(n, 'VM'));
  return { template, names, requestId };
}

export async function deploy(h: HostContext, req: DeployRequest, ctx: OpContext = {}, opts: DeployOptions = {}): Promise<DeployResult> {
  const { template, names, requestId } = validate(req);
  await ensurePools(h, ctx);

  // 1. the real state, in one virsh process
  const state = await withTempDir(async (dir) => {
    const xmlFile = path.join(dir, 'template.xml');
    const [listR, refreshR, volsR, tplR] = await virshMulti(
      h,
      [
        virshArgs.listDomains(),
        virshArgs.poolRefresh(h.storage.vmsPool),
        virshArgs.volList(h.storage.vmsPool),
        virshArgs.volDownload(h.storage.templatesPool, templateXmlVolume(template), xmlFile),
      ],
      { timeoutMs: 60_000, signal: ctx.signal },
    );
    if (isVolumeMissing(tplR!)) {
      throw new KvmopsError('template-not-found', `template ${template} does not exist on host ${h.name}`);
    }
    okStdout(tplR);
    okStdout(refreshR);
    return {
      domains: parseDomainList(okStdout(listR)),
      vmVolumes: new Set(parseVolList(okStdout(volsR)).map((v) => v.path)),
      template: storedTemplateFromXml(h, template, await readFile(xmlFile, 'utf8')),
    };
  });
  const t = state.template;

  // 2. refusals and recovery decisions, before touching anything
  const complete = new Set<string>();
  const halfDomains: string[] = [];
  const clashes = state.domains.filter((d) => names.includes(d.name));
  if (clashes.length) {
    const taken: string[] = [];
    for (const v of await domainViews(h, clashes, ctx)) {
      const meta = readVmMeta(v.xml);
      const ours = requestId !== undefined && meta?.request === requestId && meta.template === template && meta.mode === req.mode;
      if (!ours) {
        taken.push(v.name);
        continue;
      }
      const whole = t.disks.every((d) => {
        const p = vmDiskPath(h, v.name, d.target);
        return state.vmVolumes.has(p) && v.disks.some((x) => x.target === d.target && x.file === p);
      });
      if (whole) complete.add(v.name);
      else halfDomains.push(v.name);
    }
    if (taken.length) {
      throw new KvmopsError('name-taken', `VM name${taken.length > 1 ? 's' : ''} already taken on host ${h.name}: ${taken.join(', ')}`, {
        details: { names: taken },
      });
    }
  }
  const todo = names.filter((n) => !complete.has(n));
  const halfRefs = clashes.filter((d) => halfDomains.includes(d.name));
  const staleFiles = todo.flatMap((n) => t.disks.map((d) => vmDiskPath(h, n, d.target))).filter((p) => state.vmVolumes.has(p));
  if (staleFiles.length) {
    const used = new Set((await allDomainViews(h, ctx)).filter((v) => !halfRefs.some((r) => r.uuid === v.uuid)).flatMap((v) => v.disks.map((d) => d.file)));
    const inUse = staleFiles.filter((f) => used.has(f));
    if (inUse.length) {
      throw new KvmopsError('name-taken', `disk files of the new VMs are used by other domains: ${inUse.join(', ')}`, { details: { files: inUse } });
    }
  }
  if (halfRefs.length || staleFiles.length) await removeVms(h, halfRefs.map((r) => r.uuid), staleFiles);

  // 3. plan: identities and XML
  const macs = new Set<string>();
  const nIf = interfaceCount(t.xml);
  const plans: VmPlan[] = todo.map((vm) => {
    const disks = t.disks.map((d) => ({ target: d.target, src: d.file, capacity: d.capacity, dst: vmDiskPath(h, vm, d.target) }));
    const uuid = newDomainUuid();
    return {
      vm,
      uuid,
      disks,
      xml: vmXml({
        templateXml: t.xml,
        name: vm,
        uuid,
        macs: Array.from({ length: nIf }, () => newMac(macs)),
        diskPaths: new Map(disks.map((d) => [d.target, d.dst])),
        meta: { template, mode: req.mode, ...(requestId ? { request: requestId } : {}) },
      }),
    };
  });

  // 4. make them
  try {
    await withTempDir(async (dir) => {
      const defines: VirshArgs[] = [];
      for (const p of plans) {
        const file = path.join(dir, `${p.vm}.xml`);
        await writeFile(file, p.xml);
        defines.push(virshArgs.define(file));
      }
      let cmds: VirshArgs[];
      if (req.mode === 'thin') {
        ctx.onProgress?.({ step: `creating ${plans.length} thin VM${plans.length === 1 ? '' : 's'}` });
        const disks = plans.flatMap((p) => p.disks);
        if (h.local && (opts.overlayCreator ?? 'auto') === 'auto') {
          // measured: libvirt's vol-create-as costs ~1.7× a bare `qemu-img create` per overlay
          await eachLimited(disks, 4, (d) =>
            qemuImg(qemuImgArgs.createOverlay(h.storage.assertInside(d.dst), d.src), { timeoutMs: 60_000, signal: ctx.signal }),
          );
          cmds = [virshArgs.poolRefresh(h.storage.vmsPool), ...defines];
        } else {
          cmds = [
            ...disks.map((d) => virshArgs.volCreateOverlay(h.storage.vmsPool, path.posix.basename(d.dst), d.capacity, d.src)),
            ...defines,
          ];
        }
      } else {
        await copyClones(h, plans, ctx, opts);
        cmds = [virshArgs.poolRefresh(h.storage.vmsPool), ...defines];
      }
      ctx.signal?.throwIfAborted();
      throwFirstError(await virshMulti(h, cmds, { timeoutMs: 300_000, signal: ctx.signal }));
    });
    if (req.start) {
      ctx.onProgress?.({ step: `starting ${names.length} VM${names.length === 1 ? '' : 's'}` });
      const uuids = (await listDomains(h, ctx)).filter((d) => names.includes(d.name)).map((d) => d.uuid);
      const rs = await virshMulti(h, uuids.map((u) => virshArgs.start(u)), { timeoutMs: 300_000, signal: ctx.signal });
      throwFirstError(rs.filter((r) => !isKvmopsError(r.error, 'vm-running')));
    }
  } catch (e) {
    // everything this call made (its VMs did not exist, or were half-made, before it)
    await removeVms(h, plans.map((p) => p.uuid), plans.flatMap((p) => p.disks.map((d) => d.dst))).catch(() => {});
    if (ctx.signal?.aborted) {
      throw isKvmopsError(e, 'aborted') ? e : new KvmopsError('aborted', `deploying ${names.length} VMs was cancelled`, { cause: e });
    }
    throw e;
  }
  return { vms: names, mode: req.mode, started: req.start };
}

async function copyClones(h: HostContext, plans: VmPlan[], ctx: OpContext, opts: DeployOptions): Promise<void> {
  const jobs = plans.flatMap((p) => p.disks.map((d) => ({ vm: p.vm, ...d })));
  const useCp = h.local && (opts.cloneCopier ?? 'auto') === 'auto';
  for (const [i, j] of jobs.entries()) {
    ctx.signal?.throwIfAborted();
    const step = `copying ${j.vm} ${j.target} (${i + 1}/${jobs.length})`;
    const onFraction = (f: number) => ctx.onProgress?.({ step, fraction: (i + f) / jobs.length });
    onFraction(0);
    h.storage.assertInside(j.dst);
    if (useCp) await copySparseLocal(h.storage.assertInside(j.src), j.dst, { signal: ctx.signal, onFraction });
    else await volCreateFrom(h, h.storage.vmsPool, path.posix.basename(j.dst), j.src, { signal: ctx.signal, mode: '0600' });
    onFraction(1);
  }
}

/** Destroy + undefine these domains (absent ones are fine) and remove the given files of the vms pool. */
export async function removeVms(h: HostContext, vms: readonly DomainUuid[], files: readonly string[]): Promise<void> {
  if (vms.length) {
    const rs = await virshMulti(
      h,
      vms.flatMap((n) => [virshArgs.destroy(n), virshArgs.undefine(n)]),
      { timeoutMs: 120_000 },
    );
    throwFirstError(rs.filter((r) => !isKvmopsError(r.error, 'vm-not-found') && !isKvmopsError(r.error, 'vm-not-running')));
  }
  await deleteVolumes(h, files);
}

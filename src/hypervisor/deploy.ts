import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError, isKvmopsError } from '../domain/errors.js';
import { MAX_DEPLOY_COUNT, deployNames } from '../domain/names.js';
import { parseSshPublicKey } from '../domain/ssh-keys.js';
import { copySparseLocal, volCreateFrom } from './disk-copy.js';
import { derivedDomainUuid, newDomainUuid, type DomainUuid } from './domain-uuid.js';
import { cdromFiles, interfaceCount, newMac, readVmMeta, vmXml } from './domain-xml.js';
import { listDomains, parseDomainList, type DomainRef } from './domains.js';
import { eachLimited } from './each-limited.js';
import type { HostContext } from './host-context.js';
import { domainViews, readInventoryVms, type DomainView } from './inventory.js';
import { isVolumeMissing, okStdout, throwFirstError } from './multi.js';
import { parseVolList } from './parse.js';
import { ensurePools } from './pools.js';
import { qemuImg } from './qemu-img.js';
import { referencesTo } from './references.js';
import { deleteVolumes } from './removal.js';
import { writeSeedIso, type SeedSpec } from './seed.js';
import { freshSeedFile, freshVmFile } from './storage.js';
import { withTempDir } from './tempdir.js';
import { assertTemplatePin, storedTemplateFromXml, templateXmlVolume, type StoredTemplate } from './templates.js';
import type { DeployRequest, DeployResult, InventoryVm, OpContext } from './types.js';
import { assertName } from './validate.js';
import { qemuImgArgs } from './qemu-img-args.js';
import { virshArgs, type VirshArgs } from './virsh-args.js';

/**
 * Deploy N VMs from a template.
 *
 *   thin   per disk a qcow2 overlay in the vms pool whose backing file is the template disk,
 *          backing format given explicitly (remote: `vol-create-as … --backing-vol P
 *          --backing-vol-format qcow2`; local: `qemu-img create -b P -F qcow2`, measured faster)
 *   clone  per disk a full, independent, sparse copy (local: `cp --sparse=always`, measured
 *          faster than libvirt's vol-create-from here; remote: vol-create-from)
 *
 * Identity first: each VM's uuid is chosen before anything is made, and its disks are named
 * `vms/<uuid>.<target>.<random>.qcow2` (storage.ts), so no file of a new VM can be another
 * object's, whatever the names. With a `requestId` the uuid is derived from (storage dir,
 * request, VM name): every attempt of one request gives a VM the same uuid.
 *
 * Each VM also gets its own cloud-init NoCloud seed (seed.ts), `vms/<uuid>.seed.<random>.iso`,
 * attached as a read-only CD-ROM: instance-id = its uuid, hostname from its name, the request's
 * SSH keys plus the host's team keys, and a profile's user-data under them. Made on this machine with xorriso, then put in the vms
 * pool through libvirt (`vol-create-as` + `vol-upload`, so a remote host works alike) before
 * any domain is defined: a defined VM always has its whole seed. Its name is its ownership
 * record, like a disk's: the VM's delete and a failed deploy's clean-up remove it. A guest
 * without cloud-init never reads the CD-ROM; the seed is harmless there. A VM kept on recovery
 * counts as whole only with its seed in place.
 *
 * Fixed costs are paid once per batch, not once per VM: one virsh process reads the state
 * (domains, VM volumes, the template's XML), one creates and uploads every seed, one makes
 * every overlay (remote) and defines every domain.
 *
 * Crash recovery (the worker may call again for the same request): a domain of a target name is
 *   - ours and whole  (metadata: same request, template and mode; each template disk's target
 *                      is a disk of the domain whose file exists and was made for it) → kept;
 *   - ours but half-made                                                 → removed and redone;
 *   - anything else                                                      → `name-taken`.
 * Files made for a VM's uuid with no domain of that uuid are what a crash between making disks
 * and define leaves: removed (unless something uses them) and made again. All refusals happen
 * before anything is touched. On abort or failure, what this call made is removed — the
 * domains it defined, by uuid, and the files it made — and nothing else: a domain that took
 * one of the names meanwhile (so its define failed) is left alone.
 */

export interface DeployOptions {
  /** How a local host copies clone disks: `auto` (= cp) or `libvirt` (vol-create-from). Remote hosts always use libvirt. */
  cloneCopier?: 'auto' | 'libvirt';
  /** How a local host makes thin overlays: `auto` (= qemu-img create, 4 at a time) or `libvirt` (vol-create-as). Remote hosts always use libvirt. */
  overlayCreator?: 'auto' | 'libvirt';
  /** The team's SSH keys (KVMOPS_SSH_KEYS_FILE): in every VM's seed, beside the request's. */
  teamSshKeys?: readonly string[];
}

interface VmPlan {
  vm: string;
  uuid: DomainUuid;
  disks: { target: string; src: string; capacity: number; dst: string }[];
  /** Its cloud-init seed ISO in the vms pool. */
  seed: string;
  xml: string;
}

/**
 * The keys a VM's seed carries: the request's, then the team's, each checked again (defence in
 * depth: a stored payload or a keys file passes here too) and written in canonical form; one
 * key given twice (same blob, whatever the comment) appears once.
 */
export function seedKeys(...lists: ReadonlyArray<readonly string[] | undefined>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const k of lists.flatMap((l) => l ?? [])) {
    const key = parseSshPublicKey(k);
    if (seen.has(key.fingerprint)) continue;
    seen.add(key.fingerprint);
    out.push(key.line);
  }
  return out;
}

function validate(req: DeployRequest): { template: string; names: string[]; requestId: string | undefined } {
  const template = assertName(req.template, 'template');
  const base = assertName(req.name, 'VM');
  if (!Number.isInteger(req.count) || req.count < 1 || req.count > MAX_DEPLOY_COUNT) {
    throw new KvmopsError('invalid-input', `count must be 1–${MAX_DEPLOY_COUNT}, not ${req.count}`);
  }
  if (req.mode !== 'thin' && req.mode !== 'clone') throw new KvmopsError('invalid-input', `mode must be thin or clone, not ${String(req.mode)}`);
  const requestId = req.requestId === undefined ? undefined : assertName(req.requestId, 'request id');
  if (req.first !== undefined && (!Number.isInteger(req.first) || req.first < 1 || req.first + req.count - 1 > MAX_DEPLOY_COUNT)) {
    throw new KvmopsError('invalid-input', `first must leave the numbers within 1–${MAX_DEPLOY_COUNT}, not ${req.first} for ${req.count}`);
  }
  const names = deployNames(base, req.count, req.first).map((n) => assertName(n, 'VM'));
  return { template, names, requestId };
}

export async function deploy(h: HostContext, req: DeployRequest, ctx: OpContext = {}, opts: DeployOptions = {}): Promise<DeployResult> {
  const { template, names, requestId } = validate(req);
  const sshKeys = seedKeys(req.sshKeys, opts.teamSshKeys);
  await ensurePools(h, ctx);
  const state = await readState(h, template, ctx);
  const t = state.template;
  assertTemplatePin(h, template, t.meta.createdAt, req.templatePin);

  // 2. refusals and recovery decisions, before touching anything
  const { complete, half } = await existingVms(h, state, names, { template, mode: req.mode, requestId }, ctx);
  const todo = names.filter((n) => !complete.some((c) => c.name === n));
  const uuids = new Map(todo.map((n) => [n, uuidFor(h, state.domains, n, requestId)] as const));
  const redo = new Set<DomainUuid>([...uuids.values()].filter((u) => !state.domains.some((d) => d.uuid === u) || half.some((x) => x.uuid === u)));
  const leftovers = [...state.vmVolumes].filter((f) => {
    const owner = h.storage.ownerOf(f);
    return owner !== null && redo.has(owner);
  });
  if (half.length || leftovers.length) {
    const redoRefs = todo.map((name) => ({ uuid: uuids.get(name)!, name })).filter((r) => redo.has(r.uuid));
    await removeMade(h, [...half, ...redoRefs], [...half.flatMap((v) => v.disks.map((d) => d.file)), ...leftovers], ctx);
  }

  // 3. plan: identities, files and XML
  const macs = new Set<string>();
  const nIf = interfaceCount(t.xml);
  const taken = new Set(state.vmVolumes);
  const plans: VmPlan[] = await Promise.all(todo.map(async (vm) => {
    const uuid = uuids.get(vm)!;
    const disks = await Promise.all(t.disks.map(async (d) => ({
      target: d.target,
      src: d.file,
      capacity: d.capacity,
      dst: h.storage.assertInside(await freshVmFile(h.storage, uuid, d.target, { taken, local: h.local })),
    })));
    const seed = h.storage.assertInside(await freshSeedFile(h.storage, uuid, { taken, local: h.local }));
    return {
      vm,
      uuid,
      disks,
      seed,
      xml: vmXml({
        templateXml: t.xml,
        name: vm,
        uuid,
        macs: Array.from({ length: nIf }, () => newMac(macs)),
        diskPaths: new Map(disks.map((d) => [d.target, d.dst])),
        meta: { template, mode: req.mode, ...(requestId ? { request: requestId } : {}) },
        seedIso: seed,
      }),
    };
  }));

  // 4. make them
  const made: string[] = [];
  try {
    await withTempDir(async (dir) => {
      await makeSeeds(h, plans, { sshKeys, ...(req.userData ? { userData: req.userData } : {}) }, dir, made, ctx);
      const defines: VirshArgs[] = [];
      for (const p of plans) {
        const file = path.join(dir, `${p.uuid}.xml`);
        await writeFile(file, p.xml);
        defines.push(virshArgs.define(file));
      }
      let cmds: VirshArgs[];
      if (req.mode === 'thin') {
        ctx.onProgress?.({ step: `creating ${plans.length} thin VM${plans.length === 1 ? '' : 's'}` });
        const disks = plans.flatMap((p) => p.disks);
        if (h.local && (opts.overlayCreator ?? 'auto') === 'auto') {
          // measured: libvirt's vol-create-as costs ~1.7× a bare `qemu-img create` per overlay
          await eachLimited(disks, 4, (d) => {
            made.push(d.dst);
            return qemuImg(qemuImgArgs.createOverlay(d.dst, d.src), { timeoutMs: 60_000, signal: ctx.signal });
          });
          cmds = [virshArgs.poolRefresh(h.storage.vmsPool), ...defines];
        } else {
          made.push(...disks.map((d) => d.dst));
          cmds = [
            ...disks.map((d) => virshArgs.volCreateOverlay(h.storage.vmsPool, path.posix.basename(d.dst), d.capacity, d.src)),
            ...defines,
          ];
        }
      } else {
        await copyClones(h, plans, made, ctx, opts);
        cmds = [virshArgs.poolRefresh(h.storage.vmsPool), ...defines];
      }
      ctx.signal?.throwIfAborted();
      throwFirstError(await h.virsh.multi(cmds, { timeoutMs: 300_000, signal: ctx.signal }));
    });
    if (req.start) {
      ctx.onProgress?.({ step: `starting ${names.length} VM${names.length === 1 ? '' : 's'}` });
      const all = [...complete, ...plans.map((p) => ({ uuid: p.uuid, name: p.vm }))];
      const rs = await h.virsh.multi(all.map((d) => virshArgs.start(d.uuid)), { timeoutMs: 300_000, signal: ctx.signal });
      throwFirstError(rs.filter((r) => !isKvmopsError(r.error, 'vm-running')));
    }
  } catch (e) {
    // what this call made: its domains (by uuid and name: a define that failed made none) and files
    await removeMade(h, plans.map((p) => ({ uuid: p.uuid, name: p.vm })), made).catch(() => {});
    if (ctx.signal?.aborted) {
      throw isKvmopsError(e, 'aborted') ? e : new KvmopsError('aborted', `deploying ${names.length} VMs was cancelled`, { cause: e });
    }
    throw e;
  }
  // For the inventory: what this call made, as it made it; kept ones (an earlier attempt's) read.
  const state0 = req.start ? 'running' : 'shut off';
  const records: InventoryVm[] = plans.map((p) => ({
    uuid: p.uuid,
    name: p.vm,
    state: state0,
    disks: p.disks.map((d) => ({
      target: d.target,
      file: d.dst,
      format: 'qcow2',
      chain: req.mode === 'thin' ? [d.dst, d.src] : [d.dst],
      template: req.mode === 'thin' ? template : null,
    })),
    snapshots: [],
  }));
  const kept = complete.length ? await readInventoryVms(h, complete).catch(() => []) : [];
  return { vms: names, mode: req.mode, started: req.start, cloudInit: t.meta.cloudInit, made: [...records, ...kept] };
}

interface DeployState {
  domains: DomainRef[];
  vmVolumes: Set<string>;
  template: StoredTemplate;
}

/** 1. the real state, in one virsh process: domains, the vms pool's files, the template. */
async function readState(h: HostContext, template: string, ctx: OpContext): Promise<DeployState> {
  return withTempDir(async (dir) => {
    const xmlFile = path.join(dir, 'template.xml');
    const [listR, refreshR, volsR, tplR] = await h.virsh.multi(
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
}

/**
 * Domains that already carry one of the names: ours and whole (`complete`), ours but
 * half-made (`half`), else `name-taken` for all of them at once.
 */
async function existingVms(
  h: HostContext,
  state: DeployState,
  names: readonly string[],
  want: { template: string; mode: DeployRequest['mode']; requestId: string | undefined },
  ctx: OpContext,
): Promise<{ complete: DomainRef[]; half: DomainView[] }> {
  const clashes = state.domains.filter((d) => names.includes(d.name));
  const complete: DomainRef[] = [];
  const half: DomainView[] = [];
  const taken: string[] = [];
  for (const v of await domainViews(h, clashes, ctx)) {
    const meta = readVmMeta(v.xml);
    const ours = want.requestId !== undefined && meta?.request === want.requestId && meta.template === want.template && meta.mode === want.mode;
    if (!ours) {
      taken.push(v.name);
      continue;
    }
    const whole =
      state.template.disks.every((d) => {
        const disk = v.disks.find((x) => x.target === d.target);
        return disk !== undefined && state.vmVolumes.has(disk.file) && h.storage.ownerOf(disk.file) === v.uuid;
      }) && cdromFiles(v.xml).some((f) => h.storage.isSeedFile(f) && h.storage.ownerOf(f) === v.uuid && state.vmVolumes.has(f));
    (whole ? complete : half).push(v);
  }
  if (taken.length) {
    throw new KvmopsError('name-taken', `VM name${taken.length > 1 ? 's' : ''} already taken on host ${h.name}: ${taken.join(', ')}`, {
      details: { names: taken },
    });
  }
  return { complete: complete.map((v) => ({ uuid: v.uuid, name: v.name })), half };
}

/**
 * The uuid a new VM gets: derived from the request (so a repeated attempt finds what an earlier
 * one made), unless another domain already has that uuid under another name; random without a
 * request id.
 */
function uuidFor(h: HostContext, domains: readonly DomainRef[], name: string, requestId: string | undefined): DomainUuid {
  if (requestId === undefined) return newDomainUuid();
  const u = derivedDomainUuid(h.storage.root, requestId, name);
  const holder = domains.find((d) => d.uuid === u);
  return holder === undefined || holder.name === name ? u : newDomainUuid();
}

/**
 * Every plan's seed ISO: written here (xorriso, into `dir`), then created in the vms pool and
 * uploaded, all in one virsh process. Each seed path is in `made` before its volume can exist.
 */
async function makeSeeds(
  h: HostContext,
  plans: readonly VmPlan[],
  common: Pick<SeedSpec, 'sshKeys' | 'userData'>,
  dir: string,
  made: string[],
  ctx: OpContext,
): Promise<void> {
  if (plans.length === 0) return;
  ctx.onProgress?.({ step: `writing ${plans.length} cloud-init seed${plans.length === 1 ? '' : 's'}` });
  const cmds: VirshArgs[] = [];
  await eachLimited(plans, 4, async (p) => {
    const iso = path.join(dir, `${p.uuid}.iso`);
    await writeSeedIso(iso, { ...common, instanceId: p.uuid, vmName: p.vm }, { signal: ctx.signal });
    const vol = path.posix.basename(p.seed);
    cmds.push(virshArgs.volCreateAs(h.storage.vmsPool, vol, (await stat(iso)).size, 'raw'), virshArgs.volUpload(h.storage.vmsPool, vol, iso));
  });
  ctx.signal?.throwIfAborted();
  made.push(...plans.map((p) => p.seed));
  throwFirstError(await h.virsh.multi(cmds, { timeoutMs: 120_000, signal: ctx.signal }));
}

async function copyClones(h: HostContext, plans: VmPlan[], made: string[], ctx: OpContext, opts: DeployOptions): Promise<void> {
  const jobs = plans.flatMap((p) => p.disks.map((d) => ({ vm: p.vm, ...d })));
  const useCp = h.local && (opts.cloneCopier ?? 'auto') === 'auto';
  for (const [i, j] of jobs.entries()) {
    ctx.signal?.throwIfAborted();
    const step = `copying ${j.vm} ${j.target} (${i + 1}/${jobs.length})`;
    const onFraction = (f: number) => ctx.onProgress?.({ step, fraction: (i + f) / jobs.length });
    onFraction(0);
    made.push(j.dst);
    if (useCp) await copySparseLocal(h.storage.assertInside(j.src), j.dst, { signal: ctx.signal, onFraction });
    else await volCreateFrom(h, h.storage.vmsPool, path.posix.basename(j.dst), j.src, { signal: ctx.signal, mode: '0600' });
    onFraction(1);
  }
}

/**
 * Undo what a deploy made: destroy + undefine these domains — each only while the uuid still
 * has that name (absent ones are fine) — then remove those of `files` that were made for one of
 * them and that nothing uses (removal.ts's rule; nothing while any chain is unreadable).
 */
export async function removeMade(h: HostContext, vms: readonly DomainRef[], files: readonly string[], ctx: OpContext = {}): Promise<void> {
  const present = await listDomains(h, ctx);
  const mine = vms.filter((v) => present.some((d) => d.uuid === v.uuid && d.name === v.name));
  if (mine.length) {
    const rs = await h.virsh.multi(mine.flatMap((v) => [virshArgs.destroy(v.uuid), virshArgs.undefine(v.uuid)]), { timeoutMs: 120_000 });
    throwFirstError(rs.filter((r) => !isKvmopsError(r.error, 'vm-not-found') && !isKvmopsError(r.error, 'vm-not-running')));
  }
  const owners = new Set<string>(vms.map((v) => v.uuid));
  const owned = [...new Set(files)].filter((f) => owners.has(h.storage.ownerOf(f) ?? ''));
  if (owned.length === 0) return;
  const refs = await referencesTo(h, owned, ctx);
  if (refs.unreadable.length) return;
  await deleteVolumes(h, owned.filter((f) => !refs.users.has(f)));
}

import { setTimeout as sleep } from 'node:timers/promises';
import { KvmopsError, isKvmopsError } from '../domain/errors.js';
import { isApplianceName } from '../domain/names.js';
import { domainDisks, parseDomainXml, readVmMeta } from './domain-xml.js';
import type { HostContext } from './host-context.js';
import type { DomainUuid } from './domain-uuid.js';
import { parseDomainList, resolveVm } from './domains.js';
import { diskChains } from './chains.js';
import { domainNics, readAddresses } from './addresses.js';
import { hostReferences, referencesTo } from './references.js';
import { deleteVolumes, removableFiles } from './removal.js';
import { okStdout } from './multi.js';
import { ensurePools } from './pools.js';
import { parseDomBlkList, parseDomInfo, parseDomList, parseDomState, type DomState } from './parse.js';
import { snapshotsOf } from './snapshots/list.js';
import type { DeleteVmResult, OpContext, StopRequest, VmInfo, VmSummary, VmTarget } from './types.js';
import { assertName, vmTarget } from './validate.js';
import { virshArgs } from './virsh-args.js';
import { findAll } from './xml.js';

/** VM lifecycle: list, info, start, stop, delete. */

/**
 * Domains libvirt lists that are not VMs: libguestfs' transient appliance domains
 * (`guestfs-…`, made by virt-sysprep & co with the libvirt backend) are tools, not machines.
 * The rule is names.ts's, which refuses such names for VMs, so no VM kvmops made is hidden.
 */
export function isVmDomain(name: string): boolean {
  return !isApplianceName(name);
}

/**
 * Names, uuids and states, in one virsh process (`list --all` has no uuid column; `list --uuid
 * --name` no state). A domain that came or went between the two lists is left out: the next
 * read shows it.
 */
export async function listVms(h: HostContext, ctx: OpContext = {}): Promise<VmSummary[]> {
  const [statesR, uuidsR] = await h.virsh.multi([virshArgs.listAll(), virshArgs.listDomains()], { timeoutMs: 30_000, signal: ctx.signal });
  const uuids = new Map(parseDomainList(okStdout(uuidsR)).map((d) => [d.name, d.uuid] as const));
  return parseDomList(okStdout(statesR)).flatMap((d) => {
    const uuid = uuids.get(d.name);
    return uuid !== undefined && isVmDomain(d.name) ? [{ name: d.name, uuid, state: d.state }] : [];
  });
}

export async function domState(h: HostContext, vm: DomainUuid, ctx: OpContext = {}): Promise<DomState> {
  return parseDomState(await h.virsh.run(virshArgs.domstate(vm), { timeoutMs: 30_000, signal: ctx.signal }));
}

export async function vmInfo(h: HostContext, vm: string, ctx: OpContext = {}): Promise<VmInfo> {
  assertName(vm, 'VM');
  const ref = await resolveVm(h, vm, ctx);
  const [info, xml, blk] = await h.virsh.multi(
    [virshArgs.dominfo(ref.uuid), virshArgs.dumpxml(ref.uuid), virshArgs.domblklist(ref.uuid)],
    { timeoutMs: 30_000, signal: ctx.signal },
  );
  const di = parseDomInfo(okStdout(info));
  const root = parseDomainXml(okStdout(xml));
  const disks = parseDomBlkList(okStdout(blk)).filter((b) => b.device === 'disk' && b.source !== null);
  const formats = new Map(domainDisks(root).map((d) => [d.target, d.format]));
  const nicDefs = domainNics(root);
  const [chains, snapshots, addresses] = await Promise.all([
    diskChains(h, disks.map((d) => d.source!), ctx),
    snapshotsOf(h, ref, ctx),
    di.state === 'running' && nicDefs.length ? readAddresses(h, [{ uuid: ref.uuid, nics: nicDefs }], ctx) : undefined,
  ]);
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
    nics: addresses?.get(ref.uuid) ?? nicDefs.map((n) => ({ ...n, addresses: [] })),
    ...(meta ? { deployedFrom: { template: meta.template, mode: meta.mode } } : {}),
  };
}

/** Idempotent: a VM that is already running counts as started (a recovered job may repeat). */
export async function startVm(h: HostContext, target: string | VmTarget, ctx: OpContext = {}): Promise<void> {
  const { vm, vmUuid } = vmTarget(target);
  const { uuid } = await resolveVm(h, vm, ctx, vmUuid);
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
  const { vm, vmUuid } = vmTarget(req);
  const timeoutMs = req.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const { uuid } = await resolveVm(h, vm, ctx, vmUuid);
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

/**
 * Delete a VM: its domain, its snapshots and the files kvmops made for it.
 *
 * Order, for a job that is interrupted and run again: destroy, remove the files, undefine. A
 * repeated call still finds the domain (and through its XML and snapshots, whatever files are
 * left), so nothing is leaked; once the domain is gone the delete is complete.
 *
 * A file goes only under the ownership rule (removal.ts): made by kvmops for this VM (its uuid
 * in the name) and referenced by no other domain's chain; while its own chain or that of any
 * domain that might reference its files cannot be read, every file is kept (`unreadable` says
 * why). Which domains might: with the inventory (a job), the candidates it names after a fresh
 * diff — O(its own disks), not the host; without it, every domain (references.ts). Reported in `kept`: template disks, files
 * outside the storage dir, old-named or hand-made files, and files something else uses.
 */
export async function deleteVm(h: HostContext, target: string | VmTarget, ctx: OpContext = {}): Promise<DeleteVmResult> {
  const { vm, vmUuid } = vmTarget(target);
  await ensurePools(h, ctx);
  const ref = await resolveVm(h, vm, ctx, vmUuid);
  const [stateR, xmlR] = await h.virsh.multi([virshArgs.domstate(ref.uuid), virshArgs.dumpxml(ref.uuid, { inactive: true })], {
    timeoutMs: 30_000,
    signal: ctx.signal,
  });
  const state = parseDomState(okStdout(stateR)).state;
  const xml = parseDomainXml(okStdout(xmlR));
  const own = await hostReferences(h, ctx, { only: ref, fresh: true });
  // who else uses the files it might remove (made for it: the others are kept anyway): the
  // candidates a fresh inventory names, read on disk (references.ts) — not its template's
  // other children
  const mine = [...own.users.keys()].filter((f) => h.storage.ownerOf(f) === ref.uuid);
  const others = await referencesTo(h, mine, ctx, { except: ref.uuid });
  // Its own unreadable chain counts too: what its files back onto, and so which of them are
  // its own, is unknown — every file is kept (README, "Unreadable chains").
  const all = { users: others.users, unreadable: [...own.unreadable, ...others.unreadable] };
  const { remove, keep } = removableFiles(h, ref.uuid, own.users.keys(), all);
  const unreadable = all.unreadable.map((u) => `${u.domain.name}: ${u.what}`);

  if (state !== 'shut off') {
    await h.virsh.run(virshArgs.destroy(ref.uuid), { timeoutMs: 60_000 }).catch((e) => {
      if (!isKvmopsError(e, 'vm-not-running')) throw e;
    });
  }
  // From here on, finish even if the job is being cancelled: a half-deleted VM helps no one.
  const removed = await deleteVolumes(h, remove);
  const hasNvram = findAll(xml, 'os/nvram').length > 0 || findAll(xml, 'os/loader').some((l) => l.attrs.type === 'pflash');
  await h.virsh.run(virshArgs.undefine(ref.uuid, { nvram: hasNvram }), { timeoutMs: 60_000 });
  return { removed, kept: keep, ...(unreadable.length ? { unreadable } : {}) };
}

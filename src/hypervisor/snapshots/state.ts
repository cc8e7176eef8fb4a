import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { parseDomainXmlDisks, type DomainDisk } from './domain-disks.js';
import type { DomainUuid } from '../domain-uuid.js';
import { resolveVm, type DomainRef } from '../domains.js';
import type { SnapshotPin } from '../types.js';
import { throwFirstError } from '../multi.js';
import { parseDomState } from '../parse.js';
import { virshArgs } from '../virsh-args.js';
import { parseSnapshotXml, snapshotFiles, splitSnapshotXmls, type ParsedSnapshot } from './snapshot-xml.js';

/**
 * Reading a VM's snapshot state from libvirt (by uuid) in two virsh processes (Virsh.multi),
 * whatever the number of snapshots: (1) domstate + inactive XML + snapshot names, (2) every
 * snapshot's `snapshot-dumpxml` and `snapshot-info` (for the current flag, which the XML does
 * not carry).
 * Measured here with 6 snapshots: this (2 processes, full XML) ≈ 90 ms per list;
 * `snapshot-list --parent` + `--tree` + one `snapshot-info` process per snapshot ≈ 270 ms, and
 * that still lacks the descriptions. Each virsh process costs ~60 ms of start-up.
 */

export interface VmState {
  /** The VM's name, for messages. */
  vm: string;
  /** How every virsh call addresses it. */
  uuid: DomainUuid;
  running: boolean;
  /** `dumpxml --inactive`: what a redefine starts from. */
  domainXml: string;
  disks: DomainDisk[];
}

export interface SnapshotSet {
  snapshots: ParsedSnapshot[];
  current: string | null;
}

export interface Loaded extends VmState, SnapshotSet {}

/** domstate, inactive XML and snapshot names in one virsh process. */
async function readVmAndNames(h: HostContext, ref: DomainRef, signal?: AbortSignal): Promise<VmState & { names: string[] }> {
  const vm = ref.name;
  const rs = await h.virsh.multi(
    [virshArgs.domstate(ref.uuid), virshArgs.dumpxml(ref.uuid, { inactive: true }), virshArgs.snapshotListNames(ref.uuid)],
    { signal },
  );
  throwFirstError(rs);
  const [stateOut, xmlOut, namesOut] = rs.map((r) => r.stdout);
  const domainXml = xmlOut!.trim();
  if (!domainXml.startsWith('<domain') || !domainXml.endsWith('</domain>')) {
    throw new KvmopsError('unexpected-output', `virsh dumpxml ${vm}: no domain XML`);
  }
  const state = parseDomState(stateOut!).state;
  const names = namesOut!
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return { vm, uuid: ref.uuid, running: state !== 'shut off', domainXml, disks: parseDomainXmlDisks(domainXml), names };
}

/** Every snapshot's XML plus the current flag, in one virsh process. */
async function readSnapshots(h: HostContext, vm: DomainUuid, names: string[], signal?: AbortSignal): Promise<SnapshotSet> {
  if (names.length === 0) return { snapshots: [], current: null };
  const rs = await h.virsh.multi(
    names.flatMap((n) => [virshArgs.snapshotDumpxml(vm, n), virshArgs.snapshotInfo(vm, n)]),
    { signal },
  );
  throwFirstError(rs);
  return parseSnapshotBatch(rs.map((r) => r.stdout).join('\n'), names);
}

/** The batch above's outputs, in order → snapshots (in `names` order) and the current one. Pure. */
export function parseSnapshotBatch(out: string, names: string[]): SnapshotSet {
  const { xmls, rest } = splitSnapshotXmls(out);
  const snapshots = xmls.map(parseSnapshotXml);
  const infoNames = [...rest.matchAll(/^Name:\s+(.+?)\s*$/gm)].map((m) => m[1]!);
  const currents = [...rest.matchAll(/^Current:\s+(yes|no)\s*$/gm)].map((m) => m[1] === 'yes');
  if (
    snapshots.length !== names.length ||
    infoNames.length !== names.length ||
    currents.length !== names.length ||
    snapshots.some((s, i) => s.name !== names[i] || infoNames[i] !== names[i])
  ) {
    throw new KvmopsError('unexpected-output', `snapshot batch output does not match ${names.length} snapshots`);
  }
  const ci = currents.indexOf(true);
  return { snapshots, current: ci < 0 ? null : names[ci]! };
}

/** The VM's state and snapshots, by uuid. */
export async function load(h: HostContext, ref: DomainRef, signal?: AbortSignal): Promise<Loaded> {
  const { names, ...state } = await readVmAndNames(h, ref, signal);
  return { ...state, ...(await readSnapshots(h, ref.uuid, names, signal)) };
}

/** The named VM (resolved by exact name, or by the uuid the job pinned: resolveVm), loaded. */
export async function loadByName(h: HostContext, vm: string, signal?: AbortSignal, pinned?: DomainUuid): Promise<Loaded> {
  return load(h, await resolveVm(h, vm, { signal }, pinned), signal);
}

/**
 * The snapshot a job pinned at request time (creation time and, external, base files) — not
 * merely one under its name: a snapshot deleted and made anew under the name → `target-changed`,
 * gone → `target-gone`. Without a pin, by name (`snapshot-not-found`).
 */
export function findPinnedSnapshot(l: SnapshotSet, vm: string, name: string, pin: SnapshotPin | undefined): ParsedSnapshot {
  if (pin === undefined) return findSnapshot(l, vm, name);
  const s = l.snapshots.find((x) => x.name === name);
  if (!s) throw new KvmopsError('target-gone', `snapshot ${name} of ${vm} (taken ${new Date(pin.createdAt * 1000).toISOString()}) no longer exists`, { details: { vm, snapshot: name } });
  const files = snapshotFiles(s);
  if (s.createdAt !== pin.createdAt || files.length !== pin.files.length || files.some((f, i) => f !== pin.files[i])) {
    throw new KvmopsError(
      'target-changed',
      `snapshot ${name} of ${vm} is not the one this job was asked for: that was taken ${new Date(pin.createdAt * 1000).toISOString()}, this one ${new Date(s.createdAt * 1000).toISOString()}; nothing was done`,
      { details: { vm, snapshot: name, pinned: pin.createdAt, now: s.createdAt } },
    );
  }
  return s;
}

export function findSnapshot(l: SnapshotSet, vm: string, name: string): ParsedSnapshot {
  const s = l.snapshots.find((x) => x.name === name);
  if (!s) throw new KvmopsError('snapshot-not-found', `VM ${vm} has no snapshot ${name}`, { details: { vm, snapshot: name } });
  return s;
}

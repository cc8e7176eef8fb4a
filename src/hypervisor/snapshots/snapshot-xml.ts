import { KvmopsError } from '../../domain/errors.js';
import type { SnapshotKind } from '../types.js';
import { elements, find, findAll, parseXml, serializeXml, textOf, type XmlElement } from '../xml.js';
import { parseDomainDisks, type DomainDisk } from './domain-disks.js';

/**
 * Pure builders and parsers for libvirt's `<domainsnapshot>` XML (libvirt 9.0, recorded
 * outputs in test/hypervisor/snapshot-fixtures/). Fail closed: a state or disk mode
 * this code does not know is `unexpected-output`.
 */

export type DiskSnapshotMode = 'internal' | 'external' | 'no';

export interface SnapshotDiskSpec {
  target: string;
  mode: DiskSnapshotMode;
  /** External only: the new overlay file (inside STORAGE/vms). */
  overlay?: string;
}

export interface SnapshotSpec {
  name: string;
  description: string;
  disks: SnapshotDiskSpec[];
}

/** The XML for `snapshot-create DOM --xmlfile F --atomic [--disk-only]`. */
export function buildSnapshotXml(spec: SnapshotSpec): string {
  const disks: XmlElement = { name: 'disks', attrs: {}, children: [] };
  for (const d of spec.disks) {
    const disk: XmlElement = { name: 'disk', attrs: { name: d.target, snapshot: d.mode }, children: [] };
    if (d.mode === 'external') {
      if (!d.overlay) throw new KvmopsError('internal', `external snapshot of ${d.target} needs an overlay file`);
      disk.attrs.type = 'file';
      disk.children.push({ name: 'driver', attrs: { type: 'qcow2' }, children: [] });
      disk.children.push({ name: 'source', attrs: { file: d.overlay }, children: [] });
    }
    disks.children.push(disk);
  }
  const root: XmlElement = {
    name: 'domainsnapshot',
    attrs: {},
    children: [
      { name: 'name', attrs: {}, children: [spec.name] },
      ...(spec.description ? [{ name: 'description', attrs: {}, children: [spec.description] }] : []),
      disks,
    ],
  };
  return serializeXml(root);
}

/** States libvirt records in a snapshot (virDomainSnapshotState). */
export const SNAPSHOT_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
  'disk-snapshot',
] as const;

export interface ParsedSnapshotDisk {
  target: string;
  mode: DiskSnapshotMode;
  /** External: the overlay file that took new writes after the snapshot. */
  overlay?: string;
}

export interface ParsedSnapshot {
  name: string;
  description: string;
  state: string;
  parent: string | null;
  createdAt: number;
  kind: SnapshotKind;
  /** `<memory snapshot=…>`: `internal` when the VM's RAM is in the snapshot. */
  memory: string;
  disks: ParsedSnapshotDisk[];
  /**
   * The domain's disks at snapshot time. For an external snapshot, a disk's `file` here is the
   * file that became the read-only base; for an internal one, the qcow2 holding the snapshot.
   */
  domainDisks: DomainDisk[];
  /** The XML as libvirt printed it (what a `--redefine` starts from). */
  xml: string;
}

/**
 * An external snapshot's base files (what became read-only when it was taken), sorted; internal:
 * none. With the creation time, what identifies a snapshot (a job pins both): kvmops' own
 * external revert gives the snapshot a new overlay, but its bases stay.
 */
export function snapshotFiles(s: ParsedSnapshot): string[] {
  if (s.kind !== 'external') return [];
  const targets = new Set(s.disks.filter((d) => d.mode === 'external').map((d) => d.target));
  return s.domainDisks
    .filter((d) => targets.has(d.target) && d.file !== null)
    .map((d) => d.file!)
    .sort();
}

/** True when the snapshot was taken while the VM ran (so a revert leaves it running). */
export function takenWhileRunning(s: ParsedSnapshot): boolean {
  return s.state === 'running' || s.state === 'disk-snapshot' || s.state === 'blocked' || s.state === 'paused';
}

function bad(what: string): never {
  throw new KvmopsError('unexpected-output', `snapshot XML: ${what}`);
}

/** Parse `snapshot-dumpxml DOM NAME`. */
export function parseSnapshotXml(xml: string): ParsedSnapshot {
  const root = parseXml(xml);
  if (root.name !== 'domainsnapshot') bad(`root is <${root.name}>`);
  const name = textOf(find(root, 'name'));
  if (!name) bad('no <name>');
  const state = textOf(find(root, 'state'));
  if (!(SNAPSHOT_STATES as readonly string[]).includes(state)) bad(`unknown state "${state}"`);
  const created = textOf(find(root, 'creationTime'));
  if (!/^\d+$/.test(created)) bad(`creationTime "${created}"`);
  const parentEl = find(root, 'parent/name');
  const disks: ParsedSnapshotDisk[] = findAll(root, 'disks/disk').map((d) => {
    const target = d.attrs.name ?? bad('disk without a name');
    const mode = d.attrs.snapshot ?? bad(`disk ${target} without a snapshot mode`);
    if (mode !== 'internal' && mode !== 'external' && mode !== 'no') bad(`disk ${target}: snapshot='${mode}'`);
    if (mode !== 'external') return { target, mode };
    const overlay = find(d, 'source')?.attrs.file;
    if (!overlay) bad(`external disk ${target} without a source file`);
    return { target, mode, overlay };
  });
  const domain = find(root, 'domain');
  const kind: SnapshotKind =
    state === 'disk-snapshot' || disks.some((d) => d.mode === 'external') ? 'external' : 'internal';
  return {
    name,
    description: textOf(find(root, 'description')),
    state,
    parent: parentEl ? textOf(parentEl) || null : null,
    createdAt: Number(created),
    kind,
    memory: find(root, 'memory')?.attrs.snapshot ?? 'no',
    disks,
    domainDisks: domain ? parseDomainDisks(domain) : [],
    xml,
  };
}

/**
 * `snapshot-dumpxml` outputs of one batch, in order. Text outside the XML (other commands'
 * output in the same batch) is returned as `rest`.
 */
export function splitSnapshotXmls(output: string): { xmls: string[]; rest: string } {
  const xmls: string[] = [];
  const rest = output.replace(/<domainsnapshot>[\s\S]*?<\/domainsnapshot>/g, (m) => {
    xmls.push(m);
    return '';
  });
  return { xmls, rest };
}

/**
 * The snapshot's XML with an external disk's overlay replaced: after kvmops reverts to an
 * external snapshot itself, the fresh overlay is the file holding that snapshot's branch, and
 * the metadata (redefined with `snapshot-create --redefine`) says so.
 */
export function withOverlay(xml: string, target: string, file: string): string {
  const root = parseXml(xml);
  const disk = findAll(root, 'disks/disk').find((d) => d.attrs.name === target && d.attrs.snapshot === 'external');
  if (!disk) return bad(`no external disk ${target}`);
  const source = elements(disk, 'source')[0];
  if (!source) return bad(`external disk ${target} has no <source>`);
  source.attrs.file = file;
  return serializeXml(root);
}

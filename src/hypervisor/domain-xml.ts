import { randomBytes, randomUUID } from 'node:crypto';
import { KvmopsError } from '../domain/errors.js';
import type { CloudInit, DeployMode } from './types.js';
import {
  elements,
  find,
  findAll,
  parseXml,
  removeChildren,
  serializeXml,
  textOf,
  type XmlElement,
} from './xml.js';

/**
 * Reading and rewriting libvirt domain XML: what a VM's disks and identity are, the template
 * form (identity removed, disks pointing at template volumes, kvmops metadata) and the VM form
 * made from it at deploy (new name, uuid, MACs, disks pointing at the VM's own volumes).
 *
 * kvmops' own facts live in `<metadata>` under its namespace, e.g.
 *   <kvmops:vm xmlns:kvmops='https://kvmops.dev/xmlns/1' template='base' mode='thin' request='42'/>
 *   <kvmops:template xmlns:kvmops='…' name='base' source-vm='web' sealed='true' cloud-init='yes' created-at='…'>
 *     <kvmops:disk target='vda' capacity='67108864'/>
 *   </kvmops:template>
 * libvirt keeps foreign metadata as written; any prefix bound to the namespace is recognised.
 */

export const KVMOPS_NS = 'https://kvmops.dev/xmlns/1';

export interface DomainDisk {
  target: string;
  /** `disk`, `cdrom`, `floppy`, `lun`. */
  device: string;
  /** `file`, `block`, `volume`, `network` … */
  type: string;
  /** `<source file>` for file disks; null otherwise (volume disks: use domblklist's path). */
  file: string | null;
  /** `<driver type>`, `raw` when absent. */
  format: string;
}

export interface VmMeta {
  template: string;
  mode: DeployMode;
  request?: string;
}

export interface TemplateMeta {
  name: string;
  sourceVm: string;
  sealed: boolean;
  /** `cloud-init='yes|no'`; absent (looked for but not told, or made before kvmops looked): unknown. */
  cloudInit: CloudInit;
  createdAt: string;
  disks: { target: string; capacity: number }[];
}

export function parseDomainXml(xml: string): XmlElement {
  const root = parseXml(xml);
  if (root.name !== 'domain') throw new KvmopsError('unexpected-output', `not a domain XML: <${root.name}>`);
  return root;
}

export function domainName(root: XmlElement): string {
  return textOf(find(root, 'name'));
}
export function domainUuid(root: XmlElement): string {
  return textOf(find(root, 'uuid'));
}

export function domainDisks(root: XmlElement): DomainDisk[] {
  return findAll(root, 'devices/disk').map((d) => ({
    target: find(d, 'target')?.attrs.dev ?? '',
    device: d.attrs.device ?? 'disk',
    type: d.attrs.type ?? 'file',
    file: find(d, 'source')?.attrs.file ?? null,
    format: find(d, 'driver')?.attrs.type ?? 'raw',
  }));
}

export function domainMacs(root: XmlElement): string[] {
  return findAll(root, 'devices/interface/mac')
    .map((m) => m.attrs.address ?? '')
    .filter(Boolean);
}

// --- kvmops metadata ------------------------------------------------------------------------

function isKvmopsElement(el: XmlElement, local: string): boolean {
  const i = el.name.indexOf(':');
  const prefix = i < 0 ? '' : el.name.slice(0, i);
  const name = i < 0 ? el.name : el.name.slice(i + 1);
  if (name !== local) return false;
  return (prefix ? el.attrs[`xmlns:${prefix}`] : el.attrs.xmlns) === KVMOPS_NS;
}

function kvmopsElement(root: XmlElement, local: string): XmlElement | undefined {
  const md = find(root, 'metadata');
  return md ? elements(md).find((e) => isKvmopsElement(e, local)) : undefined;
}

function setKvmopsElement(root: XmlElement, el: XmlElement | null, local: string): void {
  let md = find(root, 'metadata');
  if (!md) {
    if (!el) return;
    md = { name: 'metadata', attrs: {}, children: [] };
    root.children.push(md);
  }
  removeChildren(md, (c) => isKvmopsElement(c, local));
  if (el) md.children.push(el);
  if (elements(md).length === 0) removeChildren(root, (c) => c === md);
}

export function readVmMeta(root: XmlElement): VmMeta | null {
  const el = kvmopsElement(root, 'vm');
  if (!el) return null;
  const { template, mode, request } = el.attrs;
  if (!template || (mode !== 'thin' && mode !== 'clone')) return null;
  return { template, mode, ...(request ? { request } : {}) };
}

export function setVmMeta(root: XmlElement, meta: VmMeta | null): void {
  const el: XmlElement | null = meta
    ? {
        name: 'kvmops:vm',
        attrs: {
          'xmlns:kvmops': KVMOPS_NS,
          template: meta.template,
          mode: meta.mode,
          ...(meta.request ? { request: meta.request } : {}),
        },
        children: [],
      }
    : null;
  setKvmopsElement(root, el, 'vm');
}

export function readTemplateMeta(root: XmlElement): TemplateMeta | null {
  const el = kvmopsElement(root, 'template');
  if (!el) return null;
  const disks = elements(el)
    .filter((c) => c.name.endsWith(':disk') || c.name === 'disk')
    .map((c) => ({ target: c.attrs.target ?? '', capacity: Number(c.attrs.capacity) }));
  if (!el.attrs.name || disks.some((d) => !d.target || !Number.isSafeInteger(d.capacity) || d.capacity <= 0)) {
    throw new KvmopsError('unexpected-output', 'template XML: kvmops metadata is incomplete');
  }
  return {
    name: el.attrs.name,
    sourceVm: el.attrs['source-vm'] ?? '',
    sealed: el.attrs.sealed === 'true',
    cloudInit: el.attrs['cloud-init'] === 'yes' || el.attrs['cloud-init'] === 'no' ? el.attrs['cloud-init'] : 'unknown',
    createdAt: el.attrs['created-at'] ?? '',
    disks,
  };
}

export function setTemplateMeta(root: XmlElement, meta: TemplateMeta | null): void {
  const el: XmlElement | null = meta
    ? {
        name: 'kvmops:template',
        attrs: {
          'xmlns:kvmops': KVMOPS_NS,
          name: meta.name,
          'source-vm': meta.sourceVm,
          sealed: String(meta.sealed),
          ...(meta.cloudInit !== 'unknown' ? { 'cloud-init': meta.cloudInit } : {}),
          'created-at': meta.createdAt,
        },
        children: meta.disks.map((d) => ({
          name: 'kvmops:disk',
          attrs: { target: d.target, capacity: String(d.capacity) },
          children: [],
        })),
      }
    : null;
  setKvmopsElement(root, el, 'template');
}

// --- rewriting ------------------------------------------------------------------------------

/**
 * Removes what makes a domain one particular machine: name, uuid, genid, MAC addresses, the
 * UEFI variable store path, live-only attributes, disks' recorded backing chains, and kvmops'
 * own per-VM metadata. Mutates `root`.
 */
export function stripIdentity(root: XmlElement): void {
  delete root.attrs.id;
  removeChildren(root, (c) => c.name === 'name' || c.name === 'uuid' || c.name === 'genid');
  for (const os of elements(root, 'os')) removeChildren(os, (c) => c.name === 'nvram');
  for (const iface of findAll(root, 'devices/interface')) {
    removeChildren(iface, (c) => c.name === 'mac' || c.name === 'target' || c.name === 'alias');
  }
  for (const disk of findAll(root, 'devices/disk')) {
    removeChildren(disk, (c) => c.name === 'backingStore' || c.name === 'alias');
    const src = find(disk, 'source');
    if (src) delete src.attrs.index;
  }
  setVmMeta(root, null);
}

/**
 * Points each disk with a target in `paths` at a qcow2 file (type='file'); CD-ROM/floppy media
 * are ejected (their images are not part of a template). Disks not in `paths` are an error:
 * the caller decides which disks exist.
 */
export function repointDisks(root: XmlElement, paths: ReadonlyMap<string, string>): void {
  const devices = find(root, 'devices');
  if (!devices) return;
  for (const disk of elements(devices, 'disk')) {
    const target = find(disk, 'target')?.attrs.dev ?? '';
    const device = disk.attrs.device ?? 'disk';
    if (device === 'cdrom' || device === 'floppy') {
      removeChildren(disk, (c) => c.name === 'source' || c.name === 'backingStore');
      disk.attrs.type = 'file';
      continue;
    }
    const p = paths.get(target);
    if (!p) throw new KvmopsError('internal', `no new path for disk ${target}`);
    disk.attrs.type = 'file';
    removeChildren(disk, (c) => c.name === 'backingStore');
    let src = find(disk, 'source');
    if (!src) {
      src = { name: 'source', attrs: {}, children: [] };
      disk.children.unshift(src);
    }
    src.attrs = { file: p };
    let driver = find(disk, 'driver');
    if (!driver) {
      driver = { name: 'driver', attrs: { name: 'qemu' }, children: [] };
      disk.children.unshift(driver);
    }
    driver.attrs.type = 'qcow2';
  }
}

export interface TemplateXmlInput {
  sourceXml: string;
  meta: TemplateMeta;
  /** target → template volume path */
  diskPaths: ReadonlyMap<string, string>;
}

/** The template form of a VM's (inactive) domain XML. */
export function templateXml(input: TemplateXmlInput): string {
  const root = parseDomainXml(input.sourceXml);
  stripIdentity(root);
  repointDisks(root, input.diskPaths);
  setTemplateMeta(root, input.meta);
  return serializeXml(root) + '\n';
}

export interface VmXmlInput {
  templateXml: string;
  name: string;
  uuid: string;
  /** One per interface, in order. */
  macs: string[];
  diskPaths: ReadonlyMap<string, string>;
  meta: VmMeta;
  /** The VM's cloud-init seed ISO, attached as a read-only CD-ROM (`attachSeed`). */
  seedIso?: string;
}

/** Number of `<interface>` elements: how many MACs a VM made from this XML needs. */
export function interfaceCount(xml: string): number {
  return findAll(parseDomainXml(xml), 'devices/interface').length;
}

/** A VM's domain XML from a template's: new identity, its own disks, kvmops:vm metadata. */
export function vmXml(input: VmXmlInput): string {
  const root = parseDomainXml(input.templateXml);
  stripIdentity(root);
  setTemplateMeta(root, null);
  root.children.unshift({ name: 'uuid', attrs: {}, children: [input.uuid] });
  root.children.unshift({ name: 'name', attrs: {}, children: [input.name] });
  const ifaces = findAll(root, 'devices/interface');
  if (ifaces.length !== input.macs.length) throw new KvmopsError('internal', 'one MAC per interface');
  ifaces.forEach((iface, i) => iface.children.unshift({ name: 'mac', attrs: { address: input.macs[i]! }, children: [] }));
  repointDisks(root, input.diskPaths);
  if (input.seedIso !== undefined) attachSeed(root, input.seedIso);
  setVmMeta(root, input.meta);
  return serializeXml(root) + '\n';
}

/**
 * Puts `iso` in a read-only CD-ROM drive: the first empty one (a template made from a deployed
 * VM keeps its seed drive, emptied: the next VM's seed goes there, so drives do not pile up over
 * generations), else a new drive — SATA on q35 machines (which have no IDE), IDE otherwise, at
 * the first target of that bus the domain does not use. Mutates `root`.
 */
export function attachSeed(root: XmlElement, iso: string): void {
  let devices = find(root, 'devices');
  if (!devices) {
    devices = { name: 'devices', attrs: {}, children: [] };
    root.children.push(devices);
  }
  const disks = elements(devices, 'disk');
  let drive = disks.find((d) => d.attrs.device === 'cdrom' && !find(d, 'source'));
  if (!drive) {
    const q35 = /q35/.test(find(root, 'os/type')?.attrs.machine ?? '');
    const bus = q35 ? 'sata' : 'ide';
    const used = new Set(disks.map((d) => find(d, 'target')?.attrs.dev ?? ''));
    // IDE: hdc first, the traditional CD-ROM place (secondary master)
    const order = bus === 'ide' ? ['hdc', 'hdd', 'hda', 'hdb'] : [...'abcdefghijklmnopqrstuvwxyz'].map((c) => `sd${c}`);
    const dev = order.find((t) => !used.has(t));
    if (!dev) throw new KvmopsError('invalid-input', `no free ${bus} slot for the cloud-init seed CD-ROM`);
    drive = { name: 'disk', attrs: { type: 'file', device: 'cdrom' }, children: [{ name: 'target', attrs: { dev, bus }, children: [] }] };
    const lastDisk = disks[disks.length - 1];
    devices.children.splice(lastDisk ? devices.children.indexOf(lastDisk) + 1 : 0, 0, drive);
  }
  drive.attrs.type = 'file';
  removeChildren(drive, (c) => c.name === 'driver' || c.name === 'source' || c.name === 'readonly' || c.name === 'backingStore');
  drive.children.unshift({ name: 'source', attrs: { file: iso }, children: [] });
  drive.children.unshift({ name: 'driver', attrs: { name: 'qemu', type: 'raw' }, children: [] });
  drive.children.push({ name: 'readonly', attrs: {}, children: [] });
}

/** The files in a domain's CD-ROM drives (a VM's seed among them). */
export function cdromFiles(root: XmlElement): string[] {
  return domainDisks(root)
    .filter((d) => d.device === 'cdrom' && d.file !== null)
    .map((d) => d.file!);
}

/** `52:54:00:xx:xx:xx` (QEMU's locally administered prefix), distinct from every MAC in `taken`. */
export function newMac(taken: Set<string>): string {
  for (;;) {
    const b = randomBytes(3);
    const mac = `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    if (!taken.has(mac)) {
      taken.add(mac);
      return mac;
    }
  }
}

export function newUuid(): string {
  return randomUUID();
}

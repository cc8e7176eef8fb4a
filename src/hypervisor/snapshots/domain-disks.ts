import { KvmopsError } from '../../domain/errors.js';
import { elements, findAll, parseXml, removeChildren, serializeXml, type XmlElement } from '../xml.js';

/** A `<disk>` of a domain's XML, as snapshot work needs it. */
export interface DomainDisk {
  target: string;
  /** `disk`, `cdrom`, `floppy`, `lun`. */
  device: string;
  /** The top file, or null (empty cdrom, network or block disk). */
  file: string | null;
  /** `<driver type=…>`: `qcow2`, `raw` … */
  format: string | null;
  readonly: boolean;
}

/** Disks of a `<domain>` element (a domain's XML, or the one embedded in a snapshot). */
export function parseDomainDisks(domain: XmlElement): DomainDisk[] {
  return findAll(domain, 'devices/disk').map((d) => {
    const target = elements(d, 'target')[0]?.attrs.dev;
    if (!target) throw new KvmopsError('unexpected-output', 'domain XML: a <disk> without <target dev>');
    const source = elements(d, 'source')[0];
    return {
      target,
      device: d.attrs.device ?? 'disk',
      file: (d.attrs.type ?? 'file') === 'file' ? (source?.attrs.file ?? null) : null,
      format: elements(d, 'driver')[0]?.attrs.type ?? null,
      readonly: elements(d, 'readonly').length > 0,
    };
  });
}

export function parseDomainXmlDisks(xml: string): DomainDisk[] {
  return parseDomainDisks(parseXml(xml));
}

/** The disks a snapshot covers: writable file disks of device `disk`. */
export function snapshotableDisks(disks: DomainDisk[]): DomainDisk[] {
  return disks.filter((d) => d.device === 'disk' && !d.readonly && d.file !== null);
}

/**
 * A domain XML (from `dumpxml --inactive`) with disks pointed at new files: source file and
 * driver type set, any `<backingStore>` removed (libvirt reads the chain from the image). The
 * rest, above all the `<uuid>`, is kept: redefining without it fails (docs/host-notes.md).
 */
export function repointDisks(xml: string, changes: ReadonlyMap<string, { file: string; format: string }>): string {
  const root = parseXml(xml);
  if (root.name !== 'domain') throw new KvmopsError('unexpected-output', `domain XML: root is <${root.name}>`);
  const seen = new Set<string>();
  for (const d of findAll(root, 'devices/disk')) {
    const target = elements(d, 'target')[0]?.attrs.dev;
    const change = target === undefined ? undefined : changes.get(target);
    if (!change || target === undefined) continue;
    seen.add(target);
    d.attrs.type = 'file';
    let driver = elements(d, 'driver')[0];
    if (!driver) {
      driver = { name: 'driver', attrs: { name: 'qemu' }, children: [] };
      d.children.unshift(driver);
    }
    driver.attrs.type = change.format;
    removeChildren(d, (c) => c.name === 'backingStore');
    const source = elements(d, 'source')[0];
    if (source) source.attrs = { file: change.file };
    else d.children.push({ name: 'source', attrs: { file: change.file }, children: [] });
  }
  for (const t of changes.keys()) {
    if (!seen.has(t)) throw new KvmopsError('unexpected-output', `domain XML has no disk ${t}`);
  }
  return serializeXml(root);
}

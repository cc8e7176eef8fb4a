import { KvmopsError } from '../domain/errors.js';
import { VM_STATES, type VmState } from './types.js';
import { find, parseXml, textOf } from './xml.js';

/**
 * Pure parsers for virsh output (libvirt 9.0, LC_ALL=C). Fail closed: output that does not have
 * the shape recorded from a real virsh is `unexpected-output`, never a guess.
 */

function unexpected(what: string, output: string): never {
  throw new KvmopsError('unexpected-output', `unexpected ${what} output: ${JSON.stringify(output.slice(0, 200))}`);
}

function lines(output: string): string[] {
  return output.split('\n').map((l) => l.trimEnd());
}

/** `list --all --name`, `pool-list --name`: one name a line (pool-list pads with spaces), blank lines ignored. */
export function parseNameList(output: string): string[] {
  const names = lines(output)
    .map((l) => l.trim())
    .filter(Boolean);
  for (const n of names) if (/\s/.test(n)) unexpected('name list', output);
  return names;
}

export interface DomState {
  state: VmState;
  reason: string;
}

/** `domstate --reason`: e.g. `running (booted)`, `shut off (destroyed)`, `in shutdown (user)`. */
export function parseDomState(output: string): DomState {
  const line = lines(output).find((l) => l.trim() !== '')?.trim() ?? '';
  const m = /^([a-z ]+?)(?: \(([^)]*)\))?$/.exec(line);
  if (!m || !(VM_STATES as readonly string[]).includes(m[1]!)) return unexpected('domstate', output);
  return { state: m[1] as VmState, reason: m[2] ?? '' };
}

export interface DomInfo {
  name: string;
  uuid: string;
  state: VmState;
  vcpus: number;
  maxMemoryKiB: number;
  usedMemoryKiB: number;
  persistent: boolean;
}

/** `dominfo`: `Key:   value` lines. */
export function parseDomInfo(output: string): DomInfo {
  const kv = new Map<string, string>();
  for (const l of lines(output)) {
    if (!l.trim()) continue;
    const m = /^([A-Za-z][A-Za-z ()]*):\s*(.*)$/.exec(l);
    if (!m) return unexpected('dominfo', output);
    kv.set(m[1]!.trim(), m[2]!.trim());
  }
  const get = (k: string): string => kv.get(k) ?? unexpected(`dominfo (no "${k}")`, output);
  const state = get('State');
  if (!(VM_STATES as readonly string[]).includes(state)) return unexpected('dominfo state', output);
  const kib = (k: string): number => {
    const m = /^(\d+) KiB$/.exec(get(k));
    return m ? Number(m[1]) : unexpected(`dominfo ${k}`, output);
  };
  const vcpus = /^\d+$/.test(get('CPU(s)')) ? Number(get('CPU(s)')) : unexpected('dominfo CPU(s)', output);
  const uuid = get('UUID');
  if (!/^[0-9a-f-]{36}$/.test(uuid)) unexpected('dominfo UUID', output);
  return {
    name: get('Name'),
    uuid,
    state: state as VmState,
    vcpus,
    maxMemoryKiB: kib('Max memory'),
    usedMemoryKiB: kib('Used memory'),
    persistent: get('Persistent') === 'yes',
  };
}

/** `list --all`: ` Id   Name   State` table; Id is `-` for inactive domains. */
export function parseDomList(output: string): { id: number | null; name: string; state: VmState }[] {
  return tableRows(output, ['Id', 'Name', 'State'], 'list').map((cells) => {
    if (cells.length < 3) return unexpected('list row', output);
    const id = cells[0]!;
    if (!/^(\d+|-)$/.test(id)) return unexpected('list id', output);
    // the state is the last one or two words ("shut off", "in shutdown"); the name is what is between
    for (const n of [2, 1]) {
      const state = cells.slice(-n).join(' ');
      if (cells.length - n >= 2 && (VM_STATES as readonly string[]).includes(state)) {
        return { id: id === '-' ? null : Number(id), name: cells.slice(1, -n).join(' '), state: state as VmState };
      }
    }
    return unexpected('list state', output);
  });
}

export interface BlkEntry {
  type: string;
  device: string;
  target: string;
  /** `-` in virsh's output (an empty CD-ROM drive) becomes null. */
  source: string | null;
}

/** Splits a virsh table (header, dashes, rows) into rows of cells; columns by whitespace. */
function tableRows(output: string, header: string[], what: string): string[][] {
  const ls = lines(output).filter((l) => l.trim() !== '');
  if (ls.length < 2) return unexpected(what, output);
  const head = ls[0]!.trim().split(/\s+/);
  if (head.join(' ') !== header.join(' ') || !/^-+$/.test(ls[1]!.trim())) return unexpected(what, output);
  return ls.slice(2).map((l) => l.trim().split(/\s+/));
}

/**
 * `domblklist --details`. The source is the last column and the rest of its row: a path made by
 * hand may hold spaces (kvmops never makes one), and they are kept as they are, runs of them
 * too. Only a path's trailing spaces cannot be told from the table's padding; a path holding a
 * newline breaks the table into rows that do not parse (refused: `unexpected-output`).
 */
export function parseDomBlkList(output: string): BlkEntry[] {
  tableRows(output, ['Type', 'Device', 'Target', 'Source'], 'domblklist'); // the header's check
  const rows = lines(output).filter((l) => l.trim() !== '').slice(2);
  return rows.map((row) => {
    const m = /^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S.*?)\s*$/.exec(row);
    if (!m) return unexpected('domblklist row', output);
    const [, type, device, target, source] = m as unknown as [string, string, string, string, string];
    return { type, device, target, source: source === '-' ? null : source };
  });
}

export interface VolEntry {
  name: string;
  path: string;
}

/** `vol-list POOL` (without --details). */
export function parseVolList(output: string): VolEntry[] {
  return tableRows(output, ['Name', 'Path'], 'vol-list').map((cells) => {
    if (cells.length !== 2) return unexpected('vol-list row', output);
    return { name: cells[0]!, path: cells[1]! };
  });
}

export interface PoolInfo {
  name: string;
  uuid: string;
  state: 'running' | 'inactive' | 'building' | 'degraded' | 'inaccessible';
  persistent: boolean;
  autostart: boolean;
  /** Bytes, when printed as bytes (`pool-info --bytes`) and the pool is running. */
  capacity?: number;
  allocation?: number;
  /** What the pool's filesystem has free, in bytes (a dir pool: the filesystem's free space). */
  available?: number;
}

export function parsePoolInfo(output: string): PoolInfo {
  const kv = new Map<string, string>();
  for (const l of lines(output)) {
    if (!l.trim()) continue;
    const m = /^([A-Za-z ]+):\s*(.*)$/.exec(l);
    if (!m) return unexpected('pool-info', output);
    kv.set(m[1]!.trim(), m[2]!.trim());
  }
  const state = kv.get('State');
  if (!state || !['running', 'inactive', 'building', 'degraded', 'inaccessible'].includes(state)) {
    return unexpected('pool-info state', output);
  }
  return {
    name: kv.get('Name') ?? unexpected('pool-info name', output),
    uuid: kv.get('UUID') ?? unexpected('pool-info uuid', output),
    state: state as PoolInfo['state'],
    persistent: kv.get('Persistent') === 'yes',
    autostart: kv.get('Autostart') === 'yes',
    ...poolBytes(kv, output),
  };
}

/** `Capacity:`, `Allocation:`, `Available:` of `pool-info --bytes`; absent (an inactive pool) stays absent. */
function poolBytes(kv: Map<string, string>, output: string): Pick<PoolInfo, 'capacity' | 'allocation' | 'available'> {
  const out: Pick<PoolInfo, 'capacity' | 'allocation' | 'available'> = {};
  for (const [label, key] of [['Capacity', 'capacity'], ['Allocation', 'allocation'], ['Available', 'available']] as const) {
    const v = kv.get(label);
    if (v === undefined) continue;
    // without --bytes virsh rounds ("251.97 GiB"): refused rather than guessed
    if (!/^\d+$/.test(v)) return unexpected(`pool-info ${label} (not bytes)`, output);
    out[key] = Number(v);
  }
  return out;
}

export interface NodeInfo {
  cpuModel: string;
  cpus: number;
  /** MHz; 0 when libvirt does not know it. */
  mhz: number;
  /** Bytes. */
  memory: number;
}

/** `nodeinfo` (libvirt 9.0): `CPU(s):  2`, `Memory size:  24683772 KiB`. */
export function parseNodeInfo(output: string): NodeInfo {
  const kv = keyValues(output, 'nodeinfo');
  const cpus = Number(kv.get('CPU(s)'));
  const mem = /^(\d+) KiB$/.exec(kv.get('Memory size') ?? '');
  if (!Number.isInteger(cpus) || cpus < 1 || !mem) return unexpected('nodeinfo', output);
  const mhz = Number((kv.get('CPU frequency') ?? '').replace(/ MHz$/, ''));
  return { cpuModel: kv.get('CPU model') ?? 'unknown', cpus, mhz: Number.isFinite(mhz) ? mhz : 0, memory: Number(mem[1]) * 1024 };
}

export interface NodeMemory {
  /** Bytes. */
  total: number;
  free: number;
  buffers: number;
  cached: number;
}

/** `nodememstats` (libvirt 9.0): `total  :   24683772 KiB`, `free   :` …, `buffers:` …, `cached :` …. */
export function parseNodeMemStats(output: string): NodeMemory {
  const kv = keyValues(output, 'nodememstats');
  const kib = (k: string): number => {
    const m = /^(\d+) KiB$/.exec(kv.get(k) ?? '');
    return m ? Number(m[1]) * 1024 : unexpected(`nodememstats ${k}`, output);
  };
  return { total: kib('total'), free: kib('free'), buffers: kv.has('buffers') ? kib('buffers') : 0, cached: kv.has('cached') ? kib('cached') : 0 };
}

/** `Label:   value` lines → map (labels trimmed); any other non-empty line is unexpected. */
function keyValues(output: string, what: string): Map<string, string> {
  const kv = new Map<string, string>();
  for (const l of lines(output)) {
    if (!l.trim()) continue;
    const m = /^([^:]+):\s*(.*)$/.exec(l);
    if (!m) return unexpected(what, output);
    kv.set(m[1]!.trim(), m[2]!.trim());
  }
  return kv;
}

export interface VolumeXmlInfo {
  name: string;
  path: string;
  format: string;
  capacity: number;
  allocation: number;
  /** The immediate backing file (libvirt shows one level), when there is one. */
  backing: { path: string; format: string } | null;
}

function bytes(el: ReturnType<typeof find>, what: string, xml: string): number {
  const t = textOf(el);
  const unit = el?.attrs.unit ?? 'bytes';
  if (!/^\d+$/.test(t) || unit !== 'bytes') return unexpected(`vol-dumpxml ${what}`, xml);
  return Number(t);
}

/** `vol-dumpxml`. */
export function parseVolumeXml(xml: string): VolumeXmlInfo {
  const root = parseXml(xml);
  if (root.name !== 'volume') return unexpected('vol-dumpxml', xml);
  const path = textOf(find(root, 'target/path'));
  if (!path) return unexpected('vol-dumpxml path', xml);
  const bs = find(root, 'backingStore');
  const bsPath = bs ? textOf(find(bs, 'path')) : '';
  return {
    name: textOf(find(root, 'name')),
    path,
    format: find(root, 'target/format')?.attrs.type ?? 'raw',
    capacity: bytes(find(root, 'capacity'), 'capacity', xml),
    allocation: bytes(find(root, 'allocation'), 'allocation', xml),
    backing: bsPath ? { path: bsPath, format: find(bs!, 'format')?.attrs.type ?? 'raw' } : null,
  };
}

export interface VersionInfo {
  libvirt: string;
  hypervisor: string;
}

/** `virsh version`. */
export function parseVersion(output: string): VersionInfo {
  const lib = /^Using library: libvirt (\S+)$/m.exec(output);
  const hyp = /^Running hypervisor: (.+)$/m.exec(output);
  if (!lib) return unexpected('version', output);
  return { libvirt: lib[1]!, hypervisor: hyp ? hyp[1]!.trim() : 'unknown' };
}

/**
 * Split the stdout (or stderr) of one multi-command virsh run at the marker lines
 * `@@kvmops-<nonce>-<i>@@` (stderr: prefixed `error: ` by `echo --err`), `i` counting from
 * `first` (the chunk's first command). Returns `count` sections; a missing marker means the run
 * stopped early: `unexpected-output`.
 */
export function splitSections(output: string, nonce: string, count: number, first = 0): string[] {
  const sections: string[] = [];
  let cur: string[] = [];
  let next = first;
  const re = new RegExp(`^(?:error: )?@@kvmops-${nonce}-(\\d+)@@$`);
  for (const l of output.split('\n')) {
    const m = re.exec(l.trimEnd());
    if (m) {
      if (Number(m[1]) !== next) return unexpected('virsh batch (markers out of order)', output);
      sections.push(cur.join('\n'));
      cur = [];
      next++;
    } else cur.push(l);
  }
  if (sections.length !== count) return unexpected('virsh batch (missing markers)', output);
  return sections;
}

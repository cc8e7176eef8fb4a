import type { HostContext } from '../host-context.js';
import type { OpContext, SnapshotInfo } from '../types.js';
import { assertName } from '../validate.js';
import { snapshotFiles, type ParsedSnapshot } from './snapshot-xml.js';
import type { DomainRef } from '../domains.js';
import { load, loadByName, type SnapshotSet } from './state.js';

export function toSnapshotInfo(s: ParsedSnapshot, current: string | null): SnapshotInfo {
  return {
    name: s.name,
    kind: s.kind,
    parent: s.parent,
    createdAt: s.createdAt,
    current: s.name === current,
    description: s.description,
    state: s.state,
    files: snapshotFiles(s),
  };
}

/**
 * The snapshot tree flattened: parents before children (depth first from the roots), siblings
 * and roots by creation time, then name. A parent libvirt names but does not list makes its
 * child a root.
 */
export function orderTree(set: SnapshotSet): SnapshotInfo[] {
  const byTime = (a: ParsedSnapshot, b: ParsedSnapshot) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const names = new Set(set.snapshots.map((s) => s.name));
  const children = new Map<string | null, ParsedSnapshot[]>();
  for (const s of set.snapshots) {
    const p = s.parent !== null && names.has(s.parent) ? s.parent : null;
    const list = children.get(p) ?? [];
    list.push(s);
    children.set(p, list);
  }
  const out: SnapshotInfo[] = [];
  const seen = new Set<string>();
  const walk = (p: string | null) => {
    for (const s of (children.get(p) ?? []).sort(byTime)) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      out.push(toSnapshotInfo(s, set.current));
      walk(s.name);
    }
  };
  walk(null);
  return out;
}

export async function listSnapshots(h: HostContext, vm: string, ctx: OpContext = {}): Promise<SnapshotInfo[]> {
  assertName(vm, 'VM');
  return orderTree(await loadByName(h, vm, ctx.signal));
}

/** The snapshots of a VM already resolved. */
export async function snapshotsOf(h: HostContext, ref: DomainRef, ctx: OpContext = {}): Promise<SnapshotInfo[]> {
  return orderTree(await load(h, ref, ctx.signal));
}

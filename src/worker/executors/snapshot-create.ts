import type { SnapshotInfo } from '../../hypervisor/types.js';
import type { Executor } from './types.js';

export interface SnapshotJobResult {
  snapshot: { vm: string; name: string; kind: SnapshotInfo['kind']; createdAt: number };
}

function snapshotResult(vm: string, s: SnapshotInfo): SnapshotJobResult {
  return { snapshot: { vm, name: s.name, kind: s.kind, createdAt: s.createdAt } };
}

/**
 * Recovered: a snapshot of this name on this VM means libvirt took it before the crash (snapshot
 * creation is atomic in libvirt) → succeed with it instead of failing `name-taken`.
 */
export const snapshotCreate: Executor<'snapshot.create'> = async (p, ctx) => {
  const op = { signal: ctx.signal, onProgress: ctx.progress };
  if (ctx.recovered) {
    const existing = (await ctx.host.listSnapshots(p.vm, op)).find((s) => s.name === p.name);
    if (existing) return snapshotResult(p.vm, existing);
  }
  ctx.progress({ step: `taking ${p.kind} snapshot` });
  const s = await ctx.host.createSnapshot(
    { vm: p.vm, name: p.name, kind: p.kind, ...(p.description !== undefined ? { description: p.description } : {}) },
    op,
  );
  return snapshotResult(p.vm, s);
};

import { immediate } from '../jobs/context.js';
import type { Database } from '../jobs/db.js';
import type { InventoryVm } from '../hypervisor/types.js';
import type { InventoryChange } from '../kinds/kind.js';

/**
 * Writing inventory changes: a job's (with its result, inside the completion's transaction) and
 * the reconcile loop's. One IMMEDIATE transaction per call; inside another transaction (the
 * job's completion) it is a savepoint of that one, so the two commit or roll back together.
 *
 * `at` is when the writer's knowledge was read from the host (a job: its completion; the
 * reconcile: the start of its listing). A row is replaced or removed only by knowledge at least
 * as new as the row's own: a reconcile that listed the host before a job finished never undoes
 * what that job wrote (the deploy's new VM is not "gone" because the listing predates it).
 */
export type InventoryWrite = (changes: readonly InventoryChange[], at: number) => void;

const UPSERT_VM = `
INSERT INTO inventory_vms (host, uuid, name, state, read_at, stale, blocks) VALUES (@host, @uuid, @name, @state, @at, 0, @blocks)
ON CONFLICT (host, uuid) DO UPDATE SET name = excluded.name, state = excluded.state, read_at = excluded.read_at, stale = 0,
  blocks = excluded.blocks
WHERE inventory_vms.read_at <= excluded.read_at`;

export function inventoryWriter(db: Database): InventoryWrite {
  const upsertVm = db.prepare(UPSERT_VM);
  const clearDisks = db.prepare('DELETE FROM inventory_vm_disks WHERE host = ? AND vm_uuid = ?');
  const clearSnapshots = db.prepare('DELETE FROM inventory_snapshots WHERE host = ? AND vm_uuid = ?');
  const clearFiles = db.prepare('DELETE FROM inventory_vm_files WHERE host = ? AND vm_uuid = ?');
  const insertFile = db.prepare('INSERT OR IGNORE INTO inventory_vm_files (host, file, vm_uuid) VALUES (?, ?, ?)');
  const insertDisk = db.prepare(`
INSERT INTO inventory_vm_disks (host, vm_uuid, target, file, format, chain, template, unreadable)
VALUES (@host, @uuid, @target, @file, @format, @chain, @template, @unreadable)`);
  const insertSnapshot = db.prepare(`
INSERT INTO inventory_snapshots (host, vm_uuid, name, kind, parent, created_at, files)
VALUES (@host, @uuid, @name, @kind, @parent, @createdAt, @files)`);
  const vmOlder = db.prepare('SELECT 1 FROM inventory_vms WHERE host = ? AND uuid = ? AND read_at <= ?');
  const deleteVm = db.prepare('DELETE FROM inventory_vms WHERE host = ? AND uuid = ? AND read_at <= ?');
  const setState = db.prepare('UPDATE inventory_vms SET state = ?, read_at = max(read_at, ?) WHERE host = ? AND uuid = ? AND read_at <= ?');
  const setStale = db.prepare('UPDATE inventory_vms SET stale = 1 WHERE host = ? AND uuid = ?');
  const upsertTemplate = db.prepare(`
INSERT INTO inventory_templates (host, name, source_vm, sealed, cloud_init, created_at, size, disks, seen_at)
VALUES (@host, @name, @sourceVm, @sealed, @cloudInit, @createdAt, @size, @disks, @at)
ON CONFLICT (host, name) DO UPDATE SET source_vm = excluded.source_vm, sealed = excluded.sealed, cloud_init = excluded.cloud_init,
  created_at = excluded.created_at, size = excluded.size, disks = excluded.disks, seen_at = excluded.seen_at
WHERE inventory_templates.seen_at <= excluded.seen_at`);
  const deleteTemplate = db.prepare('DELETE FROM inventory_templates WHERE host = ? AND name = ? AND seen_at <= ?');

  return immediate(db, (changes: readonly InventoryChange[], at: number) => {
    for (const c of changes) {
      switch (c.type) {
        case 'vm': {
          const { vm } = c;
          if (upsertVm.run({ host: c.host, uuid: vm.uuid, name: vm.name, state: vm.state, at, blocks: vm.blocks ?? null }).changes === 0) break; // newer row kept
          clearDisks.run(c.host, vm.uuid);
          clearSnapshots.run(c.host, vm.uuid);
          clearFiles.run(c.host, vm.uuid);
          for (const f of usesOf(vm)) insertFile.run(c.host, f, vm.uuid);
          for (const d of vm.disks) {
            insertDisk.run({
              host: c.host,
              uuid: vm.uuid,
              target: d.target,
              file: d.file,
              format: d.format,
              chain: JSON.stringify(d.chain),
              template: d.template,
              unreadable: d.unreadable ?? null,
            });
          }
          for (const s of vm.snapshots) {
            insertSnapshot.run({ host: c.host, uuid: vm.uuid, name: s.name, kind: s.kind, parent: s.parent, createdAt: s.createdAt, files: JSON.stringify(s.files) });
          }
          break;
        }
        case 'vm-gone':
          // children first: correct whether or not the connection enforces foreign keys
          if (vmOlder.get(c.host, c.uuid, at)) {
            clearDisks.run(c.host, c.uuid);
            clearSnapshots.run(c.host, c.uuid);
            clearFiles.run(c.host, c.uuid);
            deleteVm.run(c.host, c.uuid, at);
          }
          break;
        case 'vm-state':
          setState.run(c.state, at, c.host, c.uuid, at);
          break;
        case 'vm-stale':
          setStale.run(c.host, c.uuid);
          break;
        case 'template': {
          const t = c.template;
          upsertTemplate.run({
            host: c.host,
            name: t.name,
            sourceVm: t.sourceVm,
            sealed: t.sealed ? 1 : 0,
            cloudInit: t.cloudInit,
            createdAt: t.createdAt,
            size: t.size,
            disks: JSON.stringify(t.disks),
            at,
          });
          break;
        }
        case 'template-gone':
          deleteTemplate.run(c.host, c.name, at);
          break;
      }
    }
  });
}

/** The files the VM's chains reference (`uses`); for a record without it, its disks' chains and its snapshots' files. */
function usesOf(vm: InventoryVm): Set<string> {
  const out = new Set<string>(vm.uses ?? []);
  for (const d of vm.disks) {
    if (d.file) out.add(d.file);
    for (const f of d.chain) out.add(f);
  }
  for (const s of vm.snapshots) for (const f of s.files) out.add(f);
  return out;
}

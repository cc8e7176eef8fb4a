/**
 * What each VM's chains reference, one row a file, indexed by file: "which domains might use
 * this file?" — the question a VM delete, a snapshot clean-up or a template delete asks before
 * removing files — is then one indexed read over the candidates, not a scan of every domain's
 * chain JSON (src/inventory/read.ts, `referrers`). A row is every file any chain of the VM
 * names: its disks' chains, its persistent definition's, each snapshot's recorded disks and
 * overlays (hypervisor/inventory.ts, `uses`). Written and cleared with the VM's disks.
 *
 * Existing rows are filled from what 006 kept (the disks' chains and files, the snapshots'
 * files) and every VM is marked stale, so the next reconcile reads each whole once and adds
 * what 006 did not keep (persistent definitions, snapshots' recorded disks); a stale VM is a
 * candidate for every file until then (fail closed). Self-contained: plain SQL on the 006 tables.
 */
export const inventoryUses = `
CREATE TABLE inventory_vm_files (
  host        TEXT    NOT NULL,
  file        TEXT    NOT NULL,
  vm_uuid     TEXT    NOT NULL,
  PRIMARY KEY (host, file, vm_uuid),
  FOREIGN KEY (host, vm_uuid) REFERENCES inventory_vms (host, uuid) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX inventory_vm_files_vm ON inventory_vm_files (host, vm_uuid);

INSERT OR IGNORE INTO inventory_vm_files (host, file, vm_uuid)
  SELECT d.host, d.file, d.vm_uuid FROM inventory_vm_disks d WHERE d.file <> '';
INSERT OR IGNORE INTO inventory_vm_files (host, file, vm_uuid)
  SELECT d.host, j.value, d.vm_uuid FROM inventory_vm_disks d, json_each(d.chain) j;
INSERT OR IGNORE INTO inventory_vm_files (host, file, vm_uuid)
  SELECT s.host, j.value, s.vm_uuid FROM inventory_snapshots s, json_each(s.files) j;
UPDATE inventory_vms SET stale = 1;
`;

/**
 * The inventory (src/inventory owns these tables; they live beside the jobs tables in the same
 * database and migrations): what kvmops made and has seen on each host, so lists and
 * autocomplete answer without scanning the host. Written by a job's completion (in the same
 * transaction as its result) and by the reconcile loop. Self-contained: plain SQL on tables of
 * its own, no reference to any other table.
 *
 * Indexes, for the reads the chat makes:
 * - templates by (host, name): the primary key serves `/template list` and prefix autocomplete;
 * - VMs by (host, name): `/vm list` pages in name order, autocomplete by prefix;
 * - disks by (host, template): a template's dependents counted without a scan;
 * - snapshots by (host, vm_uuid, name): a VM's snapshots, autocomplete by prefix.
 */
export const inventory = `
CREATE TABLE inventory_hosts (
  host              TEXT PRIMARY KEY,
  -- epoch ms when the first import of this host completed; NULL until then
  imported_at       INTEGER,
  -- epoch ms of the last completed reconcile
  reconciled_at     INTEGER
) STRICT;

CREATE TABLE inventory_templates (
  host        TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  source_vm   TEXT    NOT NULL,
  sealed      INTEGER NOT NULL CHECK (sealed IN (0, 1)),
  created_at  TEXT    NOT NULL,
  size        INTEGER NOT NULL,
  -- JSON [{ target, file, virtualSize, actualSize }]
  disks       TEXT    NOT NULL,
  seen_at     INTEGER NOT NULL,
  PRIMARY KEY (host, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE inventory_vms (
  host        TEXT    NOT NULL,
  uuid        TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  state       TEXT    NOT NULL,
  -- epoch ms the record was last read whole from the host (the reconcile re-reads the oldest)
  read_at     INTEGER NOT NULL,
  -- 1: something changed it that the record may not show yet; the next reconcile reads it whole
  stale       INTEGER NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
  -- its disks as the listing's \`domstats --block\` showed them when it was read (NULL: written by
  -- a job); another sign in a later listing means the definition changed
  blocks      TEXT,
  PRIMARY KEY (host, uuid)
) STRICT, WITHOUT ROWID;
CREATE INDEX inventory_vms_name ON inventory_vms (host, name);
CREATE INDEX inventory_vms_read ON inventory_vms (host, stale DESC, read_at);

CREATE TABLE inventory_vm_disks (
  host        TEXT    NOT NULL,
  vm_uuid     TEXT    NOT NULL,
  target      TEXT    NOT NULL,
  file        TEXT    NOT NULL,
  format      TEXT    NOT NULL,
  -- JSON array of the backing chain's files, top first
  chain       TEXT    NOT NULL,
  -- the template whose disk is in the chain (a thin disk hangs on it)
  template    TEXT,
  -- why the chain (or the definition) could not be read: what it uses is unknown
  unreadable  TEXT,
  PRIMARY KEY (host, vm_uuid, target),
  FOREIGN KEY (host, vm_uuid) REFERENCES inventory_vms (host, uuid) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX inventory_vm_disks_template ON inventory_vm_disks (host, template) WHERE template IS NOT NULL;
CREATE INDEX inventory_vm_disks_unreadable ON inventory_vm_disks (host) WHERE unreadable IS NOT NULL;

CREATE TABLE inventory_snapshots (
  host        TEXT    NOT NULL,
  vm_uuid     TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('internal', 'external')),
  parent      TEXT,
  -- libvirt's creationTime, unix seconds
  created_at  INTEGER NOT NULL,
  -- JSON array: the files it owns (an external snapshot's read-only bases)
  files       TEXT    NOT NULL,
  PRIMARY KEY (host, vm_uuid, name),
  FOREIGN KEY (host, vm_uuid) REFERENCES inventory_vms (host, uuid) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
`;

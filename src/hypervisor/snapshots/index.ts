/**
 * Snapshots of a VM: create (internal or external), list as a tree, revert (external ones by
 * kvmops itself where libvirt < 9.9 refuses), delete (merging external overlays). The
 * behaviour choices are documented on each operation.
 */
export { createSnapshot } from './create.js';
export { listSnapshots } from './list.js';
export { revertSnapshot } from './revert.js';
export { deleteSnapshot } from './delete.js';

/**
 * Whether a template's guest has cloud-init (src/hypervisor/cloud-init.ts), as the template's
 * own XML says it (`cloud-init='yes|no'`, absent: unknown). Rows written before this are
 * 'unknown' until the reconcile reads their template again. Self-contained DDL.
 */
export const templateCloudInit = `
ALTER TABLE inventory_templates ADD COLUMN cloud_init TEXT NOT NULL DEFAULT 'unknown' CHECK (cloud_init IN ('yes', 'no', 'unknown'));
`;

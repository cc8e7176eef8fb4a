import { z } from 'zod';

/**
 * Names of VMs, templates and snapshots (CONTRACT.md): 1–63 characters of `A-Z a-z 0-9 . _ -`,
 * starting with a letter or digit. This is what keeps names safe as file names, as virsh
 * arguments and inside virsh's own `a; b` command strings: no spaces, quotes, slashes or `;`.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, 'must be 1–63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit');

export const vmNameSchema = nameSchema.describe('VM name');
export const templateNameSchema = nameSchema.describe('template name');
export const snapshotNameSchema = nameSchema.describe('snapshot name');

/** Host names in KVMOPS_HOSTS: same rule, so they can appear in file and pool names too. */
export const hostNameSchema = nameSchema.describe('host name');

export function isValidName(s: string): boolean {
  return NAME_PATTERN.test(s);
}

/** `name-01` … `name-NN` for count > 1; the name itself for a single VM (CONTRACT.md /deploy). */
export function deployNames(name: string, count: number): string[] {
  if (count === 1) return [name];
  return Array.from({ length: count }, (_, i) => `${name}-${String(i + 1).padStart(2, '0')}`);
}

import { z } from 'zod';

/**
 * Names of VMs, templates, snapshots and hosts (docs/commands.md "Names"): 1–63 characters of
 * `A-Z a-z 0-9 . _ -`, starting with a letter or digit. This is what keeps names safe as virsh
 * arguments and inside virsh's own `a; b` command strings: no spaces, quotes, slashes or `;`.
 *
 * Two more rules, because virsh reads a domain argument as an id first, then as a uuid, then as
 * a name: a name libvirt could read as an id (all digits) or as a uuid (32 hex digits, with or
 * without dashes) is refused, so the name typed in chat can never select another domain.
 */
export const MAX_NAME_LENGTH = 63;
export const NAME_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_NAME_LENGTH - 1}}$`);

const ALL_DIGITS = /^[0-9]+$/;

/** libvirt's virUUIDParse skips `-` between hex pairs: 32 hex digits once dashes are gone. */
export function isUuidShaped(s: string): boolean {
  return /^[0-9A-Fa-f]{32}$/.test(s.replace(/-/g, ''));
}

/** Why `s` is not a valid name, or null when it is. The reason is shown to users as it is. */
export function nameProblem(s: string): string | null {
  if (!NAME_PATTERN.test(s)) return `must be 1–${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ -, starting with a letter or digit`;
  if (ALL_DIGITS.test(s)) return 'must not be all digits (libvirt would read it as a domain id)';
  if (isUuidShaped(s)) return 'must not look like a uuid (libvirt would read it as a domain uuid)';
  return null;
}

export function isValidName(s: string): boolean {
  return nameProblem(s) === null;
}

/**
 * libguestfs' appliance domains (`guestfs-` and random lower-case letters and digits, made while
 * virt-sysprep seals a template with the libvirt backend) are tools, not machines: kvmops leaves
 * them out of every list of VMs (hypervisor/vms.ts), so no one stops or deletes one mid-seal.
 * A VM named like that would vanish from every list and command, so such VM names are refused
 * up front instead (`vmNameProblem`), rather than showing appliances as VMs.
 */
const APPLIANCE_NAME = /^guestfs-[a-z0-9]+$/;

/** True for a name libvirt lists that kvmops hides: a libguestfs appliance domain. */
export function isApplianceName(s: string): boolean {
  return APPLIANCE_NAME.test(s);
}

/**
 * Why `s` is not a valid VM name, or null: the name rule plus no name kvmops hides. Templates
 * need no extra rule: templates are files, and the only template names kvmops leaves out of a
 * list are the ones `nameProblem` already refuses.
 */
export function vmNameProblem(s: string): string | null {
  const problem = nameProblem(s);
  if (problem !== null) return problem;
  if (isApplianceName(s)) {
    return 'must not be shaped like a libguestfs appliance domain (guestfs- and letters or digits): kvmops hides such domains from every list and command';
  }
  return null;
}

function schemaOf(problemOf: (s: string) => string | null) {
  return z.string().superRefine((s, ctx) => {
    const problem = problemOf(s);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });
}

export const nameSchema = schemaOf(nameProblem);

export const vmNameSchema = schemaOf(vmNameProblem).describe('VM name');
export const templateNameSchema = nameSchema.describe('template name');
export const snapshotNameSchema = nameSchema.describe('snapshot name');

/** Host names in KVMOPS_HOSTS: same rule, so they can appear in file and pool names too. */
export const hostNameSchema = nameSchema.describe('host name');

/** The most VMs one /deploy makes (its `count`). */
export const MAX_DEPLOY_COUNT = 20;
/** With count > 1 a `-NN` suffix is added, so the base name must leave room for it. */
export const MAX_BATCH_BASE_LENGTH = MAX_NAME_LENGTH - 3;

/**
 * `name-01` … `name-NN` for count > 1; the name itself for a single VM (/deploy). With `first`
 * (one host's share of a placed deploy, `/deploy host:auto`): always numbered, from `first` —
 * `web-03`, `web-04` of a `web` ×4 whose first two went to another host.
 */
export function deployNames(name: string, count: number, first?: number): string[] {
  if (count === 1 && first === undefined) return [name];
  const from = first ?? 1;
  return Array.from({ length: count }, (_, i) => `${name}-${String(from + i).padStart(2, '0')}`);
}

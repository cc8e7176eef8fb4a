import { z } from 'zod';
import { MAX_NAME_LENGTH, vmNameProblem } from './names.js';

/**
 * A list filter over names (`/vm list filter:`): with `*` (any run) or `?` (one character) it is
 * a glob over the WHOLE name, case-sensitive like names themselves (`web-*`, `db-0?`); without,
 * a case-insensitive substring (`web` finds `Web-01` and `old-web`). Only name characters and
 * the two wildcards: no `[`, no spaces, so a filter is also safe in a button's custom id and in
 * SQLite's GLOB (src/inventory/read.ts answers it there; `matchesFilter` is the same rule in
 * memory, for a list read from the host).
 */
export const FILTER_PATTERN = new RegExp(`^[A-Za-z0-9._*?-]{1,${MAX_NAME_LENGTH}}$`);

export const nameFilterSchema = z
  .string()
  .regex(FILTER_PATTERN, `up to ${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ - and the wildcards * and ?`)
  .describe('name filter');

export function isGlob(filter: string): boolean {
  return /[*?]/.test(filter);
}

/** The filter as a predicate on names (the inventory's SQL says the same: read.ts `vmPage`). */
export function matchesFilter(filter: string): (name: string) => boolean {
  if (!isGlob(filter)) {
    const sub = filter.toLowerCase();
    return (name) => name.toLowerCase().includes(sub);
  }
  const re = new RegExp(`^${[...filter].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&'))).join('')}$`, 's');
  return (name) => re.test(name);
}

/**
 * The `vm` of a command that acts on VMs (`/snapshot create|revert|delete`, `/vm start|stop|delete`):
 * a VM name (names.ts `vmNameProblem`, unchanged) or, with `*` or `?`, a glob over the whole name
 * of the host's VMs (`web-*`, `db-0?`): name characters and those two wildcards only, up to the
 * name's length. Why not, or null.
 */
export function vmTargetProblem(s: string): string | null {
  if (!isGlob(s)) return vmNameProblem(s);
  return FILTER_PATTERN.test(s) ? null : `a pattern is up to ${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ - and the wildcards * and ?`;
}

export const vmTargetSchema = z
  .string()
  .superRefine((s, ctx) => {
    const problem = vmTargetProblem(s);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  })
  .describe('VM name or pattern');

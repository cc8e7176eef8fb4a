/**
 * The numbers of a scheduled snapshot (`/schedule create`, the contract): a period of at least a
 * minute, 1–100 snapshots kept per VM. The command shows them, the store refuses anything else,
 * and the table's CHECKs say the same (migration 012).
 */
export const MIN_EVERY_MS = 60_000;
export const MIN_KEEP = 1;
export const MAX_KEEP = 100;

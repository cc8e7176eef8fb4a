import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The lease owner: machine, process and a random part, so a restarted process (same pid after a
 * container restart) never passes for the one that held the old leases.
 */
export function workerOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

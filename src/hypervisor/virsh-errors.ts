import type { ErrorCode } from '../domain/errors.js';
import { CommandError } from './exec.js';

/**
 * virsh's failures into stable codes. Every failure exits 1: only stderr tells them apart
 * (docs/host-notes.md "Parsing virsh").
 */

/** stderr patterns of libvirt 9.0 → codes. First match wins; order from specific to general. */
const STDERR_CODES: ReadonlyArray<[RegExp, ErrorCode]> = [
  [/failed to connect to the hypervisor|Cannot recv data|End of file while reading data|unable to connect to server/i, 'host-unreachable'],
  [/Domain snapshot not found|no domain snapshot with matching name/i, 'snapshot-not-found'],
  [/failed to get domain|Domain not found|no domain with matching name/i, 'vm-not-found'],
  [/Domain is already active|domain is already running/i, 'vm-running'],
  [/domain is not running/i, 'vm-not-running'],
  [/already exists with uuid|domain '.*' already exists|already exists/i, 'name-taken'],
  [/revert to external snapshot not supported/i, 'unsupported'],
];

export function classifyVirshError(stderr: string): ErrorCode {
  for (const [re, code] of STDERR_CODES) if (re.test(stderr)) return code;
  return 'command-failed';
}

/** Refine a CommandError from the virsh process into its stable code (same command, stderr, cause). */
export function refineVirshError(e: unknown): unknown {
  if (!(e instanceof CommandError) || e.code !== 'command-failed') return e;
  const code = classifyVirshError(e.stderr);
  if (code === 'command-failed') return e;
  return new CommandError(code, e.message, { argv: e.argv, exitCode: e.exitCode, stderr: e.stderr, cause: e });
}

import { KvmopsError } from '../domain/errors.js';
import { nameProblem, vmNameProblem } from '../domain/names.js';
import type { VmTarget } from './types.js';
import { isDomainUuid, type DomainUuid } from './domain-uuid.js';

/**
 * Defence in depth beneath the chat-side validation: every hypervisor entry point checks its
 * names again BEFORE any program runs, so a bad name can never become a virsh argument, a file
 * name or part of a virsh command string.
 */
export function assertName(value: unknown, what: string): string {
  // a VM name also must not be one kvmops hides (names.ts `vmNameProblem`)
  const problemOf = what === 'VM' ? vmNameProblem : nameProblem;
  const problem = typeof value === 'string' ? problemOf(value) : 'must be a string';
  if (problem !== null) {
    throw new KvmopsError('invalid-input', `${what} ${JSON.stringify(value)} is not a valid name: it ${problem}`, { details: { what } });
  }
  return value as string;
}

/** A VM target checked: its name as a name, its pinned uuid (if any) as a canonical uuid. */
export function vmTarget(t: string | VmTarget): { vm: string; vmUuid: DomainUuid | undefined } {
  const { vm, vmUuid } = typeof t === 'string' ? { vm: t, vmUuid: undefined } : t;
  assertName(vm, 'VM');
  if (vmUuid !== undefined && !isDomainUuid(vmUuid)) throw new KvmopsError('invalid-input', `pinned VM uuid ${JSON.stringify(vmUuid)} is not a uuid`);
  return { vm, vmUuid };
}

/** Names of guest disk targets (`vda`, `sdb`, `hdc` …): they become parts of file names. */
export function assertDiskTarget(value: string): string {
  if (!/^[a-z]{2,4}[a-z0-9]{0,8}$/.test(value)) {
    throw new KvmopsError('unexpected-output', `disk target ${JSON.stringify(value)} is not a target kvmops understands`);
  }
  return value;
}

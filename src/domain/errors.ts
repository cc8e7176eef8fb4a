/**
 * Errors with stable codes. Every failure that reaches a user, a job row or a log carries one of
 * these codes; the code is the contract (tests, chat replies and retry policy key on it), the
 * message is for humans. `cause` keeps the underlying error (a CommandError, a SQLite error …).
 */
export const ERROR_CODES = [
  // input and authorization: refused before a job exists
  'invalid-input',
  'forbidden',
  'rate-limited',
  'wrong-guild',
  /** A VM pattern matched more VMs than KVMOPS_MAX_BATCH allows in one batch. */
  'too-many-vms',
  /** `/deploy host:auto`: no placement fits every VM (memory or storage short, or no host may take them). */
  'no-capacity',
  // things that are not there, or are in the way
  'host-not-found',
  'vm-not-found',
  'template-not-found',
  'snapshot-not-found',
  'job-not-found',
  /** `/key remove`: the person has no key of that name. */
  'key-not-found',
  /** `/schedule delete`: no schedule has that id. */
  'schedule-not-found',
  /** `/deploy profile:`: no `NAME.yaml` in KVMOPS_PROFILES_DIR (or no folder configured). */
  'profile-not-found',
  /** `/deploy profile:`: the profile's file was refused at start-up (the message says where and why). */
  'profile-invalid',
  'name-taken',
  /** `/key add`: the person already stored this key (same key data, whatever its comment or name). */
  'key-exists',
  'vm-running',
  'vm-not-running',
  'vm-is-template',
  'template-in-use',
  /** A disk chain (or domain XML) could not be read, so what depends on what is unknown: refused, nothing removed. */
  'chain-unreadable',
  'snapshot-has-children',
  /** The object a job pinned at request time is gone, and another now has its name: nothing was done to it. */
  'target-changed',
  /** The object a job pinned at request time is gone. */
  'target-gone',
  'duplicate-job',
  'already-decided',
  'not-cancellable',
  'path-outside-storage',
  'unsupported',
  'sysprep-unavailable',
  // running programs
  'host-unreachable',
  'command-failed',
  'command-timeout',
  'aborted',
  'unexpected-output',
  // the queue
  'lease-lost',
  /** SQLite refused a write for now (locked by another process, or full): nothing was written. */
  'db-busy',
  'shutting-down',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes whose failures may succeed when simply tried again later (the retry policy's input). */
export const TRANSIENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'host-unreachable',
  'command-timeout',
  'lease-lost',
  'shutting-down',
  'db-busy',
]);

export interface KvmopsErrorOptions {
  cause?: unknown;
  /** Extra machine-readable facts (e.g. `{ jobId }` for duplicate-job). Must be JSON-safe. */
  details?: Record<string, unknown>;
}

export class KvmopsError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: KvmopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KvmopsError';
    this.code = code;
    this.details = options.details ?? {};
  }

  get transient(): boolean {
    return TRANSIENT_CODES.has(this.code);
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isKvmopsError(e: unknown, code?: ErrorCode): e is KvmopsError {
  return e instanceof KvmopsError && (code === undefined || e.code === code);
}

/** Any thrown value as a KvmopsError: unknown errors become `internal`, keeping the cause. */
export function toKvmopsError(e: unknown): KvmopsError {
  if (e instanceof KvmopsError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new KvmopsError('internal', message, { cause: e });
}

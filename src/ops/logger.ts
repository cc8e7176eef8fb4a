import { pino, type DestinationStream, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

/**
 * Structured logs (pino, one JSON object a line on stdout; journald keeps them under systemd).
 *
 * Contract:
 * - The Discord bot token never reaches a log line: every path below is replaced by
 *   `[Redacted]`. Log the token's *presence* (`hasToken: true`), never the value.
 * - Errors are logged under `err` (`log.error({ err }, '…')` or `log.error(err, '…')`) and keep
 *   what the rest of kvmops keys on: the stable `code`, the machine-readable `details` (for a
 *   CommandError: command, exit code, stderr) and the whole `cause` chain. Nothing else of an
 *   error's own properties is copied: an execa result as a cause would otherwise dump a child's
 *   complete stdout into the log.
 */

export type AppLogger = PinoLogger;
export type LogLevel = LevelWithSilent;

/**
 * Token-like paths. pino's `*` matches exactly one level, so the common places are listed: the
 * top level, one object down (`{ env: { DISCORD_TOKEN } }`, `{ client: { token } }`) and HTTP
 * headers of a request or response object.
 */
export const REDACT_PATHS: readonly string[] = [
  'token',
  '*.token',
  '*.*.token',
  'accessToken',
  '*.accessToken',
  'password',
  '*.password',
  'DISCORD_TOKEN',
  '*.DISCORD_TOKEN',
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
];

export interface LoggerOptions {
  level: LogLevel;
  /** Component name, shown as `name` on every line (`kvmops`, `worker` …). */
  name?: string;
  /** Where lines go; stdout when omitted. Tests pass a stream and parse what arrives. */
  destination?: DestinationStream;
}

export interface SerializedError {
  type: string;
  message: string;
  stack?: string | undefined;
  code?: string | number | undefined;
  details?: unknown;
  cause?: SerializedError | { value: string } | undefined;
}

/** How deep a cause chain is followed (a cycle or a pathological chain stops here). */
const MAX_CAUSE_DEPTH = 5;

/** An error (ours or anyone's) as a bounded, JSON-safe object; see the module comment. */
export function serializeError(e: unknown, depth = 0): SerializedError | { value: string } {
  if (!(e instanceof Error)) {
    if (e !== null && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
      // Error-like (e.g. from another realm): keep the same fields.
      return serializeErrorLike(e as Error & Record<string, unknown>, depth);
    }
    return { value: typeof e === 'string' ? e : safeString(e) };
  }
  return serializeErrorLike(e as Error & Record<string, unknown>, depth);
}

function serializeErrorLike(e: Error & Record<string, unknown>, depth: number): SerializedError {
  const out: SerializedError = {
    type: typeof e.name === 'string' && e.name ? e.name : (e.constructor?.name ?? 'Error'),
    message: e.message,
    stack: e.stack,
  };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (e.details !== undefined) out.details = e.details;
  if (e.cause !== undefined) {
    out.cause = depth + 1 >= MAX_CAUSE_DEPTH ? { value: '(cause chain truncated)' } : serializeError(e.cause, depth + 1);
  }
  return out;
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return '(unprintable)';
  }
}

export function createLogger(opts: LoggerOptions): AppLogger {
  const options = {
    level: opts.level,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    redact: { paths: [...REDACT_PATHS], censor: '[Redacted]' },
    serializers: { err: serializeError, error: serializeError },
    // ISO time reads better in journalctl than epoch ms and sorts the same.
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

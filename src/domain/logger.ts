/**
 * The one logger port of kvmops: the worker, the notifier and the chat layer (which needs only
 * `warn` and `error`: `Pick<Logger, 'warn' | 'error'>`) log through it. pino's Logger
 * (src/ops/logger.ts) satisfies it (`logger.info(obj, msg)`), so the app passes its pino
 * instance without an adapter.
 */
export interface Logger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
};

/**
 * The default when no logger is given: warnings and errors to stderr, info dropped. Not silent:
 * a store error swallowed here would look like a job that hangs for no reason.
 */
export const stderrLogger: Logger = {
  info() {},
  warn(obj, msg) {
    console.warn(`kvmops warn: ${msg ?? ''}`, obj);
  },
  error(obj, msg) {
    console.error(`kvmops error: ${msg ?? ''}`, obj);
  },
};

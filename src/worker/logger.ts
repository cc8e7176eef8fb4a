/**
 * The minimal logger the worker and the notifier need. pino's Logger satisfies it
 * (`logger.info(obj, msg)`), so the bot can pass its pino instance later without an adapter.
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

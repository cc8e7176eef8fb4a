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

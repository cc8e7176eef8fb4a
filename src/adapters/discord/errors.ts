import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { PermanentSinkError } from '../../notifier/types.js';

/**
 * Discord REST failures → what the notifier should do with them.
 *
 * discord.js already waits out short 429s and retries 5xx three times; whatever it finally
 * throws is retryable unless Discord said something retrying cannot change: the channel is
 * unknown or the bot may not use it (403 / 404), or the body is refused (400).
 */

/** Discord JSON error codes kvmops acts on. */
export const DiscordCode = {
  UnknownChannel: 10003,
  UnknownMessage: 10008,
  UnknownMember: 10007,
  UnknownInteraction: 10062,
  MissingAccess: 50001,
  MissingPermissions: 50013,
  /** "Too many edits to messages older than 1 hour": post a fresh status message. */
  OldMessageEditLimit: 30046,
} as const;

export function discordCode(e: unknown): number | undefined {
  return e instanceof DiscordAPIError && typeof e.code === 'number' ? e.code : undefined;
}

/** HTTP status of a failed REST call, or `network` when there was no response. */
export function restStatus(e: unknown): number | string {
  if (e instanceof DiscordAPIError || e instanceof HTTPError) return e.status;
  if (e instanceof RateLimitError) return 429;
  return 'network';
}

/** Thrown for failures the notifier should retry later (429, 5xx, network, timeouts). */
export class RetryableSinkError extends Error {
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableSinkError';
  }
}

export function isPermanentRestError(e: unknown): boolean {
  if (e instanceof DiscordAPIError) {
    // 429 comes as RateLimitError / after waits; 5xx as HTTPError. Client errors other than
    // rate limits cannot heal by themselves (401 aside: a bad token is fixed by a restart, and
    // retrying until then loses nothing).
    return e.status === 400 || e.status === 403 || e.status === 404;
  }
  return false;
}

/** Rethrows `e` classified for the notifier. */
export function toSinkError(e: unknown, what: string): Error {
  const detail = e instanceof Error ? e.message : String(e);
  if (isPermanentRestError(e)) return new PermanentSinkError(`${what}: ${detail}`, { cause: e });
  return new RetryableSinkError(`${what}: ${detail} (will retry)`, { cause: e });
}

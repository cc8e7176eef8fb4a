import type { Hypervisor } from '../hypervisor/types.js';

/**
 * The chat-neutral interface (the Hubot way): commands/ see only these types; each chat
 * adapter (Discord, shell) turns its platform's events into them and renders `Reply` back.
 * Nothing here knows discord.js.
 */

/** Levels: admin ⊃ operator ⊃ viewer. approver is separate (docs/commands.md). */
export type Role = 'viewer' | 'operator' | 'admin' | 'approver';

export interface ChatUser {
  id: string;
  /** Display name, for messages and audit. */
  name: string;
  /** Effective roles, hierarchy already applied (an admin also holds operator and viewer). */
  roles: ReadonlySet<Role>;
  /** A bot account (our own ✅/❌ on an approval request, or another bot): never counts. */
  bot?: boolean;
}

/** Where a command was typed: the same place receives the job's notifications. */
export interface ChatPlace {
  adapter: string;
  guildId: string | null;
  channelId: string;
}

/** `user`: a member of the chat (Discord's user option; the shell's `@name`), delivered as the user's id. */
export type OptionType = 'string' | 'integer' | 'boolean' | 'user';

/** Which names an option completes from (served from a short-lived cache). */
export type AutocompleteSource = 'template' | 'vm' | 'snapshot' | 'host' | 'profile';

export interface OptionDef {
  name: string;
  description: string;
  type: OptionType;
  required?: boolean;
  choices?: ReadonlyArray<{ name: string; value: string | number }>;
  minValue?: number;
  maxValue?: number;
  minLength?: number;
  maxLength?: number;
  autocomplete?: AutocompleteSource;
}

export interface SubcommandDef {
  name: string;
  description: string;
  options: OptionDef[];
  /** Role needed to run it. */
  role: Exclude<Role, 'approver'>;
  /** Changes something (rate-limited per user) or only reads. */
  mutates: boolean;
}

/**
 * A slash command. Either it has subcommands (`/template create`), or it is a single command
 * (`/deploy`) described by exactly one SubcommandDef whose name equals the command's.
 */
export interface CommandDef {
  name: string;
  description: string;
  subcommands: SubcommandDef[];
  /** true when `subcommands` is the command itself (no subcommand level in the chat UI). */
  flat: boolean;
}

/** Option values as the platform delivered them, before zod. */
export type RawOptions = Record<string, string | number | boolean | undefined>;

export interface Reply {
  /** ephemeral: only the invoker sees it (refusals, reads); public: the channel sees it. */
  visibility: 'ephemeral' | 'public';
  /** Title line. */
  title: string;
  /** Body lines (plain text; adapters may format). */
  lines: string[];
  /** Colour hint for adapters that have colours. */
  tone: 'info' | 'success' | 'warning' | 'error';
  /** Set when the reply is an approval request: the adapter posts it publicly, adds ✅ and ❌, and attaches the message to the approval. */
  approvalJobId?: number;
  /** Set when the reply accepted a job (the notifier will report on it in the same place). */
  jobId?: number;
  /** The job's request id, with `jobId`: what keys a message that must be posted once (Discord's nonce). */
  requestId?: string;
  /** Set on refusals and errors: the KvmopsError code (src/domain/errors.ts), for adapters and tests. */
  code?: string;
  /**
   * Set on one page of a longer list ("showing 51–100 of 3,000"): the adapter offers the pages
   * before and after (Discord: Previous / Next buttons; the shell: `more` / `back`), each a new
   * run of the same command and options with `Invocation.offset` set — no page lives in memory.
   */
  page?: ReplyPage;
}

/** Where a page sits in its list: items `offset`… (0-based), at most `limit` of them, of `total`. */
export interface ReplyPage {
  offset: number;
  limit: number;
  total: number;
  /** The count stopped at its cap: there are more than `total` ("of more than 10,000"). */
  capped?: boolean;
}

/** A choice offered by autocomplete. */
export interface Choice {
  name: string;
  value: string;
}

export interface ReactionEvent {
  place: ChatPlace;
  messageId: string;
  user: ChatUser;
  /** The emoji as a unicode string, e.g. '✅'. */
  emoji: string;
}

export type ReactionOutcome =
  | { kind: 'approved'; jobId: number }
  | { kind: 'rejected'; jobId: number }
  | { kind: 'ignored'; reason: 'not-an-approval' | 'requester' | 'not-approver' | 'other-emoji' | 'already-decided' | 'bot' };

export type { Hypervisor };

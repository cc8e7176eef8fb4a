import type { z } from 'zod';
import type { OptionSet } from './options.js';
import type { Services } from './services.js';
import type { ChatPlace, ChatUser, CommandDef, Reply, SubcommandDef } from './types.js';

/**
 * The shape of a command module (commands/*.ts), the discord.js-guide way: one slash command per
 * file exporting its definition and its handlers. `defineCommand` keeps a subcommand's
 * definition, options and handler side by side, then splits them into the chat-facing
 * `CommandDef` (what adapters register) and the handlers (what the router runs). Both halves
 * come from the same spec, so every subcommand has its handler and its handler parses exactly
 * the options the subcommand shows.
 */

/** What a handler receives: options already parsed (at the chat edge, once), user already authorized. */
export interface HandlerContext<O> {
  options: O;
  user: ChatUser;
  place: ChatPlace;
  services: Services;
  /** Where a paged list starts (0: its first page); set by a Next / Previous click or `more`. */
  offset: number;
  /** A handler acting on an existing job (e.g. cancel) names it here for the audit row. */
  auditJob(jobId: number): void;
}

export interface SubcommandHandler {
  /** The subcommand's options: the router parses what the platform delivered with them. */
  options: OptionSet;
  /**
   * The handler reads a host (lists, existence checks): the adapter should acknowledge first
   * (Discord: defer), as it may take longer than the 3 s interaction deadline.
   */
  defer: boolean;
  /**
   * Parse is done; authorize-specific checks, enqueue or read, and reply. Never runs virsh: reads
   * go through `services.hypervisor` / `services.catalog`. Throw KvmopsError to refuse.
   */
  handle(ctx: HandlerContext<any>): Promise<Reply>;
}

export interface CommandModule {
  def: CommandDef;
  /** By subcommand name (for a flat command: its own name). */
  handlers: Record<string, SubcommandHandler>;
}

/** One subcommand, defined in one place. */
export interface SubcommandSpec<S extends z.ZodTypeAny> extends Omit<SubcommandDef, 'options'> {
  options: OptionSet<S>;
  defer: boolean;
  /**
   * A property, not a method, so its parameter is checked strictly: a handler that needs more
   * than the options give (e.g. `enqueues(kind)`: the payload's fields) does not compile.
   */
  handle: (ctx: HandlerContext<z.output<S>>) => Promise<Reply>;
}

export function subcommand<S extends z.ZodTypeAny>(spec: SubcommandSpec<S>): SubcommandSpec<S> {
  return spec;
}

export function defineCommand(spec: {
  name: string;
  description: string;
  /** A command without a subcommand level (`/deploy`): exactly one spec, named like the command. */
  flat?: boolean;
  subcommands: Array<SubcommandSpec<any>>;
}): CommandModule {
  const handlers: Record<string, SubcommandHandler> = {};
  const subcommands: SubcommandDef[] = [];
  for (const { options, defer, handle, ...def } of spec.subcommands) {
    subcommands.push({ ...def, options: options.defs });
    handlers[def.name] = { options, defer, handle };
  }
  return {
    def: { name: spec.name, description: spec.description, flat: spec.flat ?? false, subcommands },
    handlers,
  };
}

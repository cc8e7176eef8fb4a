import type { z } from 'zod';
import type { Services } from './services.js';
import type { ChatPlace, ChatUser, CommandDef, Reply, SubcommandDef } from './types.js';

/**
 * The shape of a command module (commands/*.ts), the discord.js-guide way: one slash command per
 * file exporting its definition and its handlers. `defineCommand` keeps a subcommand's
 * definition, schema and handler side by side, then splits them into the chat-facing
 * `CommandDef` (what adapters register) and the handlers (what the router runs).
 */

/** What a handler receives: options already parsed by its schema, user already authorized. */
export interface HandlerContext<O> {
  options: O;
  user: ChatUser;
  place: ChatPlace;
  services: Services;
  /** A handler acting on an existing job (e.g. cancel) names it here for the audit row. */
  auditJob(jobId: number): void;
}

export interface SubcommandHandler {
  /** zod object of the options: defaults from the contract; keys = the option names. */
  schema: z.AnyZodObject;
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
export interface SubcommandSpec<S extends z.AnyZodObject> extends SubcommandDef {
  schema: S;
  defer: boolean;
  handle(ctx: HandlerContext<z.output<S>>): Promise<Reply>;
}

export function subcommand<S extends z.AnyZodObject>(spec: SubcommandSpec<S>): SubcommandSpec<S> {
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
  for (const s of spec.subcommands) {
    const { schema, defer, handle, ...def } = s;
    subcommands.push(def);
    handlers[s.name] = { schema, defer, handle };
  }
  return {
    def: { name: spec.name, description: spec.description, flat: spec.flat ?? false, subcommands },
    handlers,
  };
}

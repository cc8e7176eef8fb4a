import {
  ApplicationCommandOptionType,
  type APIEmbed,
  GuildMember,
  MessageFlags,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type CommandInteractionOption,
  type Interaction,
} from 'discord.js';
import type { ChatCore } from '../../chat/adapter-port.js';
import { APPROVE, REJECT } from '../../chat/approval-reactions.js';
import type { Invocation } from '../../chat/router.js';
import type { RolePolicy } from '../../chat/roles.js';
import type { ApprovalsPort, ChatLogger, JobsPort } from '../../chat/services.js';
import type { ChatPlace, ChatUser, RawOptions, Reply } from '../../chat/types.js';
import type { ChannelApi } from './channel-api.js';
import { NO_MENTIONS, autocompleteChoices, nonceFor, publicAck, publicMessage, replyMessage } from './render.js';

/**
 * Interactions → the command router, and its Reply back to Discord.
 *
 * The 3-second rule: a command whose handler reads a host or changes something is deferred
 * (ephemeral) before the router runs — before any database write, which may have to wait for a
 * lock another process holds; any other command (reads: their only write is the audit row) is
 * answered directly, and deferred anyway if it has not answered after `safetyDeferMs`.
 * Refusals are ephemeral (the router makes them); the place check (other guilds, DMs) is the
 * router's too. An approval request is public: the deferred reply becomes a one-line
 * acknowledgement and the request is a channel message carrying ✅ and ❌, attached to its
 * approval before the reactions are added (a ✅ must find it).
 *
 * One central catch: anything thrown here is logged with its cause and answered ephemerally.
 */

export const ADAPTER = 'discord';

export interface InteractionDeps {
  router: ChatCore['router'];
  roles: RolePolicy;
  /** Services' ports: their writes wait out a busy database. */
  approvals: Pick<ApprovalsPort, 'attachMessage'>;
  /** Cancels a job whose approval request could not be posted (nobody could approve it). */
  jobs: Pick<JobsPort, 'requestCancel'>;
  api: ChannelApi;
  botUserId(): string;
  log: ChatLogger;
  /** Defer a command that has not answered after this long (default 1500 ms). */
  safetyDeferMs?: number;
  /** While shutting down: commands get this answer and reach no handler. */
  refuseAll?(): string | null;
}

type RoleCarrier = GuildMember | { roles: readonly string[] } | null;

/** Platform role ids of the member, @everyone (the guild id) included on both member shapes. */
export function memberRoleIds(member: RoleCarrier, guildId: string | null): string[] {
  const ids = member instanceof GuildMember ? [...member.roles.cache.keys()] : [...(member?.roles ?? [])];
  if (guildId && !ids.includes(guildId)) ids.push(guildId);
  return ids;
}

export function chatUser(
  interaction: Pick<ChatInputCommandInteraction, 'user' | 'member' | 'guildId'>,
  roles: RolePolicy,
): ChatUser {
  const member = interaction.member as RoleCarrier;
  const name =
    (member instanceof GuildMember ? member.displayName : (member as { nick?: string | null } | null)?.nick) ??
    interaction.user.globalName ??
    interaction.user.username;
  return {
    id: interaction.user.id,
    name,
    // Only members of a guild have roles; a DM carries none (and the router refuses it anyway).
    roles: interaction.guildId ? roles.rolesFor(memberRoleIds(member, interaction.guildId)) : new Set(),
    bot: interaction.user.bot,
  };
}

/** `/snapshot create vm:x` → { subcommand: 'create', options: { vm: 'x' } }; flat commands have no subcommand. */
export function invocationOptions(data: readonly CommandInteractionOption[]): { subcommand: string | null; options: RawOptions; focused?: { name: string; value: string } } {
  let subcommand: string | null = null;
  let leaf = data;
  const first = data[0];
  if (first && (first.type === ApplicationCommandOptionType.Subcommand || first.type === ApplicationCommandOptionType.SubcommandGroup)) {
    subcommand = first.name;
    leaf = first.options ?? [];
    const inner = leaf[0];
    if (first.type === ApplicationCommandOptionType.SubcommandGroup && inner) {
      subcommand = inner.name; // no groups in the contract; take the subcommand inside
      leaf = inner.options ?? [];
    }
  }
  const options: RawOptions = {};
  let focused: { name: string; value: string } | undefined;
  for (const o of leaf) {
    const v = o.value;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') options[o.name] = v;
    if (o.focused) focused = { name: o.name, value: String(v ?? '') };
  }
  return { subcommand, options, ...(focused ? { focused } : {}) };
}

export function placeOf(interaction: Pick<Interaction, 'guildId' | 'channelId'>): ChatPlace {
  return { adapter: ADAPTER, guildId: interaction.guildId ?? null, channelId: interaction.channelId ?? '' };
}

export function createInteractionHandler(deps: InteractionDeps): (interaction: Interaction) => Promise<void> {
  return async (interaction) => {
    if (interaction.isAutocomplete()) return autocomplete(interaction, deps);
    if (interaction.isChatInputCommand()) return command(interaction, deps);
  };
}

async function autocomplete(interaction: AutocompleteInteraction, deps: InteractionDeps): Promise<void> {
  try {
    const { subcommand, options, focused } = invocationOptions(interaction.options.data);
    const choices = deps.refuseAll?.()
      ? []
      : await deps.router.complete({
          command: interaction.commandName,
          subcommand,
          options,
          user: chatUser(interaction, deps.roles),
          place: placeOf(interaction),
          focused: focused?.name ?? '',
          value: focused?.value ?? '',
        });
    await interaction.respond(autocompleteChoices(choices));
  } catch (e) {
    deps.log.warn({ err: e, command: interaction.commandName }, 'autocomplete answer failed');
  }
}

/** Answers an interaction at most once, deferring first when asked; later answers edit the deferred reply. */
class Responder {
  private deferred: Promise<unknown> | null = null;
  private answered = false;

  constructor(private readonly interaction: ChatInputCommandInteraction) {}

  defer(): void {
    if (this.deferred || this.answered) return;
    this.deferred = this.interaction.deferReply({ flags: MessageFlags.Ephemeral });
  }

  /** Pings nobody: discord.js takes `allowedMentions` here, not the body's `allowed_mentions`. */
  async send(body: { embeds: APIEmbed[] } | { content: string }): Promise<void> {
    const message = { ...('embeds' in body ? { embeds: body.embeds } : { content: body.content }), allowedMentions: NO_MENTIONS };
    if (this.deferred) {
      await this.deferred;
      await this.interaction.editReply({ content: null, embeds: [], ...message });
    } else if (!this.answered) {
      this.answered = true;
      await this.interaction.reply({ ...message, flags: MessageFlags.Ephemeral });
    } else {
      await this.interaction.followUp({ ...message, flags: MessageFlags.Ephemeral });
    }
  }

  get acknowledged(): boolean {
    return this.answered || this.deferred !== null || this.interaction.replied || this.interaction.deferred;
  }
}

async function command(interaction: ChatInputCommandInteraction, deps: InteractionDeps): Promise<void> {
  const responder = new Responder(interaction);
  let safety: NodeJS.Timeout | undefined;
  try {
    const refusal = deps.refuseAll?.();
    if (refusal) {
      await responder.send({ content: refusal });
      return;
    }
    const { subcommand, options } = invocationOptions(interaction.options.data);
    const inv: Invocation = {
      command: interaction.commandName,
      subcommand,
      options,
      user: chatUser(interaction, deps.roles),
      place: placeOf(interaction),
    };
    if (deps.router.needsDefer(inv)) responder.defer();
    else safety = setTimeout(() => responder.defer(), deps.safetyDeferMs ?? 1500);
    const reply = await deps.router.handle(inv);
    clearTimeout(safety);
    if (reply.visibility === 'public' && reply.approvalJobId !== undefined) {
      await approvalRequest(reply, inv, responder, deps);
    } else if (reply.visibility === 'public') {
      // Public answers are channel messages (bot token), the acknowledgement stays private.
      await deps.api.send(inv.place.channelId, publicMessage(reply, nonceFor('reply', interaction.id)));
      await responder.send({ content: publicAck(reply) });
    } else {
      // Every other reply is for the invoker only: reads, refusals, "job #N queued".
      await responder.send(replyMessage(reply));
    }
  } catch (e) {
    clearTimeout(safety);
    deps.log.error({ err: e, command: interaction.commandName, user: interaction.user.id }, 'interaction failed');
    try {
      await responder.send({ content: 'Something went wrong on our side; it has been logged.' });
    } catch (e2) {
      deps.log.warn({ err: e2 }, 'could not answer a failed interaction');
    }
  }
}

/**
 * Posts the approval request as a channel message. Order matters: attach the message to the
 * approval first, then add ✅ / ❌ — a reaction arriving in between must find the approval.
 */
async function approvalRequest(
  reply: Reply,
  inv: Invocation,
  responder: Responder,
  deps: InteractionDeps,
): Promise<void> {
  const jobId = reply.approvalJobId!;
  const channelId = inv.place.channelId;
  let messageId: string;
  try {
    // One request per job: a POST that Discord wrote but answered 5xx is retried by discord.js,
    // and the nonce makes that retry return the first message instead of posting a second.
    const message = await deps.api.send(channelId, publicMessage(reply, nonceFor('approval', reply.requestId ?? jobId)));
    messageId = message.id;
    // Before the ✅ / ❌ are added: a reaction must find its approval (a busy database is waited out).
    await deps.approvals.attachMessage(jobId, { adapter: ADAPTER, channelId, messageId: message.id });
  } catch (e) {
    deps.log.error({ err: e, jobId, channelId }, 'could not post an approval request; cancelling its job');
    try {
      await deps.jobs.requestCancel(jobId, { id: deps.botUserId(), name: 'kvmops' });
    } catch (e2) {
      deps.log.error({ err: e2, jobId }, 'could not cancel the job of an unposted approval request');
    }
    await responder.send({
      content: `Job #${jobId} needs an approval, but the request could not be posted in this channel (does the bot have Send Messages and Embed Links here?). The job was cancelled.`,
    });
    return;
  }
  await responder.send({ content: publicAck(reply) });
  for (const emoji of [APPROVE, REJECT]) {
    try {
      await deps.api.react(channelId, messageId, emoji);
    } catch (e) {
      // Approvers can still add the reaction themselves.
      deps.log.warn({ err: e, jobId, emoji }, 'could not add a reaction to an approval request');
    }
  }
}

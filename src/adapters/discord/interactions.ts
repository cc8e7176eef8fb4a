import {
  ApplicationCommandOptionType,
  type APIEmbed,
  GuildMember,
  MessageFlags,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type CommandInteractionOption,
  type Interaction,
} from 'discord.js';
import type { ChatCore } from '../../chat/adapter-port.js';
import { APPROVE, REJECT, decideAs, judge } from '../../chat/approval-reactions.js';
import type { Invocation } from '../../chat/router.js';
import type { RolePolicy } from '../../chat/roles.js';
import type { ApprovalsPort, ChatLogger, JobsPort, Services } from '../../chat/services.js';
import type { ChatPlace, ChatUser, RawOptions, Reply } from '../../chat/types.js';
import type { ChannelApi } from './channel-api.js';
import {
  CLICK_REFUSALS,
  NO_MENTIONS,
  approvalRequestMessage,
  autocompleteChoices,
  nonceFor,
  pageButtons,
  parseButtonId,
  parsePageId,
  type PageTarget,
  publicAck,
  publicMessage,
  replyMessage,
} from './render.js';

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
 * approval before the reactions are added (a ✅ must find it); it carries Approve / Reject
 * buttons and mentions the approver role(s) unless KVMOPS_NOTIFY_APPROVERS=false.
 *
 * Buttons (approve / reject on a request, cancel on a status message) carry the job's id and
 * request id (render.ts `buttonId`), checked against the stored job; everything else comes from
 * the database, so a click on a message from before a restart works. A click is judged by the
 * same rules as a reaction (`judge`) or as `/job cancel` (through the router); one that does not
 * count is answered with an ephemeral reason and changes nothing.
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
  /** What button clicks read and decide with (the approval policy, jobs, audit). */
  services: Services;
  /** Approver role ids mentioned on approval requests (empty: KVMOPS_NOTIFY_APPROVERS=false). */
  approverRoles?: readonly string[];
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
    if (interaction.isButton()) return click(interaction, deps);
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

  constructor(private readonly interaction: ChatInputCommandInteraction | ButtonInteraction) {}

  defer(): void {
    if (this.deferred || this.answered) return;
    this.deferred = this.interaction.deferReply({ flags: MessageFlags.Ephemeral });
  }

  /** Pings nobody: discord.js takes `allowedMentions` here, not the body's `allowed_mentions`. */
  async send(body: { embeds: APIEmbed[]; components?: ReturnType<typeof pageButtons> } | { content: string }): Promise<void> {
    const message = {
      ...('embeds' in body ? { embeds: body.embeds, ...(body.components?.length ? { components: body.components } : {}) } : { content: body.content }),
      allowedMentions: NO_MENTIONS,
    };
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
      // Every other reply is for the invoker only: reads, refusals, "job #N queued"; a page of a
      // longer list carries Previous / Next.
      await responder.send({ ...replyMessage(reply), components: pageButtons(reply, inv) });
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
    const message = await deps.api.send(channelId, approvalRequestMessage(reply, nonceFor('approval', reply.requestId ?? jobId), deps.approverRoles ?? []));
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

/**
 * A button click. Approve / reject: the click must be on the approval request of the job its
 * custom id names, with the job's request id; the approval rule (`judge`) decides whether it
 * counts — if not, the clicker gets the reason, ephemeral (callback 4 with flags 64), and
 * nothing changes. A click that counts is acknowledged as a deferred update (6) before the
 * decision is written (a busy database may make that wait); the request message is then edited
 * through the outbox like after a reaction (buttons disabled, who and when). Cancel: the
 * `/job cancel` command itself, through the router (requester or admin, audited the same way).
 */
async function click(interaction: ButtonInteraction, deps: InteractionDeps): Promise<void> {
  const responder = new Responder(interaction);
  const say = (content: string) => responder.send({ content });
  try {
    const refusal = deps.refuseAll?.();
    if (refusal) return await say(refusal);
    const page = parsePageId(interaction.customId);
    if (page) return await pageClick(interaction, page, deps);
    const target = parseButtonId(interaction.customId);
    if (!target) return await say('This button is not one kvmops knows.');
    const { services } = deps;
    const guildId = services.config.guildId;
    if (guildId !== null && interaction.guildId !== guildId) return await say('kvmops only works in its own server.');
    const job = await services.jobs.get(target.jobId);
    // A custom id edited to another number, or a button left from another database whose numbers repeat.
    if (!job || job.requestId !== target.requestId) return await say(`This button belongs to a job that no longer exists here (not job #${target.jobId}).`);
    const user = chatUser(interaction, deps.roles);

    if (target.action === 'cancel') {
      const inv: Invocation = { command: 'job', subcommand: 'cancel', options: { id: job.id }, user, place: placeOf(interaction) };
      // As for the command: a cancel waiting out a busy database is deferred before Discord's 3 s.
      const safety = setTimeout(() => responder.defer(), deps.safetyDeferMs ?? 1500);
      try {
        const reply = await deps.router.handle(inv);
        return await responder.send(replyMessage(reply));
      } finally {
        clearTimeout(safety);
      }
    }

    const approval = await services.approvals.get(job.id);
    if (!approval || approval.adapter !== ADAPTER || approval.messageId !== interaction.message.id) {
      return await say(`This is not the approval request of job #${job.id}.`);
    }
    const ignored = judge(approval, user, services);
    if (ignored) return await say(refusalText(ignored.reason));
    await interaction.deferUpdate();
    const outcome = await decideAs(approval, user, target.action, services, { via: 'button' });
    // Lost a race with another approver's click or reaction: say so; the winner's decision stands.
    if (outcome.kind === 'ignored') {
      await interaction.followUp({ content: refusalText(outcome.reason), flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
    }
  } catch (e) {
    deps.log.error({ err: e, customId: interaction.customId, user: interaction.user.id }, 'button click failed');
    try {
      if (interaction.deferred && !interaction.replied) {
        await interaction.followUp({ content: 'Something went wrong on our side; it has been logged.', flags: MessageFlags.Ephemeral });
      } else {
        await say('Something went wrong on our side; it has been logged.');
      }
    } catch (e2) {
      deps.log.warn({ err: e2 }, 'could not answer a failed click');
    }
  }
}

/**
 * Previous / Next under a page of a list: the same command and options run again from the
 * button's offset, as the clicker (the router authorizes, rate-limits and audits it as a read of
 * theirs), acknowledged as a deferred update (6) and then shown in place of the page with its own
 * buttons. A refusal (say, the clicker lost the viewer role) leaves the page as it was and
 * answers the clicker alone.
 */
async function pageClick(interaction: ButtonInteraction, target: PageTarget, deps: InteractionDeps): Promise<void> {
  const inv: Invocation = {
    command: target.command,
    subcommand: target.subcommand,
    options: target.options,
    user: chatUser(interaction, deps.roles),
    place: placeOf(interaction),
    offset: target.offset,
  };
  await interaction.deferUpdate();
  const reply = await deps.router.handle(inv);
  if (reply.code !== undefined) {
    await interaction.followUp({ embeds: replyMessage(reply).embeds, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
    return;
  }
  await interaction.editReply({ embeds: replyMessage(reply).embeds, components: pageButtons(reply, inv), allowedMentions: NO_MENTIONS });
}

function refusalText(reason: string): string {
  return (CLICK_REFUSALS as Record<string, string>)[reason] ?? 'This click does not count.';
}

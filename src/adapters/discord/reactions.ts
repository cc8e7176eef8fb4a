import {
  PermissionFlagsBits,
  type Client,
  type MessageReaction,
  type PartialMessageReaction,
  type PartialUser,
  type User,
} from 'discord.js';
import { APPROVE, REJECT, decisionOf, handleReaction, reconcilePending, type ReconcileResult } from '../../chat/approval-reactions.js';
import type { RolePolicy } from '../../chat/roles.js';
import type { ChatLogger, Services } from '../../chat/services.js';
import type { ChatUser } from '../../chat/types.js';
import type { ChannelApi } from './channel-api.js';
import { discordCode, DiscordCode } from './errors.js';
import { ADAPTER, memberRoleIds } from './interactions.js';

/**
 * Reactions on approval requests → the approval policy (src/chat/approval-reactions.ts).
 *
 * Live: MESSAGE_REACTION_ADD, also on messages never cached (partials); the acting member and
 * their roles come with the event. A reaction that does not count (the requester's own, a member
 * without the approver role) is removed when the bot may manage messages in that channel, so the
 * message does not look approved when it is not.
 *
 * Start-up: reactions added while the bot was down never arrive as events, so every pending
 * request's ✅ / ❌ are read over REST and go through the same policy.
 */

export interface ReactionDeps {
  client: Client;
  services: Services;
  roles: RolePolicy;
  api: ChannelApi;
  guildId: string;
  log: ChatLogger;
}

export function createReactionHandler(deps: ReactionDeps) {
  return async (reaction: MessageReaction | PartialMessageReaction, user: User | PartialUser): Promise<void> => {
    const emoji = reaction.emoji.name;
    if (!emoji || reaction.emoji.id || !decisionOf(emoji)) return;
    const message = reaction.message;
    if (message.guildId !== deps.guildId) return;
    try {
      const chatUser = await reactingUser(deps, user);
      const outcome = await handleReaction(
        { place: { adapter: ADAPTER, guildId: message.guildId, channelId: message.channelId }, messageId: message.id, user: chatUser, emoji },
        deps.services,
      );
      if (outcome.kind === 'ignored' && (outcome.reason === 'requester' || outcome.reason === 'not-approver')) {
        await removeIgnored(deps, message.channelId, message.id, emoji, user.id);
      }
      // A decision edits its request message through the outbox (notifier → approvalChanged).
    } catch (e) {
      deps.log.error({ err: e, messageId: message.id, user: user.id }, 'reaction handling failed');
    }
  };
}

async function reactingUser(deps: ReactionDeps, user: User | PartialUser): Promise<ChatUser> {
  const botId = deps.client.user?.id;
  const guild = deps.client.guilds.cache.get(deps.guildId);
  // The event's `member` was just added to the cache by discord.js, so its roles are current.
  let member = guild?.members.cache.get(user.id);
  if (!member && guild) member = await guild.members.fetch(user.id).catch(() => undefined);
  return {
    id: user.id,
    name: member?.displayName ?? user.globalName ?? user.username ?? user.id,
    // No member (left the guild, fetch failed): no roles, not even @everyone's.
    roles: deps.roles.rolesFor(member ? memberRoleIds(member, deps.guildId) : []),
    bot: user.id === botId || user.bot === true,
  };
}

async function removeIgnored(deps: ReactionDeps, channelId: string, messageId: string, emoji: string, userId: string): Promise<void> {
  const guild = deps.client.guilds.cache.get(deps.guildId);
  const channel = guild?.channels.cache.get(channelId);
  const me = guild?.members.me;
  if (channel && me && !channel.permissionsFor(me).has(PermissionFlagsBits.ManageMessages)) return;
  try {
    await deps.api.removeReaction(channelId, messageId, emoji, userId);
  } catch (e) {
    const code = discordCode(e);
    if (code === DiscordCode.MissingPermissions || code === DiscordCode.MissingAccess || code === DiscordCode.UnknownMessage) return;
    deps.log.warn({ err: e, messageId, userId }, 'could not remove a reaction that does not count');
  }
}

/** Reads ✅ / ❌ on every pending Discord approval request and applies them (see reconcilePending). */
export async function reconcileApprovals(deps: ReactionDeps): Promise<ReconcileResult[]> {
  const botId = deps.client.user?.id;
  const members = new Map<string, Promise<string[] | null>>();
  const rolesOf = (userId: string) => {
    let p = members.get(userId);
    if (!p) {
      p = deps.api.member(deps.guildId, userId).then(
        (m) => [...m.roles, deps.guildId],
        (e: unknown) => {
          if (discordCode(e) === DiscordCode.UnknownMember) return null; // left the guild: no roles
          throw e;
        },
      );
      members.set(userId, p);
    }
    return p;
  };
  const results = await reconcilePending(deps.services, async (approval) => {
    if (approval.adapter !== ADAPTER || !approval.channelId || !approval.messageId) return [];
    const out: Array<{ user: ChatUser; emoji: string }> = [];
    for (const emoji of [REJECT, APPROVE]) {
      let users;
      try {
        users = await deps.api.reactionUsers(approval.channelId, approval.messageId, emoji);
      } catch (e) {
        if (discordCode(e) === DiscordCode.UnknownMessage) return []; // deleted: it will expire
        throw e;
      }
      for (const u of users) {
        const bot = u.id === botId || u.bot === true;
        const roleIds = bot ? [] : await rolesOf(u.id);
        out.push({
          emoji,
          user: { id: u.id, name: u.global_name ?? u.username, roles: deps.roles.rolesFor(roleIds ?? []), bot },
        });
      }
    }
    return out;
  });
  return results;
}

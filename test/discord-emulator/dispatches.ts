/**
 * What the emulator pushes over the gateway when its state changes, through REST (the bot's own
 * messages and reactions come back to it, as on Discord) or through a test control (a member
 * reacts). Intents decide who receives what: GuildMessages for MESSAGE_*, GuildMessageReactions
 * for MESSAGE_REACTION_*.
 */
import { GatewayIntentBits } from 'discord.js';
import type { DispatchData, Gateway, GatewaySession } from './gateway.js';
import type { RouteHooks } from './routes.js';
import { mentionedUserIds, parseEmoji } from './state.js';
import type { EmulatorState, StoredMessage } from './state.js';

export function gatewayHooks(state: EmulatorState, gateway: () => Gateway | null, gatewayUrl: () => string): RouteHooks {
  const send = (t: string, d: DispatchData, intent: number | null): void => {
    gateway()?.dispatch(t, d, intent);
  };
  /** Without MessageContent, others' messages arrive with empty content unless they mention the bot. */
  const messagePayload = (message: StoredMessage) => (session: GatewaySession) => {
    const full = state.apiMessage(message, { gateway: true });
    const readable =
      (session.intents & GatewayIntentBits.MessageContent) !== 0 ||
      message.authorId === state.botUserId ||
      mentionedUserIds(message.content).includes(state.botUserId);
    return readable ? full : { ...full, content: '', embeds: [], attachments: [], components: [] };
  };
  return {
    gatewayUrl,
    messageCreated: (message) => send('MESSAGE_CREATE', messagePayload(message), GatewayIntentBits.GuildMessages),
    messageUpdated: (message) => send('MESSAGE_UPDATE', messagePayload(message), GatewayIntentBits.GuildMessages),
    messageDeleted: (message) =>
      send('MESSAGE_DELETE', { id: message.id, channel_id: message.channelId, guild_id: state.guildId }, GatewayIntentBits.GuildMessages),
    reactionAdded: (message, emojiSegment, userId) =>
      send(
        'MESSAGE_REACTION_ADD',
        {
          user_id: userId,
          channel_id: message.channelId,
          message_id: message.id,
          guild_id: state.guildId,
          // discord.js resolves the reacting user from member.user when guild_id is present.
          member: state.apiMember(userId),
          emoji: parseEmoji(emojiSegment).emoji,
          message_author_id: message.authorId,
          burst: false,
          burst_colors: [],
          type: 0,
        },
        GatewayIntentBits.GuildMessageReactions,
      ),
    reactionRemoved: (message, emojiSegment, userId) =>
      send(
        'MESSAGE_REACTION_REMOVE',
        { user_id: userId, channel_id: message.channelId, message_id: message.id, guild_id: state.guildId, emoji: parseEmoji(emojiSegment).emoji, burst: false, type: 0 },
        GatewayIntentBits.GuildMessageReactions,
      ),
    reactionsCleared: (message, emojiSegment) =>
      emojiSegment === null
        ? send('MESSAGE_REACTION_REMOVE_ALL', { channel_id: message.channelId, message_id: message.id, guild_id: state.guildId }, GatewayIntentBits.GuildMessageReactions)
        : send(
            'MESSAGE_REACTION_REMOVE_EMOJI',
            { channel_id: message.channelId, message_id: message.id, guild_id: state.guildId, emoji: parseEmoji(emojiSegment).emoji },
            GatewayIntentBits.GuildMessageReactions,
          ),
    interactionAnswered: (interaction, record) => {
      interaction.callback = record;
      const waiters = interaction.waiters.splice(0);
      for (const waiter of waiters) waiter(record);
      state.onChange();
    },
    interactionRefused: (interaction, record) => {
      const waiters = interaction.waiters.splice(0);
      for (const waiter of waiters) waiter(record);
      state.onChange();
    },
  };
}

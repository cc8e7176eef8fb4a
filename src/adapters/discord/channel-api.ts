import {
  Routes,
  type APIGuildMember,
  type APIMessage,
  type APIUser,
  type REST,
  type RESTPatchAPIChannelMessageJSONBody,
  type RESTPostAPIChannelMessageJSONBody,
} from 'discord.js';

/**
 * The channel routes kvmops uses, straight over REST with the bot token. Status messages, the
 * approval requests and their reactions go through here rather than through cached
 * discord.js structures: it works the same for a message posted before a restart (never cached)
 * and for a job that outlives the 15-minute interaction token.
 */
export class ChannelApi {
  constructor(private readonly rest: REST) {}

  async send(channelId: string, body: RESTPostAPIChannelMessageJSONBody): Promise<APIMessage> {
    return (await this.rest.post(Routes.channelMessages(channelId), { body })) as APIMessage;
  }

  async edit(channelId: string, messageId: string, body: RESTPatchAPIChannelMessageJSONBody): Promise<APIMessage> {
    return (await this.rest.patch(Routes.channelMessage(channelId, messageId), { body })) as APIMessage;
  }

  async react(channelId: string, messageId: string, emoji: string): Promise<void> {
    await this.rest.put(Routes.channelMessageOwnReaction(channelId, messageId, encodeURIComponent(emoji)));
  }

  async removeReaction(channelId: string, messageId: string, emoji: string, userId: string): Promise<void> {
    await this.rest.delete(Routes.channelMessageUserReaction(channelId, messageId, encodeURIComponent(emoji), userId));
  }

  /** Everyone who reacted with `emoji`, all pages. */
  async reactionUsers(channelId: string, messageId: string, emoji: string): Promise<APIUser[]> {
    const out: APIUser[] = [];
    let after: string | undefined;
    for (;;) {
      const query = new URLSearchParams({ limit: '100', ...(after ? { after } : {}) });
      const page = (await this.rest.get(Routes.channelMessageReaction(channelId, messageId, encodeURIComponent(emoji)), { query })) as APIUser[];
      out.push(...page);
      if (page.length < 100) return out;
      after = page[page.length - 1]!.id;
    }
  }

  async member(guildId: string, userId: string): Promise<APIGuildMember> {
    return (await this.rest.get(Routes.guildMember(guildId, userId))) as APIGuildMember;
  }
}

import assert from 'node:assert/strict';
import type { InteractionCallbackRecord, MessageRecord, OptionValue } from '../../discord-emulator/index.js';
import { embedOf, type DiscordWorld, type EmbedView } from './world.js';

export interface Answer {
  ack: InteractionCallbackRecord;
  /** The interaction's final response (after the edit of a deferred reply). */
  message: MessageRecord;
  embed: EmbedView | undefined;
  /** Title + description + content, for matching. */
  text: string;
  /** The job id named in the reply, if any. */
  jobId: number | undefined;
}

/** Runs a slash command as `user` and waits for its final (ephemeral or not) answer. */
export async function run(
  world: DiscordWorld,
  user: string,
  name: string,
  subcommand: string | undefined,
  options: Record<string, OptionValue> = {},
): Promise<Answer> {
  const handle = world.emulator.sendSlashCommand({ user, name, ...(subcommand ? { subcommand } : {}), options });
  const ack = await handle.response();
  // The contract: acknowledged within Discord's deadline (the emulator marks late callbacks).
  assert.equal(ack.late, false, `/${name} ${subcommand ?? ''} acknowledged late`);
  assert.ok(ack.status < 400, `/${name} ack refused: HTTP ${ack.status}`);
  const message = await world.emulator.waitFor(
    () => {
      const m = handle.original();
      if (!m) return undefined;
      if (ack.type === 5 && m.edits.length === 0) return undefined; // still "thinking…"
      return m;
    },
    30_000,
    `the answer to /${name} ${subcommand ?? ''}`,
  );
  const embed = embedOf(message);
  const text = [embed?.title, embed?.description, embed?.footer?.text, message.content].filter(Boolean).join('\n');
  const m = /job #(\d+)/i.exec(text) ?? /Job #(\d+)/.exec(text);
  return { ack, message, embed, text, jobId: m ? Number(m[1]) : undefined };
}

export function assertEphemeral(a: Answer): void {
  assert.equal(a.ack.ephemeral, true, `expected an ephemeral answer, got ${a.text}`);
  assert.equal(a.message.ephemeral, true);
}

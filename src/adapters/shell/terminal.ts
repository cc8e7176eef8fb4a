import { emitKeypressEvents } from 'node:readline';
import { createInterface, type Interface } from 'node:readline';
import type { ChatLogger } from '../../chat/services.js';
import { visibleControls } from '../../domain/text.js';
import type { ShellSession } from './session.js';

/**
 * The interactive loop around a ShellSession: a readline prompt with tab completion. Bot
 * messages arriving while the user types are printed above the prompt, which is redrawn.
 */
export async function runTerminal(session: ShellSession, log: Pick<ChatLogger, 'error'>, io: {
    input: NodeJS.ReadableStream;
    output: NodeJS.WritableStream;
    terminal: boolean;
    /** Receives the function that redraws the prompt (and what was typed) after output. */
    onPromptReady?: (redraw: () => void) => void;
  }): Promise<void> {
  const rl: Interface = createInterface({
    input: io.input,
    output: io.output,
    terminal: io.terminal,
    completer: (line: string, cb: (err: Error | null, result: [string[], string]) => void) => {
      session.complete(line).then(
        (r) => cb(null, r),
        () => cb(null, [[], line]),
      );
    },
  });
  if (io.terminal) emitKeypressEvents(io.input);
  // The user's name is whatever was typed after `as`: shown terminal-safe, as all output is.
  const prompt = () => `${visibleControls(session.currentUser.name)}> `;
  rl.setPrompt(prompt());
  io.onPromptReady?.(() => rl.prompt(true));
  if (io.terminal) rl.prompt();
  // Serialise lines: a command's reply is printed before the next line runs (piped input too).
  let chain = Promise.resolve(true);
  await new Promise<void>((resolve) => {
    rl.on('line', (line) => {
      chain = chain.then(async (go) => {
        if (!go) return false;
        // Piped input is not echoed by a terminal: echo it, so the transcript reads as a chat.
        if (!io.terminal) io.output.write(`${prompt()}${visibleControls(line, '\t')}\n`);
        try {
          const more = await session.run(line);
          if (!more) rl.close();
          return more;
        } catch (e) {
          log.error({ err: e }, 'shell: command failed');
          return true;
        } finally {
          rl.setPrompt(prompt());
          if (io.terminal) rl.prompt();
        }
      });
    });
    rl.on('close', () => {
      void chain.then(() => resolve());
    });
  });
}

/**
 * `npm run shell -- [--as NAME] [--roles viewer,operator,admin,approver] [--clock]`: the terminal chat.
 * `--clock` makes the schedules' clock drivable (`clock +1h`: src/adapters/shell/session.ts).
 * The same commands, roles, approvals and notifications as the Discord bot, against the hosts
 * in KVMOPS_HOSTS, with the bot's worker running in this process.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createCore, startApp, type App } from './app.js';
import { formatDuration, formatTime } from './domain/duration.js';
import { loadDotEnv, loadEnv } from './config/env.js';
import { parseRoles } from './adapters/shell/parse.js';
import { ShellSession, type ShellClock } from './adapters/shell/session.js';
import { ShellSink } from './adapters/shell/sink.js';
import { runTerminal } from './adapters/shell/terminal.js';
import { Transcript } from './adapters/shell/transcript.js';
import { createLogger } from './ops/logger.js';
import { readProfiles } from './config/profiles.js';
import { readTeamKeys } from './config/team-keys.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      as: { type: 'string', default: process.env.USER || 'operator' },
      roles: { type: 'string', default: 'admin,approver' },
      clock: { type: 'boolean', default: false },
    },
  });
  const roles = parseRoles(values.roles!);
  if (!Array.isArray(roles)) {
    console.error(`kvmops shell: ${roles.error}`);
    return 2;
  }
  loadDotEnv();
  const env = loadEnv();
  await mkdir(path.dirname(env.KVMOPS_DB), { recursive: true });
  // Logs go to stderr at warn and above, so they do not drown the conversation.
  const logger = createLogger({ level: process.env.KVMOPS_LOG_LEVEL ? env.KVMOPS_LOG_LEVEL : 'warn', destination: process.stderr });
  const core = createCore(env, { guildId: null, logger, teamKeys: await readTeamKeys(env.KVMOPS_SSH_KEYS_FILE), profiles: await readProfiles(env.KVMOPS_PROFILES_DIR) });
  const tty = Boolean(process.stdout.isTTY && process.stdin.isTTY);
  let rlRedraw: (() => void) | undefined;
  const transcript = await Transcript.open({
    write: (s) => process.stdout.write(s),
    inPlace: tty,
    seqFile: `${env.KVMOPS_DB}.shell-seq`,
    ...(tty
      ? {
          beforeWrite: () => process.stdout.write('\r\x1b[K'),
          afterWrite: () => rlRedraw?.(),
        }
      : {}),
  });
  // The schedules' clock: the real one, or with --clock the real one plus what `clock +…` added.
  let offsetMs = 0;
  const scheduleNow = () => Date.now() + offsetMs;
  let app: App | undefined;
  const clock: ShellClock = {
    async advance(ms) {
      offsetMs += ms;
      const { runs, retained } = await app!.scheduler.tick();
      return [
        `clock: ${formatTime(scheduleNow())} (${formatDuration(offsetMs)} ahead)`,
        ...runs.map((r) => `schedule #${r.scheduleId} ran: ${r.batchId !== null ? `batch #${r.batchId}, ` : ''}${r.name} — ${r.note}`),
        ...retained.map((r) => `schedule #${r.scheduleId} retention: ${r.deletes.length ? `deleting with job${r.deletes.length === 1 ? '' : 's'} ${r.deletes.map((id) => `#${id}`).join(', ')}` : 'nothing beyond keep'}`),
      ];
    },
  };
  const session = new ShellSession(core, transcript, { user: values.as!, roles, ...(values.clock ? { clock } : {}) });
  app = await startApp(core, { sinks: [new ShellSink(transcript)], ...(values.clock ? { scheduleNow } : {}) });
  transcript.note(`kvmops shell — hosts: ${core.hypervisor.hostNames().join(', ')}; database ${env.KVMOPS_DB}. Type help.`);
  await session.resumePendingApprovals();
  const stop = async () => {
    await app.stop({ graceMs: 10_000 });
    await transcript.flush();
  };
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
  await runTerminal(session, core.logger, {
    input: process.stdin,
    output: process.stdout,
    terminal: tty,
    onPromptReady: (redraw) => (rlRedraw = redraw),
  });
  await stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`kvmops shell: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);

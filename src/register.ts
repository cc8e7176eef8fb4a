/**
 * `npm run register`: pushes the slash commands to DISCORD_GUILD_ID (one bulk overwrite, so
 * commands removed from commands/ disappear too) and prints what was registered. The bot does
 * the same at every start; this is for checking a setup without starting the worker.
 */
import { COMMAND_MODULES, loadCommands } from '../commands/index.js';
import { EnvError, loadDotEnv, loadEnv, requireDiscord } from './config/env.js';
import { commandLabels, registerWithToken } from './adapters/discord/registration.js';

async function main(): Promise<void> {
  loadDotEnv();
  const env = loadEnv();
  const { token, guildId } = requireDiscord(env);
  const defs = loadCommands(COMMAND_MODULES).map((m) => m.def);
  const { application: app, registered } = await registerWithToken({ token, apiUrl: env.DISCORD_API_URL, guildId, defs });
  console.log(`registered ${registered.length} commands (${commandLabels(defs).length} with subcommands) on guild ${guildId} for application ${app.name} (${app.id}):`);
  for (const label of commandLabels(defs)) console.log(`  ${label}`);
}

main().catch((e: unknown) => {
  const msg = e instanceof EnvError ? `invalid environment: ${e.issues.join('; ')}` : e instanceof Error ? e.message : String(e);
  console.error(`kvmops register: ${msg.replace(/\s*\n\s*/g, '; ')}`);
  process.exit(1);
});

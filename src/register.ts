/**
 * `npm run register`: pushes the slash commands to DISCORD_GUILD_ID (one bulk overwrite, so
 * commands removed from commands/ disappear too) and prints what was registered. The bot does
 * the same at every start; this is for checking a setup without starting the worker.
 */
import { existsSync } from 'node:fs';
import { REST, Routes, type APIApplication } from 'discord.js';
import { COMMAND_MODULES, loadCommands } from '../commands/index.js';
import { EnvError, loadEnv, requireDiscord } from './config/env.js';
import { commandLabels, registerCommands } from './chat/discord/registration.js';

/** `.env` when present (process.loadEnvFile: Node ≥ 20.12); variables already set win. */
function loadDotEnv(): void {
  if (!existsSync('.env')) return;
  if (typeof process.loadEnvFile !== 'function') throw new Error('.env found but this Node has no process.loadEnvFile (needs Node ≥ 20.12); export the variables instead');
  process.loadEnvFile('.env');
}

async function main(): Promise<void> {
  loadDotEnv();
  const env = loadEnv();
  const { token, guildId } = requireDiscord(env);
  const defs = loadCommands(COMMAND_MODULES).map((m) => m.def);
  const rest = new REST(env.DISCORD_API_URL ? { api: env.DISCORD_API_URL } : {}).setToken(token);
  const app = (await rest.get(Routes.currentApplication())) as APIApplication;
  const registered = await registerCommands(rest, app.id, guildId, defs);
  console.log(`registered ${registered.length} commands (${commandLabels(defs).length} with subcommands) on guild ${guildId} for application ${app.name} (${app.id}):`);
  for (const label of commandLabels(defs)) console.log(`  ${label}`);
}

main().catch((e: unknown) => {
  const msg = e instanceof EnvError ? `invalid environment: ${e.issues.join('; ')}` : e instanceof Error ? e.message : String(e);
  console.error(`kvmops register: ${msg.replace(/\s*\n\s*/g, '; ')}`);
  process.exit(1);
});

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DiscordEmulator } from './discord-emulator/index.js';

/**
 * `npm start` runs compiled JavaScript: what `tsc -p tsconfig.build.json` emits (built here
 * into a temp dir, the same way `npm ci`'s prepare step builds dist/) logs in to the Discord
 * emulator, registers its commands, answers a command, and stops with exit 0 on SIGTERM.
 * `*.slow.test.ts`: no libvirt needed, but the tsc build alone takes seconds, so `npm test`
 * runs it and `npm run test:unit` does not.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USER = '200000000000000001';
const VIEWER = '300000000000000001';

test('npm start runs the compiled bot', { timeout: 180_000 }, async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // `exec`: npm's shell becomes node, so the signal npm passes on reaches the bot (test/stop.libvirt.test.ts).
  assert.match(pkg.scripts.start!, /^exec node .*dist\/src\/main\.js$/, 'npm start runs node on dist/, in place of its shell');
  assert.equal(pkg.scripts.prepare, 'tsc -p tsconfig.build.json', 'npm ci builds dist/');

  const dir = mkdtempSync(path.join(tmpdir(), 'kvmops-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Inside the repository, so that the built code finds node_modules as dist/ does.
  mkdirSync(path.join(REPO, 'node_modules/.cache'), { recursive: true });
  const out = mkdtempSync(path.join(REPO, 'node_modules/.cache/kvmops-start-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const built = spawnSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out], {
    cwd: REPO,
    encoding: 'utf8',
  });
  assert.equal(built.status, 0, built.stdout + built.stderr);

  const discord = await new DiscordEmulator({
    members: [{ id: USER, username: 'viewer', roles: [VIEWER] }],
    roles: [{ id: VIEWER, name: 'viewer' }],
  }).start();
  t.after(() => discord.stop());
  const child = spawn(process.execPath, [path.join(out, 'src/main.js')], {
    cwd: REPO,
    env: {
      ...process.env,
      DISCORD_TOKEN: 'start-test-token',
      DISCORD_GUILD_ID: discord.guildId,
      DISCORD_API_URL: discord.restUrl,
      KVMOPS_ROLE_VIEWER: VIEWER,
      KVMOPS_DB: path.join(dir, 'kvmops.db'),
      KVMOPS_STORAGE_DIR: path.join(dir, 'storage'),
      KVMOPS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  await Promise.race([
    discord.waitFor(() => discord.commandOverwriteCount > 0 && discord.connectedSessions > 0, 60_000, 'the compiled bot to log in and register'),
    exited.then((code) => assert.fail(`the compiled bot exited (${code}) before it was ready: ${stderr}`)),
  ]);
  const ack = await discord.sendSlashCommand({ user: USER, name: 'job', subcommand: 'list', options: {} }).response();
  assert.ok(ack.status < 400 && !ack.late, `the compiled bot answered /job list (HTTP ${ack.status}): ${stderr}`);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, `exit 0 on SIGTERM: ${stderr}`);
});

/**
 * Discord bench (issue 4): interaction dispatched by the emulator → acknowledgement received,
 * p99 ≤ 50 ms over 100 commands; the bot's idle memory.
 *
 * Latency: the Discord API emulator and the real adapter (discord.js Client, router, SQLite
 * store) in this process; the emulator's clock starts when it writes INTERACTION_CREATE to the
 * websocket and stops when the interaction callback arrives over HTTP. Two commands:
 *   /job list   — a read, answered directly with the list;
 *   /job cancel — a mutating command (a queued job is cancelled; no worker runs here).
 * The floor: a REST round trip to the same emulator (GET /gateway/bot via discord.js' REST),
 * timed in the same run.
 *
 * Start-up and idle memory: the bot as a child process against the emulator, on an empty
 * database, started both ways — compiled (`npm start`: node on dist/, what `tsc` built) and
 * under tsx (`npm run dev`, transpiling at start) — time from spawn to logged in with commands
 * registered, and VmRSS once idle. SIGTERM then checks the graceful stop (exit code 0).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Routes } from 'discord.js';
import { COMMAND_MODULES, loadCommands } from '../commands/index.js';
import { createCore, type AppCore } from '../src/app.js';
import { startDiscord } from '../src/adapters/discord/adapter.js';
import { CommandRouter } from '../src/chat/router.js';
import { loadEnv } from '../src/config/env.js';
import { createLogger } from '../src/ops/logger.js';
import { percentile } from '../src/worker/latency.js';
import { DiscordEmulator } from '../test/discord-emulator/index.js';
import type { BenchResult } from './types.js';

const COMMANDS = 100;
const WARMUP = 10;
const USER = '200000000000000001';
const OPERATOR = '300000000000000002';
const ADMIN = '300000000000000003';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function emulator(): DiscordEmulator {
  return new DiscordEmulator({
    members: [{ id: USER, username: 'bench', roles: [OPERATOR, ADMIN] }],
    roles: [
      { id: OPERATOR, name: 'operator' },
      { id: ADMIN, name: 'admin' },
    ],
  });
}

function envFor(discord: DiscordEmulator, dir: string): Record<string, string> {
  return {
    DISCORD_TOKEN: 'bench-token',
    DISCORD_GUILD_ID: discord.guildId,
    DISCORD_API_URL: discord.restUrl,
    KVMOPS_ROLE_OPERATOR: OPERATOR,
    KVMOPS_ROLE_ADMIN: ADMIN,
    KVMOPS_DB: path.join(dir, 'kvmops.db'),
    KVMOPS_STORAGE_DIR: path.join(dir, 'storage'),
    KVMOPS_HOSTS: 'local=qemu:///system',
    KVMOPS_LOG_LEVEL: 'silent',
  };
}

async function ackLatencies(discord: DiscordEmulator, sub: string, options: (i: number) => Record<string, number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < WARMUP + COMMANDS; i++) {
    const ack = await discord.sendSlashCommand({ user: USER, name: 'job', subcommand: sub, options: options(i) }).response();
    if (ack.late || ack.status >= 400) throw new Error(`/job ${sub}: ack refused (HTTP ${ack.status})`);
    if (i >= WARMUP) out.push(ack.receivedAfterMs);
  }
  return out;
}

async function latency(): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmops-bench-discord-'));
  const discord = await emulator().start();
  const env = loadEnv(envFor(discord, dir));
  const base = createCore(env, { logger: createLogger({ level: 'silent' }) });
  // One user sends 110 changes in a few seconds: lift the per-user flood guard for the bench.
  const core: AppCore = { ...base, router: new CommandRouter({ commands: loadCommands(COMMAND_MODULES), services: base.services, rateLimit: { capacity: 10_000, windowMs: 1000 } }) };
  const bot = await startDiscord(core, { token: env.DISCORD_TOKEN!, guildId: env.DISCORD_GUILD_ID!, apiUrl: env.DISCORD_API_URL });
  try {
    const ids: number[] = [];
    for (let i = 0; i < WARMUP + COMMANDS; i++) {
      const job = core.store.enqueue({
        kind: 'vm.start',
        payload: { host: 'local', vm: `bench-${i}` },
        requester: { id: USER, name: 'bench' },
        notify: { adapter: 'discord', guildId: discord.guildId, channelId: discord.channelId },
      });
      ids.push(job.id);
    }
    const floor: number[] = [];
    for (let i = 0; i < WARMUP + COMMANDS; i++) {
      const t = performance.now();
      await bot.client.rest.get(Routes.gatewayBot());
      if (i >= WARMUP) floor.push(performance.now() - t);
    }
    const reads = await ackLatencies(discord, 'list', () => ({}));
    const cancels = await ackLatencies(discord, 'cancel', (i) => ({ id: ids[i]! }));
    const cancelled = core.store.list({ state: 'cancelled', limit: 1000 }).length;
    if (cancelled !== WARMUP + COMMANDS) throw new Error(`expected ${WARMUP + COMMANDS} cancelled jobs, got ${cancelled}`);
    const f50 = percentile(floor, 0.5);
    const row = (label: string, v: number[]): BenchResult[] => [
      { name: `${label}: dispatch → ack p50 (${COMMANDS} commands)`, value: percentile(v, 0.5), unit: 'ms', floor: f50, ratio: percentile(v, 0.5) / f50 },
      { name: `${label}: dispatch → ack p99 (${COMMANDS} commands)`, value: percentile(v, 0.99), unit: 'ms', target: '≤ 50 ms', pass: percentile(v, 0.99) <= 50 },
    ];
    return [...row('/job list (read)', reads), ...row('/job cancel (mutating)', cancels), { name: 'REST round trip to the emulator p50 (floor)', value: f50, unit: 'ms' }];
  } finally {
    await bot.stop();
    core.store.close();
    await discord.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]) / 1024;
}

/** How the bot is started: `npm start` runs what `tsc` built; tsx transpiles at every start (dev). */
const STARTS = {
  'compiled (npm start)': ['--enable-source-maps', 'dist/src/main.js'],
  'tsx (npm run dev)': ['--import', 'tsx', 'src/main.ts'],
} as const;

/** The bot as a child process against the emulator: time to ready, idle VmRSS, graceful stop. */
async function startAndStop(label: keyof typeof STARTS): Promise<{ readyMs: number; rss: number; stopMs: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmops-bench-discord-rss-'));
  const discord = await emulator().start();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...STARTS[label]], {
    cwd: REPO,
    env: { ...process.env, ...envFor(discord, dir) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await discord.waitFor(() => discord.commandOverwriteCount > 0 && discord.connectedSessions > 0, 60_000, 'the bot to log in and register');
    const readyMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 3000)); // idle: worker, notifier, heartbeats settle
    const rss = rssMiB(child.pid!);
    const t = performance.now();
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 40_000))]);
    if (code !== 0) throw new Error(`${label} did not stop cleanly on SIGTERM (exit ${String(code)}): ${stderr}`);
    return { readyMs, rss, stopMs: performance.now() - t };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await discord.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function idleMemory(): Promise<BenchResult[]> {
  if (!existsSync(path.join(REPO, 'dist/src/main.js'))) throw new Error('bench discord: dist/ is missing; run `npm run build`');
  const tsx = await startAndStop('tsx (npm run dev)');
  const built = await startAndStop('compiled (npm start)');
  return [
    { name: 'bot start → ready, tsx (npm run dev)', value: tsx.readyMs, unit: 'ms' },
    { name: 'bot start → ready, compiled (npm start)', value: built.readyMs, unit: 'ms', floor: tsx.readyMs, ratio: built.readyMs / tsx.readyMs },
    { name: 'bot idle memory, tsx (VmRSS)', value: tsx.rss, unit: 'MiB' },
    { name: 'bot idle memory, compiled (VmRSS)', value: built.rss, unit: 'MiB', floor: tsx.rss, ratio: built.rss / tsx.rss },
    { name: 'SIGTERM → exit 0 (idle, compiled)', value: built.stopMs, unit: 'ms' },
  ];
}

export async function benchDiscord(): Promise<BenchResult[]> {
  return [...(await latency()), ...(await idleMemory())];
}

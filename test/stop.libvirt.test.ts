import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { stopBudget } from '../src/app.js';
import { parseDuration } from '../src/config/env.js';
import { openJobStore } from '../src/jobs/store.js';
import { DiscordEmulator } from './discord-emulator/index.js';
import { holdWriteLock } from './jobs/db-lock.js';
import { execStart } from './helpers/unit-file.js';
import { createDisk, defineVm, makeTestEnv, skipUnlessLibvirt, virsh, virshMaybe, type LibvirtTestEnv } from './helpers/libvirt.js';

/**
 * Stopping stops: the compiled bot, started as a user starts it (`npm start`, or the systemd
 * unit's ExecStart=, node itself) in its own process group, against the Discord
 * emulator and the real libvirtd, with a job running: `vm.stop` of a guest that sits in SeaBIOS
 * and so ignores the ACPI request (the job polls `virsh domstate` for up to 2 min: it cannot
 * finish within the grace period). Then the signal, sent as a user's `kill`, a terminal's Ctrl-C
 * or systemd sends it, and:
 *   - exit code 0, within KVMOPS_STOP_TIMEOUT (plus a margin for process start-up and exit);
 *   - no process of the group left (/proc) — neither npm, sh, node, nor a virsh child;
 *   - the job handed back in the database: queued, lease released, the attempt not counted,
 *     marked recovered — not failed, not left running.
 *
 * The build is this checkout's, compiled (`tsc -p tsconfig.build.json`) into a temp app dir that
 * has the repository's package.json (its real `start` script) and node_modules, so `npm start`
 * runs there exactly as in /opt/kvmops.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OPERATOR = '200000000000000002';
const OPS_ROLE = '300000000000000002';
/** Start-up of the process, and exit after its last step, on a loaded 2-core machine. */
const MARGIN_MS = 1_500;

interface Bot {
  proc: ChildProcess;
  /** The process group: the pid of what we started (detached = its own group). */
  pgid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  logs: Array<Record<string, unknown>>;
  output: () => string;
}

interface JobRow {
  id: number;
  state: string;
  attempts: number;
  recovered: number;
  lease_expires_at: number | null;
  error_code: string | null;
}

/**
 * Pids (with state and command line) whose process group is `pgid`, from /proc. Zombies are not
 * counted: they have exited and hold nothing but a pid until their new parent reaps them, which
 * PID 1 here does slowly (docs/host-notes.md) — a child killed by its pdeathsig when the bot
 * exits at once shows as one for a moment.
 */
function groupMembers(pgid: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push(`${pid} ${state} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('SIGTERM / SIGINT stop the whole process tree with the graceful stop', { ...skipUnlessLibvirt(), timeout: 600_000 }, () => {
  let env: LibvirtTestEnv;
  let appDir: string;
  let dataDir: string;
  let vm: string;

  before(() => {
    env = makeTestEnv('stop');
    dataDir = mkdtempSync(path.join(tmpdir(), 'kvmops-stop-'));
    appDir = path.join(dataDir, 'app');
    mkdirSync(appDir);
    copyFileSync(path.join(REPO, 'package.json'), path.join(appDir, 'package.json'));
    symlinkSync(path.join(REPO, 'node_modules'), path.join(appDir, 'node_modules'));
    const built = spawnSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(appDir, 'dist')], {
      cwd: REPO,
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stdout + built.stderr);
    // A guest without an OS: it stays in SeaBIOS and never acts on the ACPI shutdown request.
    vm = env.vmName('guest');
    defineVm(vm, [createDisk(path.join(env.outsideDir, 'guest.qcow2'))]);
    virsh('start', vm);
  });

  after(() => {
    env?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function startBot(discord: DiscordEmulator, how: 'npm start' | 'unit', dbFile: string, stopTimeout: string): Promise<Bot> {
    // 'unit': deploy/kvmops.service's ExecStart= (its node, if this machine has it there).
    const unit = execStart();
    const [cmd, args] = how === 'npm start' ? ['npm', ['start']] : [existsSync(unit[0]!) ? unit[0]! : process.execPath, unit.slice(1)];
    const proc = spawn(cmd as string, args as string[], {
      cwd: appDir,
      detached: true, // its own process group, as a shell's job or a service's main process
      env: {
        ...process.env,
        DISCORD_TOKEN: 'stop-test-token',
        DISCORD_GUILD_ID: discord.guildId,
        DISCORD_API_URL: discord.restUrl,
        KVMOPS_ROLE_OPERATOR: OPS_ROLE,
        KVMOPS_DB: dbFile,
        KVMOPS_STORAGE_DIR: env.storageDir,
        KVMOPS_HOSTS: 'local=qemu:///system',
        KVMOPS_STOP_TIMEOUT: stopTimeout,
        KVMOPS_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const logs: Array<Record<string, unknown>> = [];
    let partial = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('{')) logs.push(JSON.parse(l) as Record<string, unknown>);
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
    return { proc, pgid: proc.pid!, exited, logs, output: () => out.slice(-6000) };
  }

  /** A bot (as `how` starts it) with the vm.stop job running, for `t`; killed if the test leaves it. */
  async function botWithJob(t: TestContext, how: 'npm start' | 'unit', stopTimeout: string, label: string): Promise<{ bot: Bot; dbFile: string; discord: DiscordEmulator }> {
    const discord = await new DiscordEmulator({
      members: [{ id: OPERATOR, username: 'oper', roles: [OPS_ROLE] }],
      roles: [{ id: OPS_ROLE, name: 'operator' }],
    }).start();
    t.after(() => discord.stop());
    const dbFile = path.join(dataDir, `${label.replace(/[^a-z0-9]+/gi, '-')}.db`);
    const bot = await startBot(discord, how, dbFile, stopTimeout);
    t.after(() => {
      if (groupMembers(bot.pgid).length) process.kill(-bot.pgid, 'SIGKILL');
    });
    await Promise.race([
      discord.waitFor(() => discord.commandOverwriteCount > 0 && discord.connectedSessions > 0, 90_000, 'the compiled bot to log in'),
      bot.exited.then((e) => assert.fail(`the bot exited (${e.code}) before it was ready: ${bot.output()}`)),
    ]);
    const ack = await discord.sendSlashCommand({ user: OPERATOR, name: 'vm', subcommand: 'stop', options: { vm } }).response();
    assert.ok(ack.status < 400, `/vm stop accepted (HTTP ${ack.status}): ${bot.output()}`);
    await discord.waitFor(() => bot.logs.some((l) => l.msg === 'job started' && l.kind === 'vm.stop'), 30_000, 'the vm.stop job to start');
    await sleep(500); // into its polling of `virsh domstate`
    const members = groupMembers(bot.pgid);
    assert.ok(members.some((p) => /dist\/src\/main\.js/.test(p)), `the bot runs in the group: ${members.join('; ')}`);
    return { bot, dbFile, discord };
  }

  /** Sends the signal; waits for the exit; the exit code, the time it took, what is left of the group. */
  async function signal(bot: Bot, sig: NodeJS.Signals, to: 'main' | 'group'): Promise<{ code: number | NodeJS.Signals | null; tookMs: number; left: string[] }> {
    const sentAt = Date.now();
    process.kill(to === 'group' ? -bot.pgid : bot.pgid, sig);
    const exit = await bot.exited;
    // A child that gets its pdeathsig as the bot exits takes a moment to die: give it one.
    for (let i = 0; i < 20 && groupMembers(bot.pgid).length; i++) await new Promise((r) => setTimeout(r, 50));
    return { code: exit.code ?? exit.signal, tookMs: exit.at - sentAt, left: groupMembers(bot.pgid) };
  }

  function vmStopJob(dbFile: string): JobRow {
    const db = new Database(dbFile, { readonly: true });
    try {
      return db.prepare(`SELECT id, state, attempts, recovered, lease_expires_at, error_code FROM jobs WHERE kind = 'vm.stop'`).get() as JobRow;
    } finally {
      db.close();
    }
  }

  const cases: Array<{ name: string; how: 'npm start' | 'unit'; signal: NodeJS.Signals; to: 'main' | 'group'; stopTimeout: string }> = [
    { name: "SIGTERM to npm only (a user's kill)", how: 'npm start', signal: 'SIGTERM', to: 'main', stopTimeout: '6s' },
    { name: 'SIGINT to the whole group (Ctrl-C in a terminal)', how: 'npm start', signal: 'SIGINT', to: 'group', stopTimeout: '6s' },
    { name: "SIGTERM to the whole group (systemd's KillMode=control-group)", how: 'npm start', signal: 'SIGTERM', to: 'group', stopTimeout: '6s' },
    { name: 'SIGTERM to node only (KillMode=mixed)', how: 'unit', signal: 'SIGTERM', to: 'main', stopTimeout: '6s' },
    { name: 'SIGTERM to npm with KVMOPS_STOP_TIMEOUT=2s', how: 'npm start', signal: 'SIGTERM', to: 'main', stopTimeout: '2s' },
    { name: 'SIGINT to npm only, KVMOPS_STOP_TIMEOUT=2s', how: 'npm start', signal: 'SIGINT', to: 'main', stopTimeout: '2s' },
  ];

  for (const c of cases) {
    test(`${c.how}: ${c.name} → graceful stop, group gone, exit 0, job handed back`, async (t) => {
      const { bot, dbFile } = await botWithJob(t, c.how, c.stopTimeout, `${c.how}-${c.signal}-${c.to}-${c.stopTimeout}`);
      const { code, tookMs, left } = await signal(bot, c.signal, c.to);
      const timeoutMs = parseDuration(c.stopTimeout);
      console.error(`${c.how}, ${c.name}: exit ${code} after ${tookMs} ms (stop timeout ${timeoutMs} ms)`);

      assert.equal(code, 0, `exit 0 (got ${code}): ${bot.output()}`);
      assert.deepEqual(left, [], 'no process of the group is left');
      assert.ok(tookMs <= timeoutMs + MARGIN_MS, `stopped within KVMOPS_STOP_TIMEOUT: ${tookMs} ms`);
      if (c.to === 'main') {
        // Only the bot got the signal: its job kept running through the grace period.
        assert.ok(tookMs >= stopBudget(timeoutMs).graceMs - 100, `the running job got its grace period: ${tookMs} ms`);
      }
      assert.ok(bot.logs.some((l) => l.msg === 'stopped'), `the graceful stop ran to its end: ${bot.output()}`);
      const { id: _id, ...job } = vmStopJob(dbFile);
      assert.deepEqual(job, { state: 'queued', attempts: 0, recovered: 1, lease_expires_at: null, error_code: null }, 'handed back: queued, lease released, attempt not counted');
      assert.equal(virshMaybe('domstate', vm).stdout.trim(), 'running', 'the guest is as it was (the job did not finish)');
    });
  }

  test('Discord hangs the last notification: exit 0 at KVMOPS_STOP_TIMEOUT all the same, the job handed back', async (t) => {
    const { bot, dbFile, discord } = await botWithJob(t, 'npm start', '3s', 'discord-hangs');
    // Discord answers message posts 10 s late from now on; a second job (queued behind the
    // first: same VM) is announced, so a delivery is in flight when the stop waits for the notifier.
    discord.delayNext('POST /channels/:channel/messages', 10_000, 100);
    const posts = discord.requests('POST /channels/:channel/messages').length;
    const ack = await discord.sendSlashCommand({ user: OPERATOR, name: 'vm', subcommand: 'start', options: { vm } }).response();
    assert.ok(ack.status < 400, `/vm start accepted (HTTP ${ack.status})`);
    await sleep(500); // the notifier posts the announcement at once (it wakes on the commit)
    const { code, tookMs, left } = await signal(bot, 'SIGTERM', 'main');
    console.error(`Discord hanging, KVMOPS_STOP_TIMEOUT=3s: exit ${code} after ${tookMs} ms`);

    assert.equal(code, 0, `exit 0 (got ${code}): ${bot.output()}`);
    assert.deepEqual(left, [], 'no process of the group is left');
    assert.ok(bot.logs.some((l) => /^stop timeout/.test(String(l.msg))), `the stop timed out: ${JSON.stringify(bot.logs.slice(-12).map((l) => [l.time, l.msg]))}; ${JSON.stringify(discord.requests().slice(-8).map((r) => [r.at, r.method, r.path, r.status]))}`);
    assert.ok(tookMs >= 3_000 - 50 && tookMs <= 3_000 + MARGIN_MS, `exited at KVMOPS_STOP_TIMEOUT: ${tookMs} ms`);
    assert.equal(discord.requests('POST /channels/:channel/messages').length, posts, 'the announcement was still unanswered');
    const { id: _id, ...job } = vmStopJob(dbFile);
    assert.deepEqual(job, { state: 'queued', attempts: 0, recovered: 1, lease_expires_at: null, error_code: null }, 'handed back before the wait');
  });

  test('a second signal a second after the first: exit 1 at once, the group gone, the job left for recovery', async (t) => {
    const { bot, dbFile } = await botWithJob(t, 'npm start', '30s', 'second-signal');
    process.kill(bot.pgid, 'SIGTERM');
    await sleep(1_200); // the job is in its grace period
    const { code, tookMs, left } = await signal(bot, 'SIGTERM', 'main');
    console.error(`second SIGTERM 1.2 s after the first: exit ${code} ${tookMs} ms after it`);
    assert.equal(code, 1, `exit 1 (got ${code}): ${bot.output()}`);
    assert.ok(tookMs <= MARGIN_MS, `at once: ${tookMs} ms`);
    assert.deepEqual(left, [], 'no process of the group is left');
    const job = vmStopJob(dbFile);
    assert.equal(job.state, 'running', 'left for recovery: its lease runs out and the next start takes it back');
    assert.ok(job.lease_expires_at !== null && job.lease_expires_at <= Date.now() + 30_000);
  });

  test('SIGTERM while it is still logging in: exit 0 at once, the group gone', async (t) => {
    const discord = await new DiscordEmulator({}).start();
    t.after(() => discord.stop());
    discord.delayNext('GET /gateway/bot', 8_000); // Discord slow to answer the first call
    const bot = await startBot(discord, 'npm start', path.join(dataDir, 'starting.db'), '30s');
    t.after(() => {
      if (groupMembers(bot.pgid).length) process.kill(-bot.pgid, 'SIGKILL');
    });
    await discord.waitFor(() => bot.logs.some((l) => /^starting/.test(String(l.msg))), 60_000, 'the bot to start');
    const { code, tookMs, left } = await signal(bot, 'SIGTERM', 'main');
    console.error(`SIGTERM while logging in: exit ${code} after ${tookMs} ms`);
    assert.equal(code, 0, `exit 0 (got ${code}): ${bot.output()}`);
    assert.ok(tookMs <= MARGIN_MS, `at once: ${tookMs} ms`);
    assert.deepEqual(left, [], 'no process of the group is left');
    assert.ok(bot.logs.some((l) => l.msg === 'stopped'), bot.output());
  });

  test('the database locked by another process: exit 0 within KVMOPS_STOP_TIMEOUT; the job keeps its lease and is recovered, not lost', async (t) => {
    const { bot, dbFile } = await botWithJob(t, 'npm start', '3s', 'locked');
    // e.g. `npm run shell` or a backup writing: the hand-back cannot be written.
    const lock = await holdWriteLock(dbFile, t);
    const { code, tookMs, left } = await signal(bot, 'SIGTERM', 'main');
    console.error(`database locked, KVMOPS_STOP_TIMEOUT=3s: exit ${code} after ${tookMs} ms`);
    await lock.release();

    assert.equal(code, 0, `exit 0 (got ${code}): ${bot.output()}`);
    assert.deepEqual(left, [], 'no process of the group is left');
    assert.ok(tookMs <= 3_000 + MARGIN_MS, `stopped within KVMOPS_STOP_TIMEOUT: ${tookMs} ms`);
    const job = vmStopJob(dbFile);
    assert.equal(job.state, 'running', 'left for recovery: still held by the stopped bot');
    assert.ok(job.lease_expires_at !== null && job.lease_expires_at <= Date.now() + 30_000, 'its lease runs out (30 s at most)');
    // The next start's reaper, once the lease ran out: back in the queue, as a recovered job.
    const store = openJobStore(dbFile);
    try {
      const reaped = store.reap(job.lease_expires_at! + 1);
      assert.deepEqual(reaped.map((j) => [j.id, j.state, j.recovered]), [[job.id, 'queued', true]]);
    } finally {
      store.close();
    }
  });
});

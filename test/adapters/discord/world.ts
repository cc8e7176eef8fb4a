/**
 * The Discord end-to-end world: the Discord API emulator (test/discord-emulator) driving the REAL
 * discord.js Client through the real adapter (src/adapters/discord), over the real SQLite store,
 * the real worker and notifier, and the real hypervisor layer on the local libvirt
 * (`qemu:///system`, tiny `type='qemu'` domains from test/helpers/libvirt.ts).
 *
 * A "bot" is one process' worth of kvmops: core + Discord adapter + App. `restart()` stops it
 * and starts a new one on the same database and emulator, as a real restart would.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCore, startApp, type App, type AppCore } from '../../../src/app.js';
import { startDiscord, type DiscordAdapter } from '../../../src/adapters/discord/adapter.js';
import { loadEnv } from '../../../src/config/env.js';
import type { Job } from '../../../src/jobs/types.js';
import { createLogger } from '../../../src/ops/logger.js';
import { DiscordEmulator, type MessageRecord } from '../../discord-emulator/index.js';
import { makeTestEnv, type LibvirtTestEnv } from '../../helpers/libvirt.js';

export const ROLE = {
  viewer: '300000000000000001',
  operator: '300000000000000002',
  admin: '300000000000000003',
  approver: '300000000000000004',
} as const;

export const USER = {
  /** operator: requests things */
  alice: '200000000000000001',
  /** approver (and viewer) */
  bob: '200000000000000002',
  /** no kvmops role at all */
  carol: '200000000000000003',
  /** admin and approver */
  root: '200000000000000004',
} as const;

export interface BotOptions {
  /** KVMOPS_APPROVAL_TTL, e.g. '2s'. */
  approvalTtl?: string;
  approvalSweepMs?: number;
  /** KVMOPS_RATE_LIMIT (default here: off). */
  rateLimit?: string;
  /** KVMOPS_READ_RATE_LIMIT (default here: off). */
  readRateLimit?: string;
  /** KVMOPS_NOTIFY_APPROVERS (default: unset, i.e. true). */
  notifyApprovers?: string;
}

export interface Bot {
  core: AppCore;
  discord: DiscordAdapter;
  app: App;
}

export class DiscordWorld {
  readonly lab: LibvirtTestEnv;
  readonly dbDir = mkdtempSync(path.join(tmpdir(), 'kvmops-discord-'));
  emulator!: DiscordEmulator;
  bot!: Bot;

  constructor(label: string) {
    this.lab = makeTestEnv(label);
  }

  async start(opts: BotOptions = {}): Promise<this> {
    this.emulator = await new DiscordEmulator({
      guildName: 'lab',
      channels: [{ id: '400000000000000001', name: 'ops' }],
      members: [
        { id: USER.alice, username: 'alice', roles: [ROLE.operator] },
        { id: USER.bob, username: 'bob', roles: [ROLE.approver, ROLE.viewer] },
        { id: USER.carol, username: 'carol', roles: [] },
        { id: USER.root, username: 'root', roles: [ROLE.admin, ROLE.approver] },
      ],
      roles: Object.entries(ROLE).map(([name, id]) => ({ id, name })),
      heartbeatIntervalMs: 1000,
    }).start();
    this.bot = await this.startBot(opts);
    return this;
  }

  async startBot(opts: BotOptions = {}): Promise<Bot> {
    const env = loadEnv({
      DISCORD_TOKEN: 'emulated-token',
      DISCORD_GUILD_ID: this.emulator.guildId,
      DISCORD_API_URL: this.emulator.restUrl,
      KVMOPS_ROLE_VIEWER: ROLE.viewer,
      KVMOPS_ROLE_OPERATOR: ROLE.operator,
      KVMOPS_ROLE_ADMIN: ROLE.admin,
      KVMOPS_ROLE_APPROVER: ROLE.approver,
      KVMOPS_APPROVAL_TTL: opts.approvalTtl ?? '30m',
      KVMOPS_DB: path.join(this.dbDir, 'kvmops.db'),
      KVMOPS_HOSTS: 'local=qemu:///system',
      KVMOPS_STORAGE_DIR: this.lab.storageDir,
      KVMOPS_LOG_LEVEL: process.env.KVMOPS_TEST_LOG ?? 'silent',
      // The per-user flood guard is the command layer's, tested there (test/commands/router.test.ts);
      // these tests send far more commands from one user than a person would.
      KVMOPS_RATE_LIMIT: opts.rateLimit ?? 'off',
      KVMOPS_READ_RATE_LIMIT: opts.readRateLimit ?? 'off',
      ...(opts.notifyApprovers !== undefined ? { KVMOPS_NOTIFY_APPROVERS: opts.notifyApprovers } : {}),
    });
    const logger = createLogger({ level: env.KVMOPS_LOG_LEVEL, destination: process.stderr });
    const core: AppCore = createCore(env, { logger });
    const discord = await startDiscord(core, {
      token: env.DISCORD_TOKEN!,
      guildId: env.DISCORD_GUILD_ID!,
      apiUrl: env.DISCORD_API_URL,
      approverRoles: env.KVMOPS_NOTIFY_APPROVERS ? env.KVMOPS_ROLE_APPROVER : [],
    });
    const app = await startApp(core, {
      sinks: [discord.sink],
      discordStatus: discord.status,
      leaseMs: 10_000,
      ...(opts.approvalSweepMs ? { approvalSweepMs: opts.approvalSweepMs } : {}),
    });
    discord.attachMetrics(app.ops.metrics);
    return { core, discord, app };
  }

  async stopBot(): Promise<void> {
    await this.bot.app.stop({ graceMs: 20_000 });
    await this.bot.discord.stop();
  }

  async restart(opts: BotOptions = {}): Promise<Bot> {
    await this.stopBot();
    this.bot = await this.startBot(opts);
    return this.bot;
  }

  async close(): Promise<void> {
    try {
      if (this.bot) await this.stopBot();
    } finally {
      await this.emulator?.stop();
      rmSync(this.dbDir, { recursive: true, force: true });
      this.lab.cleanup();
    }
  }

  // ---- reading -------------------------------------------------------------------------------

  get store() {
    return this.bot.core.store;
  }

  jobs(): Job[] {
    return this.store.list({ limit: 10_000 });
  }

  job(id: number): Job {
    const j = this.store.get(id);
    if (!j) throw new Error(`no job ${id}`);
    return j;
  }

  /** Waits until the job is final; returns it. */
  async finished(id: number, timeoutMs = 60_000): Promise<Job> {
    return this.emulator.waitFor(() => {
      const j = this.store.get(id);
      return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
    }, timeoutMs, `job #${id} to finish`);
  }

  /** Channel messages that are job #id's status message (its embed footer names the job). */
  statusMessages(id: number): MessageRecord[] {
    return this.emulator.messages().filter((m) => embedOf(m)?.footer?.text?.startsWith(`job #${id} · `) && !embedOf(m)?.footer?.text?.includes('approval'));
  }

  /** Completion messages of job #id (they mention the requester). */
  endMessages(id: number): MessageRecord[] {
    return this.emulator.messages().filter((m) => m.content.includes(`job #${id} `) && m.mentionUserIds.length > 0);
  }

  /** The `State` field of every version of a status message: as created, then after each edit. */
  statesOf(m: MessageRecord): string[] {
    const post = this.emulator
      .requests('POST /channels/:channel/messages')
      .find((r) => r.status === 200 && (r.response as { id?: string } | null)?.id === m.id);
    const created = ((post?.body as { embeds?: EmbedView[] } | null)?.embeds ?? [])[0];
    const field = (e: EmbedView | undefined) => e?.fields?.find((f) => f.name === 'State')?.value;
    const versions = [created, ...m.edits.map((e) => (e.body.embeds as EmbedView[] | undefined)?.[0])];
    return versions.map(field).filter((s): s is string => s !== undefined);
  }

  /** Every file and directory under the storage dir (to prove a refusal created nothing). */
  storageTree(): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir)) {
        const p = path.join(dir, e);
        out.push(`${p}:${statSync(p).size}`);
        if (statSync(p).isDirectory()) walk(p);
      }
    };
    walk(this.lab.storageDir);
    return out.sort();
  }
}

export interface EmbedView {
  title?: string;
  description?: string;
  color?: number;
  footer?: { text?: string };
  fields?: Array<{ name: string; value: string }>;
}

export function embedOf(m: { embeds: unknown[] } | null | undefined): EmbedView | undefined {
  return m?.embeds[0] as EmbedView | undefined;
}


import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCommands } from '../../commands/index.js';
import { Catalog } from '../../src/chat/catalog.js';
import { CommandRouter, type Invocation } from '../../src/chat/router.js';
import { expandRoles } from '../../src/chat/roles.js';
import type { HostReader, HypervisorReader, Services } from '../../src/chat/services.js';
import type { ChatPlace, ChatUser, RawOptions, Role } from '../../src/chat/types.js';
import { KvmopsError } from '../../src/domain/errors.js';
import type { SnapshotInfo, TemplateInfo, VmInfo, VmNic, VmState, VmSummary } from '../../src/hypervisor/types.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import { hostsPort } from '../../src/app.js';
import { HostProbe } from '../../src/hypervisor/probe.js';
import type { HostFacts } from '../../src/hypervisor/types.js';

/** What the fixture's `local` host answers to the host probe; `remote` answers nothing (unreachable). */
export const LOCAL_FACTS: HostFacts = {
  libvirt: '9.0.0',
  hypervisor: 'QEMU 7.2.22',
  cpus: 2,
  cpuModel: 'x86_64',
  memory: { total: 24 * 1024 ** 3, available: 20 * 1024 ** 3, free: 18 * 1024 ** 3 },
  storage: { total: 250 * 1024 ** 3, available: 200 * 1024 ** 3 },
};

/**
 * A test world for the command layer: the REAL job store (SQLite in a temp file) and an
 * in-memory host inventory standing in for libvirt's read methods (listVms, vmInfo,
 * listTemplates, listSnapshots). The inventory is a test double of *what exists on a host*;
 * the command layer never calls anything else on a host, which the double enforces by not
 * having anything else. End-to-end runs through real libvirt live in the adapter tests.
 */

export interface HostInventory {
  vms: Map<string, VmState>;
  templates: Map<string, { dependents: string[] }>;
  snapshots: Map<string, Array<{ name: string; parent: string | null }>>;
  /** NICs by VM uuid, as `vmNics` reports them. */
  nics: Map<string, VmNic[]>;
}

export class InventoryHypervisor implements HypervisorReader {
  readonly hosts = new Map<string, HostInventory>();
  /** Read calls per method, to check caching. */
  readonly reads: string[] = [];
  /** Set to make every read fail (host-unreachable) or hang. */
  mode: 'ok' | 'unreachable' | 'hang' = 'ok';

  constructor(names: string[] = ['local', 'remote']) {
    for (const n of names) this.hosts.set(n, { vms: new Map(), templates: new Map(), snapshots: new Map(), nics: new Map() });
  }

  inv(host = 'local'): HostInventory {
    return this.hosts.get(host)!;
  }

  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  host(name?: string): HostReader {
    const hostName = name ?? this.hostNames()[0]!;
    const inv = this.hosts.get(hostName);
    if (!inv) throw new KvmopsError('host-not-found', `no host ${hostName}`);
    const self = this;
    const gate = async (what: string) => {
      self.reads.push(`${hostName}:${what}`);
      if (self.mode === 'unreachable') throw new KvmopsError('host-unreachable', `cannot connect to ${hostName}`);
      if (self.mode === 'hang') await new Promise((r) => setTimeout(r, 60_000).unref());
    };
    const snapshots = (vm: string): SnapshotInfo[] =>
      (inv.snapshots.get(vm) ?? []).map((s, i) => ({
        name: s.name,
        kind: 'internal',
        parent: s.parent,
        createdAt: 1_700_000_000 + i,
        current: i === (inv.snapshots.get(vm)?.length ?? 0) - 1,
        description: '',
        state: 'shutoff',
        files: [],
      }));
    const needVm = (vm: string) => {
      if (!inv.vms.has(vm)) throw new KvmopsError('vm-not-found', `no VM ${vm}`);
    };
    return {
      name: hostName,
      async listVms(): Promise<VmSummary[]> {
        await gate('listVms');
        return [...inv.vms].map(([n, state]) => ({ name: n, uuid: fixtureUuid(n), state }));
      },
      async vmInfo(vm: string): Promise<VmInfo> {
        await gate('vmInfo');
        needVm(vm);
        return {
          name: vm,
          uuid: '00000000-0000-4000-8000-000000000001',
          state: inv.vms.get(vm)!,
          nics: [],
          vcpus: 1,
          memoryKiB: 262144,
          disks: [{ target: 'vda', file: `/var/lib/kvmops/${vm}.qcow2`, format: 'qcow2', chain: [] }],
          snapshots: snapshots(vm),
        };
      },
      async listTemplates(): Promise<TemplateInfo[]> {
        await gate('listTemplates');
        return [...inv.templates].map(([n, t]) => ({
          name: n,
          sourceVm: 'golden',
          sealed: true,
          cloudInit: 'yes' as const,
          createdAt: '2025-01-01T00:00:00Z',
          disks: [],
          dependents: t.dependents,
        }));
      },
      async listSnapshots(vm: string): Promise<SnapshotInfo[]> {
        await gate('listSnapshots');
        needVm(vm);
        return snapshots(vm);
      },
      async vmNics(vms: ReadonlyArray<{ uuid: string }>): Promise<Map<string, VmNic[]>> {
        await gate('vmNics');
        return new Map(vms.flatMap((v) => (inv.nics.has(v.uuid) ? [[v.uuid, inv.nics.get(v.uuid)!] as const] : [])));
      },
    };
  }
}

export const GUILD = '100000000000000001';
export const PLACE: ChatPlace = { adapter: 'test', guildId: GUILD, channelId: 'chan-1' };

export function user(id: string, roles: Role[], extra: Partial<ChatUser> = {}): ChatUser {
  return { id, name: id, roles: expandRoles(roles), ...extra };
}

export const USERS = {
  alice: user('alice', ['operator']),
  bob: user('bob', ['operator', 'approver']),
  carol: user('carol', ['viewer']),
  dave: user('dave', []),
  erin: user('erin', ['admin']),
  /** An approver who holds no other level. */
  victor: user('victor', ['approver']),
};

export interface World {
  store: SqliteJobStore;
  hv: InventoryHypervisor;
  catalog: Catalog;
  services: Services;
  router: CommandRouter;
  clock: { t: number; now(): number; advance(ms: number): void };
  logs: Array<{ level: string; obj: object; msg?: string | undefined }>;
  run(u: ChatUser, command: string, subcommand: string | null, options?: RawOptions, place?: ChatPlace): ReturnType<CommandRouter['handle']>;
  jobCount(): number;
  audit(): ReturnType<SqliteJobStore['audit']['list']>;
  close(): void;
}

type Limit = { capacity?: number; windowMs?: number } | 'off';

export function makeWorld(opts: { twoPerson?: boolean; guildId?: string | null; rateLimit?: Limit; readRateLimit?: Limit } = {}): World {
  // A real SQLite file; on tmpfs when there is one, since fsync (synchronous=FULL) dominates otherwise.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'kvmops-commands-'));
  const clock = {
    t: Date.UTC(2025, 4, 1, 12, 0, 0),
    now() {
      return clock.t;
    },
    advance(ms: number) {
      clock.t += ms;
    },
  };
  const store = openJobStore(join(dir, 'kvmops.db'), { now: () => clock.now() });
  const hv = new InventoryHypervisor();
  const local = hv.inv('local');
  local.vms.set('golden', 'shut off');
  local.vms.set('web-01', 'running');
  local.vms.set('db', 'shut off');
  local.templates.set('base', { dependents: ['web-01'] });
  local.templates.set('spare', { dependents: [] });
  local.snapshots.set('web-01', [
    { name: 'clean', parent: null },
    { name: 'before-upgrade', parent: 'clean' },
  ]);
  hv.inv('remote').vms.set('far', 'running');

  const catalog = new Catalog(hv, { ttlMs: 15_000, now: () => clock.now() });
  const logs: World['logs'] = [];
  // the host probe over a stand-in for each host's facts: local answers, remote refuses
  const probe = new HostProbe(
    {
      hostNames: () => hv.hostNames(),
      host: (name) => ({
        facts: async () => {
          if (name !== 'local') throw new KvmopsError('host-unreachable', 'ssh: connect to host remote port 22: Connection refused');
          return LOCAL_FACTS;
        },
        templateMemory: async () => 64 * 1024 ** 2,
      }),
    },
    { now: () => clock.now() },
  );
  const services: Services = {
    jobs: store,
    approvals: store.approvals,
    audit: store.audit,
    keys: store.keys,
    schedules: store.schedules,
    hypervisor: hv,
    catalog,
    hosts: hostsPort([{ name: 'local', uri: 'qemu:///system' }, { name: 'remote', uri: 'qemu+ssh://remote/system', drain: true }], probe, store),
    config: { twoPerson: opts.twoPerson ?? true, approvalTtlMs: 30 * 60_000, guildId: opts.guildId === undefined ? GUILD : opts.guildId },
    now: () => clock.now(),
    log: {
      error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
      warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
    },
  };
  const router = new CommandRouter({
    commands: loadCommands(),
    services,
    ...(opts.rateLimit ? { rateLimit: opts.rateLimit } : {}),
    ...(opts.readRateLimit ? { readRateLimit: opts.readRateLimit } : {}),
  });
  return {
    store,
    hv,
    catalog,
    services,
    router,
    clock,
    logs,
    run(u, command, subcommand, options = {}, place = PLACE) {
      const inv: Invocation = { command, subcommand, options, user: u, place };
      return router.handle(inv);
    },
    jobCount: () => (store.db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n,
    audit: () => store.audit.list(1000),
    close() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A stable uuid per VM name for the fixture host (what a pin records). */
export function fixtureUuid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

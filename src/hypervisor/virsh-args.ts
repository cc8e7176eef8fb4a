import type { DomainUuid } from './domain-uuid.js';
import { toolBuilders, type ToolArgs } from './tool-args.js';

/**
 * Pure argument builders for virsh: one function per command kvmops uses, so the exact argv is
 * unit-tested and no call site spells options by hand (the VirshArgs brand makes a hand-spelled
 * argv a type error at Virsh.run / Virsh.multi). They take names already validated
 * (validate.ts) and paths already checked against the storage dir (StorageLayout.assertInside)
 * where the command changes something.
 *
 * Every command runs inside one command string (`virsh --connect URI "a ; b"`, multi.ts), so
 * this module also spells how commands become that string and that process's argv.
 */

export const VIRSH = 'virsh';

/** One virsh command (`domstate --reason <uuid>`), made by virshArgs only. */
export type VirshArgs = ToolArgs<typeof VIRSH>;

/**
 * Every builder that names a domain takes a DomainUuid (domain-uuid.ts), never a name: virsh
 * would read a name as an id or a uuid first and could act on another domain.
 */
export const virshArgs = toolBuilders(VIRSH, {
  version: (): string[] => ['version'],
  /** Every domain as `<uuid> <name>`: the one exact name → uuid map (domains.ts). */
  listDomains: (): string[] => ['list', '--all', '--uuid', '--name'],
  /** Uuids of the running domains. */
  listActiveUuids: (): string[] => ['list', '--uuid'],
  /** Uuids of the domains that have snapshot metadata. */
  listUuidsWithSnapshots: (): string[] => ['list', '--all', '--uuid', '--with-snapshot'],
  /**
   * Uuids of the domains in one state, filtered by libvirt itself: unlike `list --all` (which
   * asks each domain's state, ~5× the cost at 3,000 domains) this costs what `--name` costs.
   */
  listUuidsInState: (state: 'running' | 'paused' | 'shutoff' | 'other'): string[] => ['list', '--all', '--uuid', `--state-${state}`],
  listAll: (): string[] => ['list', '--all'],
  /**
   * Every domain's state and disks (`state.state`, `block.N.name` / `block.N.path`) in one call:
   * the reconcile's cheap listing besides the uuid list. Measured at 3,000 domains: the uuid list
   * and this ~2× a bare `list --all --uuid --name`, where the uuid list, three libvirt-filtered
   * state lists and `domstats --block` took ~2.8×. `--nowait`: what needs no job on the domain
   * only — a hung QEMU never holds it up.
   */
  domstatsStateBlock: (): string[] => ['domstats', '--state', '--block', '--nowait'],
  /**
   * libvirt's event stream, every domain, one line per event with its time, for `seconds` (then
   * virsh exits 0 and is started again: even the long-lived process has a bound).
   */
  eventLoop: (seconds: number): string[] => ['event', '--all', '--loop', '--timestamp', '--timeout', String(seconds)],
  domstate: (d: DomainUuid): string[] => ['domstate', '--reason', d],
  dominfo: (d: DomainUuid): string[] => ['dominfo', d],
  dumpxml: (d: DomainUuid, opts: { inactive?: boolean } = {}): string[] =>
    opts.inactive ? ['dumpxml', '--inactive', d] : ['dumpxml', d],
  domblklist: (d: DomainUuid): string[] => ['domblklist', '--details', d],
  /**
   * A domain's interface addresses from one source: `lease` (libvirt's own DHCP: networks it
   * runs), `agent` (the guest agent, any NIC type), `arp` (the host's neighbour table).
   * `--full`: every row names its interface and MAC (without it, a second address leaves them out).
   */
  domifaddr: (d: DomainUuid, source: 'lease' | 'agent' | 'arp'): string[] => ['domifaddr', '--domain', d, '--source', source, '--full'],
  define: (xmlFile: string): string[] => ['define', xmlFile],
  start: (d: DomainUuid): string[] => ['start', d],
  shutdown: (d: DomainUuid): string[] => ['shutdown', d],
  destroy: (d: DomainUuid): string[] => ['destroy', d],
  /** `--snapshots-metadata`: a shut-off domain with snapshots cannot be undefined otherwise. */
  undefine: (d: DomainUuid, opts: { nvram?: boolean } = {}): string[] =>
    ['undefine', d, '--snapshots-metadata', ...(opts.nvram ? ['--nvram'] : [])],
  /** kvmops' metadata element under `uri` in the persistent definition. */
  metadataGet: (d: DomainUuid, uri: string): string[] => ['metadata', d, uri, '--config'],
  metadataSet: (d: DomainUuid, uri: string, key: string, xml: string): string[] => [
    'metadata',
    d,
    uri,
    '--config',
    '--key',
    key,
    '--set',
    xml,
  ],

  snapshotListNames: (d: DomainUuid): string[] => ['snapshot-list', d, '--name'],
  snapshotDumpxml: (d: DomainUuid, snapshot: string): string[] => ['snapshot-dumpxml', d, snapshot],
  snapshotInfo: (d: DomainUuid, snapshot: string): string[] => ['snapshot-info', d, snapshot],
  /** `--atomic`: all disks or none. External ones are `--disk-only`. */
  snapshotCreate: (d: DomainUuid, xmlFile: string, opts: { diskOnly: boolean }): string[] => [
    'snapshot-create',
    d,
    '--xmlfile',
    xmlFile,
    '--atomic',
    ...(opts.diskOnly ? ['--disk-only'] : []),
  ],
  /** Replace a snapshot's metadata (kvmops' own external revert) and make it the current one. */
  snapshotRedefineCurrent: (d: DomainUuid, xmlFile: string): string[] => [
    'snapshot-create',
    d,
    '--xmlfile',
    xmlFile,
    '--redefine',
    '--current',
  ],
  /** `paused`: a snapshot taken while running comes back paused (resumed once the revert is recorded). */
  snapshotRevert: (d: DomainUuid, snapshot: string, opts: { paused?: boolean } = {}): string[] => [
    'snapshot-revert',
    d,
    snapshot,
    ...(opts.paused ? ['--paused'] : []),
  ],
  resume: (d: DomainUuid): string[] => ['resume', d],
  snapshotCurrent: (d: DomainUuid, snapshot: string): string[] => ['snapshot-current', d, snapshot],
  /** `metadataOnly`: libvirt forgets the snapshot, kvmops has dealt with the files. */
  snapshotDelete: (d: DomainUuid, snapshot: string, opts: { metadataOnly?: boolean } = {}): string[] => [
    'snapshot-delete',
    d,
    snapshot,
    ...(opts.metadataOnly ? ['--metadata'] : []),
  ],
  /** Merge a running disk's top overlay into its backing file and pivot to it. */
  blockcommitActive: (d: DomainUuid, target: string): string[] => [
    'blockcommit',
    d,
    target,
    '--shallow',
    '--active',
    '--pivot',
    '--wait',
  ],

  poolListAll: (): string[] => ['pool-list', '--all', '--name'],
  poolListActive: (): string[] => ['pool-list', '--name'],
  poolDefineDir: (pool: string, dir: string): string[] => ['pool-define-as', pool, 'dir', '--target', dir],
  /** A transient dir pool (gone at `pool-destroy`): libvirt sees files only as volumes of a pool. */
  poolCreateDir: (pool: string, dir: string): string[] => ['pool-create-as', pool, 'dir', '--target', dir],
  poolBuild: (pool: string): string[] => ['pool-build', pool],
  poolStart: (pool: string): string[] => ['pool-start', pool],
  poolAutostart: (pool: string): string[] => ['pool-autostart', pool],
  poolRefresh: (pool: string): string[] => ['pool-refresh', pool],
  /** Sizes in bytes (without --bytes virsh rounds them: "251.97 GiB"). */
  poolInfo: (pool: string): string[] => ['pool-info', '--bytes', pool],
  /** CPUs and memory of the host (`/host info`). */
  nodeinfo: (): string[] => ['nodeinfo'],
  /** The host's memory now: total, free, buffers, cached (KiB). */
  nodememstats: (): string[] => ['nodememstats'],
  poolDestroy: (pool: string): string[] => ['pool-destroy', pool],
  poolUndefine: (pool: string): string[] => ['pool-undefine', pool],

  volList: (pool: string): string[] => ['vol-list', pool],
  /** By path (libvirt looks the volume up in every active pool). */
  volDumpxml: (path: string): string[] => ['vol-dumpxml', path],
  volDelete: (path: string): string[] => ['vol-delete', path],
  volPath: (pool: string, volume: string): string[] => ['vol-path', '--pool', pool, volume],
  volCreateAs: (pool: string, name: string, capacityBytes: number, format: 'raw' | 'qcow2'): string[] => [
    'vol-create-as',
    pool,
    name,
    `${capacityBytes}B`,
    '--format',
    format,
  ],
  /** A qcow2 overlay whose backing file (and its format, given explicitly) is `backingPath`. */
  volCreateOverlay: (pool: string, name: string, capacityBytes: number, backingPath: string): string[] => [
    'vol-create-as',
    pool,
    name,
    `${capacityBytes}B`,
    '--format',
    'qcow2',
    '--backing-vol',
    backingPath,
    '--backing-vol-format',
    'qcow2',
  ],
  /** A full copy (libvirt converts, so a chain is flattened) of the volume at `inputPath`. */
  volCreateFrom: (pool: string, xmlFile: string, inputPath: string): string[] => [
    'vol-create-from',
    pool,
    xmlFile,
    inputPath,
  ],
  volUpload: (pool: string, vol: string, file: string): string[] => ['vol-upload', '--pool', pool, vol, file],
  volDownload: (pool: string, vol: string, file: string): string[] => ['vol-download', '--pool', pool, vol, file],
  /** `err`: on stderr, as `error: TEXT` (virsh's own prefix). */
  echo: (text: string, opts: { err?: boolean } = {}): string[] => (opts.err ? ['echo', '--err', text] : ['echo', text]),
});

/** Between two commands of one command string. */
export const COMMAND_SEPARATOR = ' ; ';

/**
 * Quotes one argument for virsh's own command-string parser, which reads quotes as a POSIX
 * shell does (libvirt's vshCommandStringGetArg): inside '…' every character is itself, and a
 * `'` is closed, escaped and reopened (`'\''`). So any argument reaches the command exactly
 * as given (checked against libvirt 9.0 in test/hypervisor/multi.test.ts).
 */
export function quoteVirshArg(a: string): string {
  return `'${a.replace(/'/g, "'\\''")}'`;
}

/** Commands as one command string: `'a' 'x' ; 'b' 'y'`. */
export function virshCommandString(commands: readonly VirshArgs[]): string {
  return commands.map((c) => c.map(quoteVirshArg).join(' ')).join(COMMAND_SEPARATOR);
}

/**
 * The argv of one virsh process: a constant `--connect` (the Umbrel way), then either one
 * command string (what kvmops runs: `script`) or one command as separate arguments (`command`:
 * how a command reads in an error message).
 */
export const virshProcessArgs = toolBuilders(VIRSH, {
  script: (uri: string, commandStrings: readonly string[]): string[] => ['--connect', uri, commandStrings.join(COMMAND_SEPARATOR)],
  command: (uri: string, args: VirshArgs): string[] => ['--connect', uri, ...args],
});

/** Volume XML for `vol-create-from`: a qcow2 whose size libvirt takes from the input volume. */
export function volumeXml(name: string, opts: { mode?: string } = {}): string {
  const perms = opts.mode ? `<permissions><mode>${opts.mode}</mode></permissions>` : '';
  return `<volume><name>${name}</name><capacity unit='bytes'>0</capacity><target><format type='qcow2'/><compat>1.1</compat>${perms}</target></volume>\n`;
}

import type { DomainUuid } from './domain-uuid.js';

/**
 * Pure argument builders for virsh: one function per command kvmops uses, so the exact argv is
 * unit-tested and no call site spells options by hand. They take names already validated
 * (validate.ts) and paths already checked against the storage dir (StorageLayout.assertInside)
 * where the command changes something.
 */

export type VirshArgs = string[];

/**
 * Every builder that names a domain takes a DomainUuid (domain-uuid.ts), never a name: virsh
 * would read a name as an id or a uuid first and could act on another domain.
 */
export const virshArgs = {
  version: (): VirshArgs => ['version'],
  /** Every domain as `<uuid> <name>`: the one exact name → uuid map (domains.ts). */
  listDomains: (): VirshArgs => ['list', '--all', '--uuid', '--name'],
  /** Uuids of the running domains. */
  listActiveUuids: (): VirshArgs => ['list', '--uuid'],
  /** Uuids of the domains that have snapshot metadata. */
  listUuidsWithSnapshots: (): VirshArgs => ['list', '--all', '--uuid', '--with-snapshot'],
  listAll: (): VirshArgs => ['list', '--all'],
  domstate: (d: DomainUuid): VirshArgs => ['domstate', '--reason', d],
  dominfo: (d: DomainUuid): VirshArgs => ['dominfo', d],
  dumpxml: (d: DomainUuid, opts: { inactive?: boolean } = {}): VirshArgs =>
    opts.inactive ? ['dumpxml', '--inactive', d] : ['dumpxml', d],
  domblklist: (d: DomainUuid): VirshArgs => ['domblklist', '--details', d],
  define: (xmlFile: string): VirshArgs => ['define', xmlFile],
  start: (d: DomainUuid): VirshArgs => ['start', d],
  shutdown: (d: DomainUuid): VirshArgs => ['shutdown', d],
  destroy: (d: DomainUuid): VirshArgs => ['destroy', d],
  /** `--snapshots-metadata`: a shut-off domain with snapshots cannot be undefined otherwise. */
  undefine: (d: DomainUuid, opts: { nvram?: boolean } = {}): VirshArgs =>
    ['undefine', d, '--snapshots-metadata', ...(opts.nvram ? ['--nvram'] : [])],
  /** kvmops' metadata element under `uri` in the persistent definition. */
  metadataGet: (d: DomainUuid, uri: string): VirshArgs => ['metadata', d, uri, '--config'],
  metadataSet: (d: DomainUuid, uri: string, key: string, xml: string): VirshArgs => [
    'metadata',
    d,
    uri,
    '--config',
    '--key',
    key,
    '--set',
    xml,
  ],

  snapshotListNames: (d: DomainUuid): VirshArgs => ['snapshot-list', d, '--name'],
  snapshotDumpxml: (d: DomainUuid, snapshot: string): VirshArgs => ['snapshot-dumpxml', d, snapshot],
  snapshotInfo: (d: DomainUuid, snapshot: string): VirshArgs => ['snapshot-info', d, snapshot],
  /** `--atomic`: all disks or none. External ones are `--disk-only`. */
  snapshotCreate: (d: DomainUuid, xmlFile: string, opts: { diskOnly: boolean }): VirshArgs => [
    'snapshot-create',
    d,
    '--xmlfile',
    xmlFile,
    '--atomic',
    ...(opts.diskOnly ? ['--disk-only'] : []),
  ],
  /** Replace a snapshot's metadata (kvmops' own external revert) and make it the current one. */
  snapshotRedefineCurrent: (d: DomainUuid, xmlFile: string): VirshArgs => [
    'snapshot-create',
    d,
    '--xmlfile',
    xmlFile,
    '--redefine',
    '--current',
  ],
  snapshotRevert: (d: DomainUuid, snapshot: string): VirshArgs => ['snapshot-revert', d, snapshot],
  snapshotCurrent: (d: DomainUuid, snapshot: string): VirshArgs => ['snapshot-current', d, snapshot],
  /** `metadataOnly`: libvirt forgets the snapshot, kvmops has dealt with the files. */
  snapshotDelete: (d: DomainUuid, snapshot: string, opts: { metadataOnly?: boolean } = {}): VirshArgs => [
    'snapshot-delete',
    d,
    snapshot,
    ...(opts.metadataOnly ? ['--metadata'] : []),
  ],
  /** Merge a running disk's top overlay into its backing file and pivot to it. */
  blockcommitActive: (d: DomainUuid, target: string): VirshArgs => [
    'blockcommit',
    d,
    target,
    '--shallow',
    '--active',
    '--pivot',
    '--wait',
  ],

  poolListAll: (): VirshArgs => ['pool-list', '--all', '--name'],
  poolListActive: (): VirshArgs => ['pool-list', '--name'],
  poolDefineDir: (pool: string, dir: string): VirshArgs => ['pool-define-as', pool, 'dir', '--target', dir],
  /** A transient dir pool (gone at `pool-destroy`): libvirt sees files only as volumes of a pool. */
  poolCreateDir: (pool: string, dir: string): VirshArgs => ['pool-create-as', pool, 'dir', '--target', dir],
  poolBuild: (pool: string): VirshArgs => ['pool-build', pool],
  poolStart: (pool: string): VirshArgs => ['pool-start', pool],
  poolAutostart: (pool: string): VirshArgs => ['pool-autostart', pool],
  poolRefresh: (pool: string): VirshArgs => ['pool-refresh', pool],
  poolInfo: (pool: string): VirshArgs => ['pool-info', pool],
  poolDestroy: (pool: string): VirshArgs => ['pool-destroy', pool],
  poolUndefine: (pool: string): VirshArgs => ['pool-undefine', pool],

  volList: (pool: string): VirshArgs => ['vol-list', pool],
  /** By path (libvirt looks the volume up in every active pool). */
  volDumpxml: (path: string): VirshArgs => ['vol-dumpxml', path],
  volDelete: (path: string): VirshArgs => ['vol-delete', path],
  volPath: (pool: string, volume: string): VirshArgs => ['vol-path', '--pool', pool, volume],
  volCreateAs: (pool: string, name: string, capacityBytes: number, format: 'raw' | 'qcow2'): VirshArgs => [
    'vol-create-as',
    pool,
    name,
    `${capacityBytes}B`,
    '--format',
    format,
  ],
  /** A qcow2 overlay whose backing file (and its format, given explicitly) is `backingPath`. */
  volCreateOverlay: (pool: string, name: string, capacityBytes: number, backingPath: string): VirshArgs => [
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
  volCreateFrom: (pool: string, xmlFile: string, inputPath: string): VirshArgs => [
    'vol-create-from',
    pool,
    xmlFile,
    inputPath,
  ],
  volUpload: (pool: string, vol: string, file: string): VirshArgs => ['vol-upload', '--pool', pool, vol, file],
  volDownload: (pool: string, vol: string, file: string): VirshArgs => ['vol-download', '--pool', pool, vol, file],
  echo: (text: string, opts: { err?: boolean } = {}): VirshArgs => (opts.err ? ['echo', '--err', text] : ['echo', text]),
};

/** Volume XML for `vol-create-from`: a qcow2 whose size libvirt takes from the input volume. */
export function volumeXml(name: string, opts: { mode?: string } = {}): string {
  const perms = opts.mode ? `<permissions><mode>${opts.mode}</mode></permissions>` : '';
  return `<volume><name>${name}</name><capacity unit='bytes'>0</capacity><target><format type='qcow2'/><compat>1.1</compat>${perms}</target></volume>\n`;
}

import type { KvmopsError } from '../domain/errors.js';

/**
 * The hypervisor layer's public types: what the worker's executors and the read-only command
 * handlers see. Closed unions everywhere: output the parsers do not recognise is an
 * `unexpected-output` error, never a guess.
 */

/** libvirt domain states as `virsh domstate` names them. */
export const VM_STATES = [
  'running',
  'idle',
  'paused',
  'in shutdown',
  'shut off',
  'crashed',
  'pmsuspended',
] as const;
export type VmState = (typeof VM_STATES)[number];

export interface VmSummary {
  name: string;
  /** libvirt's uuid: the VM's identity (a name can be given to another VM later). */
  uuid: string;
  state: VmState;
}

/**
 * A VM as a job names it: by name and, when the job pinned it at request time, by the uuid it
 * had then. With `vmUuid` the host acts on that domain only: if it is gone and another has the
 * name → `target-changed`, gone altogether → `target-gone`; a same-named new VM is never touched.
 */
export interface VmTarget {
  vm: string;
  vmUuid?: string;
}

/**
 * A snapshot as a job pinned it at request time (its name is not its identity: a snapshot can be
 * deleted and another made under the name): its creation time and, for an external one, the
 * files that became its read-only bases.
 */
export interface SnapshotPin {
  /** libvirt's creationTime, unix seconds. */
  createdAt: number;
  /** External: the base files, sorted; internal: empty. */
  files: string[];
}

/** A template as a job pinned it: its creation time (ISO 8601, from its stored XML). */
export interface TemplatePin {
  createdAt: string;
}

/** One file in a disk's backing chain, top first. */
export interface ChainEntry {
  file: string;
  format: string;
  virtualSize: number;
  /** Bytes allocated on the host (qemu-img "actual-size"), when known. */
  actualSize?: number;
}

export interface VmDisk {
  /** Guest target, e.g. `vda`. */
  target: string;
  file: string;
  format: string;
  /** The whole chain, `chain[0]` is `file` itself. */
  chain: ChainEntry[];
}

export type SnapshotKind = 'internal' | 'external';

export interface SnapshotInfo {
  name: string;
  kind: SnapshotKind;
  /** Parent snapshot name, null for a root. */
  parent: string | null;
  /** Creation time, unix seconds (libvirt's creationTime). */
  createdAt: number;
  current: boolean;
  description: string;
  /** Domain state captured: `running`, `shutoff`, `disk-snapshot` … as libvirt records it. */
  state: string;
  /** External: the files that became its read-only bases (sorted) — with createdAt, its identity. */
  files: string[];
}

/** Where an address was learnt: libvirt's DHCP lease, the guest agent, the host's ARP table. */
export type AddressSource = 'lease' | 'agent' | 'arp';

export interface NicAddress {
  /** The NIC's MAC, lower case. */
  mac: string;
  protocol: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
  source: AddressSource;
}

/** A VM's network interface: from the definition, with the addresses it is known to have. */
export interface VmNic {
  mac: string | null;
  /** `network`, `bridge`, `direct`, `user` … as the definition says. */
  type: string;
  /** The libvirt network, bridge or device it is on. */
  network: string | null;
  addresses: NicAddress[];
}

/** One VM's address after a bounded wait (`waitForAddresses`). */
export interface AddressWait {
  vm: string;
  uuid: string;
  /** Its first IPv4 (lease, then agent, then ARP), when one came in time. */
  address?: NicAddress;
  /**
   * Why there is none: no NIC an address can come for, none in time (or the wait was ended),
   * not running, or the host could not be asked (a start's result says so; it never fails for it).
   */
  missing?: 'no-network' | 'timeout' | 'not-running' | 'unreadable';
}

export interface VmInfo {
  name: string;
  uuid: string;
  state: VmState;
  vcpus: number;
  memoryKiB: number;
  disks: VmDisk[];
  snapshots: SnapshotInfo[];
  /** Its NICs; addresses only while it runs. */
  nics: VmNic[];
  /** The template this VM was deployed from, and how, when kvmops made it. */
  deployedFrom?: { template: string; mode: DeployMode };
}

export interface TemplateDisk {
  target: string;
  file: string;
  virtualSize: number;
  actualSize: number;
}

/**
 * Does a template's guest have cloud-init (so each deployed VM's seed — hostname, keys, a
 * profile — is applied)? Looked for once, when the template is made (cloud-init.ts).
 * `unknown`: nothing libguestfs could inspect (no operating system found: e.g. a blank disk),
 * libguestfs not available, or a template made before kvmops looked.
 */
export type CloudInit = 'yes' | 'no' | 'unknown';

export interface TemplateInfo {
  name: string;
  /** The VM it was made from. */
  sourceVm: string;
  sealed: boolean;
  cloudInit: CloudInit;
  /** ISO 8601. */
  createdAt: string;
  disks: TemplateDisk[];
  /** VMs whose disk chains use this template's disks (thin dependents). */
  dependents: string[];
  /** VMs whose disk chains could not be read: they may depend on it too (delete is refused). */
  unreadable?: string[];
}

export type DeployMode = 'thin' | 'clone';

export interface DeployRequest {
  template: string;
  /** Base name; with count > 1 the VMs are `name-01` … `name-NN`. */
  name: string;
  count: number;
  /** Numbered from this (`name-<first>` …), even a single VM: one host's share of a placed deploy. */
  first?: number;
  mode: DeployMode;
  start: boolean;
  /** Set by a job that pinned the template at request time: a template made anew under the name → `target-changed`. */
  templatePin?: TemplatePin;
  /**
   * The job's request id (a valid name, never another job's). Recorded in each VM's kvmops metadata so that calling deploy
   * again for the same request after a crash recognises the VMs it already made (kept when
   * whole, redone when half-made) instead of refusing them as `name-taken`.
   */
  requestId?: string;
  /**
   * OpenSSH public keys (one line each, already validated) for every VM's cloud-init seed: the
   * requester's `/key` keys as captured at request time. The host's team keys are added to them.
   */
  sshKeys?: readonly string[];
  /**
   * A profile's `#cloud-config` settings (KVMOPS_PROFILES_DIR, captured at request time): in
   * every VM's seed, under the per-VM hostname and keys (seed.ts: the per-VM values win).
   */
  userData?: Readonly<Record<string, unknown>>;
}

export interface DeployResult {
  vms: string[];
  mode: DeployMode;
  started: boolean;
  /** The template's guest and cloud-init: `no` means the VMs' seeds are not applied (no hostname, no keys). */
  cloudInit: CloudInit;
  /**
   * The VMs as this call left them, for the inventory: the ones it made from what it made (their
   * uuids, the files it created and the template disk each backs onto — no read-back), the ones
   * an earlier attempt of the request made read whole.
   */
  made?: InventoryVm[];
}

export interface Progress {
  /** Short human step, e.g. "copying vda". */
  step: string;
  /** 0..1 when the step knows how far it is. */
  fraction?: number;
}

/** Passed to every operation: cancellation and progress. */
export interface OpContext {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /**
   * Where the inventory runs (a job in the worker): the domains that might reference these
   * files, from a fresh diff (src/inventory). A destructive step then re-reads only those
   * domains instead of every domain of the host, and still verifies them on disk. Absent (unit
   * tests, direct callers), or answering null: the host is read whole, as before — safety first.
   */
  referrers?: Referrers;
}

/**
 * The candidates that may reference any of `files`: every domain whose known chains (live or
 * persistent definition, snapshots) contain one, every domain whose references the inventory
 * could not read or has not read since it changed, and every domain it does not keep (libguestfs
 * appliances). Null: no fresh answer (the caller reads the whole host).
 */
export type Referrers = (files: readonly string[], ctx: { signal?: AbortSignal }) => Promise<{ domains: Array<{ uuid: string; name: string }> } | null>;

export interface CreateTemplateRequest extends VmTarget {
  name: string;
  seal: boolean;
}

export interface CreateSnapshotRequest extends VmTarget {
  name: string;
  kind: SnapshotKind;
  description?: string;
}

export interface SnapshotRef extends VmTarget {
  name: string;
  /** Set by a job that pinned the snapshot at request time (see SnapshotPin). */
  pin?: SnapshotPin;
}

/**
 * A revert asked for by a job. `requestId` (the job's, stable across attempts) is recorded on
 * the VM at the revert's point of no return; a second call with the same id reverts nothing: it
 * finishes the steps the record says are left and answers `alreadyApplied` — a job retried
 * after a fault, or whose success write was lost, never reverts twice.
 */
export interface RevertRequest extends SnapshotRef {
  requestId?: string;
}

export interface RevertResult {
  alreadyApplied: boolean;
}

export interface StopRequest extends VmTarget {
  /** destroy instead of an ACPI shutdown */
  force: boolean;
  /** Bound on the ACPI shutdown wait before failing with `command-timeout` (default 120 s). */
  timeoutMs?: number;
}

export interface DeleteVmResult {
  /** Files removed from the storage dir. */
  removed: string[];
  /**
   * Disk files kept: outside the storage dir, a template's, not made by kvmops for this VM
   * (old-named or hand-made), still used by another domain — or every file, while `unreadable`.
   */
  kept: string[];
  /** `domain: file` whose backing chains (or XML) could not be read: while any, no file is removed. */
  unreadable?: string[];
}

// --- what the inventory keeps (src/inventory), read through this layer ------------------------

/** One domain as the cheap listing shows it: `list --all --uuid --name` plus libvirt-filtered states. */
export interface ListedVm {
  uuid: string;
  name: string;
  state: VmState;
  /**
   * Its disks as `domstats --block` lists them (`target=path` a line, in libvirt's order): when
   * it differs from the one stored with the row, the definition changed (a disk added, removed
   * or replaced) and the VM is read whole. Absent when libvirt did not say.
   */
  blocks?: string;
}

/** What the reconcile's cheap diff reads, in one virsh process. */
export interface HostListing {
  vms: ListedVm[];
  /** Names of the templates present. */
  templates: string[];
  /** Domains listed that are not VMs (libguestfs appliances): not kept, but they may use files. */
  others?: Array<{ uuid: string; name: string }>;
}

/** A VM disk as the inventory keeps it. */
export interface InventoryDisk {
  target: string;
  file: string;
  format: string;
  /** Its backing chain's files, top first (`chain[0]` is `file`); empty while unreadable or absent. */
  chain: string[];
  /** The template whose disk is in the chain (a thin disk hangs on it), or null. */
  template: string | null;
  /** Why the chain could not be read: what it hangs on is unknown. */
  unreadable?: string;
}

export interface InventorySnapshot {
  name: string;
  kind: SnapshotKind;
  parent: string | null;
  /** libvirt's creationTime, unix seconds. */
  createdAt: number;
  /** External: the files that became its read-only bases (the files it owns); internal: []. */
  files: string[];
}

/** One VM, read whole for the inventory: O(its own disks and snapshots), never the host's. */
export interface InventoryVm {
  uuid: string;
  name: string;
  state: VmState;
  /** The listing's `blocks` this record was read for (the reconcile sets it; a job's record has none). */
  blocks?: string;
  disks: InventoryDisk[];
  snapshots: InventorySnapshot[];
  /**
   * Every file any chain of the domain references — its disks' chains, its persistent
   * definition's (when it runs with another), each snapshot's recorded disks and overlays: what
   * a destructive step looks up to find the domains that might use a file. Absent (an older
   * writer): the disks' chains and the snapshots' files stand in.
   */
  uses?: string[];
}

/** A template as the inventory keeps it (no dependents: the inventory counts them from its VM disks). */
export interface InventoryTemplate {
  name: string;
  sourceVm: string;
  sealed: boolean;
  cloudInit: CloudInit;
  /** ISO 8601. */
  createdAt: string;
  disks: TemplateDisk[];
  /** Bytes allocated on the host, all disks. */
  size: number;
}

/** One line of libvirt's event stream (src/hypervisor/events.ts). */
export interface DomainEvent {
  /** Epoch ms libvirt stamped it with (`--timestamp`); null if it could not be read. */
  at: number | null;
  /** `lifecycle`, `reboot`, `device-removed`, `metadata-change`, … */
  type: string;
  /** The domain's name as virsh printed it. */
  domain: string;
  /** The rest of the line: `Started Booted`, `Undefined Removed`, … */
  detail: string;
}

/** How a host's event stream is followed (src/hypervisor/events.ts `watchDomainEvents`). */
export interface EventWatch {
  signal: AbortSignal;
  onEvent(event: DomainEvent): void;
  /** A stream started (the first, or again after an end): what happened meanwhile is unknown. */
  onStart?(pid: number): void;
  /** A stream ended: `error` null when by its own bound; `retryInMs` until the next one starts. */
  onEnd?(error: KvmopsError | null, retryInMs: number): void;
  /** Seconds one virsh process runs before it is started again (its `--timeout`). Default 3600. */
  seconds?: number;
  /** Pause after the n-th failure in a row: baseMs · 2^(n-1), at most capMs. Default 1 s … 60 s. */
  backoff?: { baseMs: number; capMs: number };
}

/**
 * What the reconcile loop (src/inventory) reads: cheap listings first, then whole records only
 * for the objects that are new or changed. Never a host-wide chain scan.
 */
export interface InventoryReader {
  /** Every VM domain with its state: one virsh process (a name list and three libvirt-filtered state lists). */
  listDomainStates(ctx?: OpContext): Promise<ListedVm[]>;
  /** The same and the template names, in one virsh process: the reconcile's whole cheap diff. */
  listing(ctx?: OpContext): Promise<HostListing>;
  /**
   * These domains (by uuid; the name is the listed one, used only when the definition cannot be
   * read), read whole; ones that vanished meanwhile are left out.
   */
  readVms(refs: readonly { uuid: string; name: string }[], ctx?: OpContext): Promise<InventoryVm[]>;
  /** These templates, read whole; missing ones are left out. */
  readTemplates(names: readonly string[], ctx?: OpContext): Promise<InventoryTemplate[]>;
  /**
   * libvirt's event stream of the host, kept running until `signal` aborts (events.ts): which
   * domains to read again, sooner than the timer. Absent where there is no stream (test doubles).
   */
  watchEvents?(watch: EventWatch): Promise<void>;
}

/**
 * One libvirt host (a connection URI). Every method validates its names again (defence in
 * depth beneath the chat-side validation) and throws KvmopsError with a stable code.
 *
 * Idempotency for crash recovery: the worker may call a mutating method again for a job that
 * was interrupted. Each method checks the real state first and either finishes the work or
 * fails cleanly (e.g. deploy removes half-made VMs of its own batch that it cannot finish).
 */
export interface HostDriver {
  readonly name: string;
  readonly uri: string;
  /** What the inventory reads (src/inventory): the reconcile loop, and jobs reporting their changes. */
  readonly inventory: InventoryReader;

  /** Domains that are VMs (templates are not domains). */
  listVms(ctx?: OpContext): Promise<VmSummary[]>;
  vmInfo(vm: string, ctx?: OpContext): Promise<VmInfo>;
  startVm(vm: string | VmTarget, ctx?: OpContext): Promise<void>;
  /**
   * Waits (bounded: `timeoutMs`, default the host's KVMOPS_ADDRESS_WAIT) until each VM has an
   * IPv4 address or cannot get one; never fails for want of an address. Progress: "waiting for
   * addresses 2/4". An abort ends the wait early with what is known.
   */
  waitForAddresses(vms: ReadonlyArray<string | VmTarget>, ctx?: OpContext & { timeoutMs?: number }): Promise<AddressWait[]>;
  /**
   * The NICs of these VMs with their addresses now (running ones; `sources` default: every
   * source), in one virsh process whatever their number: `/vm info` (one VM, every source) and a
   * `/vm list` page (the running VMs on it, leases only: no agent wait). VMs gone meanwhile are left out.
   */
  vmNics(vms: ReadonlyArray<{ uuid: string }>, ctx?: OpContext & { sources?: readonly AddressSource[] }): Promise<Map<string, VmNic[]>>;
  stopVm(req: StopRequest, ctx?: OpContext): Promise<void>;
  deleteVm(vm: string | VmTarget, ctx?: OpContext): Promise<DeleteVmResult>;

  listTemplates(ctx?: OpContext): Promise<TemplateInfo[]>;
  createTemplate(req: CreateTemplateRequest, ctx?: OpContext): Promise<TemplateInfo>;
  /** With `pin`: a template made anew under the name → `target-changed`, nothing removed. */
  deleteTemplate(name: string, ctx?: OpContext, pin?: TemplatePin): Promise<void>;

  deploy(req: DeployRequest, ctx?: OpContext): Promise<DeployResult>;
  /**
   * Template `name` of `source` copied onto this host as its replica (template-copy.ts:
   * streamed, verified by size and sha256 on both hosts, placed atomically; nothing left on a
   * failure). `name-taken` when this host has it already (or another copy placed it meanwhile).
   */
  copyTemplateFrom(source: HostDriver, name: string, ctx?: OpContext): Promise<{ bytes: number }>;

  listSnapshots(vm: string, ctx?: OpContext): Promise<SnapshotInfo[]>;
  createSnapshot(req: CreateSnapshotRequest, ctx?: OpContext): Promise<SnapshotInfo>;
  revertSnapshot(req: RevertRequest, ctx?: OpContext): Promise<RevertResult>;
  deleteSnapshot(ref: SnapshotRef, ctx?: OpContext): Promise<void>;

  /** Is the host reachable (`virsh version`)? For /healthz. */
  ping(ctx?: OpContext): Promise<{ ok: boolean; detail: string }>;
  /** What the host is now (versions, CPUs, memory, storage), one virsh process (host-facts.ts). */
  facts(ctx?: OpContext & { timeoutMs?: number }): Promise<HostFacts>;
  /** The memory (bytes) a VM deployed from this template gets (placement). */
  templateMemory(template: string, ctx?: OpContext): Promise<number>;
}

/** A host's live facts (`readHostFacts`). Sizes in bytes. */
export interface HostFacts {
  libvirt: string;
  /** "QEMU 7.2.22". */
  hypervisor: string;
  cpus: number;
  cpuModel: string;
  memory: {
    total: number;
    /** free + buffers + page cache: what new guests can take. */
    available: number;
    free: number;
  };
  /** The storage dir's filesystem (the kvmops VM pool); null before kvmops made its pools there. */
  storage: { total: number; available: number } | null;
}

export interface Hypervisor {
  /** Host names in KVMOPS_HOSTS order; the first is the default. */
  hostNames(): string[];
  /** The named host, or the default; unknown → KvmopsError `host-not-found`. */
  host(name?: string): HostDriver;
}

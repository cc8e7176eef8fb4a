import type { HostConfig } from '../config/env.js';
import { deploy, type DeployOptions } from './deploy.js';
import type { HostContext } from './host-context.js';
import { readHostFacts, readTemplateMemory } from './host-facts.js';
import { parseVersion } from './parse.js';
import { createSnapshot, deleteSnapshot, listSnapshots, revertSnapshot } from './snapshots/index.js';
import { StorageLayout } from './storage.js';
import { createTemplate, deleteTemplate, listTemplates, readInventoryTemplates } from './templates.js';
import { copyTemplate } from './template-copy.js';
import { KvmopsError } from '../domain/errors.js';
import { hostListing, listDomainStates, readInventoryVms } from './inventory.js';
import { watchDomainEvents } from './events.js';
import type { SysprepOptions } from './sysprep.js';
import type { HostFacts, AddressSource, AddressWait, VmNic, InventoryReader, CreateSnapshotRequest, CreateTemplateRequest, DeleteVmResult, DeployRequest, DeployResult, HostDriver, OpContext, RevertRequest, RevertResult, SnapshotInfo, SnapshotRef, StopRequest, TemplateInfo, TemplatePin, VmInfo, VmSummary, VmTarget } from './types.js';
import { assertName, vmTarget } from './validate.js';
import { nicsNow, waitForAddresses } from './addresses.js';
import { asDomainUuid } from './domain-uuid.js';
import { resolveVm } from './domains.js';
import { virshArgs } from './virsh-args.js';
import { Virsh } from './virsh.js';
import { deleteVm, listVms, startVm, stopVm, vmInfo } from './vms.js';

/** KVMOPS_ADDRESS_WAIT's default: a Debian guest under TCG got its lease 40–70 s after start here. */
export const DEFAULT_ADDRESS_WAIT_MS = 180_000;

/** qemu:///system and qemu:///session are this machine: files can also be read with local tools. */
export function isLocalUri(uri: string): boolean {
  return /^qemu:\/\/\/(system|session)$/.test(uri);
}

export interface LibvirtHostOptions {
  storageDir: string;
  /** Overrides the URI-based guess (tests use false to drive the remote code paths locally). */
  local?: boolean;
  sysprep?: SysprepOptions;
  deploy?: DeployOptions;
  /**
   * The team's OpenSSH public keys (KVMOPS_SSH_KEYS_FILE, read at start-up): put into every VM
   * this host deploys, beside the requester's.
   */
  teamSshKeys?: readonly string[];
  /** `ping` limit. */
  pingTimeoutMs?: number;
  /** KVMOPS_ADDRESS_WAIT: how long a start waits for addresses. Default 3 minutes. */
  addressWaitMs?: number;
}

export function hostContext(host: HostConfig, opts: LibvirtHostOptions): HostContext {
  assertName(host.name, 'host');
  return {
    name: host.name,
    uri: host.uri,
    virsh: new Virsh(host.uri),
    storage: new StorageLayout(opts.storageDir),
    local: opts.local ?? isLocalUri(host.uri),
  };
}

/** One libvirt host: the HostDriver the worker's executors and the read-only handlers use. */
export class LibvirtHost implements HostDriver {
  readonly ctx: HostContext;
  readonly inventory: InventoryReader;

  constructor(
    host: HostConfig,
    private readonly opts: LibvirtHostOptions,
  ) {
    const h = (this.ctx = hostContext(host, opts));
    this.inventory = {
      listDomainStates: (ctx) => listDomainStates(h, ctx),
      listing: (ctx) => hostListing(h, ctx),
      readVms: (refs, ctx) => readInventoryVms(h, refs, ctx),
      readTemplates: (names, ctx) => readInventoryTemplates(h, names, ctx),
      watchEvents: (watch) => watchDomainEvents(h.uri, watch),
    };
  }

  get name(): string {
    return this.ctx.name;
  }
  get uri(): string {
    return this.ctx.uri;
  }

  listVms(ctx?: OpContext): Promise<VmSummary[]> {
    return listVms(this.ctx, ctx);
  }
  vmInfo(vm: string, ctx?: OpContext): Promise<VmInfo> {
    return vmInfo(this.ctx, vm, ctx);
  }
  startVm(vm: string | VmTarget, ctx?: OpContext): Promise<void> {
    return startVm(this.ctx, vm, ctx);
  }
  async waitForAddresses(vms: ReadonlyArray<string | VmTarget>, ctx: OpContext & { timeoutMs?: number } = {}): Promise<AddressWait[]> {
    const targets = vms.map(vmTarget);
    try {
      const refs = [];
      for (const { vm, vmUuid } of targets) refs.push(await resolveVm(this.ctx, vm, ctx, vmUuid));
      return await waitForAddresses(this.ctx, refs, { ...ctx, timeoutMs: ctx.timeoutMs ?? this.opts.addressWaitMs ?? DEFAULT_ADDRESS_WAIT_MS });
    } catch (e) {
      // aborted before the first read was done: nothing is known yet, and that is no error
      if (!ctx.signal?.aborted) throw e;
      return targets.map((t) => ({ vm: t.vm, uuid: t.vmUuid ?? '', missing: 'timeout' as const }));
    }
  }
  vmNics(vms: ReadonlyArray<{ uuid: string }>, ctx: OpContext & { sources?: readonly AddressSource[] } = {}): Promise<Map<string, VmNic[]>> {
    return nicsNow(this.ctx, vms.map((v) => ({ uuid: asDomainUuid(v.uuid) })), ctx, ctx.sources);
  }
  stopVm(req: StopRequest, ctx?: OpContext): Promise<void> {
    return stopVm(this.ctx, req, ctx);
  }
  deleteVm(vm: string | VmTarget, ctx?: OpContext): Promise<DeleteVmResult> {
    return deleteVm(this.ctx, vm, ctx);
  }

  listTemplates(ctx?: OpContext): Promise<TemplateInfo[]> {
    return listTemplates(this.ctx, ctx);
  }
  createTemplate(req: CreateTemplateRequest, ctx?: OpContext): Promise<TemplateInfo> {
    return createTemplate(this.ctx, req, ctx, this.opts.sysprep ? { sysprep: this.opts.sysprep } : {});
  }
  deleteTemplate(name: string, ctx?: OpContext, pin?: TemplatePin): Promise<void> {
    return deleteTemplate(this.ctx, name, ctx, pin);
  }

  copyTemplateFrom(source: HostDriver, name: string, ctx?: OpContext): Promise<{ bytes: number }> {
    if (!(source instanceof LibvirtHost)) throw new KvmopsError('unsupported', `cannot copy a template from host ${source.name}: not a libvirt host`);
    return copyTemplate(source.ctx, this.ctx, name, ctx);
  }

  deploy(req: DeployRequest, ctx?: OpContext): Promise<DeployResult> {
    return deploy(this.ctx, req, ctx, { ...this.opts.deploy, ...(this.opts.teamSshKeys ? { teamSshKeys: this.opts.teamSshKeys } : {}) });
  }

  listSnapshots(vm: string, ctx?: OpContext): Promise<SnapshotInfo[]> {
    return listSnapshots(this.ctx, vm, ctx);
  }
  createSnapshot(req: CreateSnapshotRequest, ctx?: OpContext): Promise<SnapshotInfo> {
    return createSnapshot(this.ctx, req, ctx);
  }
  revertSnapshot(req: RevertRequest, ctx?: OpContext): Promise<RevertResult> {
    return revertSnapshot(this.ctx, req, ctx);
  }
  deleteSnapshot(ref: SnapshotRef, ctx?: OpContext): Promise<void> {
    return deleteSnapshot(this.ctx, ref, ctx);
  }

  facts(ctx: OpContext & { timeoutMs?: number } = {}): Promise<HostFacts> {
    return readHostFacts(this.ctx, ctx);
  }
  templateMemory(template: string, ctx?: OpContext): Promise<number> {
    return readTemplateMemory(this.ctx, template, ctx);
  }

  /** `virsh version` with a short timeout; never throws. */
  async ping(ctx: OpContext = {}): Promise<{ ok: boolean; detail: string }> {
    try {
      const v = parseVersion(
        await this.ctx.virsh.run(virshArgs.version(), { timeoutMs: this.opts.pingTimeoutMs ?? 5_000, signal: ctx.signal }),
      );
      return { ok: true, detail: `libvirt ${v.libvirt}, ${v.hypervisor}` };
    } catch (e) {
      return { ok: false, detail: e instanceof Error ? e.message : String(e) };
    }
  }
}

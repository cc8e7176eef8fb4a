import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import { run } from './exec.js';
import { withTempDir } from './tempdir.js';
import { XORRISO, xorrisoArgs } from './xorriso-args.js';

/**
 * cloud-init NoCloud seeds: what gives each VM its own identity at first boot. A seed is an
 * ISO9660 image labelled `cidata` holding `meta-data` (instance-id, local-hostname) and
 * `user-data` (`#cloud-config`: hostname, SSH keys, a profile's settings).
 *
 * Both documents are written as JSON under their header: JSON is YAML, so cloud-init reads them
 * as it reads any YAML, and no value (a hostname, a key comment) can break out of its field
 * whatever characters it holds.
 */

export interface SeedSpec {
  /** cloud-init runs its per-instance modules once per instance-id: the VM's uuid. */
  instanceId: string;
  /** The VM's name; turned into a hostname by `hostnameFor`. */
  vmName: string;
  /** OpenSSH public keys, one line each, for the image's default user. */
  sshKeys: readonly string[];
  /** A profile's `#cloud-config` settings, merged under the per-VM ones. */
  userData?: Readonly<Record<string, unknown>>;
}

export interface SeedDocuments {
  metaData: string;
  userData: string;
}

/**
 * A VM name as a hostname: names allow `A-Z a-z 0-9 . _ -` starting with a letter or digit;
 * hostnames want lower case and no `_`, and no label ending in `-`. Dots stay (cloud-init reads
 * a dotted name as host + domain).
 */
export function hostnameFor(vmName: string): string {
  const h = vmName
    .toLowerCase()
    .replace(/_/g, '-')
    .split('.')
    .map((label) => label.replace(/-+$/, ''))
    .filter(Boolean)
    .join('.');
  if (!/^[a-z0-9]/.test(h)) throw new KvmopsError('invalid-input', `cannot make a hostname of VM name ${JSON.stringify(vmName)}`);
  return h;
}

export function seedDocuments(spec: SeedSpec): SeedDocuments {
  for (const k of spec.sshKeys) {
    if (/[\r\n]/.test(k)) throw new KvmopsError('invalid-input', 'an SSH key must be one line');
  }
  const hostname = hostnameFor(spec.vmName);
  // cloud-init prefers `fqdn` over `hostname`: a profile's would name every VM alike.
  const { fqdn: _fqdn, prefer_fqdn_over_hostname: _prefer, ...profile } = spec.userData ?? {};
  const profileKeys = Array.isArray(profile.ssh_authorized_keys) ? (profile.ssh_authorized_keys as unknown[]).filter((k) => typeof k === 'string') : [];
  const metaData = { 'instance-id': spec.instanceId, 'local-hostname': hostname };
  const userData = {
    ...profile,
    // The per-VM settings win over a profile's.
    hostname,
    preserve_hostname: false,
    ssh_authorized_keys: [...new Set([...profileKeys, ...spec.sshKeys])],
  };
  return {
    metaData: `${JSON.stringify(metaData, null, 2)}\n`,
    userData: `#cloud-config\n${JSON.stringify(userData, null, 2)}\n`,
  };
}

/** Writes the seed ISO for `spec` to `file` (xorriso, on this machine). */
export async function writeSeedIso(file: string, spec: SeedSpec, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const docs = seedDocuments(spec);
  await withTempDir(async (dir) => {
    const content = path.join(dir, 'seed');
    await mkdir(content);
    await writeFile(path.join(content, 'meta-data'), docs.metaData);
    await writeFile(path.join(content, 'user-data'), docs.userData);
    await run(XORRISO, xorrisoArgs.seedIso(content, file), { timeoutMs: opts.timeoutMs ?? 60_000, signal: opts.signal });
  });
}

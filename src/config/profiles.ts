import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { KvmopsError } from '../domain/errors.js';
import { nameProblem } from '../domain/names.js';

/**
 * KVMOPS_PROFILES_DIR: deploy profiles, one `NAME.yaml` per profile, each a cloud-init
 * `#cloud-config` (packages, runcmd, write_files, users …) that `/deploy profile:NAME` puts into
 * every new VM's seed, under the VM's own hostname and keys (src/hypervisor/seed.ts: the per-VM
 * values win). Read once, at start-up, with fs/promises, and parsed with a YAML library (eemeli's
 * `yaml`, YAML 1.2 core schema: no dates, no custom types; aliases are bounded against
 * expansion bombs).
 *
 * Never a crash: a file that is not a profile is reported as `FILE:LINE: reason` and refused —
 * `/deploy profile:NAME` then says why, so a typo in one file takes out that profile only. The
 * caller logs the problems.
 *
 * A profile's content is captured into the deploy's payload when the deploy is asked for, so the
 * job acts on what was asked even if the file changes (or the bot restarts with another one).
 */

/** The most JSON a profile's user-data may take in a job's payload (and in every VM's seed). */
export const MAX_PROFILE_BYTES = 64 * 1024;

export interface Profile {
  name: string;
  file: string;
  /** The `#cloud-config` mapping, as JSON-safe values. */
  userData: Record<string, unknown>;
}

export interface Profiles {
  /** The folder read; undefined when KVMOPS_PROFILES_DIR is not set. */
  dir?: string;
  /** Usable profiles by name. */
  loaded: Map<string, Profile>;
  /** Profiles refused at start-up, by name: the first problem (`FILE:LINE: reason`). */
  refused: Map<string, string>;
  /** Everything worth a log line: `FILE:LINE: reason`, or `FILE: reason`. */
  problems: string[];
}

const HEADER = '#cloud-config';

/**
 * One profile file's text → the profile, or its problems (the first is the reason it is
 * refused). `file` is only for the messages.
 */
export function parseProfile(name: string, file: string, text: string): { profile: Profile; warnings: string[] } | { problems: string[] } {
  const badName = nameProblem(name);
  if (badName) return { problems: [`${file}: "${name}" cannot be a profile name: a name ${badName}`] };
  const firstLine = text.split('\n', 1)[0]!.trim();
  if (firstLine !== HEADER) {
    return { problems: [`${file}:1: a profile is a cloud-config and starts with the line "${HEADER}" (cloud-init ignores user-data without it)`] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const where = (e: { linePos?: [{ line: number }, ...unknown[]] }) => `${file}${e.linePos ? `:${e.linePos[0].line}` : ''}`;
  const say = (e: { message: string; linePos?: [{ line: number }, ...unknown[]] }) => `${where(e)}: ${e.message.split(/ at line \d+/)[0]!.split('\n')[0]}`;
  if (doc.errors.length) return { problems: doc.errors.map(say) };
  const warnings = doc.warnings.map(say);
  const contents = doc.contents;
  if (contents !== null && !isMap(contents)) {
    const kind = isSeq(contents) ? 'a list' : isScalar(contents) ? 'a single value' : 'not a mapping';
    const line = contents.range ? lines.linePos(contents.range[0]).line : 1;
    return { problems: [`${file}:${line}: a cloud-config is a mapping (key: value lines), not ${kind}`] };
  }
  let userData: Record<string, unknown>;
  try {
    userData = (doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown> | null) ?? {};
  } catch (e) {
    return { problems: [`${file}: ${(e as Error).message}`] };
  }
  const json = JSON.stringify(userData);
  if (Buffer.byteLength(json) > MAX_PROFILE_BYTES) {
    return { problems: [`${file}: too large (${Buffer.byteLength(json)} bytes as JSON, at most ${MAX_PROFILE_BYTES})`] };
  }
  // JSON-safe from here on: what the payload and the seed carry is exactly this
  return { profile: { name, file, userData: JSON.parse(json) as Record<string, unknown> }, warnings };
}

/** The profiles of `dir` (none when `dir` is undefined). */
export async function readProfiles(dir: string | undefined): Promise<Profiles> {
  const out: Profiles = { loaded: new Map(), refused: new Map(), problems: [] };
  if (dir === undefined) return out;
  out.dir = dir;
  let entries: string[];
  try {
    entries = (await readdir(dir)).sort();
  } catch (e) {
    out.problems.push(`${dir}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); no profiles`);
    return out;
  }
  for (const entry of entries) {
    if (!entry.endsWith('.yaml')) {
      if (entry.endsWith('.yml')) out.problems.push(`${path.join(dir, entry)}: ignored: profiles are named NAME.yaml`);
      continue;
    }
    const name = entry.slice(0, -'.yaml'.length);
    const file = path.join(dir, entry);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      const problem = `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      out.problems.push(problem);
      out.refused.set(name, problem);
      continue;
    }
    const r = parseProfile(name, file, text);
    if ('problems' in r) {
      out.problems.push(...r.problems);
      out.refused.set(name, r.problems[0]!);
    } else {
      out.problems.push(...r.warnings);
      out.loaded.set(name, r.profile);
    }
  }
  return out;
}

/**
 * What the chat core asks of the profiles (src/chat/services.ts `ProfilesPort`): the names, and
 * a profile's settings or a refusal that says what to fix.
 */
export function profilesPort(p: Profiles): { names(): string[]; userData(name: string): Record<string, unknown> } {
  return {
    names: () => [...p.loaded.keys()],
    userData: (name) => {
      const profile = p.loaded.get(name);
      if (profile) return structuredClone(profile.userData);
      const refused = p.refused.get(name);
      if (refused !== undefined) {
        throw new KvmopsError('profile-invalid', `Profile "${name}" was refused when kvmops started: ${refused}. Fix the file and restart kvmops.`, {
          details: { profile: name },
        });
      }
      if (p.dir === undefined) throw new KvmopsError('profile-not-found', 'No profiles are configured (KVMOPS_PROFILES_DIR is not set).', { details: { profile: name } });
      const known = [...p.loaded.keys()];
      throw new KvmopsError('profile-not-found', `No profile "${name}" (${path.join(p.dir, `${name}.yaml`)}); ${known.length ? `known: ${known.join(', ')}` : 'none is usable'}.`, {
        details: { profile: name },
      });
    },
  };
}

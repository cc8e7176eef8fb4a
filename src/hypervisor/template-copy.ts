import { randomBytes, createHash } from 'node:crypto';
import { link, unlink } from 'node:fs/promises';
import { isKvmopsError, KvmopsError } from '../domain/errors.js';
import { LN, RM, SHA256SUM, STAT, lnArgs, rmArgs, sha256sumArgs, statArgs } from './coreutils-args.js';
import { makeReadOnly } from './disk-copy.js';
import { templateXml } from './domain-xml.js';
import { run } from './exec.js';
import { streamFile } from './file-stream.js';
import type { HostContext } from './host-context.js';
import { hostFiles } from './host-files.js';
import { throwFirstError } from './multi.js';
import { ensurePools } from './pools.js';
import { referencesTo } from './references.js';
import { requireRemoteShell, runOverSsh } from './remote-exec.js';
import { loadTemplate, loadTemplates, templateXmlVolume } from './templates.js';
import type { OpContext } from './types.js';
import { assertName } from './validate.js';
import { virshArgs } from './virsh-args.js';

/**
 * A template carried from one host to another (issue 26, step 3: templates that travel). Its
 * disks are chain-free qcow2 files, so a byte copy is the same template; its XML is written
 * anew with the target's storage paths (two hosts need not share a storage dir).
 *
 * Each file is streamed (file-stream.ts: `ssh A cat` → here → `ssh B dd`, or a local read or
 * write) into a NEW file under a temporary name in the target's templates folder
 * (`<final>.part-<12 hex>`: neither a template disk's nor a template XML's name, so nothing
 * lists it), then verified — its size and sha256 computed ON each host (`stat`, `sha256sum`,
 * run there) must equal each other and the bytes that passed through — then made read-only
 * and put into place by a hard link (link(2): atomic, and it never replaces a file: two copies
 * racing each other, say two deploys on one host, cannot overwrite what the other placed),
 * the disks first, the XML last, so the template exists on the target exactly when everything
 * it needs is there and checked. Any failure or cancellation removes every file this call
 * wrote (and only those); a template already on the target is refused (`name-taken`, also
 * when a racing copy placed its XML first), and a template disk file already there without its
 * XML (a copy or a create cut off by a crash, or a racing copy's) is kept when it holds the
 * same bytes, and otherwise removed, only while no domain's chain uses it.
 *
 * The copy is the original's replica: the same name and the same metadata (its creation time,
 * source VM, sealed), so "T made at X" means the same bytes on every host that holds it, and a
 * deploy pinned to T's creation time holds on any of them. No inventory change is needed: the
 * inventory lists each host's templates, and replicas are the rows with equal name and time.
 */

export interface CopyTemplateResult {
  name: string;
  from: string;
  to: string;
  /** Bytes streamed (disks and XML). */
  bytes: number;
  files: Array<{ file: string; bytes: number; sha256: string }>;
}

export interface CopyTemplateHooks {
  /** Test hook: called with the temporary files once written, before they are verified. */
  beforeVerify?: (parts: readonly string[]) => Promise<void>;
}

interface Digest {
  bytes: number;
  sha256: string;
}

export async function copyTemplate(
  src: HostContext,
  dst: HostContext,
  name: string,
  ctx: OpContext = {},
  hooks: CopyTemplateHooks = {},
): Promise<CopyTemplateResult> {
  assertName(name, 'template');
  if (src.uri === dst.uri) throw new KvmopsError('invalid-input', `template ${name}: ${src.name} and ${dst.name} are the same host`);
  await Promise.all([ensurePools(src, ctx), ensurePools(dst, ctx)]);
  const t = await loadTemplate(src, name, ctx);
  if ((await loadTemplates(dst, [name], ctx)).length) {
    throw new KvmopsError('name-taken', `template ${name} already exists on host ${dst.name}`, { details: { template: name, host: dst.name } });
  }
  const tag = randomBytes(6).toString('hex');
  const disks = t.disks.map((d) => {
    const final = dst.storage.templateDisk(name, d.target);
    return { target: d.target, src: d.file, final, part: `${final}.part-${tag}` };
  });
  const xmlFinal = `${dst.storage.templatesDir}/${templateXmlVolume(name)}`;
  const xmlPart = `${xmlFinal}.part-${tag}`;
  const xml = Buffer.from(templateXml({ sourceXml: t.xml, meta: t.meta, diskPaths: new Map(disks.map((d) => [d.target, d.final])) }));

  // leftover disk files of a cut-off attempt: replaced only while nothing uses them
  const files = hostFiles(dst, 'copying a template');
  const refs = await referencesTo(dst, disks.map((d) => d.final), ctx);
  const used = disks.filter((d) => refs.users.has(d.final) || refs.unreadable.length > 0);
  if (used.length) {
    const by = [...new Set(used.flatMap((d) => (refs.users.get(d.final) ?? []).map((u) => u.name)))].sort();
    throw new KvmopsError('template-in-use', `files named for template ${name} on host ${dst.name} are in use${by.length ? ` by ${by.join(', ')}` : ' (or that cannot be told)'}`, {
      details: { dependents: by, files: used.map((d) => d.final) },
    });
  }

  const made: string[] = [];
  try {
    const srcSizes = await sizes(src, disks.map((d) => d.src), ctx.signal);
    const total = srcSizes.reduce((a, b) => a + b, 0) + xml.length || 1;
    // the source's own checksums, computed there while the bytes travel
    const srcSums = sha256s(src, disks.map((d) => d.src), ctx.signal);
    srcSums.catch(() => {});
    let done = 0;
    const streamed: Digest[] = [];
    for (const d of disks) {
      made.push(d.part);
      ctx.onProgress?.({ step: `copying ${d.target} to ${dst.name}`, fraction: done / total });
      const r = await streamFile({ host: src, file: d.src }, { host: dst, file: d.part }, {
        signal: ctx.signal,
        onBytes: (n) => ctx.onProgress?.({ step: `copying ${d.target} to ${dst.name}`, fraction: (done + n) / total }),
      });
      done += r.bytes;
      streamed.push(r);
    }
    made.push(xmlPart);
    streamed.push(await streamFile({ bytes: xml }, { host: dst, file: xmlPart }, { signal: ctx.signal }));
    await hooks.beforeVerify?.([...disks.map((d) => d.part), xmlPart]);

    ctx.onProgress?.({ step: `verifying the copy on ${dst.name}`, fraction: 1 });
    const expected: Digest[] = [
      ...(await srcSums).map((sha256, i) => ({ sha256, bytes: srcSizes[i]! })),
      { bytes: xml.length, sha256: createHash('sha256').update(xml).digest('hex') },
    ];
    const parts = [...disks.map((d) => d.part), xmlPart];
    const [got, gotSizes] = await Promise.all([sha256s(dst, parts, ctx.signal), sizes(dst, parts, ctx.signal)]);
    parts.forEach((p, i) => {
      const want = expected[i]!;
      const bad = [
        got[i] !== want.sha256 && `sha256 ${got[i]} on ${dst.name}, ${want.sha256} on ${src.name}`,
        streamed[i]!.sha256 !== want.sha256 && `sha256 ${streamed[i]!.sha256} streamed, ${want.sha256} on ${src.name}`,
        gotSizes[i] !== want.bytes && `${gotSizes[i]} bytes on ${dst.name}, ${want.bytes} on ${src.name}`,
        streamed[i]!.bytes !== want.bytes && `${streamed[i]!.bytes} bytes streamed, ${want.bytes} on ${src.name}`,
      ].filter((x): x is string => typeof x === 'string');
      if (bad.length) {
        throw new KvmopsError('unexpected-output', `the copy of template ${name} to host ${dst.name} is not the original (${p}: ${bad.join('; ')}); nothing was kept`, {
          details: { template: name, file: p, mismatch: bad },
        });
      }
    });
    ctx.signal?.throwIfAborted();

    // A disk file already under its final name: left by a copy or create cut off before its XML,
    // or just placed by a copy racing this one. The same bytes are kept as they are (never
    // removed: a racing copy's XML may name them); other bytes, unused (checked above), go.
    const present = await existing(dst, disks.map((d) => d.final), ctx.signal);
    const presentSums = present.length ? await sha256s(dst, present, ctx.signal) : [];
    const presentSizes = present.length ? await sizes(dst, present, ctx.signal) : [];
    const same = new Set(present.filter((f, i) => {
      const k = disks.findIndex((d) => d.final === f);
      return presentSums[i] === expected[k]!.sha256 && presentSizes[i] === expected[k]!.bytes;
    }));
    const stale = present.filter((f) => !same.has(f));
    if (stale.length) await files.remove(stale, ctx.signal);

    await makeReadOnly(dst, disks.map((d) => d.part), ctx.signal);
    const place = (from: string, to: string) =>
      linkOn(dst, from, to, ctx.signal).catch((e) => {
        throw isKvmopsError(e, 'command-failed') && /exists/i.test(e.message)
          ? new KvmopsError('name-taken', `template ${name} is being placed on host ${dst.name} by another copy`, { cause: e })
          : e;
      });
    for (const d of disks) {
      if (same.has(d.final)) continue;
      await place(d.part, d.final);
      made.push(d.final);
    }
    // the XML last: from here on the template exists on the target
    await place(xmlPart, xmlFinal).catch((e) => {
      // placed by a racing copy: its XML names the same disk files, with the same bytes (its
      // links or ours): they stay; only the temporary files go
      if (isKvmopsError(e, 'name-taken')) made.splice(0, made.length, ...parts);
      throw e;
    });
    made.length = 0;
    // the temporary names go (their data stays under the final names); one left behind is harmless
    await (dst.local
      ? Promise.all(parts.map((p) => unlink(p)))
      : runOverSsh(requireRemoteShell(dst, 'copying a template'), RM, rmArgs.files(parts), { timeoutMs: 60_000 })
    ).catch(() => {});
    throwFirstError(await dst.virsh.multi([virshArgs.poolRefresh(dst.storage.templatesPool)], { timeoutMs: 60_000 }));
    return {
      name,
      from: src.name,
      to: dst.name,
      bytes: streamed.reduce((a, s) => a + s.bytes, 0),
      files: [...disks.map((d) => d.final), xmlFinal].map((file, i) => ({ file, bytes: streamed[i]!.bytes, sha256: streamed[i]!.sha256 })),
    };
  } catch (e) {
    // not bound to the cancelled signal: a cancelled copy leaves nothing
    if (made.length) await files.remove(made).catch(() => {});
    if (ctx.signal?.aborted && !(e instanceof KvmopsError)) throw new KvmopsError('aborted', `copying template ${name} to ${dst.name} was cancelled`, { cause: e });
    throw e;
  }
}

/** sha256 of each file, computed on its host (`sha256sum`: here, or there over ssh). */
async function sha256s(h: HostContext, files: readonly string[], signal: AbortSignal | undefined): Promise<string[]> {
  const opts = { timeoutMs: 6 * 3_600_000, signal };
  const out = h.local ? await run(SHA256SUM, sha256sumArgs.files(files), opts) : await runOverSsh(requireRemoteShell(h, 'checking a copy'), SHA256SUM, sha256sumArgs.files(files), opts);
  const lines = out.stdout.split('\n').filter(Boolean);
  if (lines.length !== files.length) throw new KvmopsError('unexpected-output', `sha256sum on ${h.name} printed ${lines.length} lines for ${files.length} files`);
  return lines.map((l) => {
    const m = /^([0-9a-f]{64}) /.exec(l);
    if (!m) throw new KvmopsError('unexpected-output', `sha256sum on ${h.name}: ${l.slice(0, 100)}`);
    return m[1]!;
  });
}

/** Each file's size in bytes (`stat`, on its host). */
async function sizes(h: HostContext, files: readonly string[], signal: AbortSignal | undefined): Promise<number[]> {
  const opts = { timeoutMs: 60_000, signal };
  const out = h.local ? await run(STAT, statArgs.sizes(files), opts) : await runOverSsh(requireRemoteShell(h, 'checking a copy'), STAT, statArgs.sizes(files), opts);
  const n = out.stdout.split('\n').filter(Boolean).map(Number);
  if (n.length !== files.length || n.some((x) => !Number.isSafeInteger(x))) throw new KvmopsError('unexpected-output', `stat on ${h.name}: ${out.stdout.slice(0, 100)}`);
  return n;
}

/** link(2) inside the storage dir (here, or `ln -T` there over ssh): fails when `to` exists. */
async function linkOn(h: HostContext, from: string, to: string, signal: AbortSignal | undefined): Promise<void> {
  h.storage.assertInside(from);
  h.storage.assertInside(to);
  if (!h.local) return void (await runOverSsh(requireRemoteShell(h, 'copying a template'), LN, lnArgs.hard(from, to), { timeoutMs: 60_000, signal }));
  try {
    await link(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new KvmopsError('command-failed', `${to} exists`, { cause: e });
    throw e;
  }
}

/** Which of these files are there (`stat` on the host; a missing file is left out). */
async function existing(h: HostContext, files: readonly string[], signal: AbortSignal | undefined): Promise<string[]> {
  const there: string[] = [];
  for (const f of files) if (await hostFiles(h, 'copying a template').exists(f, signal)) there.push(f);
  return there;
}

import { z } from 'zod';
import { deployNames, hostNameSchema, MAX_BATCH_BASE_LENGTH, MAX_DEPLOY_COUNT, nameSchema, templateNameSchema, vmNameSchema } from '../domain/names.js';
import { MAX_PROFILE_BYTES } from '../config/profiles.js';
import { holds, templateResource, vmResource } from '../domain/resources.js';
import { vmsWithAddresses, waitAddresses } from './addresses.js';
import { MAX_KEYS_PER_PERSON, parseSshPublicKey } from '../domain/ssh-keys.js';
import { newVmChanges } from './inventory.js';
import { defineKind, onHost, opOf, str, type ExecutorContext } from './kind.js';
import { isKvmopsError } from '../domain/errors.js';

/** Longer than any accepted key line (RSA 16384 bits ≈ 2,800 characters, with a comment of 200). */
const SSH_KEY_LINE_MAX = 4096;

function isSshKey(line: string): boolean {
  try {
    parseSshPublicKey(line);
    return true;
  } catch {
    return false;
  }
}

export const deployPayload = z
  .object({
    host: hostNameSchema,
    template: templateNameSchema,
    name: vmNameSchema,
    mode: z.enum(['thin', 'clone']),
    count: z.number().int().min(1).max(MAX_DEPLOY_COUNT),
    /**
     * One host's share of a placed deploy (`/deploy host:auto`): the VMs are numbered from this,
     * `name-<first>` … (always numbered), so the shares of one deploy never share a name.
     */
    first: z.number().int().min(1).max(MAX_DEPLOY_COUNT).optional(),
    start: z.boolean(),
    /** The template's creation time when the deploy was asked for (pinned: a template made anew under the name → `target-changed`). */
    templateCreatedAt: z.string().min(1).max(64).optional(),
    /**
     * The requester's `/key` keys when the deploy was asked for (canonical lines): every VM's
     * cloud-init seed gets them, plus the team keys of KVMOPS_SSH_KEYS_FILE (added by the host).
     */
    sshKeys: z.array(z.string().min(1).max(SSH_KEY_LINE_MAX).refine(isSshKey, 'not an accepted SSH public key')).min(1).max(MAX_KEYS_PER_PERSON).optional(),
    /** The profile asked for (`/deploy profile:`), by name … */
    profile: nameSchema.optional(),
    /**
     * … and its `#cloud-config` settings as they were when the deploy was asked for (pinned: an
     * approval, a retry or a run after a restart acts on what was asked, not on today's file).
     */
    profileUserData: z
      .record(z.unknown())
      .refine((u) => Buffer.byteLength(JSON.stringify(u)) <= MAX_PROFILE_BYTES, `a profile takes at most ${MAX_PROFILE_BYTES} bytes as JSON`)
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.first !== undefined && p.first + p.count - 1 > MAX_DEPLOY_COUNT) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `the VMs are numbered at most up to ${MAX_DEPLOY_COUNT}`, path: ['first'] });
    }
    if ((p.count > 1 || p.first !== undefined) && p.name.length > MAX_BATCH_BASE_LENGTH) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `with count > 1 the name may have at most ${MAX_BATCH_BASE_LENGTH} characters (a -NN suffix is added)`,
        path: ['name'],
      });
    }
    if ((p.profile === undefined) !== (p.profileUserData === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a profile comes with its settings (profile and profileUserData together)', path: ['profileUserData'] });
    }
  });

/**
 * A deploy from a template whose guest has no cloud-init (looked for when the template was made)
 * still makes and starts its VMs; their seeds — hostname, keys, a profile — are simply never read.
 */
export const NO_CUSTOMISATION = "no customisation applied (the template's guest has no cloud-init)";

/** Make VMs from a template: `name`, or `name-01` … `name-NN`. */
export const deploy = defineKind({
  name: 'deploy',
  payload: deployPayload,
  needsApproval: false,
  // Reads its template (deploys from one template run side by side); makes each of its names.
  resources: (p) => [
    holds(templateResource(p.host, p.template), 'shared'),
    ...deployNames(p.name, p.count, p.first).map((n) => holds(vmResource(p.host, n), 'exclusive', true)),
  ],
  describe: (p) => `Deploy ${deployLabel(p)} (${p.mode}) from ${p.template}${p.profile ? ` with profile ${p.profile}` : ''} ${onHost(p)}`,
  pinned: (p) => [
    ...(p.templateCreatedAt ? [`template ${p.template} (made ${p.templateCreatedAt})`] : []),
    ...(p.profile ? [`profile ${p.profile} as it was when asked for`] : []),
  ],
  summary: (r) =>
    Array.isArray(r.vms)
      ? `${r.vms.length} VM${r.vms.length === 1 ? '' : 's'}: ${vmsWithAddresses(r, r.vms)} (${str(r.mode)}${r.started ? ', started' : ''})${r.cloudInit === 'no' ? `; ${NO_CUSTOMISATION}` : ''}`
      : undefined,
  // No separate check: the hypervisor's deploy is idempotent by contract as long as every attempt
  // passes the same request id — it keeps VMs of this batch that are whole, removes and redoes
  // half-made ones, and refuses names taken by anything else. The job id is that request id.
  recover: null,
  execute: async (p, ctx) => {
    const copied = await templateHere(p, ctx);
    ctx.progress({ step: ctx.recovered ? 'resuming deploy' : 'deploying' });
    const r = await ctx.host.deploy(
      {
        template: p.template,
        name: p.name,
        count: p.count,
        ...(p.first !== undefined ? { first: p.first } : {}),
        mode: p.mode,
        start: p.start,
        requestId: ctx.job.requestId,
        ...(p.sshKeys ? { sshKeys: p.sshKeys } : {}),
        ...(p.profileUserData ? { userData: p.profileUserData } : {}),
        ...(p.templateCreatedAt ? { templatePin: { createdAt: p.templateCreatedAt } } : {}),
      },
      opOf(ctx),
    );
    // What it made, as the host's deploy made it (a read-back of N VMs would cost about what the
    // deploy itself does): reported here, where the record is at hand.
    if (r.made) ctx.reportInventory(...r.made.map((vm) => ({ type: 'vm' as const, host: p.host, vm })));
    else ctx.reportInventory(...(await newVmChanges(ctx, p.host, r.vms)));
    // Started: where they can be reached (a bounded wait; none in time is not a failure).
    // cloudInit only when it matters: "no" (the seeds are not applied)
    const from = copied ? { templateCopiedFrom: copied } : {};
    const base = { vms: r.vms, mode: r.mode, started: r.started, ...(r.cloudInit === 'no' ? { cloudInit: r.cloudInit } : {}), ...from };
    if (!r.started) return base;
    return { ...base, addresses: await waitAddresses(ctx, r.vms) };
  },
  // Nothing more: execute reported its VMs (and recover is null, so every success went through it).
  inventory: async () => [],
});

/** "web", "web ×4", or a placed share "web-03…web-04". */
function deployLabel(p: { name: string; count: number; first?: number | undefined }): string {
  if (p.first === undefined) return `${p.name}${p.count > 1 ? ` ×${p.count}` : ''}`;
  const names = deployNames(p.name, p.count, p.first);
  return names.length === 1 ? names[0]! : `${names[0]}…${names[names.length - 1]}`;
}

/**
 * Templates that travel (issue 26, step 3): the template missing on the deploy's host but held
 * by another (the same creation time when the deploy pinned one) is copied here once first —
 * streamed, verified on both hosts, placed atomically (hypervisor/template-copy.ts) — as that
 * template's replica; later deploys here find it and copy nothing. Returns the host it came
 * from, or null (here already, nowhere, or placed meanwhile by a deploy beside this one; the
 * deploy itself then says `template-not-found` when it is nowhere). The job holds the template
 * on this host (shared), so no delete of it here runs meanwhile. A host that cannot be asked is
 * passed over.
 */
/** Rounds of 2 s a deploy waits for a racing copy of its template to place the XML. */
const RACE_WAIT_ROUNDS = 15;

async function templateHere(p: z.infer<typeof deployPayload>, ctx: ExecutorContext): Promise<string | null> {
  if (!ctx.hosts) return null;
  const op = opOf(ctx);
  const fits = (t: { createdAt: string } | undefined) => t !== undefined && (p.templateCreatedAt === undefined || t.createdAt === p.templateCreatedAt);
  if ((await ctx.host.inventory.readTemplates([p.template], op)).length) return null;
  for (const name of ctx.hosts.hostNames()) {
    if (name === p.host) continue;
    const other = ctx.hosts.host(name);
    let found: { createdAt: string } | undefined;
    try {
      [found] = await other.inventory.readTemplates([p.template], op);
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      continue;
    }
    if (!fits(found)) continue;
    ctx.progress({ step: `copying template ${p.template} from ${name}` });
    try {
      await ctx.host.copyTemplateFrom(other, p.template, op);
    } catch (e) {
      if (!isKvmopsError(e, 'name-taken')) throw e;
      // a deploy beside this one is placing it: its XML follows its disks within seconds
      for (let i = 0; i < RACE_WAIT_ROUNDS && !(await ctx.host.inventory.readTemplates([p.template], op)).length; i++) {
        await new Promise((r) => setTimeout(r, 2_000));
        ctx.signal.throwIfAborted();
      }
      return null;
    }
    return name;
  }
  return null;
}

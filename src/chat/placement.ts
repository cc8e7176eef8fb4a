import { KvmopsError } from '../domain/errors.js';
import { deployNames } from '../domain/names.js';
import { place, sizeText, skipText, type PlacementCandidate, type PlacementResult } from '../domain/placement.js';
import type { JobPayload } from '../kinds/index.js';
import type { Job } from '../jobs/types.js';
import type { HandlerContext } from './command.js';
import { enqueueRefusal, enqueueRequest, requireFree } from './command-kit.js';
import type { Reply } from './types.js';

/**
 * `/deploy host:auto`: the VMs placed over the hosts (src/domain/placement.ts) when the command
 * is given, then ONE batch of deploy jobs — one job per host that gets VMs, each pinned to its
 * host and numbered from where the previous host's share ended (`web-01…web-02` on local,
 * `web-03…web-04` on lab). The reply says where each VM went and which hosts were skipped, and
 * why. Nothing is queued when the VMs don't all fit (`no-capacity`).
 *
 * The facts: the host probe (live memory and storage, cached and bounded: an unreachable host
 * costs at most the probe's wait), the inventory (which hosts hold the template, its size), the
 * host states (drained), and each holder's template memory (its stored XML, read once per
 * template identity). Templates don't travel between hosts yet: only holders are candidates
 * (`copyTemplate` off); holding stays a preference weight in the placement for when they do.
 */

/** Memory left to each host itself, never given to placed VMs. */
export const PLACEMENT_RESERVE = 256 * 1024 ** 2;

export type DeployOptions = Omit<JobPayload<'deploy'>, 'host' | 'templateCreatedAt' | 'sshKeys' | 'first'>;

/** The pins every share carries besides its host's own template identity: keys and profile as the single deploy takes them. */
export type SharedPins = Pick<JobPayload<'deploy'>, 'sshKeys' | 'profileUserData'>;

export async function deployPlaced(ctx: HandlerContext<unknown>, p: DeployOptions, pins: SharedPins): Promise<Reply> {
  const { services } = ctx;
  const hosts = services.hosts;
  const inventory = services.inventory;
  if (!hosts || !inventory) throw new KvmopsError('unsupported', 'Placement (host:auto) needs the host probe and the inventory, which this setup does not run.');
  const names = services.catalog.hosts();
  const states = await hosts.probeAll();
  const candidates = await Promise.all(
    names.map(async (host, i): Promise<PlacementCandidate & { createdAt?: string }> => {
      const s = states[i]!;
      const template = inventory.templates(host).find((t) => t.name === p.template);
      const drained = hosts.drain(host).drained;
      const base: PlacementCandidate = {
        host,
        reachable: s.reachable === true,
        drained,
        holdsTemplate: template !== undefined,
        memoryAvailable: s.facts?.memory.available ?? null,
        storageAvailable: s.facts?.storage?.available ?? null,
      };
      if (!template || !base.reachable || drained) return base;
      // the template as it is on this host: its memory (read once per identity) and size
      let memoryPerVm: number;
      try {
        memoryPerVm = await hosts.templateMemory(host, p.template, template.createdAt);
      } catch {
        return { ...base, reachable: false };
      }
      return { ...base, memoryPerVm, storagePerVm: p.mode === 'clone' ? template.size : 0, createdAt: template.createdAt };
    }),
  );
  if (!candidates.some((c) => c.holdsTemplate)) {
    throw new KvmopsError('template-not-found', `There is no template "${p.template}" on any host (${names.join(', ')}).`, { details: { template: p.template, hosts: names } });
  }
  const result = place(candidates, {
    template: p.template,
    count: p.count,
    // a host's own figures always win; these only fill in for a host without them (none today)
    memoryPerVm: Math.max(0, ...candidates.map((c) => c.memoryPerVm ?? 0)),
    storagePerVm: 0,
    templateSize: 0,
    reserve: PLACEMENT_RESERVE,
  });

  // each host's share, numbered on in KVMOPS_HOSTS order
  let next = 1;
  const shares = result.hosts.map((h) => {
    const first = next;
    next += h.count;
    const c = candidates.find((x) => x.host === h.host)!;
    const payload: JobPayload<'deploy'> = {
      ...p,
      host: h.host,
      count: h.count,
      ...(p.count > 1 ? { first } : {}),
      ...(c.createdAt ? { templateCreatedAt: c.createdAt } : {}),
      ...(pins.sshKeys ? { sshKeys: pins.sshKeys } : {}),
      ...(pins.profileUserData ? { profileUserData: pins.profileUserData } : {}),
    };
    return { host: h.host, payload, names: deployNames(p.name, h.count, p.count > 1 ? first : undefined) };
  });
  for (const s of shares) await requireFree((fresh) => services.catalog.vmsNamed(s.host, s.names, { fresh }), s.names, 'VM', `on ${s.host}`);

  let jobs: Job[];
  try {
    // one host: one job, as a deploy with host:NAME makes; several: one batch (all or none)
    const reqs = shares.map((s) => enqueueRequest(ctx, 'deploy', s.payload));
    jobs = reqs.length === 1 ? [await services.jobs.enqueue(reqs[0]!)] : await services.jobs.enqueueBatch(reqs);
  } catch (e) {
    throw enqueueRefusal(e);
  }
  return placedReply(jobs, shares, result, p, candidates);
}

/** Where each VM went, job by job, and which hosts were passed over. */
function placedReply(
  jobs: Job[],
  shares: Array<{ host: string; names: string[] }>,
  result: PlacementResult,
  p: DeployOptions,
  candidates: ReadonlyArray<PlacementCandidate>,
): Reply {
  const lead = jobs[0]!;
  const range = (names: string[]) => (names.length === 1 ? names[0]! : `${names[0]}…${names[names.length - 1]}`);
  const lines = shares.map((s, i) => {
    const c = candidates.find((x) => x.host === s.host)!;
    return `#${jobs[i]!.id} ${range(s.names)} on ${s.host} (${s.names.length} VM${s.names.length === 1 ? '' : 's'}; ${sizeText(c.memoryAvailable ?? 0)} memory available there)`;
  });
  const skipped = result.skipped.map((s) => `${s.host} (${skipText(s.reason)})`);
  const notHolders = result.skipped.filter((s) => s.reason === 'no-template').length;
  return {
    visibility: 'ephemeral',
    title: `${jobs.length > 1 ? `Batch #${lead.id}` : `Job #${lead.id}`} ${lead.state}: Deploy ${p.name}${p.count > 1 ? ` ×${p.count}` : ''} (${p.mode}) from ${p.template}, placed on ${shares.map((s) => s.host).join(' and ')}`,
    lines: [
      ...lines,
      ...(skipped.length ? [`Skipped: ${skipped.join(', ')}.`] : []),
      ...(notHolders ? [`Only hosts that hold template ${p.template} can take its VMs for now (templates are not copied between hosts yet).`] : []),
      'Progress and the results will be posted in this channel.',
    ],
    tone: 'info',
    jobId: lead.id,
    requestId: lead.requestId,
  };
}

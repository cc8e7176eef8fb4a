import { deployPayload } from '../src/kinds/deploy.js';
import { MAX_DEPLOY_COUNT, MAX_NAME_LENGTH, deployNames, isApplianceName, nameSchema, vmNameProblem } from '../src/domain/names.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import { enqueues, nameOf, newVmNameOption, requireFree, requireTemplate } from '../src/chat/command-kit.js';
import { deployPlaced } from '../src/chat/placement.js';
import { AUTO_HOST } from '../src/domain/placement.js';
import { hostNameSchema } from '../src/domain/names.js';
import { boolean, choice, integer, invalidOptions, options, text } from '../src/chat/options.js';
import type { Services } from '../src/chat/services.js';
import { isKvmopsError, KvmopsError } from '../src/domain/errors.js';
import type { TemplateInfo } from '../src/hypervisor/types.js';

/**
 * /deploy — make VMs from a template. thin: qcow2 overlays backed by the template's disks;
 * clone: full copies. count > 1 names them `name-01` … `name-NN` (docs/commands.md). The payload's
 * rule across options (a name short enough for the -NN suffix) is the store's to check.
 */
const payload = deployPayload.innerType().shape;

export default defineCommand({
  name: 'deploy',
  description: 'Deploy VMs from a template (thin: linked overlay, clone: full copy)',
  flat: true,
  subcommands: [
    subcommand({
      name: 'deploy',
      description: 'Deploy VMs from a template (thin: linked overlay, clone: full copy)',
      role: 'operator',
      mutates: true,
      defer: true,
      options: options({
        template: nameOf('template', 'Template to deploy from'),
        name: newVmNameOption('Name of the new VM (with count > 1: name-01 … name-NN)'),
        mode: choice('thin (default): linked to the template; clone: independent full copy', payload.mode).default('thin'),
        count: integer(`How many VMs (1–${MAX_DEPLOY_COUNT}, default 1)`, payload.count).default(1),
        start: boolean('Start the VMs once made (default false)').default(false),
        profile: text('A cloud-config profile for every VM (KVMOPS_PROFILES_DIR/NAME.yaml)', nameSchema, { maxLength: MAX_NAME_LENGTH, autocomplete: 'profile' }).optional(),
        host: text(`Host (default: the first configured host), or ${AUTO_HOST}: placed by free memory and storage`, hostNameSchema, { maxLength: MAX_NAME_LENGTH, autocomplete: 'host' }).optional(),
      }),
      async handle(ctx) {
        if (ctx.options.host !== AUTO_HOST) return single(ctx);
        // host:auto — placed over the hosts (src/chat/placement.ts), one job per host that gets VMs
        const { host: _auto, ...p } = ctx.options;
        const pins = await sharedPins(ctx.services, p, ctx.user.id);
        return deployPlaced(ctx, p, pins);
      },
    }),
  ],
});

/** A deploy on one named host (or the default one). */
const single = enqueues('deploy', async (services, p, user) => {
  const pins = await sharedPins(services, p, user.id);
  const t = await templateForDeploy(services, p.host, p.template);
  const names = deployNames(p.name, p.count);
  await requireFree((fresh) => services.catalog.vmsNamed(p.host, names, { fresh }), names, 'VM', `on ${p.host}`);
  return { templateCreatedAt: t.createdAt, ...pins };
});

/**
 * The template a deploy on `host` starts from: the one there, or — templates travel — the one
 * another host holds, which the job copies to `host` once (streamed and verified) before it
 * deploys (src/kinds/deploy.ts). Its creation time is pinned either way, so the job copies and
 * deploys exactly the template the requester saw, not a same-named later one. Not on any host:
 * the refusal names the host asked for.
 */
async function templateForDeploy(services: Services, host: string, name: string): Promise<TemplateInfo> {
  try {
    return await requireTemplate(services, host, name);
  } catch (e) {
    if (!isKvmopsError(e, 'template-not-found')) throw e;
    for (const other of services.catalog.hosts()) {
      if (other === host) continue;
      const found = (await services.catalog.templates(other, { fresh: false }).catch(() => [])).find((t) => t.name === name);
      if (found) return found;
    }
    throw e;
  }
}

/**
 * What every VM of the deploy gets, pinned now: the requester's keys as they are (what the VMs
 * get even if the job runs later) and the profile as it is (the file was read at start-up: what
 * the VMs get even after a restart with another file). A refused name or profile: no job.
 */
async function sharedPins(services: Services, p: { name: string; count: number; profile?: string | undefined }, userId: string) {
  assertVmNames(deployNames(p.name, p.count));
  const profile = p.profile === undefined ? undefined : requireProfile(services, p.profile);
  const keys = (await services.keys.list(userId)).map((k) => k.line);
  return { ...(keys.length ? { sshKeys: keys } : {}), ...(profile ? { profileUserData: profile } : {}) };
}

/**
 * The `name` option checked the base name; with count > 1 the names made are `name-NN`, and
 * `guestfs` ×2 would make `guestfs-01`, a name kvmops hides (names.ts): refused like any bad
 * name. (A base too long for the suffix is the payload's own rule, refused by the store.)
 */
function assertVmNames(names: string[]): void {
  for (const n of names) {
    if (!isApplianceName(n)) continue;
    throw invalidOptions([`name: the VM name "${n}" ${vmNameProblem(n)}`], undefined, 'deploy');
  }
}

/** The profile's settings, to be pinned into the payload; a refusal when there is none usable. */
function requireProfile(services: Services, name: string): Record<string, unknown> {
  if (!services.profiles) {
    throw new KvmopsError('profile-not-found', 'No profiles are configured (KVMOPS_PROFILES_DIR is not set).', { details: { profile: name } });
  }
  return services.profiles.userData(name);
}

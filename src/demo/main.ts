/**
 * `npm run demo`: a scripted tour of kvmops in the terminal chat, against the local libvirt,
 * with everything stored under ./data/demo (database, templates, VM disks). It cleans up its
 * previous run first, so it can run again and again. Exit 0 only when every job succeeded and
 * every data check held.
 *
 * The story: a golden VM becomes a template; four web servers are deployed Thin and a database
 * server as a Clone; web-01 is snapshotted, its disk changed; a revert is requested, the
 * requester's own ✅ is refused (two-person rule) and a second user's ✅ runs it; the data is
 * back.
 *
 * `npm run demo -- --guest` is the real-guest tour instead (guest.ts): minutes, not seconds.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { createCore, startApp } from '../app.js';
import { loadEnv } from '../config/env.js';
import { ShellSession } from '../adapters/shell/session.js';
import { ShellSink } from '../adapters/shell/sink.js';
import { Transcript } from '../adapters/shell/transcript.js';
import { hostContext } from '../hypervisor/host.js';
import { createGoldenVm, hasDiskPattern, removeLab, writeDiskPattern } from './lab.js';
import type { Job } from '../jobs/types.js';
import { guestDemo } from './guest.js';
import { heading, out, summary, waitForEnd } from './tour.js';
import { createLogger } from '../ops/logger.js';
import { readProfiles } from '../config/profiles.js';
import { readTeamKeys } from '../config/team-keys.js';

// Specific enough that the clean-up of an earlier run never touches anyone else's VMs.
const PREFIX = 'kvmops-demo-';
const ROOT = path.resolve('data/demo');
// The storage dir appears in virsh command strings: keep it to safe characters.
const STORAGE = /^\/[A-Za-z0-9._/-]+$/.test(ROOT) ? `${ROOT}/storage` : '/var/lib/kvmops-demo';
const GOLDEN_BYTE = 0x5a;
const CHANGED_BYTE = 0xc3;


async function main(): Promise<boolean> {
  const env = loadEnv({
    ...process.env,
    KVMOPS_DB: `${ROOT}/kvmops.db`,
    KVMOPS_STORAGE_DIR: STORAGE,
    KVMOPS_HOSTS: 'local=qemu:///system',
    KVMOPS_TWO_PERSON: 'true',
    KVMOPS_APPROVAL_TTL: '30m',
    KVMOPS_HTTP_PORT: '',
  });
  const host = hostContext(env.KVMOPS_HOSTS[0]!, { storageDir: STORAGE });

  heading('Setting the stage');
  const gone = await removeLab(host, PREFIX);
  await rm(ROOT, { recursive: true, force: true });
  if (STORAGE !== `${ROOT}/storage`) await rm(STORAGE, { recursive: true, force: true });
  await mkdir(ROOT, { recursive: true });
  if (gone.length) out(`removed the previous run's VMs: ${gone.join(', ')}`);
  const goldenDisk = await createGoldenVm(host, `${PREFIX}golden`);
  await writeDiskPattern(host, goldenDisk, GOLDEN_BYTE);
  out(`golden VM ${PREFIX}golden defined; its disk holds byte 0x${GOLDEN_BYTE.toString(16)} (our "installed OS")`);
  out(`database ${env.KVMOPS_DB}, storage ${STORAGE}`);

  const logger = createLogger({ level: 'warn', destination: process.stderr });
  const core = createCore(env, { guildId: null, logger, teamKeys: await readTeamKeys(env.KVMOPS_SSH_KEYS_FILE), profiles: await readProfiles(env.KVMOPS_PROFILES_DIR) });
  const transcript = new Transcript({ write: (s) => process.stdout.write(s), inPlace: false });
  const ended = new Set<number>();
  const sink = new ShellSink(transcript, (view) => ended.add(view.jobId));
  const app = await startApp(core, { sinks: [sink] });
  const session = new ShellSession(core, transcript, { user: 'alice', roles: ['admin'] });
  const jobs: number[] = [];
  const checks: Array<[string, boolean]> = [];

  const say = async (line: string): Promise<void> => {
    out(`${session.currentUser.name}> ${line}`);
    session.lastReply = null;
    await session.run(line);
  };
  /** Types a command and waits until its job ended and the chat was told. */
  const job = async (line: string): Promise<Job> => {
    await say(line);
    const id = session.lastReply?.jobId ?? session.lastReply?.approvalJobId;
    if (id === undefined) throw new Error(`"${line}" did not create a job`);
    jobs.push(id);
    return waitForEnd(app, id, ended);
  };

  try {
    heading('A template from the golden VM');
    await job(`/template create vm:${PREFIX}golden name:${PREFIX}base seal:false`);
    await say('/template list');

    heading('Four web servers (thin) and a database server (clone)');
    await job(`/deploy template:${PREFIX}base name:${PREFIX}web count:4 mode:thin`);
    await job(`/deploy template:${PREFIX}base name:${PREFIX}db mode:clone`);
    await say('/vm list');
    const web = `${PREFIX}web-01`;
    await say(`/vm info vm:${web}`);

    heading(`Snapshot ${web}, then change its disk`);
    await job(`/snapshot create vm:${web} name:before-change kind:external description:"before the risky change"`);
    const changedDisk = (await core.hypervisor.host().vmInfo(web)).disks[0]!.file;
    await writeDiskPattern(host, changedDisk, CHANGED_BYTE);
    out(`(the demo writes byte 0x${CHANGED_BYTE.toString(16)} over ${path.basename(changedDisk)}: the "risky change")`);
    checks.push([`${web} shows the change before the revert`, await hasDiskPattern(host, changedDisk, CHANGED_BYTE)]);

    heading('A revert needs a second person');
    await say(`/snapshot revert vm:${web} name:before-change`);
    const revertId = session.lastReply?.approvalJobId;
    if (revertId === undefined) throw new Error('the revert did not ask for approval');
    jobs.push(revertId);
    const request = core.store.approvals.get(revertId)?.messageId;
    if (!request) throw new Error('the approval request was not posted');
    await say(`react ${request} ✅`);
    checks.push(['the requester cannot approve their own revert', session.lastReaction?.kind === 'ignored']);
    await say('as bob approver');
    await say(`react ${request} ✅`);
    checks.push(["bob's ✅ approved the revert", session.lastReaction?.kind === 'approved']);
    await waitForEnd(app, revertId, ended);
    const revertedDisk = (await core.hypervisor.host().vmInfo(web)).disks[0]!.file;
    checks.push([`${web} holds the snapshot's data again`, await hasDiskPattern(host, revertedDisk, GOLDEN_BYTE)]);

    heading('What happened');
    await say('as alice');
    await say('/job list');
    await say(`/snapshot list vm:${web}`);
  } finally {
    await app.stop({ graceMs: 10_000 });
  }

  heading('Summary');
  const ok = await summary(env.KVMOPS_DB, jobs, checks);
  out(ok ? '\nDemo finished: every job succeeded and every check held.' : '\nDemo FAILED: see above.');
  out(`Everything is under ${ROOT}; run again to start over, or explore with: KVMOPS_DB=${env.KVMOPS_DB} KVMOPS_STORAGE_DIR=${STORAGE} npm run shell`);
  return ok;
}

// `npm run demo -- --guest`: the real-guest tour on a lab host (guest.ts)
(process.argv.slice(2).includes('--guest') ? guestDemo() : main()).then(
  (ok) => process.exit(ok ? 0 : 1),
  (e: unknown) => {
    console.error(`demo: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);

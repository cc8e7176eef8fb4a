/**
 * `npm run demo -- --guest`: the real-guest tour, in the terminal chat, on a lab host.
 *
 * A guest needs a network, and on this machine a guest network lives only inside a lab host
 * (scripts/lab-host.sh: its own network, mount and pid namespaces, libvirtd and sshd, reached
 * as qemu+ssh://), never as a NAT network of this machine's libvirtd. So the tour: the guest
 * image is built (or reused from its cache); lab `kvdemo` is brought up with a guest network
 * (one left by an interrupted run is taken down first) and REMOVED at the end, whatever
 * happened; kvmops runs with `KVMOPS_HOSTS=lab=<its URI>`; alice adds a key of the demo's with
 * `/key add`; a never-booted VM on the lab becomes a sealed template; `/deploy count:2
 * start:true profile:web` makes two VMs; their hostnames and addresses come from the job's
 * completion; and an SSH login with that key, from inside the lab's namespace, runs `hostname`
 * and reads the profile's mark. Every step is timed. Exit 0 only when every job succeeded and
 * every check held: a mismatch anywhere fails the run, loudly.
 *
 * Everything on this machine is under ./data/demo-guest (database, key, profile); everything on
 * the lab (VMs, templates, disks) goes with the lab.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCore, startApp } from '../app.js';
import { ShellSession } from '../adapters/shell/session.js';
import { ShellSink } from '../adapters/shell/sink.js';
import { Transcript } from '../adapters/shell/transcript.js';
import { loadEnv } from '../config/env.js';
import { readProfiles } from '../config/profiles.js';
import { hostContext } from '../hypervisor/host.js';
import { guestImage, labDown, labExec, labUp, type LabEnv } from '../hypervisor/scripts.js';
import { hostnameFor } from '../hypervisor/seed.js';
import { SSH, sshArgs } from '../hypervisor/ssh-args.js';
import { SSH_KEYGEN, sshKeygenArgs } from '../hypervisor/ssh-keygen-args.js';
import type { Job } from '../jobs/types.js';
import { createLogger } from '../ops/logger.js';
import { createGuestVm } from './lab.js';
import { heading, out, summary, waitForEnd } from './tour.js';

const LAB = 'kvdemo';
const PREFIX = 'kvmops-demo-';
const ROOT = path.resolve('data/demo-guest');
const MARK = '/var/tmp/kvmops-demo-profile';
/** From the lease to sshd taking the key (cloud-init writes it, then sshd starts). */
const SSH_WAIT_MS = 10 * 60_000;

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export async function guestDemo(): Promise<boolean> {
  const timings: Array<[string, number]> = [];
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    const ms = performance.now() - t0;
    timings.push([what, ms]);
    out(`   (${what}: ${seconds(ms)})`);
    return r;
  };
  const tour0 = performance.now();

  heading('The guest image and a lab host');
  const image = await timed('guest image (built or reused)', () => guestImage());
  out(`guest image ${image}`);
  // a lab left by an interrupted run: down first, so the tour starts from nothing
  await labDown(LAB);
  const lab = await timed('lab host up', () => labUp(LAB, { guestNet: true }));
  try {
    return await tour(lab, image, timed, timings, tour0);
  } finally {
    await labDown(LAB).then(
      () => out(`lab ${LAB} removed (its VMs, templates and disks with it)`),
      (e: unknown) => out(`lab ${LAB} could not be removed: ${String(e)} — scripts/lab-host.sh down ${LAB}`),
    );
  }
}

async function tour(
  lab: LabEnv,
  image: string,
  timed: <T>(what: string, f: () => Promise<T>) => Promise<T>,
  timings: Array<[string, number]>,
  tour0: number,
): Promise<boolean> {
  if (!lab.guestNet) throw new Error(`lab ${LAB} has no guest network`);
  out(`lab ${LAB} at ${lab.addr}: ${lab.uri.replace(/\?.*/, '?…')}, guest network ${lab.guestNet}`);
  await rm(ROOT, { recursive: true, force: true });
  await mkdir(`${ROOT}/profiles`, { recursive: true });
  // the key pair lives in the lab's state folder: this machine and the lab's namespace both see it
  const key = `${lab.dir}/demo_key`;
  await labExec(LAB, SSH_KEYGEN, sshKeygenArgs.newKey(key, 'alice@kvmops-demo'));
  const publicKey = (await readFile(`${key}.pub`, 'utf8')).trim();
  await writeFile(
    `${ROOT}/profiles/web.yaml`,
    `#cloud-config\n# the demo's profile: a mark in each VM, written in cloud-init's last stage\nruncmd:\n  - [sh, -c, 'echo "profile web ran on $(hostname)" > ${MARK}']\n`,
  );

  const storage = `${lab.storage}/kvmops-demo`;
  const env = loadEnv({
    ...process.env,
    KVMOPS_DB: `${ROOT}/kvmops.db`,
    KVMOPS_STORAGE_DIR: storage,
    KVMOPS_HOSTS: `lab=${lab.uri}`,
    KVMOPS_PROFILES_DIR: `${ROOT}/profiles`,
    KVMOPS_ADDRESS_WAIT: '12m',
    KVMOPS_SSH_KEYS_FILE: '',
    KVMOPS_HTTP_PORT: '',
  });
  const host = hostContext(env.KVMOPS_HOSTS[0]!, { storageDir: storage });
  const src = `${PREFIX}src`;
  await timed('prepared VM defined on the lab', () => createGuestVm(host, src, image, { network: lab.guestNet! }));
  out(`VM ${src} on the lab: a never-booted overlay of the guest image, on network ${lab.guestNet}`);

  const logger = createLogger({ level: 'warn', destination: process.stderr });
  const core = createCore(env, { guildId: null, logger, teamKeys: { keys: [], problems: [] }, profiles: await readProfiles(env.KVMOPS_PROFILES_DIR) });
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
  const job = async (line: string, timeoutMs: number): Promise<Job> => {
    await say(line);
    const id = session.lastReply?.jobId;
    if (id === undefined) throw new Error(`"${line}" did not create a job: ${session.lastReply?.title ?? 'no reply'}`);
    jobs.push(id);
    return waitForEnd(app, id, ended, timeoutMs);
  };

  let ok = false;
  try {
    heading("alice's key");
    await say(`/key add key:"${publicKey}" name:demo`);
    checks.push(['/key add took the demo key', session.lastReply?.tone === 'success']);
    await say('/key list');

    heading('A sealed template on the lab');
    const tplJob = await timed('/template create seal:true', () => job(`/template create vm:${src} name:${PREFIX}debian seal:true host:lab`, 30 * 60_000));
    await say('/template list host:lab');
    const tpl = (await core.hypervisor.host('lab').listTemplates()).find((t) => t.name === `${PREFIX}debian`);
    checks.push([`template ${PREFIX}debian is sealed, and its guest has cloud-init`, tplJob.state === 'succeeded' && tpl?.sealed === true && tpl.cloudInit === 'yes']);

    heading('Two VMs with start and a profile');
    const d = await timed('/deploy count:2 start:true (until both have addresses)', () =>
      job(`/deploy template:${PREFIX}debian name:${PREFIX}web count:2 start:true profile:web host:lab`, 30 * 60_000),
    );
    const result = (d.result ?? {}) as { vms?: string[]; addresses?: Array<{ vm: string; address?: string; missing?: string }> };
    const vms = result.vms ?? [];
    const addresses = new Map((result.addresses ?? []).map((a) => [a.vm, a.address]));
    out('\nFrom the completion:');
    for (const vm of vms) out(`  ${vm.padEnd(20)} hostname ${hostnameFor(vm).padEnd(20)} address ${addresses.get(vm) ?? '(none)'}`);
    const subnet = /^198\.19\.\d+\./;
    checks.push(['the deploy made two VMs', d.state === 'succeeded' && vms.length === 2]);
    checks.push(['each has an address on the lab\'s guest network, and they differ', vms.length === 2 && vms.every((v) => subnet.test(addresses.get(v) ?? '')) && addresses.get(vms[0]!) !== addresses.get(vms[1]!)]);

    heading('SSH into one, with the key alice added');
    const vm = vms[0];
    const addr = vm ? addresses.get(vm) : undefined;
    if (vm && addr) {
      const want = [hostnameFor(vm), `profile web ran on ${hostnameFor(vm)}`];
      const said = await timed('SSH login answered (from the lease)', () => sshLogin(key, addr));
      out(`$ ssh -i demo_key debian@${addr} 'hostname; cat ${MARK}'   (inside lab ${LAB})`);
      for (const l of said) out(l);
      checks.push([`ssh debian@${addr} says its own hostname ${want[0]}, and the profile ran`, JSON.stringify(said) === JSON.stringify(want)]);
    } else {
      checks.push(['a VM with an address to log into', false]);
    }
    ok = true;
  } finally {
    await app.stop({ graceMs: 10_000 });
  }

  heading('Summary');
  const held = await summary(env.KVMOPS_DB, jobs, checks);
  out('\nTimings:');
  for (const [what, ms] of timings) out(`  ${what.padEnd(56)} ${seconds(ms)}`);
  out(`  ${'the whole tour'.padEnd(56)} ${seconds(performance.now() - tour0)}`);
  const all = ok && held;
  out(all ? '\nGuest demo finished: every job succeeded and every check held.' : '\nGuest demo FAILED: see above.');
  return all;
}

/** `hostname; cat MARK` over SSH as debian, from inside the lab; retried until sshd takes the key and the profile ran. */
async function sshLogin(key: string, addr: string): Promise<string[]> {
  const t0 = performance.now();
  let last = '';
  for (;;) {
    try {
      const r = await labExec(
        LAB,
        SSH,
        sshArgs.exec({ host: addr, user: 'debian', keyfile: key, noVerify: true }, 'sh', ['-c', `cloud-init status --wait >/dev/null 2>&1; hostname; cat ${MARK}`]),
        { timeoutMs: 5 * 60_000 },
      );
      return r.stdout.trim().split('\n');
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (performance.now() - t0 > SSH_WAIT_MS) throw new Error(`no SSH login to ${addr} within ${SSH_WAIT_MS / 60_000} min: ${last}`);
    await sleep(5000);
  }
}

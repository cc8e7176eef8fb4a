/**
 * Two real hosts — the local libvirt and a lab host reached only over qemu+ssh
 * (scripts/lab-host.sh) — through the terminal chat: `/host list` and `/host info` with the
 * figures each host's own `virsh nodeinfo` gives, `/deploy host:auto count:4` spread over both
 * (a template of the same name made on each), a drained host skipped, a template one host lacks,
 * not enough memory refused with no job, /healthz and /metrics per host, and the lab's sshd
 * killed: `/host list` still answers at once, with "UNREACHABLE since".
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { formatBytes } from '../../../src/chat/format.js';
import { StorageLayout } from '../../../src/hypervisor/storage.js';
import { openJobStore } from '../../../src/jobs/store.js';
import { labSkipReason, labTeardown, labUp, type Lab } from '../../helpers/lab.js';
import { createDisk, defineVm, makeTestEnv, virsh as localVirsh, type LibvirtTestEnv } from '../../helpers/libvirt.js';
import { ShellDriver } from './driver.js';

const skip = labSkipReason();
let lab: Lab;
let env: LibvirtTestEnv;
let storageDir: string;
let storage: StorageLayout;
let shellEnv: Record<string, string>;
let httpPort: number;
const JOB_MS = 180_000;

const remote = (...args: string[]) => lab.virsh(...args);
const inLab = (program: string, ...args: string[]) => lab.run(program, ...args);
/** CPUs and memory as that host's own `virsh nodeinfo` prints them. */
function nodeinfo(text: string): { cpus: number; memory: number } {
  return { cpus: Number(/CPU\(s\):\s+(\d+)/.exec(text)![1]), memory: Number(/Memory size:\s+(\d+) KiB/.exec(text)![1]) * 1024 };
}
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
const golden = (memoryMiB: number) =>
  (name: string, disk: string) =>
    `<domain type='qemu'><name>${name}</name><memory unit='MiB'>${memoryMiB}</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

before(
  async () => {
    if (skip) return;
    env = makeTestEnv('hst');
    lab = labUp();
    storageDir = `${lab.storage}/${env.prefix}kv`;
    storage = new StorageLayout(storageDir);
    // the same source VM on each host: 1 GiB of memory (never started): what placement counts
    const srcDir = `${lab.storage}/${env.prefix}src`;
    inLab('mkdir', '-p', srcDir);
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', `${srcDir}/golden.qcow2`, '64M');
    const xml = golden(1024)(env.vmName('golden'), `${srcDir}/golden.qcow2`);
    inLab('sh', '-c', 'printf "%s" "$1" > /tmp/golden.xml && virsh -q -c qemu:///system define /tmp/golden.xml', 'sh', xml);
    defineVm(env.vmName('golden'), [createDisk(`${env.storageDir}/golden.qcow2`)], { memoryMiB: 1024 });
    // a second source, only here, asking far more memory than any host has
    defineVm(env.vmName('huge'), [createDisk(`${env.storageDir}/huge.qcow2`)], { memoryMiB: 4 * 1024 * 1024 });
    httpPort = await freePort();
    shellEnv = {
      KVMOPS_DB: `${env.outsideDir}/kvmops.db`,
      KVMOPS_STORAGE_DIR: storageDir,
      KVMOPS_HOSTS: `local=qemu:///system,lab=${lab.uri}`,
      KVMOPS_HTTP_PORT: String(httpPort),
      KVMOPS_LOG_LEVEL: 'error',
    };
  },
  { timeout: 60_000 },
);
after(() => labTeardown(lab, env, storage, storageDir));

test('/host list|info, /deploy host:auto over two hosts, drain, an unreachable host', { skip, timeout: 12 * 60_000 }, async (t) => {
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin'], shellEnv);
  const done = (line: string) =>
    sh.say(line, /@alice: job #(\d+) (succeeded|failed)[^\n]*/, JOB_MS).then((m) => {
      assert.equal(m[2], 'succeeded', `${line}: ${m[0]}\n${sh.output.slice(-1500)}`);
    });
  const jobDone = (id: string) => sh.expect(new RegExp(`@alice: job #${id} (succeeded|failed)[^\\n]*`), { timeoutMs: JOB_MS }).then((m) => assert.equal(m[1], 'succeeded', m[0]));
  try {
    await sh.expect(/Type help\./);
    const base = env.vmName('base');
    const p = env.vmName('p');

    // the same template name on each host, made from each host's own source VM
    await done(`/template create vm:${env.vmName('golden')} name:${base} seal:false host:local`);
    await done(`/template create vm:${env.vmName('golden')} name:${base} seal:false host:lab`);
    await done(`/template create vm:${env.vmName('huge')} name:${env.vmName('solo')} seal:false host:local`);

    // /host list: both up, with the figures each host's virsh gives
    const local = nodeinfo(localVirsh('nodeinfo'));
    const labInfo = nodeinfo(remote('nodeinfo'));
    // ("not read yet" while a host's first read is still running, and "no kvmops pool yet" from
    // a read made before the templates above made the pools — a host's figures are kept 15 s:
    // ask again, as a person would, past that)
    let list = '';
    for (let i = 0; i < 50 && (list === '' || /not read yet|no kvmops pool yet/.test(list)); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      list = (await sh.say('/host list', /Hosts \(2\)[^\n]*\n((?:\s+.*\n){2})/))[1]!;
    }
    const line = (host: string) => list.split('\n').find((l) => l.trim().startsWith(`${host} `))!;
    for (const [host, info] of [['local', local], ['lab', labInfo]] as const) {
      const l = line(host);
      assert.match(l, new RegExp(`^\\s*${host} — up · libvirt \\d+\\.\\d+\\.\\d+ · QEMU \\d`), l);
      assert.match(l, new RegExp(` · ${info.cpus} CPUs? · `), l);
      assert.match(l, new RegExp(`memory [\\d.]+ [KMGT]iB available of ${formatBytes(info.memory).replace('.', '\\.')} · `), l);
      assert.match(l, /storage [\d.]+ [KMGT]iB free of [\d.]+ [KMGT]iB/, l);
      assert.match(l, /jobs 0 queued, 0 running/, l);
    }
    assert.match(line('local'), / 2 templates · /);
    assert.match(line('lab'), / 1 template · /);

    // /host info on the lab: its templates by name, its CPUs
    await sh.say('/host info host:lab', new RegExp(`CPUs: ${labInfo.cpus} [\\s\\S]*templates \\(1\\): ${base}\\n[\\s\\S]*placement: not drained`));

    // /deploy host:auto count:4 — two on each (equal memory: the lab shares this machine's)
    let from = sh.output.length;
    sh.type(`/deploy template:${base} name:${p} count:4 host:auto`);
    const placed = await sh.expect(/Batch #\d+ queued: Deploy [^\n]* placed on local and lab[^\n]*\n\s+#(\d+) (\S+)…(\S+) on local[^\n]*\n\s+#(\d+) (\S+)…(\S+) on lab/, { from });
    assert.deepEqual(placed.slice(2, 4).concat(placed.slice(5, 7)), [`${p}-01`, `${p}-02`, `${p}-03`, `${p}-04`]);
    // one batch: its notification ends when both jobs have
    const batch = await sh.expect(new RegExp(`@alice: batch #${placed[1]} \\(2 jobs\\) (\\S+)[^\\n]*`), { timeoutMs: JOB_MS });
    assert.equal(batch[1], 'succeeded', batch[0]);
    const ours = (names: string) => names.split('\n').map((n) => n.trim()).filter((n) => n.startsWith(p)).sort();
    assert.deepEqual(ours(localVirsh('list', '--all', '--name')), [`${p}-01`, `${p}-02`]);
    assert.deepEqual(ours(remote('list', '--all', '--name')), [`${p}-03`, `${p}-04`]);

    // drained: everything goes to local, and the reply says why lab was skipped
    await sh.say('/host drain host:lab', /Host lab drained by alice/);
    await sh.say('/host list', /lab \(drained by alice [^)]*\) — up/);
    const q = env.vmName('q');
    from = sh.output.length;
    sh.type(`/deploy template:${base} name:${q} count:2 host:auto`);
    const drained = await sh.expect(/Job #(\d+) queued: Deploy [^\n]* placed on local[^\n]*\n\s+#\d+ (\S+)…(\S+) on local[^\n]*\n\s+Skipped: lab \(drained\)\./, { from });
    assert.deepEqual([drained[2], drained[3]], [`${q}-01`, `${q}-02`]);
    await jobDone(drained[1]!);
    // an explicit host:lab still runs on a drained host
    await done(`/deploy template:${base} name:${env.vmName('x')} host:lab`);
    assert.deepEqual(ours(remote('list', '--all', '--name')).length, 2);
    assert.ok(remote('list', '--all', '--name').includes(env.vmName('x')));
    await sh.say('/host drain host:lab off:true', /Host lab undrained by alice/);

    // not enough memory anywhere (4 TiB a VM), the other host lacking the template: refused, no job
    const store = openJobStore(shellEnv.KVMOPS_DB!);
    const jobsBefore = store.list({ limit: 1000 }).length;
    await sh.say(
      `/deploy template:${env.vmName('solo')} name:${env.vmName('h')} host:auto`,
      /Refused \(no-capacity\)[^\n]*\n\s+No host has room for a VM from template [^:]+: local — memory short: [\d.]+ GiB available \(256 MiB kept for the host\), 4096 GiB a VM[\s\S]*lab — does not hold the template[\s\S]*Nothing was deployed\./,
    );
    assert.equal(store.list({ limit: 1000 }).length, jobsBefore, 'no job');
    store.close();

    // /healthz and /metrics per host
    const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { hosts: Array<{ name: string; ok: boolean; libvirt?: string; drained?: boolean }> };
    assert.deepEqual(health.hosts.map((h) => [h.name, h.ok, typeof h.libvirt, h.drained]), [['local', true, 'string', false], ['lab', true, 'string', false]]);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(metrics, /^kvmops_host_up\{host="lab"\} 1$/m);
    assert.match(metrics, new RegExp(`^kvmops_host_cpus\\{host="lab"\\} ${labInfo.cpus}$`, 'm'));
    assert.match(metrics, new RegExp(`^kvmops_host_memory_bytes\\{host="local",kind="total"\\} ${local.memory}$`, 'm'));
    assert.match(metrics, /^kvmops_host_templates\{host="local"\} 2$/m);
    assert.match(metrics, /^kvmops_host_vms\{host="lab",state="defined"\} [1-9]/m);

    // the lab's sshd killed (the one this test's lab started): /host list answers at once, lab unreachable
    inLab('sh', '-c', 'kill "$(cat /run/sshd.pid)"');
    // the probe's last answer is reused for its TTL (15 s); after it, the next read fails
    await new Promise((r) => setTimeout(r, 16_000));
    const t0 = Date.now();
    await sh.say('/host list', /lab — UNREACHABLE since [^\n]*\(for [^)]+\): [^\n]+/);
    const took = Date.now() - t0;
    t.diagnostic(`/host list with an unreachable host: ${took} ms`);
    assert.ok(took < 3_000, `answered in ${took} ms`);
    const t1 = Date.now();
    await sh.say('/host list', /lab — UNREACHABLE since/);
    t.diagnostic(`again (cached): ${Date.now() - t1} ms`);
    const h2 = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { status: string; hosts: Array<{ name: string; ok: boolean; unreachableSince?: string }> };
    assert.equal(h2.status, 'degraded');
    assert.equal(h2.hosts[1]!.ok, false);
    assert.ok(Date.parse(h2.hosts[1]!.unreachableSince!) >= t0 - 20_000);
  } finally {
    await sh.quit().catch(() => {});
    sh.child.kill();
  }
});

import { defineCommand, subcommand } from '../src/chat/command.js';
import { hostOption, readReply, resolveHost } from '../src/chat/command-kit.js';
import { formatBytes, formatDuration } from '../src/chat/format.js';
import { moment, person } from '../src/chat/people.js';
import { boolean, options } from '../src/chat/options.js';
import type { HostDrain, Services } from '../src/chat/services.js';
import { importingNote } from '../src/chat/inventory-port.js';
import { KvmopsError } from '../src/domain/errors.js';
import type { HostProbeState } from '../src/hypervisor/probe.js';

/**
 * /host — the hosts of KVMOPS_HOSTS. `list` and `info` (viewers) say whether each answers (and
 * since when not), its libvirt and QEMU versions, CPUs, memory and storage dir free/total —
 * from the host probe, cached and bounded, so a hanging host never holds the answer past
 * Discord's 3 seconds — and its VMs, templates and jobs, from the inventory and the job table
 * (no host read). `drain` (admins) keeps `/deploy host:auto` off a host; commands that name
 * the host still run there.
 */

/** The host's live part: "up · libvirt 9.0.0 · QEMU 7.2.22 · 2 CPUs · memory … · storage …", or why not. */
function liveText(s: HostProbeState, now: number): string {
  if (s.reachable === false) {
    const since = s.unreachableSince ?? now;
    const last = s.facts && s.readAt !== null ? ` · last answered ${moment(s.readAt)}` : '';
    const lasting = now - since < 1000 ? 'under 1s' : formatDuration(now - since);
    return `UNREACHABLE since ${moment(since)} (for ${lasting}): ${short(s.error ?? 'no answer')}${last}`;
  }
  if (!s.facts) return s.probing ? 'not read yet (reading now; ask again in a moment)' : 'not read yet';
  const f = s.facts;
  const storage = f.storage ? `storage ${formatBytes(f.storage.available)} free of ${formatBytes(f.storage.total)}` : 'storage: no kvmops pool yet';
  return [
    'up',
    `libvirt ${f.libvirt}`,
    f.hypervisor,
    `${f.cpus} CPU${f.cpus === 1 ? '' : 's'}`,
    `memory ${formatBytes(f.memory.available)} available of ${formatBytes(f.memory.total)}`,
    storage,
  ].join(' · ');
}

function short(s: string): string {
  const line = s.split('\n')[0]!.trim();
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}

function drainText(d: HostDrain): string | null {
  if (!d.drained) return null;
  if (d.env) return 'drained (KVMOPS_HOSTS)';
  return `drained by ${person(d.chat!.changedBy)} ${moment(d.chat!.changedAt)}`;
}

/** From the inventory and the job table: what kvmops knows is on the host, without reading it. */
function knownParts(services: Services, host: string): { vms: string; templates: string[]; jobs: string } {
  const counts = services.inventory?.vmCounts(host);
  const status = services.inventory?.status(host);
  const note = status ? importingNote(status) : null;
  const templates = services.inventory?.templates(host).map((t) => t.name) ?? [];
  const jobs = services.hosts!.jobs(host);
  return {
    vms: counts ? `VMs ${counts.running} running / ${counts.defined} defined${note ? ` (${note})` : ''}` : 'VMs: not known',
    templates,
    jobs: `jobs ${jobs.queued} queued, ${jobs.running} running`,
  };
}

function requireHostsPort(services: Services): NonNullable<Services['hosts']> {
  if (!services.hosts) throw new KvmopsError('unsupported', 'Host facts are not available in this setup.');
  return services.hosts;
}

export default defineCommand({
  name: 'host',
  description: 'Hosts: list, info, drain (auto placement skips a drained host)',
  subcommands: [
    subcommand({
      name: 'list',
      description: 'Every host: reachable or not, versions, CPUs, memory, storage, VMs, templates, jobs',
      role: 'viewer',
      mutates: false,
      // the probe answers within its wait (1.5 s) whatever the hosts do
      defer: false,
      options: options({}),
      async handle({ services }) {
        const hosts = requireHostsPort(services);
        const states = await hosts.probeAll();
        const now = services.now();
        const lines = states.map((s) => {
          const known = knownParts(services, s.host);
          const drain = drainText(hosts.drain(s.host));
          const templates = `${known.templates.length} template${known.templates.length === 1 ? '' : 's'}`;
          return `${s.host}${drain ? ` (${drain})` : ''} — ${liveText(s, now)} · ${known.vms} · ${templates} · ${known.jobs}`;
        });
        return readReply(`Hosts (${states.length})`, lines);
      },
    }),
    subcommand({
      name: 'info',
      description: 'One host in detail: state, versions, CPUs, memory, storage, VMs, templates, jobs, drain',
      role: 'viewer',
      mutates: false,
      defer: false,
      options: options({ host: hostOption }),
      async handle({ options: o, services }) {
        const hosts = requireHostsPort(services);
        const host = resolveHost(services, o.host);
        const s = await hosts.probe(host);
        const now = services.now();
        const known = knownParts(services, host);
        const drain = hosts.drain(host);
        const f = s.facts;
        const lines = [
          `state: ${s.reachable === false ? liveText(s, now) : s.facts ? `up (read ${moment(s.readAt!)})` : liveText(s, now)}`,
          ...(f
            ? [
                `versions: libvirt ${f.libvirt}, ${f.hypervisor}`,
                `CPUs: ${f.cpus} (${f.cpuModel})`,
                `memory: ${formatBytes(f.memory.available)} available of ${formatBytes(f.memory.total)} (${formatBytes(f.memory.free)} free, the rest page cache)`,
                `storage dir: ${f.storage ? `${formatBytes(f.storage.available)} free of ${formatBytes(f.storage.total)}` : 'no kvmops pool yet (made by the first job on this host)'}`,
              ]
            : []),
          known.vms,
          `templates (${known.templates.length}): ${known.templates.join(', ') || 'none'}`,
          known.jobs,
          `placement: ${drainText(drain) ?? 'not drained: /deploy host:auto may place VMs here'}${drain.drained ? ' — /deploy host:auto skips it; host:' + host + ' still works' : ''}`,
          ...(drain.env && drain.chat && !drain.chat.drained ? ['(undrained in chat, but KVMOPS_HOSTS drains it: only the environment can undo that)'] : []),
        ];
        return readReply(`Host ${host}`, lines);
      },
    }),
    subcommand({
      name: 'drain',
      description: 'Drain a host (off: undrain): /deploy host:auto skips it; host:NAME still works',
      role: 'admin',
      mutates: true,
      defer: false,
      options: options({
        host: hostOption,
        off: boolean('Undrain it instead (default false)').default(false),
      }),
      async handle({ options: o, services, user }) {
        const hosts = requireHostsPort(services);
        const host = resolveHost(services, o.host);
        const state = await hosts.setDrain(host, !o.off, { id: user.id, name: user.name });
        const now = hosts.drain(host);
        const lines = state.drained
          ? [`/deploy host:auto no longer places VMs on ${host}. Commands with host:${host} still run there; VMs and jobs already there are not touched.`]
          : now.drained
            ? [`Undrained in chat, but KVMOPS_HOSTS drains ${host} (;drain): it stays drained until that entry changes.`]
            : [`/deploy host:auto may place VMs on ${host} again.`];
        return { visibility: 'public', title: `Host ${host} ${state.drained ? 'drained' : now.drained ? 'stays drained (KVMOPS_HOSTS)' : 'undrained'} by ${person(user)}`, lines, tone: now.drained ? 'warning' : 'success' };
      },
    }),
  ],
});

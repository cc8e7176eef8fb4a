/**
 * The real Debian guest (scripts/guest-image.sh): built or reused, booted under TCG on a thin
 * overlay, it reaches the login prompt on its serial console (ttyS0) and its guest agent
 * answers. Needs root and `scripts/host-setup.sh --guest`; under CI=true it must run.
 *
 * Timings are printed as test diagnostics (image build, boot to login, boot to agent): TCG on
 * the shared test machines takes 30–140 s to the login prompt, hence the generous bounds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { skipUnlessLibvirt, virsh, chainOf } from '../helpers/libvirt.js';
import {
  BUILD_TIMEOUT_MS,
  IMAGE_HOSTNAME,
  agentCommand,
  buildGuestImage,
  consoleText,
  defineGuest,
  fileStamp,
  guestSuite,
  waitForAgent,
  waitForConsole,
} from '../helpers/guest.js';

const LOGIN_WAIT_MS = 10 * 60_000;
const AGENT_WAIT_MS = 3 * 60_000;

const skip = skipUnlessLibvirt();

describe('real Debian guest image', { skip: skip.skip }, () => {
  const suite = guestSuite('guest');

  it('a second builder run reuses the cached image', { timeout: BUILD_TIMEOUT_MS }, (t) => {
    const { image } = suite;
    if ('skip' in image) return t.skip(image.skip);
    t.diagnostic(`first builder run: ${image.seconds.toFixed(2)} s (${image.built ? 'built' : 'cached'})`);
    const stamp = fileStamp(image.path);
    const again = buildGuestImage();
    t.diagnostic(`second builder run: ${again.seconds.toFixed(2)} s`);
    assert.equal(again.path, image.path);
    assert.equal(again.built, false);
    assert.equal(fileStamp(image.path), stamp, 'the cached image was rewritten');
    const [top] = chainOf(image.path);
    assert.equal(top!.format, 'qcow2');
    assert.equal(top!['virtual-size'], 1024 * 1024 * 1024);
  });

  it('boots to the login prompt on ttyS0 and answers the guest agent', { timeout: LOGIN_WAIT_MS + AGENT_WAIT_MS + 60_000 }, async (t) => {
    const { env, image } = suite;
    if ('skip' in image) return t.skip(image.skip);
    const imageStamp = fileStamp(image.path);
    const vm = defineGuest(env.vmName('boot'), image.path, env.storageDir);
    assert.equal(chainOf(vm.overlay)[1]?.filename, image.path, 'the VM runs on a thin overlay of the image');

    // Not booted yet: the agent has nobody to answer for it.
    assert.equal(agentCommand(vm.name, { execute: 'guest-ping' }).ok, false);

    const t0 = performance.now();
    virsh('start', vm.name);
    await waitForConsole(vm, new RegExp(`^${IMAGE_HOSTNAME} login: `, 'm'), LOGIN_WAIT_MS);
    const toLogin = (performance.now() - t0) / 1000;
    await waitForAgent(vm, AGENT_WAIT_MS);
    const toAgent = (performance.now() - t0) / 1000;
    t.diagnostic(`virsh start → login prompt ${toLogin.toFixed(1)} s, → guest-ping answered ${toAgent.toFixed(1)} s`);

    const log = consoleText(vm);
    // GRUB passed the kernel its console; getty printed /etc/issue on ttyS0.
    assert.match(log, /Kernel command line: .*console=ttyS0/);
    assert.match(log, new RegExp(`Debian GNU/Linux 12 ${IMAGE_HOSTNAME} ttyS0`));

    // The agent that answers is the guest's: it reports Debian 12 and the cloud kernel.
    const os = agentCommand(vm.name, { execute: 'guest-get-osinfo' });
    assert.ok(os.ok, `guest-get-osinfo: ${os.ok ? '' : os.error}`);
    const info = os.value as { id?: string; 'version-id'?: string; 'kernel-release'?: string };
    assert.equal(info.id, 'debian');
    assert.equal(info['version-id'], '12');
    assert.match(info['kernel-release'] ?? '', /-cloud-amd64$/);

    virsh('destroy', vm.name);
    assert.equal(fileStamp(image.path), imageStamp, 'the image was written to; only the overlay may change');
  });
});

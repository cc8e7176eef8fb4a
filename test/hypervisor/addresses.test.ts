import assert from 'node:assert/strict';
import { test } from 'node:test';
import { domainNics, firstIpv4, hasReachableNic, mergeAddresses, parseDomIfAddr } from '../../src/hypervisor/addresses.js';
import { parseXml } from '../../src/hypervisor/xml.js';

// Outputs as virsh 9.0 printed them for a Debian guest on a lab host's NAT network.
const LEASE = ` Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 vnet0      52:54:00:55:31:c5    ipv4         198.19.1.89/24
`;
const AGENT = ` Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 lo         00:00:00:00:00:00    ipv4         127.0.0.1/8
 lo         00:00:00:00:00:00    ipv6         ::1/128
 enp0s2     52:54:00:55:31:C5    ipv4         198.19.1.89/24
 enp0s2     52:54:00:55:31:c5    ipv6         fe80::5054:ff:fe55:31c5/64
 enp0s3     52:54:00:aa:bb:cc    N/A          N/A
 enp0s4     52:54:00:00:00:04    ipv6         2001:db8::4/64
`;
const EMPTY = ` Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
`;

test('domifaddr --full: addresses per MAC, loopback, link-local and N/A rows left out', () => {
  assert.deepEqual(parseDomIfAddr(LEASE, 'lease'), [{ mac: '52:54:00:55:31:c5', protocol: 'ipv4', address: '198.19.1.89', prefix: 24, source: 'lease' }]);
  assert.deepEqual(
    parseDomIfAddr(AGENT, 'agent').map((a) => `${a.mac} ${a.address}/${a.prefix}`),
    ['52:54:00:55:31:c5 198.19.1.89/24', '52:54:00:00:00:04 2001:db8::4/64'],
  );
  assert.deepEqual(parseDomIfAddr(EMPTY, 'arp'), []);
  assert.deepEqual(parseDomIfAddr('', 'arp'), []);
  assert.throws(() => parseDomIfAddr('error: something else\n', 'lease'), /unexpected domifaddr output/);
});

test("NICs from the definition; each address once, from the most trusted source; the first IPv4 in NIC order", () => {
  const root = parseXml(`<domain><devices>
    <interface type='user'><mac address='52:54:00:00:00:01'/></interface>
    <interface type='network'><mac address='52:54:00:55:31:C5'/><source network='kvmops-lab'/></interface>
    <interface type='bridge'><mac address='52:54:00:00:00:04'/><source bridge='br0'/></interface>
  </devices></domain>`);
  const nics = domainNics(root);
  assert.deepEqual(nics, [
    { mac: '52:54:00:00:00:01', type: 'user', network: null },
    { mac: '52:54:00:55:31:c5', type: 'network', network: 'kvmops-lab' },
    { mac: '52:54:00:00:00:04', type: 'bridge', network: 'br0' },
  ]);
  assert.equal(hasReachableNic(nics), true);
  assert.equal(hasReachableNic([nics[0]!]), false, "QEMU's user-mode network gets no address worth waiting for");
  const merged = mergeAddresses(nics, [...parseDomIfAddr(AGENT, 'agent'), ...parseDomIfAddr(LEASE, 'lease')]);
  assert.deepEqual(merged[0]!.addresses, []);
  assert.deepEqual(merged[1]!.addresses.map((a) => `${a.address} ${a.source}`), ['198.19.1.89 lease']);
  assert.deepEqual(merged[2]!.addresses.map((a) => `${a.address} ${a.source}`), ['2001:db8::4 agent']);
  assert.equal(firstIpv4(merged)?.address, '198.19.1.89');
  assert.equal(firstIpv4(mergeAddresses(nics, [])), undefined);
});

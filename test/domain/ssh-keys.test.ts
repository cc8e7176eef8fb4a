/**
 * SSH public keys for `/key add`: accepted types and sizes, fingerprints equal to
 * `ssh-keygen -lf` (the fixtures' fingerprints were printed by ssh-keygen; a fresh key is
 * checked live against ssh-keygen in ssh-keys-keygen.libvirt.test.ts, with the guest tooling),
 * and every way a paste goes wrong refused with a reason.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { parseSshPublicKey } from '../../src/domain/ssh-keys.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBI1xIdZJyPZNs3Kc9cR1u2+pS6ZKYkz6ZRgMb9BecV6 alice@laptop';
const ECDSA256 =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAng5zeP8MNvFtOrLnb8VKyeFtaLavsACTvijc3oOOPQpFKz9BqiB3M3ck0tWumdoFuzpmBALpm14AVJ2js74xc= bob ecdsa';
const ECDSA521 =
  'ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAH98y24zer64QlJ/CQlle/mKyPP+35gYK9YpN0mdmlNt71s7MbGWtZlknUFE/b3ZSY7KyddDrrZBQmtwDLXYO4TpgCD3Tvql1M1eIfntBonawt2RX+OVV2sNvd4lcPALDpMKv0mv488bJYvtqVlVWWRI5ztJQh5lUiGQT+fM//b3glZRg== ';
const RSA2048 =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDDjRoC8jtQL2VTYHnkCbtc35OLoRUcpH/91iemfF3IO8xpPf+FOLYz7XI43hm9Vh+cOWeiq/Lx+0KXjSMTKGCWusv2jCOPMmaGq+3rouVskwL/rKSh71YjYQDUpy0viErVlmNPIAfye5BJN41QNRuXpC0meuUPE5eveQw51b0ye+Orm4pABRks0Ru3WcdIjWCMoNFMUNIsenSRJjLmMEfk3gzxNJVC5f5FBmPy0lj+DgIeE9FesbaoT5SfPBx7zRQEAOziGs0TPVqtTeHSLedJksxUT4XM3T5FtPyq1OBSA0/j+14CqPOmVIhRl2S4nK+XYMF8RldGiW0jLmNOuK7F carol@desk';
const RSA1024 =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDpWH5WDbh4gt0P/dkllFQWL8I3yUoYqdRw+MW9jF+U2sTO84GtNqqervaMM6WiOVi/YaPZ6FDg/ymT9/4h+xoD2j275iklwNaoN3PSvqKxWpxw8dxAy+DRAZMZZByfn6nXiZC8s77RqP9ZEBtJYJksi8dgjjJqoOp/IpCBkNCKHw== old';

function refused(text: string, reason: RegExp): void {
  assert.throws(
    () => parseSshPublicKey(text),
    (e: unknown) => isKvmopsError(e) && e.code === 'invalid-input' && reason.test(e.message),
    `expected refusal matching ${reason} for ${JSON.stringify(text.slice(0, 60))}`,
  );
}

describe('SSH public keys', () => {
  it('accepts ed25519, ecdsa and rsa ≥ 2048 with the fingerprints ssh-keygen prints', () => {
    const cases: Array<[string, string, number, string, string]> = [
      [ED25519, 'ssh-ed25519', 256, 'SHA256:jGk9CHJcHeWwyaTgHhtR66768q1OqPA4lGJF7Tqr1S4', 'alice@laptop'],
      [ECDSA256, 'ecdsa-sha2-nistp256', 256, 'SHA256:Y1dyl+zsgXdU5H7lMWMrqiQhO2SGROWYD8maA4yFRtA', 'bob ecdsa'],
      [ECDSA521, 'ecdsa-sha2-nistp521', 521, 'SHA256:KwqhXbwemApZX7hJQy9z6Cnw4kq21g2WHzDRbKRW+Bw', ''],
      [RSA2048, 'ssh-rsa', 2048, 'SHA256:IsgfyrXGecLw4KtQ87nka1HgDQqd5n9X1jkr8v99pfY', 'carol@desk'],
    ];
    for (const [line, type, bits, fp, comment] of cases) {
      const k = parseSshPublicKey(line);
      assert.deepEqual([k.type, k.bits, k.fingerprint, k.comment], [type, bits, fp, comment]);
      assert.equal(k.line, line.trim());
    }
  });

  it('writes a canonical single line whatever the spacing', () => {
    const [t, b] = ED25519.split(' ');
    assert.equal(parseSshPublicKey(`  ${t}\t${b}   alice   at  home \n`).line, `${t} ${b} alice at home`);
  });

  it('refuses RSA under 2048 bits, saying how many it has', () => refused(RSA1024, /at least 2048 bits; this one has 1024/));

  it('refuses what is not one public key', () => {
    const [, b64] = ED25519.split(' ');
    refused('', /empty/);
    refused(`${ED25519}\n${RSA2048}`, /one key/);
    refused('-----BEGIN OPENSSH PRIVATE KEY-----', /private key/);
    refused('ssh-ed25519', /TYPE BASE64/);
    refused(`command="rm -rf /" ${ED25519}`, /options before the key/);
    refused(`ssh-dss ${b64}`, /not accepted/);
    refused(`toString ${b64}`, /should start with the key type/);
    refused(`sk-ssh-ed25519@openssh.com ${b64}`, /not accepted/);
    refused(`ssh-ed25519 ${b64!.slice(0, -8)}`, /cut short|base64/);
    refused(`ssh-ed25519 ${b64!.replace(/A/g, '*')}`, /base64/);
    refused(`ssh-rsa ${b64}`, /says ssh-rsa but the key data holds ssh-ed25519/);
    const padded = Buffer.concat([Buffer.from(b64!, 'base64'), Buffer.from([0, 0, 0, 0])]).toString('base64');
    refused(`ssh-ed25519 ${padded}`, /bytes after the key/);
    refused(`${ED25519} \x1b[31mred`, /control characters/);
  });
});

/**
 * Which suite a test file is in is read from its name (README "Testing"): the unit suite must
 * never need libvirt or QEMU. A test file that reaches the real-libvirt helpers — directly or
 * through another helper, such as the Discord test world — is named `*.libvirt.test.ts`.
 * (Under CI=true those helpers would otherwise install and start libvirt in the middle of the
 * unit suite instead of failing.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The helpers that run virsh, qemu-img or qemu-io against the local libvirtd. */
const REAL_LIBVIRT_HELPERS = ['test/helpers/libvirt.ts', 'test/helpers/snapshot-vm.ts'];

/** Repo-relative .ts files under test/, each with the repo-relative .ts files it imports. */
function testImports(): Map<string, string[]> {
  const files = readdirSync(path.join(REPO, 'test'), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
  return new Map(
    files.map((file) => {
      const text = readFileSync(path.join(REPO, file), 'utf8');
      const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
      return [file, specs.map((s) => path.join(path.dirname(file), s).replace(/\.js$/, '.ts'))];
    }),
  );
}

test('a test file that reaches the real-libvirt helpers is named *.libvirt.test.ts', () => {
  const graph = testImports();
  for (const helper of REAL_LIBVIRT_HELPERS) assert.ok(graph.has(helper), `${helper} exists`);
  const reaches = new Map<string, boolean>();
  const reachesLibvirt = (file: string, seen = new Set<string>()): boolean => {
    if (REAL_LIBVIRT_HELPERS.includes(file)) return true;
    const known = reaches.get(file);
    if (known !== undefined) return known;
    if (seen.has(file)) return false;
    seen.add(file);
    const r = (graph.get(file) ?? []).some((dep) => reachesLibvirt(dep, seen));
    reaches.set(file, r);
    return r;
  };
  const testFiles = [...graph.keys()].filter((f) => f.endsWith('.test.ts'));
  const libvirtFiles = testFiles.filter((f) => reachesLibvirt(f));
  assert.ok(libvirtFiles.length > 10, 'the real-libvirt test files were found through their imports');
  assert.deepEqual(
    libvirtFiles.filter((f) => !f.endsWith('.libvirt.test.ts')),
    [],
    'these unit-suite files need libvirt: rename them *.libvirt.test.ts',
  );
});

/**
 * The layering of issue 9, read from the import statements of src/ and commands/ (type-only
 * imports included: they tie the files together just the same).
 *
 * - chat adapters (src/adapters/*) are the outermost layer: they are given the chat core's
 *   ChatCore (src/chat/adapter-port.ts) and import neither the composition root (src/app.ts)
 *   nor the job store (src/jobs);
 * - only the entry points wire an adapter to the app;
 * - discord.js stays inside src/adapters/discord;
 * - the inventory (src/inventory) sits beside the jobs layer, below the chat core: it uses the
 *   jobs layer's database helpers, the kinds' change type and the hypervisor layer (the only
 *   one that runs programs); the chat core reaches it only through Services' ports, and nothing
 *   below it (kinds, hypervisor, domain) imports it;
 * - no import circles.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// src/demo/guest.ts: the entry of `npm run demo -- --guest` (main.ts hands over to it)
const ENTRY_POINTS = ['src/main.ts', 'src/shell.ts', 'src/demo/main.ts', 'src/demo/guest.ts', 'src/register.ts'];

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
}

/** Each file's imports: repo-relative .ts paths for relative specifiers, bare package names otherwise. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of [...tsFiles('src'), ...tsFiles('commands')]) {
    const text = readFileSync(path.join(REPO, file), 'utf8');
    const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'([^']+)'/g)].map((m) => m[1]!);
    graph.set(
      file,
      specs.map((s) => (s.startsWith('.') ? path.join(path.dirname(file), s).replace(/\.js$/, '.ts') : s)),
    );
  }
  return graph;
}

const graph = importGraph();
const under = (dir: string) => (file: string) => file.startsWith(`${dir}/`);

describe('layers', () => {
  it('the adapters import neither the composition root nor the job store', () => {
    const adapters = [...graph.keys()].filter(under('src/adapters'));
    assert.ok(adapters.length > 0, 'the adapters live in src/adapters');
    const wrong = adapters.flatMap((f) => graph.get(f)!.filter((d) => d === 'src/app.ts' || under('src/jobs')(d)).map((d) => `${f} → ${d}`));
    assert.deepEqual(wrong, []);
  });

  it('src/chat is the chat core only: no adapter lives in it', () => {
    assert.deepEqual([...graph.keys()].filter((f) => /^src\/chat\/(discord|shell)\//.test(f)), []);
  });

  it('only the entry points (and the adapters themselves) import an adapter; the chat core imports no app', () => {
    const wrong = [...graph].flatMap(([f, deps]) =>
      deps
        .filter((d) => under('src/adapters')(d) && !under('src/adapters')(f) && !ENTRY_POINTS.includes(f))
        .map((d) => `${f} → ${d}`),
    );
    assert.deepEqual(wrong, []);
    const core = [...graph].filter(([f]) => under('src/chat')(f) || under('commands')(f));
    assert.deepEqual(core.flatMap(([f, deps]) => deps.filter((d) => d === 'src/app.ts').map((d) => `${f} → ${d}`)), []);
  });

  it('discord.js is imported only under src/adapters/discord', () => {
    const wrong = [...graph].filter(([f, deps]) => deps.includes('discord.js') && !under('src/adapters/discord')(f)).map(([f]) => f);
    assert.deepEqual(wrong, []);
  });

  it('the inventory sits beside the jobs layer, below the chat core', () => {
    const inventory = [...graph.keys()].filter(under('src/inventory'));
    assert.ok(inventory.length > 0, 'the inventory lives in src/inventory');
    const above = (d: string) =>
      ['src/chat', 'commands', 'src/adapters', 'src/worker', 'src/notifier', 'src/ops'].some((dir) => under(dir)(d)) || d === 'src/app.ts';
    assert.deepEqual(inventory.flatMap((f) => graph.get(f)!.filter(above).map((d) => `${f} → ${d}`)), []);
    const below = [...graph].filter(([f]) => ['src/chat', 'commands', 'src/kinds', 'src/hypervisor', 'src/domain', 'src/jobs'].some((dir) => under(dir)(f)));
    assert.deepEqual(below.flatMap(([f, deps]) => deps.filter(under('src/inventory')).map((d) => `${f} → ${d}`)), []);
    // it runs no program and opens no database of its own
    const tools = ['execa', 'node:child_process', 'child_process', 'better-sqlite3'];
    assert.deepEqual(inventory.flatMap((f) => graph.get(f)!.filter((d) => tools.includes(d)).map((d) => `${f} → ${d}`)), []);
  });

  it('no import circles', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        circles.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const d of graph.get(file) ?? []) if (graph.has(d)) visit(d, [...trail, file]);
      state.set(file, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    assert.deepEqual(circles, []);
  });
});

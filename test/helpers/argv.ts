/**
 * Exact-argv tests for a builder module (src/hypervisor/*-args.ts): one case list per builder,
 * and the type (plus a run-time check) demands a case for every builder, so a builder added
 * without its exact argv fails here.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';

type Pair = readonly [actual: readonly string[], expected: readonly string[]];

export type ArgvCases<B> = { readonly [K in keyof B]: readonly Pair[] };

export function argvCases<B extends object>(builders: B, cases: ArgvCases<B>): void {
  it('every builder has exact-argv cases', () => {
    assert.deepEqual(Object.keys(cases).sort(), Object.keys(builders).sort());
  });
  for (const [name, pairs] of Object.entries(cases) as Array<[string, readonly Pair[]]>) {
    it(name, () => {
      assert.ok(pairs.length > 0, `${name}: no case`);
      for (const [actual, expected] of pairs) assert.deepEqual([...actual], [...expected]);
    });
  }
}

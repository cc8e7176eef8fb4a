/**
 * One figure printed by `npm run bench`. Speed is measured as a ratio against a raw floor taken
 * in the same run (these machines are noisy: absolute times vary), never asserted in tests.
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The raw floor measured in the same run, same unit. */
  floor?: number;
  /** value / floor (or the figure the target is stated in). */
  ratio?: number;
  /** The target as stated in the issue, e.g. "≤ 1.5 × floor". */
  target?: string;
  pass?: boolean;
}

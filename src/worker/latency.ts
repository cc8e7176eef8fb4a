/**
 * A bounded window of samples (ms) with percentiles: the worker's enqueue → executor-start
 * latency (`Worker.latency`). The bench takes its own samples through `onExecutorStart` and
 * uses `percentile` below.
 */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly capacity = 2048) {}

  add(ms: number): void {
    if (this.samples.length < this.capacity) this.samples.push(ms);
    else {
      this.samples[this.next] = ms;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  get count(): number {
    return this.samples.length;
  }

  /** Nearest-rank percentile, q in 0..1; NaN when empty. */
  percentile(q: number): number {
    return percentile(this.samples, q);
  }

  clear(): void {
    this.samples.length = 0;
    this.next = 0;
  }
}

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

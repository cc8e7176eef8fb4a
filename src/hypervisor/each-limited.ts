/**
 * Runs `fn` over `items`, at most `limit` at a time (local qemu-img calls: a few in parallel pay
 * off, dozens only compete for the disk). The first failure stops new items from starting and
 * rejects once the running ones have settled.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

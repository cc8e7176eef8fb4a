/**
 * How long something took or will take, shown to people one way everywhere (replies, status
 * messages, lists, the shell): 950 ms → "950ms", 2.5 s → "2.5s", 45 s → "45s", 75 s → "1m 15s",
 * 3 h 2 m → "3h 2m", 50 h → "2d 2h".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** Epoch ms → "2025-05-01 14:32 UTC" (UTC: the team may span time zones). */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `30m`, `2h`, `45s`, `1d`, `2w`, `1y` (365 days) → milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(s.trim());
  if (!m) throw new Error(`not a duration: ${s} (use e.g. 30m, 2h)`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd' | 'w' | 'y'
  ];
  return Number(m[1]) * unit;
}

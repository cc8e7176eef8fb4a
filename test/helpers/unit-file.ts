import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const UNIT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/kvmops.service');

/** deploy/kvmops.service's `[Service]` settings: key → values in order (comments and blanks skipped). */
export function serviceSettings(): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(UNIT, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const i = line.indexOf('=');
    if (section !== 'Service' || i < 0) continue;
    const key = line.slice(0, i);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(i + 1)]);
  }
  return settings;
}

/** The one ExecStart= as an argv (the unit uses no quoting). */
export function execStart(): string[] {
  const values = serviceSettings().get('ExecStart') ?? [];
  if (values.length !== 1) throw new Error(`deploy/kvmops.service: expected one ExecStart=, found ${values.length}`);
  return values[0]!.split(/\s+/);
}

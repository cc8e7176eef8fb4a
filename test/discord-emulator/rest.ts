/**
 * The HTTP side: `/api/v10/...` requests from @discordjs/rest, routed to `routes.ts`.
 *
 * This file owns what is common to every request: body parsing (JSON and multipart), the
 * request log, injected failures (`failNext`) and delays, rate-limit buckets and their
 * `x-ratelimit-*` headers, auth, Discord's error JSON, and loud reporting of unknown routes.
 *
 * How @discordjs/rest 2.6 reacts (its SequentialHandler/BurstHandler), which is why the
 * headers matter:
 *  - it reads x-ratelimit-limit/-remaining/-reset-after/-bucket on every response and, when
 *    remaining hits 0, holds the next request of that bucket until reset-after has passed;
 *  - on 429 it sleeps `retry-after` seconds (+50 ms offset) and retries, without limit and
 *    without counting it as a retry (so a 429 is invisible to the caller except in time);
 *  - on 5xx it retries immediately, up to `retries` (default 3) times: 4 attempts in all, no
 *    backoff, then throws HTTPError; network errors (ECONNRESET, abort after 15 s) likewise;
 *  - 4xx throws DiscordAPIError with the JSON's `code` and `message`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { DiscordError } from './state.js';
import type { DiscordEmulatorOptions, FailOptions, RecordedRequest, RoutePattern } from './types.js';

export interface RouteContext {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** Uploaded files of a multipart request. */
  files: Array<{ name: string; size: number; contentType: string }>;
  /** A path parameter; throws when the route has none of that name (a bug in routes.ts). */
  param(name: string): string;
}

export interface RouteResult {
  status: number;
  /** JSON body; omitted → 204-style empty body. */
  body?: unknown;
}

export interface RouteDef {
  method: string;
  /** `/channels/:channel/messages/:message`; `:name` matches one segment. */
  template: string;
  /** Needs `Authorization: Bot <token>` (interaction callbacks and webhook-token routes do not). */
  auth?: boolean;
  handle(ctx: RouteContext): RouteResult | Promise<RouteResult>;
}

interface Bucket {
  hash: string;
  limit: number;
  windowMs: number;
  windowStart: number;
  count: number;
}

interface Injection {
  match: (request: { method: string; path: string }) => boolean;
  remaining: number;
  fail?: FailOptions;
  delayMs?: number;
}

/** Compiles a RoutePattern into a predicate over `{ method, path }`. */
export function compilePattern(pattern: RoutePattern): (request: { method: string; path: string }) => boolean {
  if (typeof pattern === 'function') return pattern;
  if (pattern instanceof RegExp) return ({ method, path }) => pattern.test(`${method} ${path}`);
  const trimmed = pattern.trim();
  const space = trimmed.indexOf(' ');
  const method = space === -1 ? '*' : trimmed.slice(0, space).toUpperCase();
  const parts = splitPath(space === -1 ? trimmed : trimmed.slice(space + 1).trim());
  return (request) => {
    if (method !== '*' && method !== request.method) return false;
    const actual = splitPath(request.path);
    for (let i = 0; i < parts.length; i += 1) {
      const want = parts[i];
      if (want === '*') return true;
      const got = actual[i];
      if (got === undefined) return false;
      if (want !== undefined && !want.startsWith(':') && want !== got) return false;
    }
    return parts.length === actual.length;
  };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/**
 * The limits Discord enforces that the emulator models by default (README "Rate limits"):
 * creating messages, 5 per 5 s per channel (a channel is a major parameter, so each channel has
 * its own bucket). Discord publishes no figures — its docs say to read the headers — and this is
 * the figure its headers show and that library authors list (e.g. Javacord's table: "Send
 * Messages 5 / 5s per channel"). Edits (PATCH) keep the generic default: their per-channel
 * limit is separate on Discord and not modelled here.
 */
export const DISCORD_RATE_LIMITS: ReadonlyArray<{ route: string; limit: number; windowMs: number }> = [
  { route: 'POST /channels/:channel/messages', limit: 5, windowMs: 5_000 },
];

// Discord's top-level resources: a channel, a guild, a webhook — id AND token for the webhook
// routes interactions use (`/webhooks/:app/:token/…`: every interaction token is its own bucket,
// as discord.js assumes; one shared bucket would 429 a burst of replies).
const MAJOR_PARAMS = new Set([':channel', ':guild', ':webhook', ':interaction', ':app', ':token']);

export class RestApi {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: Array<RouteDef & { parts: string[] }>;
  private readonly injections: Injection[] = [];
  private readonly buckets = new Map<string, Bucket>();
  private readonly limits: Array<{ match: (r: { method: string; path: string }) => boolean; limit: number; windowMs: number }>;
  private seq = 0;
  /** 429s served because a bucket was exhausted (not injected ones): a client that honours the headers causes none. */
  rateLimited = 0;

  constructor(
    routes: RouteDef[],
    private readonly options: DiscordEmulatorOptions,
    private readonly changed: () => void,
  ) {
    this.routes = routes.map((r) => ({ ...r, parts: splitPath(r.template) }));
    this.limits = [...(options.rateLimits ?? []), ...(options.discordRateLimits === false ? [] : DISCORD_RATE_LIMITS)].map((l) => ({ match: compilePattern(l.route), limit: l.limit, windowMs: l.windowMs }));
  }

  failNext(pattern: RoutePattern, fail: FailOptions): void {
    this.injections.push({ match: compilePattern(pattern), remaining: fail.count ?? 1, fail });
  }

  delayNext(pattern: RoutePattern, delayMs: number, count = 1): void {
    this.injections.push({ match: compilePattern(pattern), remaining: count, delayMs });
  }

  /** Injected failures not consumed yet (a test can assert they were all used). */
  pendingFailures(): number {
    return this.injections.filter((i) => i.fail !== undefined).reduce((n, i) => n + i.remaining, 0);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    const versioned = /^\/api\/v(\d+)(\/.*)?$/.exec(url.pathname);
    const path = versioned?.[1] === '10' ? splitPath(versioned[2] ?? '').map(decodeSegment).join('/') : null;
    const record: RecordedRequest = {
      seq: ++this.seq,
      method,
      path: path === null ? url.pathname : `/${path}`,
      route: null,
      query: Object.fromEntries(url.searchParams),
      body: null,
      status: 0,
      response: null,
      at,
      injected: null,
      unknownRoute: false,
    };
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      record.response = body === undefined ? null : body;
      this.requests.push(record);
      if (this.requests.length > 5000) this.requests.shift();
      if (status === 204 || body === undefined) {
        res.writeHead(status === 200 ? 204 : status, headers).end();
      } else if (typeof body === 'string') {
        res.writeHead(status, { 'content-type': 'text/html', ...headers }).end(body);
      } else {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      }
      this.changed();
    };

    let parsed: { body: unknown; files: RouteContext['files'] };
    try {
      parsed = await parseBody(raw, req.headers['content-type']);
      record.body = parsed.files.length > 0 ? { payload_json: parsed.body, files: parsed.files } : parsed.body;
    } catch {
      reply(400, { message: 'The request body contains invalid JSON.', code: 50109 });
      return;
    }

    const probe = { method, path: record.path };
    for (const injection of this.injections) {
      if (injection.remaining <= 0 || injection.delayMs === undefined || !injection.match(probe)) continue;
      injection.remaining -= 1;
      await new Promise((resolve) => setTimeout(resolve, injection.delayMs));
      break;
    }
    const failure = this.injections.find((i) => i.remaining > 0 && i.fail !== undefined && i.match(probe));
    const injectFailure = (fail: FailOptions): void => {
      record.injected = 'fail';
      const { status } = fail;
      if (status === 429) {
        const retryAfter = fail.retryAfter ?? 0.1;
        const global = fail.global ?? false;
        reply(
          429,
          { message: 'You are being rate limited.', retry_after: retryAfter, global },
          {
            'retry-after': String(retryAfter),
            'x-ratelimit-limit': '5',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': ((Date.now() + retryAfter * 1000) / 1000).toFixed(3),
            'x-ratelimit-reset-after': retryAfter.toFixed(3),
            'x-ratelimit-bucket': bucketHash(method, record.path),
            'x-ratelimit-scope': global ? 'global' : 'user',
            ...(global ? { 'x-ratelimit-global': 'true' } : {}),
          },
        );
      } else if (status === 502) {
        // Cloudflare's gateway errors are HTML, not Discord JSON.
        reply(502, '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>');
      } else {
        const text = { 500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status];
        reply(status, { message: `${status}: ${text}`, code: 0 });
      }
    };
    // afterWrite: the request goes through (Discord wrote the message) and only its answer is lost.
    let failAfterWrite: FailOptions | null = null;
    if (failure?.fail) {
      failure.remaining -= 1;
      if (failure.fail.afterWrite === true && failure.fail.status !== 429) {
        failAfterWrite = failure.fail;
      } else {
        injectFailure(failure.fail);
        return;
      }
    }

    if (path === null) {
      record.unknownRoute = true;
      reply(404, { message: '404: Not Found', code: 0 });
      this.reportUnknown(record);
      return;
    }
    const segments = splitPath(record.path);
    const candidates = this.routes.filter((r) => matchParts(r.parts, segments) !== null);
    const route = candidates.find((r) => r.method === method);
    if (!route) {
      record.unknownRoute = true;
      if (candidates.length > 0) reply(405, { message: '405: Method Not Allowed', code: 0 });
      else reply(404, { message: '404: Not Found', code: 0 });
      this.reportUnknown(record);
      return;
    }
    record.route = route.template;
    const params = matchParts(route.parts, segments) ?? {};

    if (route.auth !== false && this.options.token !== undefined && req.headers.authorization !== `Bot ${this.options.token}`) {
      reply(401, { message: '401: Unauthorized', code: 0 });
      return;
    }

    const bucket = this.bucketFor(route, params, method, record.path);
    const now = Date.now();
    if (now >= bucket.windowStart + bucket.windowMs) {
      bucket.windowStart = now;
      bucket.count = 0;
    }
    bucket.count += 1;
    const resetAfter = (bucket.windowStart + bucket.windowMs - now) / 1000;
    const rateHeaders = {
      'x-ratelimit-limit': String(bucket.limit),
      'x-ratelimit-remaining': String(Math.max(0, bucket.limit - bucket.count)),
      'x-ratelimit-reset': ((bucket.windowStart + bucket.windowMs) / 1000).toFixed(3),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': bucket.hash,
    };
    if (bucket.count > bucket.limit) {
      record.injected = 'ratelimit';
      this.rateLimited += 1;
      reply(
        429,
        { message: 'You are being rate limited.', retry_after: Number(resetAfter.toFixed(3)), global: false },
        { ...rateHeaders, 'retry-after': resetAfter.toFixed(3), 'x-ratelimit-scope': 'user' },
      );
      return;
    }

    const ctx: RouteContext = {
      method,
      path: record.path,
      query: url.searchParams,
      body: parsed.body,
      files: parsed.files,
      param(name) {
        const value = params[name];
        if (value === undefined) throw new Error(`discord-emulator: route ${route.template} has no :${name}`);
        return value;
      },
    };
    try {
      const result = await route.handle(ctx);
      if (failAfterWrite) injectFailure(failAfterWrite);
      else reply(result.status, result.body, rateHeaders);
    } catch (error) {
      if (error instanceof DiscordError) {
        reply(error.status, { message: error.message, code: error.code, ...(error.errors !== undefined ? { errors: error.errors } : {}) }, rateHeaders);
      } else {
        console.error('[discord-emulator] route handler crashed', record.method, record.path, error);
        reply(500, { message: '500: Internal Server Error', code: 0 });
      }
    }
  }

  private reportUnknown(record: RecordedRequest): void {
    const report =
      this.options.onUnknownRoute ??
      ((r: RecordedRequest) => console.error(`[discord-emulator] UNKNOWN ROUTE ${r.method} ${r.path} → ${r.status} (add it to test/discord-emulator/routes.ts)`));
    report(record);
  }

  private bucketFor(route: RouteDef & { parts: string[] }, params: Record<string, string>, method: string, path: string): Bucket {
    const major = route.parts.filter((p) => MAJOR_PARAMS.has(p)).map((p) => params[p.slice(1)] ?? '');
    const key = `${method} ${route.template} ${major.join('/')}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      const custom = this.limits.find((l) => l.match({ method, path }));
      const fallback = this.options.defaultRateLimit ?? { limit: 50, windowMs: 1000 };
      bucket = {
        hash: bucketHash(method, route.template),
        limit: custom?.limit ?? fallback.limit,
        windowMs: custom?.windowMs ?? fallback.windowMs,
        windowStart: Date.now(),
        count: 0,
      };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}

function bucketHash(method: string, template: string): string {
  return createHash('sha1').update(`${method} ${template}`).digest('hex').slice(0, 32);
}

function matchParts(parts: string[], segments: string[]): Record<string, string> | null {
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i] ?? '';
    const segment = segments[i] ?? '';
    if (part.startsWith(':')) {
      // A literal like "@me"/"@original" is not an id: routes list their literal forms first.
      params[part.slice(1)] = segment;
    } else if (part !== segment) {
      return null;
    }
  }
  return params;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** JSON bodies, and multipart ones (discord.js uses multipart when files are attached: `payload_json` + `files[n]`). */
async function parseBody(raw: Buffer, contentType: string | undefined): Promise<{ body: unknown; files: RouteContext['files'] }> {
  if (raw.length === 0) return { body: null, files: [] };
  if (contentType?.startsWith('multipart/form-data') === true) {
    const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
    let body: unknown = null;
    const files: RouteContext['files'] = [];
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') {
        if (key === 'payload_json') body = JSON.parse(value);
      } else {
        files.push({ name: value.name, size: value.size, contentType: value.type });
      }
    }
    return { body, files };
  }
  const text = raw.toString('utf8');
  return { body: JSON.parse(text) as unknown, files: [] };
}

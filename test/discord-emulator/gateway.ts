/**
 * The gateway: a JSON websocket speaking Discord's gateway protocol v10 to @discordjs/ws.
 *
 * What @discordjs/ws 1.2 does, and therefore what this answers (see its WebSocketShard):
 *  - connects to `${url}?v=10&encoding=json` (no `compress`, as zlib-sync is not installed), to
 *    READY's `resume_gateway_url` when it resumes;
 *  - waits for HELLO (op 10), sends its first heartbeat after `interval * random()`, then every
 *    interval; a heartbeat not ACKed (op 11) by the next one makes it reconnect ("zombie");
 *  - IDENTIFY (op 2) → it waits for the READY dispatch; discord.js then waits for a GUILD_CREATE
 *    of every guild READY listed as unavailable before it emits `clientReady`;
 *  - on a close code other than 1000/4004/4010-4014 it RESUMEs (op 6) after 500 ms, with the
 *    last sequence it saw; op 9 (invalid session, d=false) makes it identify again, which its
 *    identify throttle delays up to ~6.5 s when the previous IDENTIFY was under 5 s ago;
 *  - `client.destroy()` closes with 1000: Discord then forgets the session, and so does this.
 *
 * Sessions outlive their sockets: a dispatch while a session has no socket is numbered and
 * buffered, and a RESUME replays it, so "an event during a disconnect" is not lost.
 */
import type { IncomingMessage, Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';
import type { RawData } from 'ws';
import { GatewayIntentBits, GatewayOpcodes } from 'discord.js';
import { isRecord } from './state.js';
import type { EmulatorState } from './state.js';
import type { DiscordEmulatorOptions, DropGatewayOptions, GatewayConnectionRecord, GatewayEventRecord } from './types.js';

/** At most this many dispatches are kept per session for RESUME. */
const REPLAY_BUFFER = 1000;
/** A session without a socket for this long is forgotten (Discord: a few minutes). */
const RESUME_WINDOW_MS = 120_000;

interface BufferedDispatch {
  s: number;
  t: string;
  d: unknown;
}

export interface GatewaySession {
  readonly id: string;
  readonly intents: number;
  seq: number;
  socket: WebSocket | null;
  disconnectedAt: number | null;
  buffer: BufferedDispatch[];
}

/** Payload per session (e.g. MESSAGE_CREATE content depends on the MessageContent intent). */
export type DispatchData = unknown | ((session: GatewaySession) => unknown);

interface Connection {
  socket: WebSocket;
  session: GatewaySession | null;
}

export class Gateway {
  readonly sessions = new Map<string, GatewaySession>();
  readonly connections: GatewayConnectionRecord[] = [];
  readonly events: GatewayEventRecord[] = [];
  identifyCount = 0;
  /** Successful RESUMEs. */
  resumeCount = 0;
  /** RESUMEs refused with op 9. */
  failedResumeCount = 0;
  heartbeatCount = 0;
  url = '';

  private readonly wss: WebSocketServer;
  private readonly open = new Set<Connection>();

  constructor(
    server: Server,
    private readonly state: EmulatorState,
    private readonly options: DiscordEmulatorOptions,
    private readonly changed: () => void,
  ) {
    // Any path is accepted: discord.js connects to `${url}/?v=10…` first and `${url}?v=10…` on resume.
    this.wss = new WebSocketServer({ server });
    this.wss.on('connection', (socket, request) => this.onConnection(socket, request));
  }

  /** Sessions that will receive dispatches (connected, or disconnected but resumable). */
  get sessionCount(): number {
    this.expireSessions();
    return this.sessions.size;
  }

  get connectedCount(): number {
    return [...this.sessions.values()].filter((s) => s.socket?.readyState === WebSocket.OPEN).length;
  }

  /**
   * Sends a dispatch to every session that has `intent` (null: no intent needed, e.g.
   * INTERACTION_CREATE). Returns the number of sessions it was numbered for.
   */
  dispatch(t: string, data: DispatchData, intent: number | null): number {
    this.expireSessions();
    let count = 0;
    for (const session of this.sessions.values()) {
      if (intent !== null && (session.intents & intent) === 0) continue;
      const d = typeof data === 'function' ? (data as (s: GatewaySession) => unknown)(session) : data;
      this.sendDispatch(session, t, d);
      count += 1;
    }
    return count;
  }

  /** Closes the sockets of all sessions so the clients reconnect. Returns how many were dropped. */
  drop(options: DropGatewayOptions = {}): number {
    const resumable = options.resumable ?? true;
    const code = options.code ?? 4000;
    let dropped = 0;
    for (const session of [...this.sessions.values()]) {
      const socket = session.socket;
      if (!socket) continue;
      session.socket = null;
      session.disconnectedAt = Date.now();
      if (!resumable) this.sessions.delete(session.id);
      for (const conn of this.open) if (conn.socket === socket) conn.session = null;
      socket.close(code, 'discord-emulator: dropGateway');
      dropped += 1;
    }
    this.changed();
    return dropped;
  }

  async close(): Promise<void> {
    for (const conn of this.open) conn.socket.terminate();
    this.open.clear();
    this.sessions.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------------

  private onConnection(socket: WebSocket, request: IncomingMessage): void {
    const url = new URL(request.url ?? '/', 'ws://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    this.connections.push({ at: Date.now(), url: request.url ?? '/', query });
    const conn: Connection = { socket, session: null };
    this.open.add(conn);
    socket.on('close', (code) => this.onClose(conn, code));
    socket.on('error', () => socket.terminate());
    socket.on('message', (raw, isBinary) => this.onMessage(conn, raw, isBinary));
    this.changed();

    if (query.v !== undefined && query.v !== '10') {
      socket.close(4012, 'Invalid API version');
      return;
    }
    if (query.encoding !== undefined && query.encoding !== 'json') {
      // ETF is not spoken here; Discord would accept it, the emulator refuses loudly.
      console.error(`[discord-emulator] gateway: unsupported encoding=${query.encoding}`);
      socket.close(4002, 'Decode error: only encoding=json is emulated');
      return;
    }
    if (query.compress !== undefined) {
      console.error(`[discord-emulator] gateway: compress=${query.compress} is not emulated`);
      socket.close(4002, 'Decode error: transport compression is not emulated');
      return;
    }
    this.send(socket, {
      op: GatewayOpcodes.Hello,
      d: { heartbeat_interval: this.options.heartbeatIntervalMs ?? 41_250, _trace: ['["discord-emulator"]'] },
    });
  }

  private onClose(conn: Connection, code: number): void {
    this.open.delete(conn);
    const session = conn.session;
    if (session && session.socket === conn.socket) {
      session.socket = null;
      session.disconnectedAt = Date.now();
      // A normal closure by the client ends the session (Discord invalidates it); anything else
      // (4200 "resuming" from discord.js, network errors) leaves it resumable.
      if (code === 1000 || code === 1001) this.sessions.delete(session.id);
    }
    this.changed();
  }

  private onMessage(conn: Connection, raw: RawData, isBinary: boolean): void {
    const { socket } = conn;
    let payload: unknown;
    try {
      payload = isBinary ? undefined : JSON.parse(rawToString(raw));
    } catch {
      payload = undefined;
    }
    if (!isRecord(payload) || typeof payload.op !== 'number') {
      socket.close(4002, 'Decode error');
      return;
    }
    const d = payload.d;
    switch (payload.op) {
      case GatewayOpcodes.Heartbeat:
        this.heartbeatCount += 1;
        this.send(socket, { op: GatewayOpcodes.HeartbeatAck, d: null });
        return;
      case GatewayOpcodes.Identify:
        this.identify(conn, d);
        return;
      case GatewayOpcodes.Resume:
        this.resume(conn, d);
        return;
      default:
        break;
    }
    if (!conn.session) {
      socket.close(4003, 'Not authenticated');
      return;
    }
    switch (payload.op) {
      case GatewayOpcodes.PresenceUpdate:
      case GatewayOpcodes.VoiceStateUpdate:
        return;
      case GatewayOpcodes.RequestGuildMembers:
        this.requestGuildMembers(conn.session, d);
        return;
      default:
        socket.close(4001, 'Unknown opcode');
    }
  }

  private tokenOk(d: Record<string, unknown>): boolean {
    return this.options.token === undefined || d.token === this.options.token;
  }

  private identify(conn: Connection, d: unknown): void {
    const { socket } = conn;
    if (conn.session) {
      socket.close(4005, 'Already authenticated');
      return;
    }
    if (!isRecord(d) || typeof d.token !== 'string' || typeof d.intents !== 'number' || !isRecord(d.properties)) {
      socket.close(4002, 'Decode error');
      return;
    }
    if (!this.tokenOk(d)) {
      socket.close(4004, 'Authentication failed');
      return;
    }
    const allowed = this.options.privilegedIntents ?? {};
    const refused =
      ((d.intents & GatewayIntentBits.GuildMembers) !== 0 && allowed.guildMembers === false) ||
      ((d.intents & GatewayIntentBits.GuildPresences) !== 0 && allowed.guildPresences === false) ||
      ((d.intents & GatewayIntentBits.MessageContent) !== 0 && allowed.messageContent === false);
    if (refused) {
      socket.close(4014, 'Disallowed intent(s).');
      return;
    }
    if (Array.isArray(d.shard) && (d.shard[0] !== 0 || d.shard[1] !== 1)) {
      socket.close(4010, 'Invalid shard');
      return;
    }
    this.identifyCount += 1;
    const session: GatewaySession = {
      id: randomBytes(16).toString('hex'),
      intents: d.intents,
      seq: 0,
      socket,
      disconnectedAt: null,
      buffer: [],
    };
    this.sessions.set(session.id, session);
    conn.session = session;

    const state = this.state;
    this.sendDispatch(session, 'READY', {
      v: 10,
      user_settings: {},
      user: { ...state.apiUser(state.botUserId), bot: true, verified: true, mfa_enabled: false, email: null },
      // discord.js adds these as unavailable guilds and waits for their GUILD_CREATE.
      guilds: [{ id: state.guildId, unavailable: true }],
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.url,
      shard: [0, 1],
      application: { id: state.applicationId, flags: 0 },
      private_channels: [],
      presences: [],
      relationships: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      auth: {},
      _trace: ['["discord-emulator"]'],
    });
    if ((session.intents & GatewayIntentBits.Guilds) !== 0) {
      this.sendDispatch(session, 'GUILD_CREATE', this.guildCreate(session));
    }
    this.changed();
  }

  private resume(conn: Connection, d: unknown): void {
    const { socket } = conn;
    if (!isRecord(d) || typeof d.token !== 'string' || typeof d.session_id !== 'string') {
      socket.close(4002, 'Decode error');
      return;
    }
    if (!this.tokenOk(d)) {
      socket.close(4004, 'Authentication failed');
      return;
    }
    this.expireSessions();
    const session = this.sessions.get(d.session_id);
    const seq = typeof d.seq === 'number' ? d.seq : 0;
    const oldest = session?.buffer[0]?.s ?? (session ? session.seq + 1 : 0);
    if (!session || seq > session.seq || oldest > seq + 1) {
      this.failedResumeCount += 1;
      this.send(socket, { op: GatewayOpcodes.InvalidSession, d: false });
      this.changed();
      return;
    }
    // A zombie socket still attached to the session is replaced, as Discord does.
    if (session.socket && session.socket !== socket) session.socket.close(4000, 'Session resumed elsewhere');
    session.socket = socket;
    session.disconnectedAt = null;
    conn.session = session;
    this.resumeCount += 1;
    for (const missed of session.buffer) {
      if (missed.s <= seq) continue;
      this.send(socket, { op: GatewayOpcodes.Dispatch, t: missed.t, s: missed.s, d: missed.d });
      this.events.push({ at: Date.now(), sessionId: session.id, s: missed.s, t: missed.t, delivered: true, replay: true });
    }
    session.seq += 1;
    this.send(socket, { op: GatewayOpcodes.Dispatch, t: 'RESUMED', s: session.seq, d: { _trace: ['["discord-emulator"]'] } });
    this.changed();
  }

  private requestGuildMembers(session: GatewaySession, d: unknown): void {
    if (!isRecord(d)) return;
    const state = this.state;
    let members = [...state.members.keys()];
    if (Array.isArray(d.user_ids)) {
      const wanted = d.user_ids.map(String);
      members = members.filter((id) => wanted.includes(id));
    } else if (typeof d.query === 'string' && d.query !== '') {
      const q = d.query.toLowerCase();
      members = members.filter((id) => (state.users.get(id)?.username ?? '').toLowerCase().startsWith(q));
    }
    const limit = typeof d.limit === 'number' && d.limit > 0 ? d.limit : members.length;
    const notFound = Array.isArray(d.user_ids) ? d.user_ids.map(String).filter((id) => !state.members.has(id)) : [];
    this.sendDispatch(session, 'GUILD_MEMBERS_CHUNK', {
      guild_id: state.guildId,
      members: members.slice(0, limit).map((id) => state.apiMember(id)),
      chunk_index: 0,
      chunk_count: 1,
      not_found: notFound,
      ...(typeof d.nonce === 'string' ? { nonce: d.nonce } : {}),
    });
  }

  /**
   * GUILD_CREATE for the READY guild. discord.js marks the guild available because the payload
   * has `unavailable: false` and a `channels` array (Guild constructor: no channels → unavailable),
   * then fills guild.channels/roles/members caches from these arrays.
   */
  private guildCreate(session: GatewaySession): Record<string, unknown> {
    const state = this.state;
    const everyone =
      this.options.guildCreateMembers === 'all' || (session.intents & GatewayIntentBits.GuildPresences) !== 0;
    const memberIds = everyone ? [...state.members.keys()] : [state.botUserId];
    return {
      ...state.apiGuild(),
      joined_at: new Date(state.members.get(state.botUserId)?.joinedAt ?? state.createdAt).toISOString(),
      large: false,
      unavailable: false,
      lazy: true,
      member_count: state.members.size,
      members: memberIds.map((id) => state.apiMember(id)),
      channels: [...state.channels.values()].map((c) => {
        // Inside GUILD_CREATE, channels carry no guild_id (Discord omits it there).
        const { guild_id: _guildId, ...channel } = state.apiChannel(c);
        return channel;
      }),
      threads: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      embedded_activities: [],
      application_command_counts: {},
    };
  }

  private sendDispatch(session: GatewaySession, t: string, d: unknown): void {
    session.seq += 1;
    const s = session.seq;
    session.buffer.push({ s, t, d });
    if (session.buffer.length > REPLAY_BUFFER) session.buffer.shift();
    const delivered = session.socket?.readyState === WebSocket.OPEN;
    if (delivered && session.socket) this.send(session.socket, { op: GatewayOpcodes.Dispatch, t, s, d });
    this.events.push({ at: Date.now(), sessionId: session.id, s, t, delivered, replay: false });
    if (this.events.length > 2000) this.events.shift();
  }

  private send(socket: WebSocket, payload: { op: number; d: unknown; t?: string; s?: number }): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ t: payload.t ?? null, s: payload.s ?? null, op: payload.op, d: payload.d }));
  }

  private expireSessions(): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) {
      if (session.socket === null && session.disconnectedAt !== null && now - session.disconnectedAt > RESUME_WINDOW_MS) {
        this.sessions.delete(id);
      }
    }
  }
}

function rawToString(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.from(raw).toString('utf8');
}

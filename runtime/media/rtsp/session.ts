/**
 * A lean RTSP client for recording: one TCP (or TLS) connection, RTP interleaved on it
 * (RFC 2326 §10.12) or, with `transport: "udp"`, on a UDP port pair per track (udp.ts: only the
 * camera's address is listened to; rtp_reorder.ts puts packets back in order), H.264/H.265 video
 * and optionally AAC or G.711 audio handed over as whole access units (AAC frames; G.711 as runs
 * of 8-bit samples).
 *
 *   await using session = await RtspSession.open({ url, user, password, audio: true });
 *   await session.play({ onVideo(au) {…}, onAudio(au) {…} }, signal); // until signal aborts
 *
 * One reader runs from open() to close(): it reads the socket in large chunks into one reused
 * buffer (at least 64 KiB free per read; the unparsed tail is moved to its front) and parses
 * `$`-framed packets and RTSP answers out of it in one tight loop, so requests made while playing
 * (keepalives, TEARDOWN) are answered on the same stream. NAL units are copied once into the
 * session's ByteArena (`arena`), where they stay until the consumer releases them; audio frames
 * are copied out. Nothing is allocated per packet: see byte_arena.ts for why that matters.
 */
import { authorize } from "./auth.ts";
import { parseSdp, type SdpMedia } from "./sdp.ts";
import { errorMessage as message, RtspError, RtspTimeoutError } from "./errors.ts";
import { connectRtsp as connect } from "./connect.ts";
import { parseAnswerHead, requestText, type RtspAnswer as Response } from "./message.ts";
import { redact, rtspPort, withoutCredentials } from "./url.ts";
import type { AudioAccessUnit, VideoAccessUnit, VideoCodec } from "../codec/types.ts";
import { H26xDepacketizer } from "../rtp/rtp_h26x.ts";
import { ByteArena } from "../rtp/byte_arena.ts";
import { aacConfigFromFmtp, AacDepacketizer, fmtpParams } from "../rtp/rtp_aac.ts";
import { G711Depacketizer } from "../rtp/rtp_g711.ts";
import { writeAll } from "../../std/io/write_all.ts";
import { RtpReorder } from "../rtp/rtp_reorder.ts";
import { bindPortPair, parseUdpTransport, receiveFrom, type UdpPair } from "./udp.ts";

export interface RtspOpenOptions {
  /** rtsp:// or rtsps://, may hold credentials. */
  readonly url: string;
  readonly user?: string | null;
  readonly password?: string | null;
  /** Set up the audio track (AAC, else G.711) when the SDP has one; default false. */
  readonly audio?: boolean;
  /**
   * RTP lower transport: "tcp" (interleaved on the RTSP connection, the default) or "udp" (a port
   * pair per track on the local address of the RTSP connection).
   */
  readonly transport?: "tcp" | "udp";
  /** rtsps:// only: PEM CA certificates the camera's certificate may chain to (besides the system's). */
  readonly caCerts?: readonly string[];
  /** Per request (and connect), and the longest silence while playing; default 5000. */
  readonly timeoutMs?: number;
  /** Aborting it during open() rejects open(); later, it closes the session. */
  readonly signal?: AbortSignal;
}

export interface RtspVideoTrack {
  readonly codec: VideoCodec;
  readonly clockRate: number;
  /** Decoded sprop-parameter-sets / sprop-vps, sprop-sps, sprop-pps; may be empty. */
  readonly parameterSets: Uint8Array[];
}

export type RtspAudioTrack =
  | {
    readonly codec: "aac";
    readonly clockRate: number;
    readonly channels: number;
    /** AudioSpecificConfig. */
    readonly config: Uint8Array;
  }
  | {
    /** G.711 A-law or µ-law: 8-bit samples, 8 kHz mono. */
    readonly codec: "pcma" | "pcmu";
    readonly clockRate: number;
    readonly channels: 1;
  };

/** What turns an audio track's RTP payloads into frames. */
interface AudioDepacketizer {
  readonly lostPackets: number;
  push(
    payload: Uint8Array,
    sequence: number,
    timestamp: number,
    marker: boolean,
  ): AudioAccessUnit[];
}

export interface RtspHandlers {
  onVideo(au: VideoAccessUnit): void;
  onAudio?(au: AudioAccessUnit): void;
}

export interface RtspCounters {
  /** RTP packets of the tracks set up. */
  packets: number;
  packetsLost: number;
  /** Every byte read from the connection (and the UDP sockets). */
  bytes: number;
  /** UDP datagrams from another address than the camera's, dropped. */
  foreign: number;
}

export { RtspError, RtspTimeoutError };

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_SESSION_TIMEOUT_S = 60;
const TEARDOWN_TIMEOUT_MS = 1000;
const MIN_READ = 64 * 1024;
const READ_BUFFER_BYTES = 256 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_GARBAGE_BYTES = 1024 * 1024;
const VIDEO_CHANNEL = 0;
const AUDIO_CHANNEL = 2;
const DOLLAR = 0x24;
const RTSP_PREFIX = new TextEncoder().encode("RTSP/1.0");
const HTTP_PREFIX = new TextEncoder().encode("HTTP/");

interface Waiter {
  readonly resolve: (r: Response) => void;
  readonly reject: (e: Error) => void;
}

interface Track {
  /** The interleaved channel of its RTP (RTCP is the next one, read and ignored). */
  channel: number;
  readonly payloadType: number;
}

export class RtspSession implements AsyncDisposable {
  /** Every `m=` section the SDP offered. */
  readonly media: readonly SdpMedia[];
  readonly video: RtspVideoTrack;
  readonly audio: RtspAudioTrack | null;
  readonly counters: RtspCounters = { packets: 0, packetsLost: 0, bytes: 0, foreign: 0 };

  /** The URL without credentials, for messages and requests. */
  readonly #shown: string;
  readonly #conn: Deno.Conn;
  readonly #timeoutMs: number;
  readonly #user: string | null;
  readonly #password: string;
  #challenge: readonly string[] = [];
  #cseq = 0;
  readonly #waiters = new Map<number, Waiter>();
  #sessionId: string | null = null;
  #keepaliveMethod = "OPTIONS";
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  #playUrl = "";

  // Reading.
  /** Where video NAL units are kept until the consumer releases them (releaseBefore). */
  readonly arena: ByteArena = new ByteArena();
  #buffer = new Uint8Array(READ_BUFFER_BYTES);
  #start = 0;
  #end = 0;
  #synced = true;
  #garbage = 0;
  #lastData = 0;
  readonly #reader: Promise<void>;
  /** Why the connection is dead, once it is. */
  #failure: Error | null = null;
  #dead = false;
  #closing = false;
  #closed: Promise<void> | null = null;
  #unlinkSignal: () => void = () => {};
  /** RTP over UDP: the sockets of every track set up, and their readers. */
  readonly #udp: boolean;
  readonly #udpPairs: UdpPair[] = [];
  readonly #udpReaders: Promise<void>[] = [];

  // Tracks.
  #videoTrack: Track = { channel: VIDEO_CHANNEL, payloadType: -1 };
  #audioTrack: Track | null = null;
  #videoDepay: H26xDepacketizer;
  #audioDepay: AudioDepacketizer | null = null;

  // Playing.
  #handlers: RtspHandlers | null = null;
  #playEnd: { resolve: () => void; reject: (e: Error) => void } | null = null;
  #watchdog: ReturnType<typeof setTimeout> | undefined;

  private constructor(conn: Deno.Conn, shown: string, options: RtspOpenOptions, url: URL) {
    this.#conn = conn;
    this.#shown = shown;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#user = options.user ?? (decodeURIComponent(url.username) || null);
    this.#password = options.password ?? decodeURIComponent(url.password);
    this.media = [];
    this.video = { codec: "h264", clockRate: 90000, parameterSets: [] };
    this.audio = null;
    this.#videoDepay = new H26xDepacketizer("h264");
    this.#udp = options.transport === "udp";
    this.#reader = this.#readLoop();
  }

  /**
   * Connects, then OPTIONS, DESCRIBE, SETUP of the video track (and the AAC track when asked for
   * and offered), RTP interleaved on the connection; PLAY comes with play(). Throws RtspError
   * (RtspTimeoutError when something took longer than timeoutMs).
   */
  static async open(options: RtspOpenOptions): Promise<RtspSession> {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new RtspError(`"${redact(options.url)}" is not a URL; check cameras[].url`, null, {
        kind: "connect",
      });
    }
    const shown = withoutCredentials(url);
    const port = rtspPort(url);
    if (port === undefined) {
      throw new RtspError(`${shown}: scheme ${url.protocol} is not rtsp:// or rtsps://`, null, {
        kind: "connect",
      });
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signal = options.signal;
    signal?.throwIfAborted();
    const conn = await connect(url, port, shown, timeoutMs, signal, options.caCerts);
    const session = new RtspSession(conn, shown, options, url);
    const onAbort = () => void session.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    session.#unlinkSignal = () => signal?.removeEventListener("abort", onAbort);
    try {
      signal?.throwIfAborted();
      await session.#setup(url, options.audio ?? false);
      return session;
    } catch (err) {
      await session.close();
      if (signal?.aborted) throw signal.reason;
      throw err;
    }
  }

  /**
   * Sends PLAY and hands over access units until `signal` aborts (resolves) or the stream ends or
   * fails (rejects with RtspError, or what a handler threw). Call close() afterwards.
   */
  play(handlers: RtspHandlers, signal: AbortSignal): Promise<void> {
    if (this.#playEnd !== null) return Promise.reject(new Error("RtspSession: already playing"));
    if (this.#dead || this.#closed !== null) {
      return Promise.reject(
        this.#failure ?? new RtspError(`${this.#shown}: session closed`, null, { kind: "closed" }),
      );
    }
    if (signal.aborted) return Promise.resolve();
    const onAbort = () => this.#endPlay(null);
    const done = new Promise<void>((resolve, reject) => {
      this.#playEnd = { resolve, reject };
    });
    signal.addEventListener("abort", onAbort, { once: true });
    this.#handlers = handlers;
    this.#lastData = performance.now();
    this.#armWatchdog(this.#timeoutMs);
    this.#request("PLAY", this.#playUrl, { Range: "npt=0.000-" }).then(
      (r) => {
        if (r.status !== 200) this.#endPlay(this.#statusError("PLAY", r));
      },
      (err: Error) => this.#endPlay(err),
    );
    return done.finally(() => {
      signal.removeEventListener("abort", onAbort);
      this.#endPlay(null);
    });
  }

  /** Over UDP: the local RTP port of each track set up (RTCP is the next); empty over TCP. */
  get udpPorts(): readonly number[] {
    return this.#udpPairs.map((p) => p.port);
  }

  /** TEARDOWN (best effort, short timeout), then closes the connection. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#unlinkSignal();
      clearInterval(this.#keepaliveTimer);
      this.#endPlay(null);
      if (!this.#dead && this.#sessionId !== null) {
        await this.#request("TEARDOWN", this.#playUrl, {}, TEARDOWN_TIMEOUT_MS).catch(() => {});
      }
      this.#closing = true;
      this.#kill(null);
      await this.#reader;
      await Promise.all(this.#udpReaders);
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- setup ----

  async #setup(url: URL, wantAudio: boolean): Promise<void> {
    const requestUrl = this.#shown;
    const options = await this.#request("OPTIONS", requestUrl);
    if (options.status === 200) {
      const publicMethods = (options.headers.get("public") ?? []).join(",").toUpperCase();
      if (/\bGET_PARAMETER\b/.test(publicMethods)) this.#keepaliveMethod = "GET_PARAMETER";
    } else if (options.status === 401) {
      throw this.#statusError("OPTIONS", options);
    }
    const described = await this.#request("DESCRIBE", requestUrl, { Accept: "application/sdp" });
    if (described.status !== 200) throw this.#statusError("DESCRIBE", described);
    if (!/application\/sdp/i.test(described.headers.get("content-type")?.[0] ?? "")) {
      throw new RtspError(`${this.#shown}: the DESCRIBE answer is not an SDP`, 200, {
        kind: "protocol",
      });
    }
    const media = parseSdp(described.body);
    (this as { media: readonly SdpMedia[] }).media = media;
    const base = described.headers.get("content-base")?.[0] ??
      described.headers.get("content-location")?.[0] ?? requestUrl;
    const baseUrl = withoutCredentials(new URL(base, url));
    this.#playUrl = controlUrl(sessionControl(described.body), baseUrl);

    const video = media.find((m) =>
      m.media === "video" && (m.encoding === "H264" || m.encoding === "H265")
    );
    if (video === undefined) {
      const offered = media.map((m) => `${m.media} ${m.encoding || `payload ${m.payloadType}`}`);
      throw new RtspError(
        `${this.#shown}: no H.264/H.265 video track; the camera offers ` +
          `${offered.join(", ") || "nothing"}; choose a stream with H.264 or H.265`,
      );
    }
    const codec: VideoCodec = video.encoding === "H265" ? "h265" : "h264";
    const fmtp = fmtpParams(video.fmtp);
    if (Number(fmtp.get("sprop-max-don-diff") ?? 0) > 0 || fmtp.get("packetization-mode") === "2") {
      throw new RtspError(
        `${this.#shown}: the camera sends ${video.encoding} in interleaved mode (decoding order ` +
          "numbers), which is not supported; choose another stream or packetization mode",
      );
    }
    (this as { video: RtspVideoTrack }).video = {
      codec,
      clockRate: video.clockRate ?? 90000,
      parameterSets: parameterSets(codec, video.fmtp),
    };
    this.#videoDepay = new H26xDepacketizer(codec, this.arena);
    this.#videoTrack = {
      channel: await this.#setupTrack(video, baseUrl, VIDEO_CHANNEL),
      payloadType: video.payloadType,
    };

    const aac = wantAudio
      ? media.find((m) =>
        m.media === "audio" && m.encoding === "MPEG4-GENERIC" && m.direction !== "recvonly" &&
        /^aac-hbr$/i.test(fmtpParams(m.fmtp).get("mode") ?? "")
      )
      : undefined;
    if (aac !== undefined) {
      let config: ReturnType<typeof aacConfigFromFmtp> | null = null;
      try {
        config = aacConfigFromFmtp(aac.fmtp);
      } catch { /* an unusable AAC track: record video only */ }
      if (config !== null) {
        const channel = await this.#setupTrack(aac, baseUrl, AUDIO_CHANNEL);
        this.#audioTrack = { channel, payloadType: aac.payloadType };
        this.#audioDepay = new AacDepacketizer(aac.fmtp, config.frameLength);
        (this as { audio: RtspAudioTrack | null }).audio = {
          codec: "aac",
          clockRate: aac.clockRate ?? config.sampleRate,
          channels: config.channels,
          config: config.config,
        };
      }
    }
    const g711 = wantAudio && this.audio === null
      ? media.find((m) =>
        m.media === "audio" && (m.encoding === "PCMA" || m.encoding === "PCMU") &&
        m.direction !== "recvonly" && (m.clockRate ?? 8000) === 8000 && (m.channels ?? 1) === 1
      )
      : undefined;
    if (g711 !== undefined) {
      const channel = await this.#setupTrack(g711, baseUrl, AUDIO_CHANNEL);
      this.#audioTrack = { channel, payloadType: g711.payloadType };
      this.#audioDepay = new G711Depacketizer();
      (this as { audio: RtspAudioTrack | null }).audio = {
        codec: g711.encoding === "PCMA" ? "pcma" : "pcmu",
        clockRate: 8000,
        channels: 1,
      };
    }
  }

  /**
   * SETUP one track; returns the RTP channel the camera chose (over UDP: `channel`, the number
   * #frame knows the track's packets by).
   */
  async #setupTrack(media: SdpMedia, base: string, channel: number): Promise<number> {
    let pair: UdpPair | null = null;
    if (this.#udp) {
      pair = bindPortPair((this.#conn.localAddr as Deno.NetAddr).hostname, this.#shown);
      this.#udpPairs.push(pair);
    }
    const headers: Record<string, string> = {
      Transport: pair === null
        ? `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1}`
        : `RTP/AVP;unicast;client_port=${pair.port}-${pair.port + 1}`,
    };
    const r = await this.#request("SETUP", controlUrl(media.control, base), headers);
    if (r.status !== 200) throw this.#statusError("SETUP", r);
    if (pair !== null) this.#listenUdp(pair, r.headers.get("transport")?.[0] ?? "", channel);
    const session = r.headers.get("session")?.[0];
    if (session === undefined && this.#sessionId === null) {
      throw new RtspError(`${this.#shown}: the SETUP answer has no Session header`, 200, {
        kind: "protocol",
      });
    }
    if (session !== undefined && this.#sessionId === null) {
      const [id = "", ...params] = session.split(";");
      this.#sessionId = id.trim();
      const timeout = params.map((p) => /^\s*timeout\s*=\s*(\d+)/i.exec(p)?.[1]).find(Boolean);
      const seconds = Number(timeout ?? DEFAULT_SESSION_TIMEOUT_S) || DEFAULT_SESSION_TIMEOUT_S;
      this.#keepaliveTimer = setInterval(
        () => void this.#keepalive(),
        Math.max(1000, (seconds * 1000) / 2),
      );
    }
    const chosen = /interleaved\s*=\s*(\d+)/i.exec(r.headers.get("transport")?.[0] ?? "")?.[1];
    return chosen === undefined || pair !== null ? channel : Number(chosen);
  }

  /**
   * Reads a track's UDP pair: RTP through a reorder buffer into #frame as `channel`, RTCP as
   * `channel + 1`; only from the camera's address (the RTSP connection's peer, or the answer's
   * `source=`) and its announced server ports.
   */
  #listenUdp(pair: UdpPair, transport: string, channel: number): void {
    const { serverPorts, source } = parseUdpTransport(transport);
    if (/RTP\/AVP\/TCP|interleaved/i.test(transport)) {
      throw new RtspError(
        `${this.#shown}: asked for RTP over UDP, the camera answered with TCP; set ` +
          'cameras[].transport to "tcp"',
        200,
        { kind: "protocol" },
      );
    }
    const host = source ?? (this.#conn.remoteAddr as Deno.NetAddr).hostname;
    const deliver = (packet: Uint8Array, ch: number) => {
      if (this.#dead) return;
      try {
        this.#frame(ch, packet, 0, packet.length);
      } catch (err) {
        this.#kill(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const reorder = new RtpReorder((p) => deliver(p, channel));
    const received = (packet: Uint8Array) => {
      this.counters.bytes += packet.length;
      this.#lastData = performance.now();
    };
    const foreign = () => void this.counters.foreign++;
    this.#udpReaders.push(
      receiveFrom(pair.rtp, host, serverPorts?.[0] ?? null, (p) => {
        received(p);
        reorder.push(p, this.#lastData);
      }, foreign),
      receiveFrom(pair.rtcp, host, serverPorts?.[1] ?? null, (p) => {
        received(p);
        deliver(p, channel + 1);
      }, foreign),
    );
  }

  async #keepalive(): Promise<void> {
    if (this.#dead || this.#closed !== null) return;
    // The answer is read by the reader; a failing keepalive shows up as a dying stream.
    await this.#request(this.#keepaliveMethod, this.#playUrl).catch(() => {});
  }

  // ---- requests ----

  /** One request; a 401 is answered once with the new challenge. Rejects on timeout. */
  async #request(
    method: string,
    uri: string,
    headers: Record<string, string> = {},
    timeoutMs = this.#timeoutMs,
  ): Promise<Response> {
    let r = await this.#send(method, uri, headers, timeoutMs);
    if (r.status === 401 && this.#user !== null) {
      this.#challenge = r.headers.get("www-authenticate") ?? [];
      r = await this.#send(method, uri, headers, timeoutMs);
    }
    return r;
  }

  #send(
    method: string,
    uri: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<Response> {
    if (this.#dead) {
      return Promise.reject(
        this.#failure ?? new RtspError(`${this.#shown}: session closed`, null, { kind: "closed" }),
      );
    }
    const cseq = ++this.#cseq;
    const all: Record<string, string> = { ...headers };
    if (this.#sessionId !== null) all.Session = this.#sessionId;
    if (this.#user !== null && this.#challenge.length > 0) {
      const auth = authorize(this.#challenge, {
        user: this.#user,
        password: this.#password,
        method,
        uri,
      });
      if (auth !== null) all.Authorization = auth;
    }
    const text = requestText(method, uri, cseq, all);
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(cseq);
        reject(
          new RtspTimeoutError(
            `${this.#shown}: no answer to ${method} within ${timeoutMs} ms; check that the ` +
              "camera is reachable and that this port speaks RTSP",
          ),
        );
      }, timeoutMs);
      this.#waiters.set(cseq, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      writeAll(this.#conn, new TextEncoder().encode(text)).catch((err) => {
        this.#waiters.get(cseq)?.reject(this.#failure ?? this.#connectionError(err));
        this.#waiters.delete(cseq);
      });
    });
  }

  #statusError(method: string, r: Response): RtspError {
    if (r.status === 401) {
      return new RtspError(
        this.#user === null
          ? `${this.#shown} asks for a user and password (401); set cameras[].username/password`
          : `wrong user or password for ${this.#shown}; check cameras[].username/password`,
        401,
      );
    }
    const location = r.headers.get("location")?.[0];
    const hint = r.status >= 300 && r.status < 400 && location !== undefined
      ? `; it redirects to ${redact(location)}: put that URL in cameras[].url`
      : r.status === 404
      ? "; check the path in cameras[].url"
      : r.status === 461
      ? `; the camera does not offer RTP over ${this.#udp ? "UDP" : "TCP"} here: set ` +
        `cameras[].transport to "${this.#udp ? "tcp" : "udp"}"`
      : "";
    return new RtspError(
      `${this.#shown}: ${method} answered ${r.status} ${r.reason}`.trim() + hint,
      r.status,
    );
  }

  // ---- reading ----

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.#buffer.length - this.#end < MIN_READ) this.#compact();
        const n = await this.#conn.read(this.#buffer.subarray(this.#end));
        if (n === null) {
          throw new RtspError(
            `${this.#shown}: camera closed the connection; it restarted, dropped off the ` +
              "network or ended the stream",
            null,
            { kind: "closed" },
          );
        }
        this.#end += n;
        this.counters.bytes += n;
        if (!this.#udp) this.#lastData = performance.now();
        this.#pump();
      }
    } catch (err) {
      this.#kill(
        this.#closing ? null : err instanceof Error && !isIoError(err) ? err : (
          this.#connectionError(err)
        ),
      );
    }
  }

  /** Moves the unparsed tail to the front of the buffer (a bigger buffer if it must). */
  #compact(): void {
    const pending = this.#end - this.#start;
    if (this.#buffer.length - pending < MIN_READ) {
      const next = new Uint8Array(pending + MIN_READ + READ_BUFFER_BYTES);
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = next;
    } else {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    }
    this.#start = 0;
    this.#end = pending;
  }

  /** Parses every complete frame and answer in the read buffer. */
  #pump(): void {
    const s = this.#buffer;
    const end = this.#end;
    let i = this.#start;
    try {
      while (i < end) {
        const b = s[i]!;
        if (b === DOLLAR) {
          if (end - i < 5) break;
          const channel = s[i + 1]!;
          const length = (s[i + 2]! << 8) | s[i + 3]!;
          if (this.#synced || this.#plausible(channel, length, s[i + 4]!)) {
            if (end - i < 4 + length) break;
            this.#synced = true;
            this.#garbage = 0;
            this.#frame(channel, s, i + 4, length);
            i += 4 + length;
            continue;
          }
        } else if (b === 0x52 /* R */) {
          const used = this.#answer(s, i, end);
          if (used === 0) break;
          if (used > 0) {
            this.#synced = true;
            this.#garbage = 0;
            i += used;
            continue;
          }
        } else if (this.#synced && b === 0x48 /* H */ && startsWith(s, i, end, HTTP_PREFIX)) {
          throw new RtspError(
            `${this.#shown}: the server answered HTTP, not RTSP; check the port in cameras[].url`,
            null,
            { kind: "not-rtsp" },
          );
        }
        // Garbage: skip to the next '$' or 'R' that may start something.
        this.#synced = false;
        let next = i + 1;
        while (next < end && s[next] !== DOLLAR && s[next] !== 0x52) next++;
        this.#garbage += next - i;
        i = next;
        if (this.#garbage > MAX_GARBAGE_BYTES) {
          throw new RtspError(
            `${this.#shown}: the camera sent more than 1 MiB that is neither RTSP nor RTP; ` +
              "check that cameras[].url points at an RTSP port",
            null,
            { kind: "not-rtsp" },
          );
        }
      }
    } finally {
      this.#start = i;
    }
  }

  /** After garbage: does this `$` start a frame of ours (a set-up channel, RTP version 2)? */
  #plausible(channel: number, length: number, first: number): boolean {
    const v = this.#videoTrack.channel;
    const a = this.#audioTrack?.channel ?? -2;
    return (channel === v || channel === v + 1 || channel === a || channel === a + 1) &&
      length >= 8 && first >> 6 === 2;
  }

  /**
   * The camera's own clock from its latest RTCP sender report on the video track: at `wallMs`
   * (its NTP time as ms since the epoch) its RTP clock read `rtp` (32 bits, not extended), or
   * null before the first report. A live viewer's latency is measured from it (capture time).
   */
  senderClock: { readonly rtp: number; readonly wallMs: number } | null = null;

  /** One `$` frame: RTP of a track, or ignored (RTCP, unknown channels, other payload types). */
  #frame(channel: number, s: Uint8Array, at: number, length: number): void {
    if (channel === this.#videoTrack.channel + 1) return this.#rtcp(s, at, length);
    const video = channel === this.#videoTrack.channel;
    if (!video && channel !== this.#audioTrack?.channel) return;
    if (length < 12 || s[at]! >> 6 !== 2) return;
    const b0 = s[at]!;
    let header = 12 + (b0 & 0x0f) * 4;
    if (b0 & 0x10) {
      if (header + 4 > length) return;
      header += 4 + ((s[at + header + 2]! << 8) | s[at + header + 3]!) * 4;
    }
    let payloadEnd = length;
    if (b0 & 0x20) payloadEnd -= s[at + length - 1]!;
    if (header >= payloadEnd) return;
    const b1 = s[at + 1]!;
    const track = video ? this.#videoTrack : this.#audioTrack!;
    if ((b1 & 0x7f) !== track.payloadType) return;
    const marker = (b1 & 0x80) !== 0;
    const sequence = (s[at + 2]! << 8) | s[at + 3]!;
    const timestamp = ((s[at + 4]! << 24) | (s[at + 5]! << 16) | (s[at + 6]! << 8) | s[at + 7]!) >>>
      0;
    const payload = s.subarray(at + header, at + payloadEnd);
    this.counters.packets++;
    const handlers = this.#handlers;
    if (video) {
      const depay = this.#videoDepay;
      let au = depay.push(payload, sequence, timestamp, marker);
      this.counters.packetsLost = depay.lostPackets + (this.#audioDepay?.lostPackets ?? 0);
      while (au !== null) {
        handlers?.onVideo(au);
        au = depay.shift();
      }
    } else if (this.#audioDepay !== null) {
      const frames = this.#audioDepay.push(payload, sequence, timestamp, marker);
      this.counters.packetsLost = this.#videoDepay.lostPackets + this.#audioDepay.lostPackets;
      if (handlers?.onAudio !== undefined) {
        // Frames may be views of the read buffer, which is reused: hand out copies.
        for (const f of frames) handlers.onAudio({ data: f.data.slice(), timestamp: f.timestamp });
      }
    }
  }

  /** The sender report (PT 200) at the front of a compound RTCP packet, if it is one. */
  #rtcp(s: Uint8Array, at: number, length: number): void {
    if (length < 20 || s[at]! >> 6 !== 2 || s[at + 1] !== 200) return;
    const view = new DataView(s.buffer, s.byteOffset + at, length);
    const seconds = view.getUint32(8);
    const fraction = view.getUint32(12);
    // NTP counts from 1900; 2 208 988 800 s before the Unix epoch.
    const wallMs = (seconds - 2_208_988_800) * 1000 + fraction / 2 ** 32 * 1000;
    if (seconds === 0) return; // no wall clock at the sender
    this.senderClock = { rtp: view.getUint32(16), wallMs };
  }

  /**
   * An RTSP answer at `i`: its length when complete (and delivered), 0 when more bytes are
   * needed, -1 when this is not an answer after all.
   */
  #answer(s: Uint8Array, i: number, end: number): number {
    const have = Math.min(end - i, RTSP_PREFIX.length);
    for (let k = 0; k < have; k++) if (s[i + k] !== RTSP_PREFIX[k]) return -1;
    if (have < RTSP_PREFIX.length) return 0;
    const limit = Math.min(end, i + MAX_HEADER_BYTES);
    let headEnd = -1;
    for (let k = i; k < limit - 1; k++) {
      if (s[k] !== 10) continue;
      if (s[k + 1] === 10) {
        headEnd = k + 2;
        break;
      }
      if (s[k + 1] === 13 && k + 2 < end && s[k + 2] === 10) {
        headEnd = k + 3;
        break;
      }
    }
    if (headEnd < 0) {
      if (end - i >= MAX_HEADER_BYTES) {
        throw new RtspError(
          `${this.#shown}: an RTSP answer's header is larger than 64 KiB; the camera is misbehaving`,
        );
      }
      return 0;
    }
    const parsed = parseAnswerHead(new TextDecoder("latin1").decode(s.subarray(i, headEnd)));
    if (!parsed) return -1;
    const { headers } = parsed;
    const length = Number(headers.get("content-length")?.[0] ?? 0);
    if (!Number.isInteger(length) || length < 0 || length > MAX_BODY_BYTES) {
      throw new RtspError(
        `${this.#shown}: an RTSP answer announces a body of ${
          headers.get("content-length")?.[0]
        } bytes (at most 1 MiB is accepted)`,
      );
    }
    if (end - headEnd < length) return 0;
    const body = new TextDecoder().decode(s.subarray(headEnd, headEnd + length));
    const cseq = Number(headers.get("cseq")?.[0]);
    const waiter = this.#waiters.get(cseq);
    if (waiter !== undefined) {
      this.#waiters.delete(cseq);
      waiter.resolve({ ...parsed, body });
    }
    return headEnd + length - i;
  }

  // ---- ending ----

  /** The silence watchdog: one timer, re-armed for the remainder when data came meanwhile. */
  #armWatchdog(ms: number): void {
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      if (this.#playEnd === null) return;
      const idle = performance.now() - this.#lastData;
      if (idle < this.#timeoutMs) return this.#armWatchdog(this.#timeoutMs - idle + 1);
      this.#kill(
        new RtspTimeoutError(
          `${this.#shown}: no data for ${this.#timeoutMs} ms while playing; the camera stalled ` +
            "or the network dropped" + (this.#udp
              ? ' (over UDP: a firewall or NAT may drop its packets; try cameras[].transport "tcp")'
              : ""),
        ),
      );
    }, ms);
  }

  #endPlay(err: Error | null): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    this.#handlers = null;
    const end = this.#playEnd;
    this.#playEnd = null;
    if (end === null) return;
    if (err === null) end.resolve();
    else end.reject(err);
  }

  /** The connection is dead: close it, fail every request and the play (null: a clean end). */
  #kill(failure: Error | null): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#failure = failure;
    clearInterval(this.#keepaliveTimer);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    for (const pair of this.#udpPairs) {
      for (const socket of [pair.rtp, pair.rtcp]) {
        try {
          socket.close();
        } catch { /* already closed */ }
      }
    }
    const reason = failure ??
      new RtspError(`${this.#shown}: session closed`, null, { kind: "closed" });
    for (const w of this.#waiters.values()) w.reject(reason);
    this.#waiters.clear();
    this.#endPlay(this.#closing ? null : failure);
  }

  #connectionError(err: unknown): RtspError {
    if (err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe) {
      return new RtspError(
        `${this.#shown}: camera closed the connection (${message(err)}); it restarted, dropped ` +
          "off the network or ended the stream",
        null,
        { cause: err, kind: "closed" },
      );
    }
    return new RtspError(`${this.#shown}: connection failed: ${message(err)}`, null, {
      cause: err,
      kind: "closed",
    });
  }
}

/** RFC 2326 C.1.1: absolute, "*" or none → the base, else relative to the base (as a folder). */
export function controlUrl(control: string | null, base: string): string {
  if (control === null || control === "" || control === "*") return base;
  if (/^rtsps?:\/\//i.test(control)) return withoutCredentials(new URL(control));
  return base.endsWith("/") ? base + control : `${base}/${control}`;
}

/** The session-level `a=control:` (before the first `m=`), or null. */
function sessionControl(sdp: string): string | null {
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("m=")) return null;
    if (line.startsWith("a=control:")) return line.slice(10).trim();
  }
  return null;
}

/** sprop-parameter-sets (H.264) or sprop-vps/sps/pps (H.265), decoded; bad base64 skipped. */
export function parameterSets(codec: VideoCodec, fmtp: string): Uint8Array[] {
  const params = fmtpParams(fmtp);
  const names = codec === "h264"
    ? ["sprop-parameter-sets"]
    : ["sprop-vps", "sprop-sps", "sprop-pps"];
  const out: Uint8Array[] = [];
  for (const name of names) {
    for (const b64 of (params.get(name) ?? "").split(",")) {
      if (b64.trim() === "") continue;
      try {
        const bin = atob(b64.trim());
        out.push(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
      } catch { /* not base64: the stream carries its parameter sets in band anyway */ }
    }
  }
  return out;
}

function startsWith(s: Uint8Array, i: number, end: number, prefix: Uint8Array): boolean {
  if (end - i < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (s[i + k] !== prefix[k]) return false;
  return true;
}

function isIoError(err: Error): boolean {
  return err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.ConnectionAborted || err instanceof Deno.errors.UnexpectedEof;
}

/**
 * A small scriptable RTSP server for tests: it plays a list of scenes on each connection, so a
 * test can make a "camera" do what a gst-rtsp-server virtual camera cannot: change resolution
 * (new in-band VPS/SPS/PPS) in the middle of one RTSP session, send raw garbage or malformed RTP,
 * go silent, or drop the connection.
 *
 * RTSP/1.0 over TCP only (RTP interleaved on the RTSP connection; SETUP with UDP gets 461).
 * Each connection plays the script from its first scene, paced in real time; sequence numbers and
 * 90 kHz RTP timestamps run on across scenes. The SDP's sprop parameter sets come from the first
 * video scene; every video scene sends its own parameter sets in-band before its first keyframe.
 *
 *   const a = await makeTestStream("h265", { width: 320, height: 240, fps: 10, seconds: 2, dir });
 *   const b = await makeTestStream("h265", { width: 640, height: 480, fps: 10, seconds: 2, dir });
 *   await using srv = await startScriptServer({ codec: "h265", scenes: [
 *     { kind: "video", file: a, fps: 10 }, { kind: "video", file: b, fps: 10 },
 *     { kind: "garbage", bytes: 1000 }, { kind: "close" } ] });
 *   // ffmpeg -rtsp_transport tcp -i srv.url …
 */
import { freePort } from "./ports.ts";
import { splitAnnexB } from "../../runtime/media/codec/h26x.ts";
import { sleep } from "../../runtime/lib/sleep.ts";

export type ScriptScene =
  | {
    readonly kind: "video";
    /** Annex B H.264 or H.265 byte stream, access units in order. */
    readonly file: string;
    readonly fps: number;
    /** How many times to play the file; default 1. */
    readonly loops?: number;
    /**
     * "sdp": parameter sets only in the SDP's sprop-*, none in the stream (as some cameras send
     * it); default "in-band": before the scene's first keyframe too.
     */
    readonly parameterSets?: "in-band" | "sdp";
  }
  | {
    readonly kind: "garbage";
    /** Random bytes written raw on the TCP connection instead of `$` frames. */
    readonly bytes: number;
  }
  | {
    readonly kind: "bad-rtp";
    /**
     * Well-framed `$` interleaved packets whose RTP payloads are, in turn: random bytes, a
     * truncated FU (start fragment with no end, then a middle fragment with no start), and a
     * packet with the wrong payload type. Sent back to back, without pacing.
     */
    readonly packets: number;
  }
  | {
    /** Keep the connection open, send nothing. */
    readonly kind: "silence";
    readonly ms: number;
  }
  | {
    /** Close the TCP connection. */
    readonly kind: "close";
  };

export interface ScriptServerOptions {
  readonly codec: "h264" | "h265";
  readonly scenes: readonly ScriptScene[];
  /** Default "/stream". */
  readonly path?: string;
  /** Default: a free port (ports.ts). */
  readonly port?: number;
  /**
   * Start again at the first scene after the last. Default false: after the last scene the
   * connection stays open and silent (keepalives and TEARDOWN are still answered).
   */
  readonly loopScenes?: boolean;
}

export interface ScriptServer extends AsyncDisposable {
  /** rtsp://127.0.0.1:PORT/stream */
  readonly url: string;
  /** RTSP sessions (successful SETUPs that made a session) served so far. */
  readonly sessions: number;
  /** Closes the listener and every connection; resolves when all of them have ended. */
  close(): Promise<void>;
}

export class ScriptServerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ScriptServerError";
  }
}

// ---------------------------------------------------------------------------------------------
// Annex B parsing and access units

type Codec = "h264" | "h265";

/** The NAL units of an Annex B stream, without start codes (trailing zero bytes trimmed). */
export const splitNalUnits: (b: Uint8Array) => Uint8Array[] = splitAnnexB;

function nalType(codec: Codec, nal: Uint8Array): number {
  const b0 = nal[0] ?? 0;
  return codec === "h264" ? b0 & 0x1f : (b0 >> 1) & 0x3f;
}

function isVcl(codec: Codec, type: number): boolean {
  return codec === "h264" ? type >= 1 && type <= 5 : type < 32;
}

function isAud(codec: Codec, type: number): boolean {
  return codec === "h264" ? type === 9 : type === 35;
}

/** NAL units that end an access unit rather than start the next one. */
function belongsToCurrentAu(codec: Codec, type: number): boolean {
  // H.264: end of sequence / end of stream. H.265: EOS, EOB, suffix SEI.
  return codec === "h264" ? type === 10 || type === 11 : type === 36 || type === 37 || type === 40;
}

function isFirstSliceOfPicture(codec: Codec, nal: Uint8Array): boolean {
  // H.264: first_mb_in_slice == 0 is ue(v) "1". H.265: first_slice_segment_in_pic_flag.
  return codec === "h264" ? ((nal[1] ?? 0) & 0x80) !== 0 : ((nal[2] ?? 0) & 0x80) !== 0;
}

function isKeyframeNal(codec: Codec, type: number): boolean {
  return codec === "h264" ? type === 5 : type >= 16 && type <= 23;
}

export interface AccessUnit {
  readonly nals: readonly Uint8Array[];
  /** Holds an IDR (H.264) or IRAP (H.265) slice. */
  readonly keyframe: boolean;
}

/**
 * Groups NAL units into access units: an AU starts at an AUD, or at a VCL NAL unit whose
 * first-slice flag is set once the previous AU has a VCL NAL unit; parameter sets and SEI that
 * come after the last slice of an AU belong to the next one.
 */
export function splitAccessUnits(codec: Codec, nals: readonly Uint8Array[]): AccessUnit[] {
  const aus: AccessUnit[] = [];
  let current: Uint8Array[] = [];
  let trailing: Uint8Array[] = [];
  let hasVcl = false;
  const flush = (next: Uint8Array[]) => {
    if (current.length > 0) {
      const keyframe = current.some((n) => isKeyframeNal(codec, nalType(codec, n)));
      aus.push({ nals: current, keyframe });
    }
    current = next;
    trailing = [];
    hasVcl = false;
  };
  for (const nal of nals) {
    const type = nalType(codec, nal);
    if (isAud(codec, type)) {
      if (hasVcl) flush([...trailing, nal]);
      else current.push(nal);
    } else if (isVcl(codec, type)) {
      if (hasVcl && isFirstSliceOfPicture(codec, nal)) flush([...trailing]);
      current.push(...trailing, nal);
      trailing = [];
      hasVcl = true;
    } else if (!hasVcl) {
      current.push(nal);
    } else if (belongsToCurrentAu(codec, type) && trailing.length === 0) {
      current.push(nal);
    } else {
      trailing.push(nal);
    }
  }
  current.push(...trailing);
  flush([]);
  return aus;
}

export interface ParameterSets {
  readonly vps?: Uint8Array;
  readonly sps: Uint8Array;
  readonly pps: Uint8Array;
}

/** The first VPS (H.265), SPS and PPS of the stream, or undefined if one is missing. */
export function findParameterSets(
  codec: Codec,
  nals: readonly Uint8Array[],
): ParameterSets | undefined {
  const [vpsT, spsT, ppsT] = codec === "h264" ? [-1, 7, 8] : [32, 33, 34];
  const first = (t: number) => nals.find((n) => nalType(codec, n) === t);
  const sps = first(spsT);
  const pps = first(ppsT);
  const vps = first(vpsT);
  if (!sps || !pps || (codec === "h265" && !vps)) return undefined;
  return vps ? { vps, sps, pps } : { sps, pps };
}

function isParameterSet(codec: Codec, type: number): boolean {
  return codec === "h264" ? type === 7 || type === 8 : type >= 32 && type <= 34;
}

/** The AU with the scene's parameter sets in front (after an AUD), replacing any it carried. */
function withParameterSets(codec: Codec, au: AccessUnit, ps: ParameterSets): AccessUnit {
  const sets = ps.vps ? [ps.vps, ps.sps, ps.pps] : [ps.sps, ps.pps];
  const rest = au.nals.filter((n) => !isParameterSet(codec, nalType(codec, n)));
  const first = rest[0];
  const nals = first && isAud(codec, nalType(codec, first))
    ? [first, ...sets, ...rest.slice(1)]
    : [...sets, ...rest];
  return { nals, keyframe: au.keyframe };
}

// ---------------------------------------------------------------------------------------------
// RTP packetization

const MAX_PAYLOAD = 1400;
const PT = 96;
const RTP_CLOCK = 90_000;

interface RtpState {
  seq: number;
  readonly ssrc: number;
}

function rtpPacket(
  st: RtpState,
  ts: number,
  marker: boolean,
  payload: Uint8Array,
  pt = PT,
): Uint8Array {
  const p = new Uint8Array(12 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x80;
  p[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  v.setUint16(2, st.seq & 0xffff);
  v.setUint32(4, ts >>> 0);
  v.setUint32(8, st.ssrc >>> 0);
  p.set(payload, 12);
  st.seq = (st.seq + 1) & 0xffff;
  return p;
}

/** RTP payloads for one NAL unit: itself if it fits, else FU-A (RFC 6184) / FU (RFC 7798). */
function nalPayloads(codec: Codec, nal: Uint8Array): Uint8Array[] {
  if (nal.length <= MAX_PAYLOAD) return [nal];
  const out: Uint8Array[] = [];
  const headerLen = codec === "h264" ? 1 : 2;
  const fuHeaderLen = codec === "h264" ? 2 : 3;
  const chunk = MAX_PAYLOAD - fuHeaderLen;
  const type = nalType(codec, nal);
  for (let off = headerLen; off < nal.length; off += chunk) {
    const end = Math.min(off + chunk, nal.length);
    const p = new Uint8Array(fuHeaderLen + end - off);
    const fu = (off === headerLen ? 0x80 : 0) | (end === nal.length ? 0x40 : 0);
    if (codec === "h264") {
      p[0] = ((nal[0] ?? 0) & 0xe0) | 28;
      p[1] = fu | type;
    } else {
      p[0] = ((nal[0] ?? 0) & 0x81) | (49 << 1);
      p[1] = nal[1] ?? 1;
      p[2] = fu | type;
    }
    p.set(nal.subarray(off, end), fuHeaderLen);
    out.push(p);
  }
  return out;
}

/** `$` framing for RTSP interleaved data. */
function interleave(channel: number, packets: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(packets.reduce((n, p) => n + 4 + p.length, 0));
  let off = 0;
  for (const p of packets) {
    out[off] = 0x24;
    out[off + 1] = channel;
    out[off + 2] = p.length >> 8;
    out[off + 3] = p.length & 0xff;
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(off + 65536, n)));
  }
  return out;
}

/** Bad packet number `i`: random payload, truncated FU start, orphan FU middle, wrong PT. */
function badRtpPacket(codec: Codec, st: RtpState, ts: number, i: number): Uint8Array {
  const fuType = codec === "h264" ? 28 : 49;
  const fuHeader = (flags: number): Uint8Array =>
    codec === "h264"
      ? new Uint8Array([0x60 | fuType, flags | 5])
      : new Uint8Array([fuType << 1, 1, flags | 19]);
  const body = randomBytes(200 + Math.floor(Math.random() * 800));
  const join = (h: Uint8Array) => {
    const p = new Uint8Array(h.length + body.length);
    p.set(h);
    p.set(body, h.length);
    return p;
  };
  switch (i % 4) {
    case 0:
      return rtpPacket(st, ts, true, body);
    case 1:
      return rtpPacket(st, ts, false, join(fuHeader(0x80))); // FU start, its end never comes
    case 2:
      return rtpPacket(st, ts, true, join(fuHeader(0x00))); // FU middle with no start
    default:
      return rtpPacket(st, ts, true, body, 0); // payload type 0 (PCMU) on a video track
  }
}

// ---------------------------------------------------------------------------------------------
// Scenes, prepared once at start

type PreparedScene =
  | {
    readonly kind: "video";
    readonly file: string;
    readonly fps: number;
    readonly loops: number;
    readonly aus: readonly AccessUnit[];
    readonly ps: ParameterSets;
    readonly sdpOnly: boolean;
  }
  | Exclude<ScriptScene, { kind: "video" }>;

async function prepareScenes(
  codec: Codec,
  scenes: readonly ScriptScene[],
): Promise<PreparedScene[]> {
  const out: PreparedScene[] = [];
  for (const [i, s] of scenes.entries()) {
    const where = `script server: scenes[${i}] (${s.kind})`;
    switch (s.kind) {
      case "video": {
        if (!(s.fps > 0 && s.fps <= 240)) {
          throw new ScriptServerError(`${where}: fps must be a number in (0, 240], got ${s.fps}`);
        }
        const loops = s.loops ?? 1;
        if (!Number.isInteger(loops) || loops < 1) {
          throw new ScriptServerError(`${where}: loops must be an integer >= 1, got ${loops}`);
        }
        let data: Uint8Array;
        try {
          data = await Deno.readFile(s.file);
        } catch (e) {
          throw new ScriptServerError(`${where}: cannot read ${s.file}: ${e}`, { cause: e });
        }
        const nals = splitNalUnits(data);
        const ps = findParameterSets(codec, nals);
        if (!ps) {
          throw new ScriptServerError(
            `${where}: ${s.file} has no ${
              codec === "h265" ? "VPS/SPS/PPS" : "SPS/PPS"
            }: is it an Annex B ${codec} stream? Make one with makeTestStream().`,
          );
        }
        const aus = splitAccessUnits(codec, nals);
        if (!aus.some((a) => a.keyframe)) {
          throw new ScriptServerError(`${where}: ${s.file} has no keyframe (${codec})`);
        }
        const sdpOnly = s.parameterSets === "sdp";
        const sent = sdpOnly
          ? aus.map((a) => ({
            nals: a.nals.filter((n) => !isParameterSet(codec, nalType(codec, n))),
            keyframe: a.keyframe,
          })).filter((a) => a.nals.length > 0)
          : aus;
        out.push({ kind: "video", file: s.file, fps: s.fps, loops, aus: sent, ps, sdpOnly });
        break;
      }
      case "garbage":
      case "bad-rtp": {
        const n = s.kind === "garbage" ? s.bytes : s.packets;
        if (!Number.isInteger(n) || n < 0) {
          throw new ScriptServerError(`${where}: count must be an integer >= 0, got ${n}`);
        }
        out.push(s);
        break;
      }
      case "silence":
        if (!(s.ms >= 0)) throw new ScriptServerError(`${where}: ms must be >= 0, got ${s.ms}`);
        out.push(s);
        break;
      case "close":
        out.push(s);
        break;
      default:
        throw new ScriptServerError(`${where}: unknown scene kind`);
    }
  }
  return out;
}

function base64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function sdp(codec: Codec, ps: ParameterSets, sessionId: string): string {
  const fmtp = codec === "h265"
    ? `sprop-vps=${base64(ps.vps ?? new Uint8Array())};sprop-sps=${base64(ps.sps)};` +
      `sprop-pps=${base64(ps.pps)}`
    : `packetization-mode=1;profile-level-id=${hex2(ps.sps[1] ?? 0)}${hex2(ps.sps[2] ?? 0)}${
      hex2(ps.sps[3] ?? 0)
    };sprop-parameter-sets=${base64(ps.sps)},${base64(ps.pps)}`;
  return [
    "v=0",
    `o=- ${sessionId} 1 IN IP4 127.0.0.1`,
    "s=NVR test script server",
    "c=IN IP4 0.0.0.0",
    "t=0 0",
    "a=control:*",
    "m=video 0 RTP/AVP 96",
    `a=rtpmap:96 ${codec === "h265" ? "H265" : "H264"}/90000`,
    `a=fmtp:96 ${fmtp}`,
    "a=control:trackID=0",
    "",
  ].join("\r\n");
}

// ---------------------------------------------------------------------------------------------
// Connections

interface RtspRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers: ReadonlyMap<string, string>;
}

const PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER";
const STATUS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  454: "Session Not Found",
  455: "Method Not Valid in This State",
  461: "Unsupported Transport",
  501: "Not Implemented",
};

interface ServerContext {
  readonly codec: Codec;
  readonly scenes: readonly PreparedScene[];
  readonly path: string;
  readonly url: string;
  readonly loopScenes: boolean;
  readonly sdpPs: ParameterSets;
  readonly onSession: () => void;
}

class Connection {
  readonly #conn: Deno.TcpConn;
  readonly #ctx: ServerContext;
  readonly #ac = new AbortController();
  #writeChain: Promise<void> = Promise.resolve();
  #closed = false;
  #session: string | undefined;
  #channel = 0;
  #player: Promise<void> | undefined;
  readonly #rtp: RtpState = {
    seq: Math.floor(Math.random() * 0x10000),
    ssrc: crypto.getRandomValues(new Uint32Array(1))[0] ?? 1,
  };
  #ts = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;

  constructor(conn: Deno.TcpConn, ctx: ServerContext) {
    this.#conn = conn;
    this.#ctx = ctx;
  }

  /** Ends the connection (idempotent); the read loop and the player then wind down. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ac.abort();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Serves requests until the peer or we close; resolves once the player has stopped too. */
  async run(): Promise<void> {
    try {
      await this.#readLoop();
    } catch {
      // connection reset or closed under us: nothing to report to anyone
    } finally {
      this.close();
      await this.#player;
      await this.#writeChain.catch(() => {});
    }
  }

  /** Queues bytes behind earlier writes; a failed write closes the connection. */
  #write(bytes: Uint8Array): Promise<void> {
    const next = this.#writeChain.then(async () => {
      if (this.#closed) return;
      let off = 0;
      while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
    });
    this.#writeChain = next.catch(() => this.close());
    return this.#writeChain;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending = new Uint8Array(0);
    while (!this.#closed) {
      const n = await this.#conn.read(buf);
      if (n === null) return;
      const joined = new Uint8Array(pending.length + n);
      joined.set(pending);
      joined.set(buf.subarray(0, n), pending.length);
      pending = joined;
      for (;;) {
        if (pending[0] === 0x24) { // interleaved data from the client (RTCP receiver reports)
          if (pending.length < 4) break;
          const len = 4 + (((pending[2] ?? 0) << 8) | (pending[3] ?? 0));
          if (pending.length < len) break;
          pending = pending.slice(len);
          continue;
        }
        const end = findHeaderEnd(pending);
        if (end < 0) {
          if (pending.length > 64 * 1024) return; // not RTSP: drop the connection
          break;
        }
        const head = new TextDecoder().decode(pending.subarray(0, end));
        const req = parseRequest(head);
        const bodyLen = Number(req?.headers.get("content-length") ?? 0) || 0;
        if (pending.length < end + 4 + bodyLen) break;
        pending = pending.slice(end + 4 + bodyLen);
        if (!req) return;
        await this.#handle(req);
        if (this.#closed) return;
      }
    }
  }

  #respond(
    req: RtspRequest,
    status: number,
    headers: Record<string, string> = {},
    body = "",
  ): Promise<void> {
    const lines = [`RTSP/1.0 ${status} ${STATUS[status] ?? "Error"}`];
    const cseq = req.headers.get("cseq");
    if (cseq !== undefined) lines.push(`CSeq: ${cseq}`);
    lines.push("Server: nvr-rtsp-script-server");
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    if (body) lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`);
    return this.#write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n" + body));
  }

  async #handle(req: RtspRequest): Promise<void> {
    const ctx = this.#ctx;
    const sessionHeader = req.headers.get("session")?.split(";")[0]?.trim();
    const sessionOk = () => this.#session !== undefined && sessionHeader === this.#session;
    const sessionHeaders = () => ({ Session: `${this.#session};timeout=60` });
    switch (req.method) {
      case "OPTIONS":
        return this.#respond(req, 200, { Public: PUBLIC });
      case "GET_PARAMETER":
        return this.#respond(req, 200, this.#session ? sessionHeaders() : {});
      case "DESCRIBE": {
        if (!underPath(req.uri, ctx.path)) return this.#respond(req, 404);
        return this.#respond(req, 200, {
          "Content-Base": `${ctx.url}/`,
          "Content-Type": "application/sdp",
        }, sdp(ctx.codec, ctx.sdpPs, String(Date.now())));
      }
      case "SETUP": {
        if (!underPath(req.uri, ctx.path)) return this.#respond(req, 404);
        const transport = req.headers.get("transport") ?? "";
        const tcp = transport.split(",").find((t) => /^RTP\/AVP\/TCP\b/i.test(t.trim()));
        if (!tcp) return this.#respond(req, 461);
        const m = /interleaved=(\d+)(?:-(\d+))?/.exec(tcp);
        this.#channel = m ? Number(m[1]) : 0;
        if (this.#session === undefined) {
          this.#session = base64(randomBytes(9)).replace(/[+/=]/g, "x");
          ctx.onSession();
        } else if (sessionHeader !== undefined && !sessionOk()) {
          return this.#respond(req, 454);
        }
        return this.#respond(req, 200, {
          Transport: `RTP/AVP/TCP;unicast;interleaved=${this.#channel}-${this.#channel + 1};ssrc=${
            this.#rtp.ssrc.toString(16).padStart(8, "0")
          }`,
          ...sessionHeaders(),
        });
      }
      case "PLAY": {
        if (!sessionOk()) return this.#respond(req, 454);
        await this.#respond(req, 200, {
          Range: "npt=0.000-",
          "RTP-Info": `url=${ctx.url}/trackID=0;seq=${this.#rtp.seq};rtptime=${this.#ts}`,
          ...sessionHeaders(),
        });
        this.#player ??= this.#play().catch(() => this.close());
        return;
      }
      case "TEARDOWN":
        if (!sessionOk()) return this.#respond(req, 454);
        await this.#respond(req, 200, sessionHeaders());
        this.close();
        return;
      default:
        return this.#respond(req, 501, { Public: PUBLIC });
    }
  }

  async #play(): Promise<void> {
    const { codec, scenes, loopScenes } = this.#ctx;
    const signal = this.#ac.signal;
    do {
      for (const scene of scenes) {
        if (signal.aborted) return;
        switch (scene.kind) {
          case "video":
            await this.#playVideo(scene, signal);
            break;
          case "garbage": {
            const bytes = randomBytes(scene.bytes);
            // Never look like an interleaved frame or an RTSP response at the start.
            if (bytes[0] === 0x24 || bytes[0] === 0x52) bytes[0] = 0xff;
            for (let off = 0; off < bytes.length && !signal.aborted; off += 65536) {
              await this.#write(bytes.subarray(off, Math.min(off + 65536, bytes.length)));
            }
            break;
          }
          case "bad-rtp": {
            const packets: Uint8Array[] = [];
            for (let i = 0; i < scene.packets; i++) {
              packets.push(badRtpPacket(codec, this.#rtp, this.#ts, i));
            }
            if (packets.length > 0) await this.#write(interleave(this.#channel, packets));
            this.#ts = (this.#ts + 3000) >>> 0;
            break;
          }
          case "silence":
            await sleep(scene.ms, signal);
            this.#ts = (this.#ts + Math.round(scene.ms * 90)) >>> 0;
            break;
          case "close":
            await this.#writeChain;
            this.close();
            return;
        }
      }
    } while (loopScenes && !signal.aborted && scenes.length > 0);
    // After the last scene: stay open and silent until the client or the server closes.
  }

  async #playVideo(
    scene: Extract<PreparedScene, { kind: "video" }>,
    signal: AbortSignal,
  ): Promise<void> {
    const codec = this.#ctx.codec;
    const start = performance.now();
    const frameMs = 1000 / scene.fps;
    const base = this.#ts;
    let frame = 0;
    for (let loop = 0; loop < scene.loops; loop++) {
      let sentParameterSets = false;
      for (const au0 of scene.aus) {
        if (signal.aborted) return;
        let au = au0;
        if (au.keyframe && !sentParameterSets && !scene.sdpOnly) {
          au = withParameterSets(codec, au, scene.ps);
          sentParameterSets = true;
        }
        await sleep(start + frame * frameMs - performance.now(), signal);
        if (signal.aborted) return;
        const ts = (base + Math.round(frame * RTP_CLOCK / scene.fps)) >>> 0;
        const payloads = au.nals.flatMap((n) => nalPayloads(codec, n));
        const packets = payloads.map((p, i) =>
          rtpPacket(this.#rtp, ts, i === payloads.length - 1, p)
        );
        // Awaited, so a client that stops reading holds the script up (TCP backpressure)
        // instead of piling frames up in memory.
        await this.#write(interleave(this.#channel, packets));
        frame++;
      }
    }
    this.#ts = (base + Math.round(frame * RTP_CLOCK / scene.fps)) >>> 0;
  }
}

function findHeaderEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function parseRequest(head: string): RtspRequest | undefined {
  const lines = head.split("\r\n");
  const m = /^([A-Z_]+) (\S+) RTSP\/1\.0$/.exec(lines[0] ?? "");
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  return { method: m[1] ?? "", uri: m[2] ?? "", headers };
}

/** Whether the request URI names the stream or one of its tracks (`/stream`, `/stream/trackID=0`). */
function underPath(uri: string, path: string): boolean {
  let p = uri;
  if (!uri.startsWith("/")) {
    try {
      p = new URL(uri.replace(/^rtsp:/i, "http:")).pathname;
    } catch {
      return false;
    }
  }
  return p === path || p.startsWith(path.endsWith("/") ? path : `${path}/`);
}

// ---------------------------------------------------------------------------------------------
// Server

/** Starts the server; the scene files are read and split into access units before it listens. */
export async function startScriptServer(options: ScriptServerOptions): Promise<ScriptServer> {
  const codec = options.codec;
  if (codec !== "h264" && codec !== "h265") {
    throw new ScriptServerError(`script server: codec must be "h264" or "h265", got ${codec}`);
  }
  const path = options.path ?? "/stream";
  if (!path.startsWith("/")) {
    throw new ScriptServerError(`script server: path must start with "/", got ${path}`);
  }
  const scenes = await prepareScenes(codec, options.scenes);
  const firstVideo = scenes.find((s) => s.kind === "video");
  if (!firstVideo || firstVideo.kind !== "video") {
    throw new ScriptServerError(
      "script server: scenes need at least one video scene (its parameter sets go in the SDP)",
    );
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? freePort() });
  const url = `rtsp://127.0.0.1:${listener.addr.port}${path}`;
  let sessions = 0;
  const ctx: ServerContext = {
    codec,
    scenes,
    path,
    url,
    loopScenes: options.loopScenes ?? false,
    sdpPs: firstVideo.ps,
    onSession: () => sessions++,
  };
  const connections = new Set<Connection>();
  const running = new Set<Promise<void>>();
  let closing = false;
  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        if (closing) {
          conn.close();
          continue;
        }
        conn.setNoDelay(true);
        const c = new Connection(conn, ctx);
        connections.add(c);
        const p = c.run().finally(() => {
          connections.delete(c);
          running.delete(p);
        });
        running.add(p);
      }
    } catch {
      // listener closed
    }
  })();
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      await acceptLoop;
      for (const c of connections) c.close();
      await Promise.all([...running]);
    })();
    return closed;
  };
  return {
    url,
    get sessions() {
      return sessions;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

// ---------------------------------------------------------------------------------------------
// Test streams

export interface TestStreamOptions {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Whole seconds; one keyframe per second. */
  readonly seconds: number;
  /** Cache directory: a stream with the same options is encoded only once. */
  readonly dir: string;
}

/**
 * Encodes (or finds in `dir`) a small Annex B stream: videotestsrc, x264enc/x265enc ultrafast
 * zerolatency, no B-frames, a keyframe every second. Returns its path. Needs gst-launch-1.0 with
 * x264enc (gstreamer1.0-plugins-ugly) or x265enc (gstreamer1.0-plugins-bad).
 */
export async function makeTestStream(
  codec: "h264" | "h265",
  o: TestStreamOptions,
): Promise<string> {
  const int = (key: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ScriptServerError(
        `makeTestStream: ${key} must be an integer ${min}..${max}, got ${v}`,
      );
    }
  };
  int("width", o.width, 16, 4096);
  int("height", o.height, 16, 4096);
  int("fps", o.fps, 1, 120);
  int("seconds", o.seconds, 1, 600);
  if (codec !== "h264" && codec !== "h265") {
    throw new ScriptServerError(`makeTestStream: codec must be "h264" or "h265", got ${codec}`);
  }
  await Deno.mkdir(o.dir, { recursive: true });
  const path = `${o.dir}/script-${codec}-${o.width}x${o.height}-${o.fps}fps-${o.seconds}s.${codec}`;
  try {
    await Deno.stat(path);
    return path;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const enc = codec === "h265"
    ? [
      "x265enc",
      "speed-preset=ultrafast",
      "tune=zerolatency",
      `key-int-max=${o.fps}`,
      "option-string=bframes=0:repeat-headers=1:open-gop=0:scenecut=0",
      "log-level=error",
    ]
    : [
      "x264enc",
      "speed-preset=ultrafast",
      "tune=zerolatency",
      `key-int-max=${o.fps}`,
      "bframes=0",
      "byte-stream=true",
    ];
  const args = [
    "-q",
    "videotestsrc",
    `num-buffers=${o.seconds * o.fps}`,
    "pattern=smpte",
    "horizontal-speed=4",
    "!",
    `video/x-raw,format=I420,width=${o.width},height=${o.height},framerate=${o.fps}/1`,
    "!",
    ...enc,
    "!",
    codec === "h265" ? "h265parse" : "h264parse",
    "!",
    `video/x-${codec},stream-format=byte-stream,alignment=au`,
    "!",
    "filesink",
    `location=${tmp}`,
  ];
  try {
    const out = await new Deno.Command("gst-launch-1.0", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new ScriptServerError(
        `makeTestStream: gst-launch-1.0 exited ${out.code}: ` +
          `${new TextDecoder().decode(out.stderr).trim()} (args: ${args.join(" ")}). ` +
          "Install gstreamer1.0-plugins-ugly (x264enc) / gstreamer1.0-plugins-bad (x265enc).",
      );
    }
    await Deno.rename(tmp, path);
    return path;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

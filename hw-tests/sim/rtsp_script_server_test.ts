/**
 * The script server against real clients: ffmpeg and ffprobe see the mid-session resolution
 * change, GStreamer's rtspsrc accepts the stream, and a raw TCP client sees garbage, bad RTP and
 * the close exactly as scripted. Every server is `await using`; every client is awaited.
 */
import { assert, assertEquals, assertRejects } from "../../runtime/testing/assert.ts";
import { runCommand } from "../../runtime/testing/ffmpeg.ts";
import {
  makeTestStream,
  ScriptServerError,
  splitAccessUnits,
  splitNalUnits,
  startScriptServer,
} from "./rtsp_script_server.ts";

const FPS = 10;
/** Encoded once per test process; each clip takes ~0.1-0.2 s. */
const CACHE = Deno.makeTempDirSync({ prefix: "nvr-script-server-test-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(CACHE, { recursive: true });
  } catch {
    // already gone
  }
});

function clip(codec: "h264" | "h265", width: number, height: number): Promise<string> {
  return makeTestStream(codec, { width, height, fps: FPS, seconds: 2, dir: CACHE });
}

/** Records the stream with ffmpeg (`-c copy`, Annex B out) until the server closes it. */
async function dumpStream(url: string, codec: "h264" | "h265", out: string): Promise<string> {
  const r = await runCommand("ffmpeg", [
    "-v",
    "info",
    "-rtsp_transport",
    "tcp",
    "-i",
    url,
    "-c",
    "copy",
    "-f",
    codec === "h265" ? "hevc" : "h264",
    "-y",
    out,
  ], 20_000);
  assertEquals(r.code, 0, `ffmpeg failed: ${r.stderr}`);
  return r.stderr;
}

/** "WxH" of every decoded frame of an Annex B file, with how many frames had that size. */
async function frameSizes(path: string): Promise<Record<string, number>> {
  const r = await runCommand("ffprobe", [
    "-v",
    "error",
    "-show_frames",
    "-select_streams",
    "v",
    "-show_entries",
    "frame=width,height",
    "-of",
    "json",
    path,
  ], 20_000);
  assertEquals(r.code, 0, `ffprobe failed: ${r.stderr}`);
  const frames: { width: number; height: number }[] = JSON.parse(r.stdout).frames ?? [];
  const sizes: Record<string, number> = {};
  for (const f of frames) {
    sizes[`${f.width}x${f.height}`] = (sizes[`${f.width}x${f.height}`] ?? 0) + 1;
  }
  return sizes;
}

Deno.test("makeTestStream: one keyframe a second, access units split one per frame", async () => {
  for (const codec of ["h264", "h265"] as const) {
    const path = await clip(codec, 320, 240);
    assertEquals(await clip(codec, 320, 240), path, "cached by name");
    const aus = splitAccessUnits(codec, splitNalUnits(await Deno.readFile(path)));
    assertEquals(aus.length, 2 * FPS, `${codec} access units`);
    assertEquals(aus.map((a, i) => a.keyframe ? i : -1).filter((i) => i >= 0), [0, FPS], codec);
  }
});

Deno.test("startScriptServer: refuses a script without video or with a missing file", async () => {
  await assertRejects(
    () => startScriptServer({ codec: "h265", scenes: [{ kind: "silence", ms: 10 }] }),
    ScriptServerError,
    "at least one video scene",
  );
  await assertRejects(
    () =>
      startScriptServer({
        codec: "h264",
        scenes: [{ kind: "video", file: `${CACHE}/missing.h264`, fps: 10 }],
      }),
    ScriptServerError,
    "scenes[0] (video): cannot read",
  );
});

Deno.test("H.265: one session changes 320x240 → 640x480; ffmpeg/ffprobe decode both", async () => {
  const [small, big] = await Promise.all([clip("h265", 320, 240), clip("h265", 640, 480)]);
  await using srv = await startScriptServer({
    codec: "h265",
    scenes: [
      { kind: "video", file: small, fps: FPS },
      { kind: "video", file: big, fps: FPS },
      { kind: "close" },
    ],
  });
  const out = `${CACHE}/h265-out.h265`;
  const stderr = await dumpStream(srv.url, "h265", out);
  assert(/hevc.*320x240/.test(stderr), `SDP sprop gives the first size: ${stderr}`);
  assertEquals(await frameSizes(out), { "320x240": 2 * FPS, "640x480": 2 * FPS });
  assertEquals(srv.sessions, 1);
});

Deno.test("H.264: two clients at once, each gets both sizes in its own session", async () => {
  const [small, big] = await Promise.all([clip("h264", 320, 240), clip("h264", 640, 480)]);
  await using srv = await startScriptServer({
    codec: "h264",
    scenes: [
      { kind: "video", file: small, fps: FPS },
      { kind: "video", file: big, fps: FPS },
      { kind: "close" },
    ],
  });
  const outs = [`${CACHE}/h264-a.h264`, `${CACHE}/h264-b.h264`];
  await Promise.all(outs.map((o) => dumpStream(srv.url, "h264", o)));
  for (const o of outs) {
    assertEquals(await frameSizes(o), { "320x240": 2 * FPS, "640x480": 2 * FPS }, o);
  }
  assertEquals(srv.sessions, 2);
});

Deno.test("GStreamer rtspsrc ! rtph265depay ! h265parse accepts the stream and its new size", async () => {
  const [small, big] = await Promise.all([clip("h265", 320, 240), clip("h265", 640, 480)]);
  await using srv = await startScriptServer({
    codec: "h265",
    scenes: [{ kind: "video", file: small, fps: FPS }, { kind: "video", file: big, fps: FPS }],
  });
  // 25 buffers: 20 of the first scene, then 5 of the second (the new SPS arrives in-band).
  const r = await runCommand("gst-launch-1.0", [
    "-v",
    "rtspsrc",
    `location=${srv.url}`,
    "protocols=tcp",
    "!",
    "rtph265depay",
    "!",
    "h265parse",
    "!",
    "fakesink",
    "num-buffers=25",
  ], 20_000);
  assertEquals(r.code, 0, `gst-launch-1.0 failed: ${r.stdout}\n${r.stderr}`);
  assert(/Got EOS/.test(r.stdout), r.stdout);
  const caps = r.stdout.split("\n").filter((l) => l.includes("fakesink0.GstPad:sink: caps"));
  assert(caps.some((l) => l.includes("width=(int)320")), `no 320 wide caps:\n${caps.join("\n")}`);
  assert(caps.some((l) => l.includes("width=(int)640")), `no 640 wide caps:\n${caps.join("\n")}`);
});

// --- A raw RTSP client over TCP, to see exactly which bytes the server sends. ---

type Item =
  | { readonly type: "response"; readonly status: number; readonly head: string }
  | { readonly type: "rtp"; readonly channel: number; readonly packet: Uint8Array }
  | { readonly type: "raw"; readonly bytes: Uint8Array };

/**
 * Splits what the server sent into RTSP responses and `$` frames; from the first byte that is
 * neither, the rest is one "raw" item.
 */
function parseStream(b: Uint8Array): Item[] {
  const items: Item[] = [];
  const text = new TextDecoder("latin1");
  let off = 0;
  while (off < b.length) {
    if (b[off] === 0x24 && off + 4 <= b.length) {
      const len = ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0);
      if (off + 4 + len > b.length) break;
      items.push({
        type: "rtp",
        channel: b[off + 1] ?? 0,
        packet: b.slice(off + 4, off + 4 + len),
      });
      off += 4 + len;
      continue;
    }
    const head = text.decode(b.subarray(off, off + 9));
    if (head === "RTSP/1.0 ") {
      const rest = text.decode(b.subarray(off));
      const end = rest.indexOf("\r\n\r\n");
      const len = Number(/Content-Length: (\d+)/i.exec(rest.slice(0, end))?.[1] ?? 0);
      items.push({ type: "response", status: Number(rest.slice(9, 12)), head: rest.slice(0, end) });
      off += end + 4 + len;
      continue;
    }
    items.push({ type: "raw", bytes: b.slice(off) });
    break;
  }
  return items;
}

/** Reads everything the server sends into `data` until EOF. */
class RawClient {
  data = new Uint8Array(0);
  eof = false;
  readonly done: Promise<void>;
  readonly #conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.done = this.#pump();
  }

  async #pump(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        const next = new Uint8Array(this.data.length + n);
        next.set(this.data);
        next.set(buf.subarray(0, n), this.data.length);
        this.data = next;
      }
    } catch {
      // closed by us
    } finally {
      this.eof = true;
    }
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.done;
  }

  send(s: string): Promise<number> {
    return this.#conn.write(new TextEncoder().encode(s + "\r\n\r\n"));
  }

  async until(what: string, pred: () => boolean, ms = 5000): Promise<void> {
    const deadline = performance.now() + ms;
    while (!pred()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  responses(): Extract<Item, { type: "response" }>[] {
    return parseStream(this.data).filter((i) => i.type === "response");
  }
}

function nalTypesOf(packet: Uint8Array): number {
  const p = packet[12] ?? 0;
  return (p & 0x1f) === 28 ? (packet[13] ?? 0) & 0x1f : p & 0x1f;
}

Deno.test("raw TCP client: UDP refused, keepalive mid-stream, in-band SPS, bad RTP, garbage, close", async () => {
  const small = await clip("h264", 320, 240);
  await using srv = await startScriptServer({
    codec: "h264",
    path: "/cam",
    scenes: [
      { kind: "video", file: small, fps: 40 }, // 20 frames in 0.5 s
      { kind: "bad-rtp", packets: 8 },
      { kind: "silence", ms: 200 },
      { kind: "garbage", bytes: 5000 },
      { kind: "close" },
      { kind: "video", file: small, fps: 40 }, // never reached
    ],
  });
  assertEquals(srv.url.endsWith("/cam"), true, srv.url);
  const port = Number(new URL(srv.url.replace("rtsp:", "http:")).port);
  const c = new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  const u = srv.url;
  try {
    // Pipelined requests: the server answers them in order on the same connection.
    await c.send(`OPTIONS ${u} RTSP/1.0\r\nCSeq: 1`);
    await c.send(`DESCRIBE ${u} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp`);
    await c.send(
      `SETUP ${u}/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=5000-5001`,
    );
    await c.send(
      `SETUP ${u}/trackID=0 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1`,
    );
    await c.until("4 responses", () => c.responses().length === 4);
    const [options, describe, udp, tcp] = c.responses();
    assertEquals([options?.status, describe?.status, udp?.status, tcp?.status], [
      200,
      200,
      461,
      200,
    ]);
    assert(/Public: .*GET_PARAMETER/.test(options?.head ?? ""), options?.head);
    const sdp = new TextDecoder().decode(c.data);
    for (
      const want of [
        "m=video 0 RTP/AVP 96",
        "a=rtpmap:96 H264/90000",
        "packetization-mode=1",
        "sprop-parameter-sets=",
        "a=control:trackID=0",
      ]
    ) assert(sdp.includes(want), `SDP lacks ${want}:\n${sdp}`);
    assert(/Transport: RTP\/AVP\/TCP;unicast;interleaved=0-1/.test(tcp?.head ?? ""), tcp?.head);
    const session = /Session: ([^;\r\n]+);timeout=60/.exec(tcp?.head ?? "")?.[1];
    assert(session, `no Session;timeout=60 in ${tcp?.head}`);
    assertEquals(srv.sessions, 1);

    const playAt = performance.now();
    await c.send(`PLAY ${u} RTSP/1.0\r\nCSeq: 5\r\nSession: ${session}`);
    await new Promise((r) => setTimeout(r, 150));
    await c.send(`GET_PARAMETER ${u} RTSP/1.0\r\nCSeq: 6\r\nSession: ${session}`);
    await c.until("the server to close", () => c.eof);
    const elapsed = performance.now() - playAt;
    assert(elapsed >= 650, `20 frames at 40 fps + 200 ms silence took only ${elapsed} ms`);

    const items = parseStream(c.data).slice(4);
    assertEquals(items[0]?.type === "response" && items[0].status, 200, "PLAY answered");
    const keepalive = items.findIndex((i) => i.type === "response" && i.head.includes("CSeq: 6"));
    assert(keepalive > 1, "GET_PARAMETER answered in between media packets");
    const rtp = items.flatMap((i) => i.type === "rtp" ? [i.packet] : []);
    const raw = items.at(-1);
    assert(raw?.type === "raw", "garbage last");
    assertEquals(raw.bytes.length, 5000, "all garbage, then EOF");

    const video = rtp.slice(0, -8);
    const bad = rtp.slice(-8);
    const view = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset, p.byteLength);
    const markers = video.filter((p) => ((p[1] ?? 0) & 0x80) !== 0);
    assertEquals(markers.length, 2 * FPS, "one marker per access unit");
    // Timestamps step 90000/40 per frame; sequence numbers and SSRC carry on into the bad packets.
    const ts = markers.map((p) => view(p).getUint32(4));
    assertEquals(
      ts.slice(1).map((t, i) => (t - (ts[i] ?? 0)) >>> 0),
      Array(2 * FPS - 1).fill(2250),
    );
    const seqs = rtp.map((p) => view(p).getUint16(2));
    assertEquals(
      seqs.slice(1).map((s, i) => (s - (seqs[i] ?? 0)) & 0xffff),
      Array(seqs.length - 1).fill(1),
    );
    assertEquals(new Set(rtp.map((p) => view(p).getUint32(8))).size, 1, "one SSRC");
    // The first access unit carries SPS (7) and PPS (8) in-band before the IDR slice (5).
    const firstAu = video.slice(0, video.indexOf(markers[0] ?? new Uint8Array()) + 1);
    const types = firstAu.map(nalTypesOf);
    assert(types.indexOf(7) >= 0 && types.indexOf(7) < types.indexOf(5), `first AU ${types}`);
    assert(types.indexOf(8) >= 0 && types.indexOf(8) < types.indexOf(5), `first AU ${types}`);
    assert(types.some((t, i) => t === 5 && (firstAu[i]?.[12] ?? 0) % 32 === 28), "FU-A used");
    assert(bad.some((p) => ((p[1] ?? 0) & 0x7f) === 0), "a packet with the wrong payload type");
    assert(bad.some((p) => ((p[12] ?? 0) & 0x1f) === 28 && ((p[13] ?? 0) & 0xc0) === 0x80));
  } finally {
    await c.close();
  }
});

Deno.test("close() ends connections that are mid-script; loopScenes keeps playing; 404 elsewhere", async () => {
  const small = await clip("h265", 320, 240);
  const srv = await startScriptServer({
    codec: "h265",
    scenes: [{ kind: "video", file: small, fps: 100 }, { kind: "silence", ms: 50 }],
    loopScenes: true,
  });
  const port = Number(new URL(srv.url.replace("rtsp:", "http:")).port);
  const c = new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  try {
    await c.send(`DESCRIBE rtsp://127.0.0.1:${port}/other RTSP/1.0\r\nCSeq: 1`);
    await c.send(`DESCRIBE ${srv.url} RTSP/1.0\r\nCSeq: 2`);
    await c.send(
      `SETUP ${srv.url}/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;interleaved=0-1`,
    );
    await c.until("3 responses", () => c.responses().length === 3);
    const [other, describe, setup] = c.responses();
    assertEquals([other?.status, describe?.status, setup?.status], [404, 200, 200]);
    assert(new TextDecoder().decode(c.data).includes("sprop-vps="), "H.265 SDP");
    const session = /Session: ([^;\r\n]+)/.exec(setup?.head ?? "")?.[1];
    await c.send(`PLAY ${srv.url} RTSP/1.0\r\nCSeq: 4\r\nSession: ${session}`);
    // 20 frames at 100 fps + 50 ms silence = 250 ms a pass: after 600 ms it has looped twice.
    await new Promise((r) => setTimeout(r, 600));
    const keyframes = parseStream(c.data).filter((i) =>
      i.type === "rtp" && (((i.packet[12] ?? 0) >> 1) & 0x3f) === 32 // in-band VPS
    );
    assert(keyframes.length >= 3, `expected VPS in-band on each pass, got ${keyframes.length}`);
    assert(!c.eof, "still open");
  } finally {
    await srv.close();
    await c.until("EOF after close()", () => c.eof, 2000).finally(() => c.close());
  }
});

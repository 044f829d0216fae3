import { assert, assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";
import { startVirtualCamera } from "../../../hw-tests/sim/virtual_camera.ts";
import { aacConfigFromFmtp } from "../rtp/rtp_aac.ts";
import { controlUrl, RtspError, RtspSession, RtspTimeoutError } from "./session.ts";
import type { AudioAccessUnit, VideoAccessUnit } from "../codec/types.ts";

const START_CODE = Uint8Array.of(0, 0, 0, 1);

/**
 * Plays until `want` access units came (video, and audio when asked), or `deadlineMs` passed;
 * returns what came. Counted, not timed: a loaded machine's camera encodes fewer pictures in a
 * given time (17 in 3 s once), which says nothing about the session.
 */
async function receive(
  session: RtspSession,
  want: { video: number; audio?: number },
  deadlineMs = 60_000,
): Promise<{ video: VideoAccessUnit[]; audio: AudioAccessUnit[] }> {
  const video: VideoAccessUnit[] = [];
  const audio: AudioAccessUnit[] = [];
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), deadlineMs);
  const enough = () => {
    if (video.length >= want.video && audio.length >= (want.audio ?? 0)) stop.abort();
  };
  try {
    await session.play(
      {
        onVideo: (au) => {
          video.push(au);
          enough();
        },
        onAudio: (au) => {
          audio.push(au);
          enough();
        },
      },
      stop.signal,
    );
  } finally {
    clearTimeout(timer);
  }
  return { video, audio };
}

/** Annex B: the track's parameter sets, then every NAL unit, each behind a start code. */
function annexB(
  parameterSets: readonly Uint8Array[],
  units: readonly VideoAccessUnit[],
): Uint8Array {
  const nals = [...parameterSets, ...units.flatMap((u) => u.nals)];
  const out = new Uint8Array(nals.reduce((n, nal) => n + 4 + nal.length, 0));
  let at = 0;
  for (const nal of nals) {
    out.set(START_CODE, at);
    out.set(nal, at + 4);
    at += 4 + nal.length;
  }
  return out;
}

async function probe(path: string): Promise<{ width: number; height: number; frames: number }> {
  const out = await new Deno.Command("ffprobe", {
    args: ["-v", "error", "-count_frames", "-show_streams", "-of", "json", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const errors = new TextDecoder().decode(out.stderr);
  assert(out.success, `ffprobe ${path} failed: ${errors}`);
  const stream = JSON.parse(new TextDecoder().decode(out.stdout)).streams[0];
  return { width: stream.width, height: stream.height, frames: Number(stream.nb_read_frames) };
}

Deno.test("RtspSession: H.265 (Digest) and H.264 + AAC from virtual cameras decode as sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-rtsp-test-" });
  try {
    const [h265, h264] = await Promise.all([
      startVirtualCamera({ codec: "h265", user: "nvr", password: "s3cret", fps: 15 }),
      startVirtualCamera({ codec: "h264", audio: "aac", fps: 15 }),
    ]);
    await using _h265 = h265;
    await using _h264 = h264;
    // The camera offers Basic and Digest; authorize() answers the Digest challenge.
    await using s265 = await RtspSession.open({
      url: h265.rtspUrl,
      user: "nvr",
      password: "s3cret",
    });
    await using s264 = await RtspSession.open({ url: h264.rtspUrl, audio: true });
    assertEquals([s265.video.codec, s265.video.parameterSets.length, s265.audio], [
      "h265",
      3,
      null,
    ]);
    assertEquals([s264.video.codec, s264.video.clockRate, s264.video.parameterSets.length], [
      "h264",
      90000,
      2,
    ]);
    const aacMedia = s264.media.find((m) => m.encoding === "MPEG4-GENERIC");
    const config = aacConfigFromFmtp(aacMedia?.fmtp ?? "");
    assertEquals([s264.audio?.codec, s264.audio?.channels, s264.audio?.clockRate], [
      "aac",
      config.channels,
      config.sampleRate,
    ]);

    // 3 s of pictures at 15 fps, and as much AAC (16 kHz / 1024 samples ≈ 15.6 frames a second).
    const [r265, r264] = await Promise.all([
      receive(s265, { video: 45 }),
      receive(s264, { video: 45, audio: 45 }),
    ]);
    for (const [name, session, got] of [["h265", s265, r265], ["h264", s264, r264]] as const) {
      const units = got.video;
      assert(units.length >= 45, `${name}: ${units.length} access units within 60 s`);
      assert(units[0]?.keyframe, `${name}: the first access unit is a keyframe`);
      assertEquals(units.filter((u) => u.damaged).length, 0, `${name}: damaged units`);
      assertEquals(session.counters.packetsLost, 0);
      assert(session.counters.bytes > 20_000 && session.counters.packets > units.length);
      const steps = units.slice(1).map((u, i) => u.timestamp - units[i]!.timestamp);
      assert(steps.every((s) => s >= 0), `${name}: timestamps never go back`);
      const path = `${dir}/${name}.${name}`;
      await Deno.writeFile(path, annexB(session.video.parameterSets, units));
      const p = await probe(path);
      assertEquals([p.width, p.height], [320, 240], name);
      assert(
        Math.abs(p.frames - units.length) <= 2,
        `${name}: ${p.frames} frames decoded of ${units.length}`,
      );
    }
    // AAC: timestamps 1024 samples apart.
    const audio = r264.audio;
    assert(audio.length >= 45, `${audio.length} AAC frames within 60 s`);
    assert(audio.every((f, i) => i === 0 || f.timestamp - audio[i - 1]!.timestamp === 1024));
    assert(audio.every((f) => f.data.length > 0 && f.data.length < 2048));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RtspSession: wrong or missing credentials are a 401 RtspError that says what to do", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", user: "nvr", password: "s3cret" });
  const shown = cam.rtspUrl;
  const wrong = await assertRejects(
    () => RtspSession.open({ url: cam.rtspUrl.replace("rtsp://", "rtsp://nvr:guess@") }),
    RtspError,
  );
  assertEquals(wrong.status, 401);
  assertEquals(
    wrong.message,
    `wrong user or password for ${shown}; check cameras[].username/password`,
  );
  const none = await assertRejects(() => RtspSession.open({ url: cam.rtspUrl }), RtspError);
  assertEquals(none.status, 401);
  assertMatch(none.message, /asks for a user and password \(401\); set cameras\[\]/);
});

Deno.test("RtspSession: a camera killed while playing rejects play() at once", async () => {
  await using cam = await startVirtualCamera({ codec: "h264" });
  await using session = await RtspSession.open({ url: cam.rtspUrl, timeoutMs: 3000 });
  let units = 0;
  let endedAt = 0;
  // Handled at once: the rejection may come while drop() is still being awaited.
  const ended = session.play({ onVideo: () => units++ }, new AbortController().signal).then(
    () => null,
    (e: unknown) => {
      endedAt = Date.now();
      return e;
    },
  );
  await new Promise((r) => setTimeout(r, 700));
  const killedAt = Date.now();
  await cam.drop();
  const err = await ended;
  assert(err instanceof RtspError, `play() ended with ${err}`);
  assert(endedAt - killedAt < 3000, `took ${endedAt - killedAt} ms`);
  assertMatch(err.message, /camera closed the connection/);
  assert(units > 3, `${units} units before the kill`);
});

// ---- a scripted server of our own ----

const SDP = [
  "v=0",
  "o=- 1 1 IN IP4 127.0.0.1",
  "s=fake",
  "t=0 0",
  "a=control:*",
  "m=audio 0 RTP/AVP 8",
  "a=control:track-pcma",
  "m=video 0 RTP/AVP 96",
  "a=rtpmap:96 H264/90000",
  "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAHg==,aM48gA==",
  "a=control:track-video",
  "",
].join("\r\n");

function rtp(
  channel: number,
  seq: number,
  ts: number,
  marker: boolean,
  payload: number[],
): number[] {
  const packet = [
    0x80,
    (marker ? 0x80 : 0) | 96,
    seq >> 8,
    seq & 0xff,
    (ts >>> 24) & 0xff,
    (ts >>> 16) & 0xff,
    (ts >>> 8) & 0xff,
    ts & 0xff,
    0,
    0,
    0,
    1,
    ...payload,
  ];
  return [0x24, channel, packet.length >> 8, packet.length & 0xff, ...packet];
}

interface Fake extends AsyncDisposable {
  readonly url: string;
  /** Requests seen: "METHOD uri". */
  readonly requests: string[];
}

/**
 * A TCP server answering each connection with `serve(conn, requests)`. Closed (listener, every
 * connection, every task) on dispose.
 */
function fakeServer(serve: (conn: Deno.Conn, requests: string[]) => Promise<void>): Fake {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: string[] = [];
  const conns: Deno.Conn[] = [];
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      tasks.push(serve(conn, requests).catch(() => {}));
    }
  })().catch(() => {});
  return {
    url: `rtsp://127.0.0.1:${listener.addr.port}/live`,
    requests,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await Promise.all(tasks);
    },
  };
}

/** Reads requests off `conn`, calling `answer` for each complete one (no bodies). */
async function eachRequest(
  conn: Deno.Conn,
  answer: (method: string, uri: string, cseq: string) => Promise<void>,
): Promise<void> {
  const buf = new Uint8Array(4096);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return;
    text += new TextDecoder().decode(buf.subarray(0, n));
    for (let end = text.indexOf("\r\n\r\n"); end >= 0; end = text.indexOf("\r\n\r\n")) {
      const head = text.slice(0, end);
      text = text.slice(end + 4);
      const [method = "", uri = ""] = head.split(" ");
      await answer(method, uri, /CSeq: (\d+)/i.exec(head)?.[1] ?? "");
    }
  }
}

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("RtspSession: control URLs, server-chosen channels, garbage, RTCP and keepalives on one stream", async () => {
  await using fake = fakeServer((conn, requests) =>
    eachRequest(conn, async (method, uri, cseq) => {
      requests.push(`${method} ${uri}`);
      const ok = (extra: string, body = "") =>
        conn.write(enc(
          `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n${extra}` +
            (body ? `Content-Length: ${body.length}\r\n` : "") + `\r\n${body}`,
        ));
      if (method === "OPTIONS") {
        await ok("Public: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER\r\n");
      } else if (method === "DESCRIBE") {
        await ok(`Content-Type: application/sdp\r\nContent-Base: ${uri}/\r\n`, SDP);
      } else if (method === "SETUP") {
        await ok("Session: 4242;timeout=2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=4-5\r\n");
      } else if (method === "PLAY") {
        await ok("Session: 4242\r\n");
        const bytes = [
          ...rtp(4, 1, 1000, false, [0x67, 0x42, 0x00, 0x1e]),
          ...[0x13, 0x37, 0x52, 0x0a], // garbage, with an 'R' that starts nothing
          ...rtp(4, 2, 1000, true, [0x65, 0x88, 0x84, 0x00]),
          ...rtp(5, 1, 0, false, [1, 2, 3, 4]), // RTCP: read and ignored
          ...rtp(9, 1, 0, false, [1, 2, 3, 4]), // unknown channel: ignored
          ...rtp(4, 3, 4000, true, [0x41, 0x9a, 0x02]),
        ];
        await conn.write(Uint8Array.from(bytes));
      } else if (method === "GET_PARAMETER") {
        // The keepalive's answer arrives between two halves of a frame.
        const frame = rtp(4, 4, 7000, true, [0x41, 0x9a, 0x03]);
        await conn.write(Uint8Array.from(frame.slice(0, 5)));
        await new Promise((r) => setTimeout(r, 50));
        await conn.write(Uint8Array.from(frame.slice(5)));
        await ok("Session: 4242\r\n");
        await conn.write(Uint8Array.from(rtp(4, 5, 10000, true, [0x41, 0x9a, 0x04])));
      } else await ok("");
    })
  );
  await using session = await RtspSession.open({ url: fake.url, timeoutMs: 3000 });
  assertEquals(session.media.map((m) => [m.media, m.encoding, m.control]), [
    ["audio", "PCMA", "track-pcma"],
    ["video", "H264", "track-video"],
  ]);
  assertEquals(session.video.parameterSets.map((p) => p.length), [4, 4]);
  const units: VideoAccessUnit[] = [];
  const stop = new AbortController();
  await session.play({
    onVideo(au) {
      units.push(au);
      if (units.length === 4) stop.abort();
    },
  }, stop.signal);
  assertEquals(units.map((u) => [u.timestamp, u.nals.length, u.keyframe, u.damaged]), [
    [1000, 2, true, false],
    [4000, 1, false, false],
    [7000, 1, false, false],
    [10000, 1, false, false],
  ]);
  await session.close();
  assertEquals(fake.requests, [
    `OPTIONS ${fake.url}`,
    `DESCRIBE ${fake.url}`,
    `SETUP ${fake.url}/track-video`,
    `PLAY ${fake.url}/`,
    `GET_PARAMETER ${fake.url}/`,
    `TEARDOWN ${fake.url}/`,
  ]);
});

Deno.test("RtspSession: a silent server, a slow header, garbage and HTTP fail clearly and in time", async () => {
  await using silent = fakeServer(async (conn) => {
    await conn.read(new Uint8Array(4096)); // hears the request, never answers
    await conn.read(new Uint8Array(4096));
  });
  let started = Date.now();
  const quiet = await assertRejects(
    () => RtspSession.open({ url: silent.url, timeoutMs: 400 }),
    RtspTimeoutError,
  );
  assertEquals(
    quiet.message,
    `${silent.url}: no answer to OPTIONS within 400 ms; check that the camera is reachable and ` +
      "that this port speaks RTSP",
  );
  assert(Date.now() - started < 1500, `took ${Date.now() - started} ms`);

  await using slow = fakeServer(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await conn.write(enc("RTSP/1.0 200 OK\r\nCSeq: 1\r\n"));
    for (let k = 0; k < 30; k++) {
      await new Promise((r) => setTimeout(r, 50));
      await conn.write(enc("X"));
    }
  });
  started = Date.now();
  await assertRejects(() => RtspSession.open({ url: slow.url, timeoutMs: 400 }), RtspTimeoutError);
  assert(Date.now() - started < 1500, `took ${Date.now() - started} ms`);

  await using garbage = fakeServer(async (conn) => {
    await conn.read(new Uint8Array(4096));
    const chunk = new Uint8Array(256 * 1024).fill(0x41);
    for (let k = 0; k < 6; k++) await conn.write(chunk);
  });
  const junk = await assertRejects(
    () => RtspSession.open({ url: garbage.url, timeoutMs: 3000 }),
    RtspError,
  );
  assertMatch(junk.message, /more than 1 MiB that is neither RTSP nor RTP/);

  await using http = fakeServer(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await conn.write(enc("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
    await conn.read(new Uint8Array(4096));
  });
  const web = await assertRejects(() => RtspSession.open({ url: http.url }), RtspError);
  assertMatch(web.message, /answered HTTP, not RTSP; check the port/);

  // The open() signal aborting mid-request: rejected at once with its reason, nothing left open.
  const abort = new AbortController();
  setTimeout(() => abort.abort(new Error("shutting down")), 100);
  started = Date.now();
  await assertRejects(
    () => RtspSession.open({ url: silent.url, timeoutMs: 5000, signal: abort.signal }),
    Error,
    "shutting down",
  );
  assert(Date.now() - started < 1000, `took ${Date.now() - started} ms`);

  // Nobody listening.
  const refused = await assertRejects(
    () => RtspSession.open({ url: "rtsp://127.0.0.1:1/x" }),
    RtspError,
  );
  assertMatch(
    refused.message,
    /^rtsp:\/\/127\.0\.0\.1:1\/x: cannot connect: .*; check the address/,
  );
});

Deno.test("RtspSession: no H.264/H.265 track names what the camera offers", async () => {
  const sdp = "v=0\r\nm=video 0 RTP/AVP 26\r\nm=audio 0 RTP/AVP 0\r\n";
  await using fake = fakeServer((conn) =>
    eachRequest(conn, async (method, _uri, cseq) => {
      const body = method === "DESCRIBE" ? sdp : "";
      await conn.write(enc(
        `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      ));
    })
  );
  const err = await assertRejects(() => RtspSession.open({ url: fake.url }), RtspError);
  assertEquals(
    err.message,
    `${fake.url}: no H.264/H.265 video track; the camera offers video JPEG, audio PCMU; ` +
      "choose a stream with H.264 or H.265",
  );
});

Deno.test("controlUrl: absolute, '*', none, and relative to a base with or without a slash", () => {
  const base = "rtsp://cam/live/main/";
  assertEquals(controlUrl("rtsp://user:pw@other/track1", base), "rtsp://other/track1");
  assertEquals(controlUrl("*", base), base);
  assertEquals(controlUrl(null, base), base);
  assertEquals(controlUrl("trackID=1", base), "rtsp://cam/live/main/trackID=1");
  assertEquals(controlUrl("trackID=1", "rtsp://cam/live/main"), "rtsp://cam/live/main/trackID=1");
});

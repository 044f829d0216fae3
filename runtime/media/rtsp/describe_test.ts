import { assert, assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";
import { openGst, startRtspServer } from "../../gst/rtsp_server.ts";
import { PROBE_SETTLE_MS } from "../../recorder/gstreamer/audio.ts";
import { describeRtsp, RtspDescribeError } from "./describe.ts";
import { authorize } from "./auth.ts";
import { parseSdp } from "./sdp.ts";

/** What a Hikvision-style camera answers: H.264, G.711 µ-law by its static payload type. */
const HIK_SDP = [
  "v=0",
  "o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64",
  "s=Media Presentation",
  "c=IN IP4 0.0.0.0",
  "t=0 0",
  "a=control:*",
  "m=video 0 RTP/AVP 96",
  "a=rtpmap:96 H264/90000",
  "a=fmtp:96 profile-level-id=420029; packetization-mode=1",
  "a=control:trackID=1",
  "m=audio 0 RTP/AVP 0",
  "a=control:trackID=2",
  "m=application 0 RTP/AVP 107",
  "a=rtpmap:107 vnd.onvif.metadata/90000",
  "",
].join("\r\n");

Deno.test("parseSdp: encodings from rtpmap or the static payload type, fmtp, direction", () => {
  assertEquals(parseSdp(HIK_SDP), [
    {
      media: "video",
      payloadType: 96,
      encoding: "H264",
      clockRate: 90000,
      channels: null,
      fmtp: "profile-level-id=420029; packetization-mode=1",
      direction: "sendrecv",
      control: "trackID=1",
    },
    {
      media: "audio",
      payloadType: 0,
      encoding: "PCMU",
      clockRate: 8000,
      channels: 1,
      fmtp: "",
      direction: "sendrecv",
      control: "trackID=2",
    },
    {
      media: "application",
      payloadType: 107,
      encoding: "VND.ONVIF.METADATA",
      clockRate: 90000,
      channels: null,
      fmtp: "",
      direction: "sendrecv",
      control: null,
    },
  ]);
  const aac = parseSdp(
    "v=0\na=sendonly\nm=audio 0 RTP/AVP 97\na=rtpmap:97 mpeg4-generic/48000/2\n" +
      "a=fmtp:97 streamtype=5;mode=AAC-hbr\nm=audio 0 RTP/AVP 8\na=recvonly\n",
  );
  assertEquals(aac.map((m) => [m.encoding, m.clockRate, m.channels, m.fmtp, m.direction]), [
    ["MPEG4-GENERIC", 48000, 2, "streamtype=5;mode=AAC-hbr", "sendonly"],
    ["PCMA", 8000, 1, "", "recvonly"],
  ]);
});

Deno.test("authorize: Digest (RFC 2617 example) before Basic; Basic alone; nothing else", () => {
  const creds = {
    user: "Mufasa",
    password: "Circle Of Life",
    method: "GET",
    uri: "/dir/index.html",
  };
  const digest = authorize([
    'Basic realm="testrealm@host.com"',
    'Digest realm="testrealm@host.com", qop="auth,auth-int", ' +
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
  ], { ...creds, cnonce: "0a4f113b" });
  assertMatch(digest ?? "", /^Digest username="Mufasa", realm="testrealm@host.com", /);
  assertMatch(digest ?? "", /, qop=auth, nc=00000001, cnonce="0a4f113b", /);
  assertMatch(digest ?? "", /response="6629fae49393a05397450978507c4ef1"/);
  assertEquals(
    authorize(['Basic realm="cam"'], { ...creds, user: "Aladdin", password: "open sesame" }),
    "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
  );
  assertEquals(
    authorize(["Bearer x", 'Digest realm="r", nonce="n", algorithm=SHA-256'], creds),
    null,
  );
});

const CHEAP = "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=5/1 ! " +
  "x264enc speed-preset=ultrafast tune=zerolatency ! rtph264pay name=pay0 pt=96 " +
  "audiotestsrc is-live=true ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1";

Deno.test("describeRtsp against a real RTSP server: Digest only, Basic only, refusals", async () => {
  const ffi = openGst();
  try {
    for (const method of ["digest", "basic"] as const) {
      await using server = startRtspServer(ffi, {
        port: 0,
        mounts: [{ path: "/main", launch: CHEAP }],
        auth: { user: "nvr", password: 's3 cr"et', methods: [method], realm: "Cam 1" },
      });
      const url = server.urlFor("/main");
      const media = await describeRtsp(url, { user: "nvr", password: 's3 cr"et' });
      assertEquals(media.map((m) => `${m.media} ${m.encoding}/${m.clockRate}`), [
        "video H264/90000",
        "audio PCMA/8000",
      ], method);
      const wrong = await assertRejects(
        () => describeRtsp(url, { user: "nvr", password: "guess" }),
        RtspDescribeError,
      );
      assertEquals([wrong.status, wrong.message], [401, `RTSP DESCRIBE ${url}: 401 Unauthorized`]);
      const none = await assertRejects(() => describeRtsp(url), RtspDescribeError);
      assertMatch(none.message, /401 Unauthorized: no credentials given$/);
      const missing = await assertRejects(
        () => describeRtsp(server.urlFor("/nope"), { user: "nvr", password: 's3 cr"et' }),
        RtspDescribeError,
      );
      assertEquals(missing.status, 404);
      // The server tears the stream down for a moment after a DESCRIBE-only client (503 then).
      await new Promise((r) => setTimeout(r, PROBE_SETTLE_MS));
      const inUrl = url.replace("rtsp://", `rtsp://nvr:${encodeURIComponent('s3 cr"et')}@`);
      assertEquals((await describeRtsp(inUrl)).length, 2, `${method}, credentials in the URL`);
    }
  } finally {
    ffi.close();
  }
});

Deno.test("describeRtsp: a silent server times out, garbage is not RTSP, a closed port is refused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      if (held.length === 0) held.push(conn); // the first one hears nothing back
      else {
        await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
        conn.close();
      }
    }
  })();
  try {
    const started = Date.now();
    const silent = await assertRejects(
      () => describeRtsp(`rtsp://127.0.0.1:${port}/a`, { timeoutMs: 300 }),
      RtspDescribeError,
    );
    assertEquals(silent.message, `RTSP DESCRIBE rtsp://127.0.0.1:${port}/a: timed out`);
    assert(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    const http = await assertRejects(
      () => describeRtsp(`rtsp://127.0.0.1:${port}/b`),
      RtspDescribeError,
    );
    assertMatch(http.message, /: the answer is not RTSP$/);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
  const refused = await assertRejects(
    () => describeRtsp(`rtsp://127.0.0.1:${port}/c`),
    RtspDescribeError,
  );
  assertMatch(refused.message, /: cannot connect: Connection refused/);
});

import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../testing/assert.ts";
import {
  mainLaunch,
  parseCameraArgs,
  snapshotLaunch,
  subLaunch,
} from "../../hw-tests/sim/camera_config.ts";
import { rtspExchange } from "../media/rtsp/exchange.ts";
import { basicAuthorization } from "../media/rtsp/auth.ts";
import { openGst, runPipelineOnce, startRtspServer, validateLaunch } from "./rtsp_server.ts";

const CHEAP = "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=5/1 " +
  "! x264enc speed-preset=ultrafast tune=zerolatency ! rtph264pay name=pay0 pt=96";

Deno.test("RTSP server over FFI: DESCRIBE gives H.264 SDP, unknown path 404, stop is idempotent", async () => {
  const ffi = openGst();
  try {
    for (const loopMode of ["thread", "poll"] as const) {
      const srv = startRtspServer(ffi, {
        port: 0,
        mounts: [{ path: "/main", launch: CHEAP }],
        loopMode,
      });
      try {
        assert(srv.port > 0);
        const r = await rtspExchange(srv.urlFor("/main"), "DESCRIBE");
        assertEquals(r.status, 200, `${loopMode}: DESCRIBE`);
        assertMatch(r.body, /a=rtpmap:96 H264\/90000/);
        assertEquals((await rtspExchange(srv.urlFor("/nope"), "DESCRIBE")).status, 404);
      } finally {
        await srv.stop();
        await srv.stop();
      }
      await assertRejects(() => rtspExchange(srv.urlFor("/main"), "OPTIONS"), Error);
    }
  } finally {
    ffi.close();
  }
});

Deno.test("RTSP server over FFI: auth refuses missing/wrong credentials, accepts right ones", async () => {
  const ffi = openGst();
  try {
    await using srv = startRtspServer(ffi, {
      port: 0,
      mounts: [{ path: "/main", launch: CHEAP }],
      auth: { user: "u", password: "p", realm: "Test Realm" },
    });
    const url = srv.urlFor("/main");
    const none = await rtspExchange(url, "DESCRIBE");
    assertEquals(none.status, 401);
    const challenges = none.headers.get("www-authenticate") ?? [];
    assert(
      challenges.some((c) => c.startsWith("Digest ") && c.includes('realm="Test Realm"')),
      String(challenges),
    );
    assert(challenges.some((c) => c.startsWith("Basic ")), String(challenges));
    assertEquals(
      (await rtspExchange(url, "DESCRIBE", {
        headers: { Authorization: basicAuthorization("u", "x") },
      })).status,
      401,
    );
    assertEquals(
      (await rtspExchange(url, "DESCRIBE", {
        headers: { Authorization: basicAuthorization("u", "p") },
      })).status,
      200,
    );
  } finally {
    ffi.close();
  }
});

Deno.test("startRtspServer: a busy port and a bad pipeline fail early with advice", () => {
  const ffi = openGst();
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    assertThrows(
      () =>
        startRtspServer(ffi, { port: busy.addr.port, mounts: [{ path: "/main", launch: CHEAP }] }),
      Error,
      "Pick another --rtsp-port",
    );
    assertThrows(
      () => validateLaunch(ffi, "videotestsrc ! no_such_element_x ! fakesink"),
      Error,
      "gst-inspect-1.0",
    );
    assertThrows(
      () => startRtspServer(ffi, { port: 0, mounts: [{ path: "main", launch: CHEAP }] }),
      Error,
      'must start with "/"',
    );
  } finally {
    busy.close();
    ffi.close();
  }
});

Deno.test("the camera's launch strings parse with the installed plugins (both codecs)", () => {
  const ffi = openGst();
  try {
    for (const codec of ["h264", "h265"]) {
      const cfg = parseCameraArgs(["--rtsp-port", "1", "--onvif-port", "2", "--codec", codec]);
      validateLaunch(ffi, mainLaunch(cfg));
      validateLaunch(ffi, subLaunch(cfg));
      validateLaunch(ffi, snapshotLaunch(cfg, "/tmp/x.jpg"));
    }
  } finally {
    ffi.close();
  }
});

Deno.test("runPipelineOnce: writes a JPEG; reports GStreamer errors", async () => {
  const ffi = openGst();
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/one.jpg`;
    await runPipelineOnce(
      ffi,
      `videotestsrc num-buffers=1 ! jpegenc ! filesink location=${path}`,
      5000,
    );
    const jpeg = await Deno.readFile(path);
    assertEquals([jpeg[0], jpeg[1]], [0xff, 0xd8]);
    await assertRejects(
      () =>
        runPipelineOnce(
          ffi,
          `videotestsrc num-buffers=1 ! jpegenc ! filesink location=${dir}/no/such/dir.jpg`,
          5000,
        ),
      Error,
      "failed",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    ffi.close();
  }
});

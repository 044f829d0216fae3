/**
 * Real end-to-end tests of the virtual camera process: real GStreamer encoders,
 * real RTSP clients (gst-launch-1.0 rtspsrc, ffmpeg), a real ONVIF client
 * (npm:onvif). Every camera is `await using`, so it is stopped even when an
 * assertion fails; every client process is awaited (or killed on timeout).
 */
import { Cam } from "npm:onvif@0.8.3";
import { ffprobe } from "../../runtime/testing/ffprobe.ts";
import { recordRtsp, runCommand } from "../../runtime/testing/ffmpeg.ts";
import { assert, assertEquals, assertMatch } from "../../runtime/testing/assert.ts";
import { rtspExchange } from "../../runtime/media/rtsp/exchange.ts";
import { basicAuthorization } from "../../runtime/media/rtsp/auth.ts";
import { startVirtualCamera } from "./virtual_camera.ts";

function tempDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "nvr-sim-test-" });
}

// GStreamer's rtspsrc against these cameras is exercised by runtime/recorder/recorder_test.ts;
// here an independent client (ffmpeg) checks what the camera sends.
Deno.test("H.265 camera: ffmpeg records HEVC at the asked size; /sub is H.264 640x360", async () => {
  const dir = await tempDir();
  try {
    await using cam = await startVirtualCamera({ codec: "h265", width: 320, height: 240, fps: 15 });
    const [mainRec, subRec] = await Promise.all([
      recordRtsp(cam.rtspUrl, `${dir}/main.mp4`, 3),
      recordRtsp(cam.subUrl, `${dir}/sub.mp4`, 2),
    ]);
    assertEquals(mainRec.code, 0, `ffmpeg failed: ${mainRec.stderr}`);
    assertEquals(subRec.code, 0, `ffmpeg failed: ${subRec.stderr}`);
    const main = await ffprobe(`${dir}/main.mp4`);
    assertEquals([main.codec, main.width, main.height], ["hevc", 320, 240], "main stream");
    assert(main.frames >= 15, `expected >= 15 frames in ~3 s at 15 fps, got ${main.frames}`);
    const sub = await ffprobe(`${dir}/sub.mp4`);
    assertEquals([sub.codec, sub.width, sub.height], ["h264", 640, 360], "sub stream");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("H.264 camera: ffmpeg records H.264 at the asked size", async () => {
  const dir = await tempDir();
  try {
    await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240, fps: 15 });
    const rec = await recordRtsp(cam.rtspUrl, `${dir}/main.mp4`, 3);
    assertEquals(rec.code, 0, `ffmpeg failed: ${rec.stderr}`);
    const v = await ffprobe(`${dir}/main.mp4`);
    assertEquals([v.codec, v.width, v.height], ["h264", 320, 240], "main stream");
    assert(v.durationSeconds >= 2.5, `expected ~3 s, got ${v.durationSeconds} s`);
    assert(v.frames >= 30, `expected >= 30 frames in 3 s at 15 fps, got ${v.frames}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- npm:onvif has no types; wrap the few callbacks we use. ---
interface OnvifProfile {
  $: { token: string };
  name: string;
  videoEncoderConfiguration: { encoding: string; resolution: { width: number; height: number } };
}
interface OnvifCam {
  connect(cb: (err: Error | null) => void): void;
  getDeviceInformation(cb: (err: Error | null, info: Record<string, unknown>) => void): void;
  getProfiles(cb: (err: Error | null, profiles: OnvifProfile[]) => void): void;
  getStreamUri(
    opts: { protocol: string; profileToken: string },
    cb: (err: Error | null, r: { uri: string }) => void,
  ): void;
  getSnapshotUri(
    opts: { profileToken: string },
    cb: (err: Error | null, r: { uri: string }) => void,
  ): void;
}
const OnvifCamCtor = Cam as unknown as new (opts: Record<string, unknown>) => OnvifCam;

function call<T>(f: (cb: (err: Error | null, v: T) => void) => void): Promise<T> {
  return new Promise((res, rej) => f((err, v) => err ? rej(err) : res(v)));
}

function onvifClient(onvifUrl: string, user?: string, password?: string): OnvifCam {
  const u = new URL(onvifUrl);
  return new OnvifCamCtor({
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    autoconnect: false,
    timeout: 5000,
    ...(user !== undefined ? { username: user, password } : {}),
  });
}

Deno.test("ONVIF: npm:onvif Cam connects with WS-Security and finds both streams and the snapshot", async () => {
  await using cam = await startVirtualCamera({
    codec: "h265",
    width: 320,
    height: 240,
    serial: "SIM-4242",
    model: "SimCam-9",
    manufacturer: "NVR Sim",
    firmware: "2.3.4",
    user: "admin",
    password: "s3cret",
  });
  const client = onvifClient(cam.onvifUrl, "admin", "s3cret");
  await call<void>((cb) => client.connect((e) => cb(e, undefined)));
  const info = await call<Record<string, unknown>>((cb) => client.getDeviceInformation(cb));
  assertEquals(info.manufacturer, "NVR Sim", "manufacturer");
  assertEquals(info.model, "SimCam-9", "model");
  assertEquals(String(info.firmwareVersion), "2.3.4", "firmware");
  assertEquals(info.serialNumber, "SIM-4242", "serial");
  const profiles = await call<OnvifProfile[]>((cb) => client.getProfiles(cb));
  assertEquals(
    profiles.map((p) => [
      p.$.token,
      p.videoEncoderConfiguration.encoding,
      p.videoEncoderConfiguration.resolution.width,
      p.videoEncoderConfiguration.resolution.height,
    ]),
    [["main", "H265", 320, 240], ["sub", "H264", 640, 360]],
    "profiles",
  );
  const main = await call<{ uri: string }>((cb) =>
    client.getStreamUri({ protocol: "RTSP", profileToken: "main" }, cb)
  );
  const sub = await call<{ uri: string }>((cb) =>
    client.getStreamUri({ protocol: "RTSP", profileToken: "sub" }, cb)
  );
  assertEquals([main.uri, sub.uri], [cam.rtspUrl, cam.subUrl], "stream URIs");
  const snap = await call<{ uri: string }>((cb) =>
    client.getSnapshotUri({ profileToken: "main" }, cb)
  );
  assertEquals(snap.uri, cam.snapshotUrl, "snapshot URI");

  const r = await fetch(snap.uri, { headers: { authorization: `Basic ${btoa("admin:s3cret")}` } });
  assertEquals(r.status, 200, "snapshot status");
  assertEquals(r.headers.get("content-type"), "image/jpeg", "snapshot type");
  const jpeg = new Uint8Array(await r.arrayBuffer());
  assert(
    jpeg[0] === 0xff && jpeg[1] === 0xd8 && jpeg.at(-2) === 0xff && jpeg.at(-1) === 0xd9,
    "JPEG markers",
  );
  const described = await rtspExchange(main.uri, "DESCRIBE", {
    headers: { Authorization: basicAuthorization("admin", "s3cret") },
  });
  assertEquals(described.status, 200, "the ONVIF stream URI is DESCRIBE-able");

  const wrong = onvifClient(cam.onvifUrl, "admin", "nope");
  const err = await call<void>((cb) => wrong.connect((e) => cb(e, undefined))).then(
    () => null,
    (e: Error) => e,
  );
  assert(
    err !== null && /NotAuthorized|not authorized/i.test(err.message),
    `wrong password refused: ${err}`,
  );
});

Deno.test("drop() makes RTSP and ONVIF unreachable; restore() brings the same URLs back", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", width: 320, height: 240 });
  assertEquals((await rtspExchange(cam.rtspUrl, "DESCRIBE")).status, 200, "DESCRIBE before drop");
  // Hold a playing client while the camera dies, as an NVR would; it must notice.
  const client = runCommand("ffmpeg", [
    "-v",
    "error",
    "-rtsp_transport",
    "tcp",
    "-i",
    cam.rtspUrl,
    "-t",
    "30",
    "-f",
    "null",
    "-",
  ], 40_000);
  await new Promise((r) => setTimeout(r, 1500));
  const pid = cam.pid;
  await cam.drop();
  assertEquals(cam.pid, null, "pid after drop");
  const refused = await rtspExchange(cam.rtspUrl, "DESCRIBE").then(() => false, () => true);
  assert(refused, "RTSP must refuse connections after drop()");
  const onvifDown = await fetch(cam.onvifUrl, { method: "POST", body: "" }).then(
    async (r) => {
      await r.body?.cancel();
      return false;
    },
    () => true,
  );
  assert(onvifDown, "ONVIF must refuse connections after drop()");
  const t0 = performance.now();
  await client;
  assert(
    performance.now() - t0 < 10_000,
    "a playing client must see the stream end soon after drop()",
  );

  await cam.restore();
  assert(cam.pid !== null && cam.pid !== pid, "a new process after restore()");
  assertEquals((await rtspExchange(cam.rtspUrl, "DESCRIBE")).status, 200, "DESCRIBE after restore");
  const probe = await runCommand("ffprobe", [
    "-v",
    "error",
    "-rtsp_transport",
    "tcp",
    "-show_entries",
    "stream=codec_name",
    "-of",
    "csv=p=0",
    cam.rtspUrl,
  ], 15_000);
  assertEquals(probe.stdout.trim(), "h264", `ffprobe after restore: ${probe.stderr}`);
});

Deno.test("credentials: RTSP and snapshot refuse wrong ones (401) and accept right ones", async () => {
  await using cam = await startVirtualCamera({
    codec: "h265",
    width: 320,
    height: 240,
    user: "op",
    password: "pw1",
  });
  const none = await rtspExchange(cam.rtspUrl, "DESCRIBE");
  assertEquals(none.status, 401, "no credentials");
  const schemes = (none.headers.get("www-authenticate") ?? []).map((v) => v.split(" ")[0]);
  assert(
    schemes.includes("Basic") && schemes.includes("Digest"),
    `Basic and Digest offered: ${schemes}`,
  );
  assertEquals(
    (await rtspExchange(cam.rtspUrl, "DESCRIBE", {
      headers: { Authorization: basicAuthorization("op", "bad") },
    })).status,
    401,
    "wrong",
  );
  assertEquals(
    (await rtspExchange(cam.rtspUrl, "DESCRIBE", {
      headers: { Authorization: basicAuthorization("op", "pw1") },
    })).status,
    200,
    "right",
  );

  const withCreds = cam.rtspUrl.replace("rtsp://", "rtsp://op:pw1@");
  const wrongCreds = cam.rtspUrl.replace("rtsp://", "rtsp://op:bad@");
  const [ok, bad] = await Promise.all([
    runCommand("ffprobe", [
      "-v",
      "error",
      "-rtsp_transport",
      "tcp",
      "-show_entries",
      "stream=codec_name",
      "-of",
      "csv=p=0",
      withCreds,
    ], 15_000),
    runCommand("ffprobe", [
      "-v",
      "error",
      "-rtsp_transport",
      "tcp",
      "-show_entries",
      "stream=codec_name",
      "-of",
      "csv=p=0",
      wrongCreds,
    ], 15_000),
  ]);
  assertEquals(ok.stdout.trim(), "hevc", `ffprobe (Digest) with right credentials: ${ok.stderr}`);
  assert(
    bad.code !== 0 && /401/.test(bad.stderr),
    `ffprobe with wrong credentials must get 401: ${bad.stderr}`,
  );

  const snapNone = await fetch(cam.snapshotUrl);
  await snapNone.body?.cancel();
  assertEquals(snapNone.status, 401, "snapshot without credentials");
  const snapOk = await fetch(cam.snapshotUrl, {
    headers: { authorization: `Basic ${btoa("op:pw1")}` },
  });
  await snapOk.body?.cancel();
  assertEquals(snapOk.status, 200, "snapshot with credentials");
});

Deno.test("startVirtualCamera: a busy port fails fast with the child's stderr and advice", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const t0 = performance.now();
    const e = await startVirtualCamera({ rtspPort: busy.addr.port }).then(
      async (cam) => {
        await cam.stop();
        return null;
      },
      (err: Error) => err,
    );
    assert(e !== null, "start must fail on a busy port");
    assertMatch(e.message, /exited with code 1 before ready/);
    assertMatch(e.message, /Pick another --rtsp-port/); // from the child's stderr
    assert(performance.now() - t0 < 10_000, "fails fast, not at the ready timeout");
  } finally {
    busy.close();
  }
});

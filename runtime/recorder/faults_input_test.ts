/**
 * The recorder against what cameras send and what storage holds: wrong credentials, garbage, a
 * codec mismatch, junk in the data folder, B-frames, joining a running stream. Each test runs the
 * real daemon against virtual cameras. (Cameras that come and go: faults_test.ts.)
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { ffprobe, packetTimes } from "../testing/ffprobe.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";

const small = { codec: "h265", width: 320, height: 240, fps: 15 } as const;

Deno.test("wrong credentials are a clear error; right ones record", async () => {
  await using cam = await startVirtualCamera({ ...small, user: "nvr", password: "s3cret" });
  await using h = await startHarness({
    cameras: [
      { id: "wrong", url: cam.rtspUrl, username: "nvr", password: "guess" },
      { id: "right", url: cam.rtspUrl, username: "nvr", password: "s3cret" },
    ],
  });
  const wrong = await h.until("wrong", (s) => s.restarts >= 1, "a refused login");
  assertMatch(wrong.lastError ?? "", /^Camera 'wrong': .*(Unauthorized|wrong user or password)/);
  await h.until("right", (s) => s.segments >= 1, "a segment with the right password");
});

Deno.test("garbage from a 'camera' and a codec mismatch fail alone; a good camera keeps recording", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const garbage = (async () => {
    for await (const conn of listener) {
      const noise = crypto.getRandomValues(new Uint8Array(4096));
      await conn.write(noise).catch(() => {});
      conn.close();
    }
  })();
  await using good = await startVirtualCamera(small);
  await using h264cam = await startVirtualCamera({ ...small, codec: "h264" });
  try {
    await using h = await startHarness({
      cameras: [
        { id: "noise", url: `rtsp://127.0.0.1:${port}/main` },
        { id: "mismatch", url: h264cam.rtspUrl, codec: "h265" },
        { id: "good", url: good.rtspUrl },
      ],
    });
    await h.until("good", (s) => s.segments >= 2, "the good camera's segments");
    assertEquals(h.camera("good").plan.recorder, "builtin", "the status says who records it");
    const noise = await h.until("noise", (s) => s.restarts >= 1, "noise refused");
    assertMatch(noise.lastError ?? "", /^Camera 'noise': /);
    const mismatch = await h.until("mismatch", (s) => s.lastError !== null, "mismatch refused");
    assertMatch(mismatch.lastError ?? "", /^Camera 'mismatch': /);
    assertEquals(h.camera("mismatch").segments, 0);
  } finally {
    listener.close();
    await garbage;
  }
});

Deno.test("foreign and broken files in storage are set aside, never fatal, never deleted", async () => {
  await using cam = await startVirtualCamera(small);
  const dir = await Deno.makeTempDir({ prefix: "nvr-test-" });
  const incoming = `${dir}/data/recordings/cam1/.incoming`;
  await Deno.mkdir(incoming, { recursive: true });
  await Deno.writeFile(`${incoming}/old-00001.mp4`, crypto.getRandomValues(new Uint8Array(5000)));
  await Deno.writeFile(`${incoming}/old-00002.mp4`, new Uint8Array());
  await Deno.writeTextFile(`${dir}/data/recordings/cam1/notes.txt`, "an installer's notes");
  try {
    await using h = await startHarness({ cameras: [{ id: "cam1", url: cam.rtspUrl }] }, { dir });
    await h.until("cam1", (s) => s.segments >= 1, "recording despite the junk");
    const aside = [...Deno.readDirSync(`${dir}/data/recordings/cam1/.quarantine`)].map((e) =>
      e.name
    );
    assertEquals(aside, ["old-00001.mp4"]);
    assertEquals(
      await Deno.readTextFile(`${dir}/data/recordings/cam1/notes.txt`),
      "an installer's notes",
    );
    const kinds = h.index().events(0, Date.now() + 1, "cam1").map((e) => e.kind);
    assert(kinds.includes("file-quarantined"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a camera that sends B-frames stays on the built-in remuxer: every picture recorded, in order", async () => {
  // Decode times from the sorted presentation times, composition offsets in the fragments.
  await using h265 = await startVirtualCamera({ ...small, bframes: 2 });
  await using h264 = await startVirtualCamera({ ...small, codec: "h264", bframes: 2 });
  await using h = await startHarness({
    recording: { remux: "builtin" },
    cameras: [{ id: "b265", url: h265.rtspUrl }, {
      id: "b264",
      url: h264.rtspUrl,
      codec: "h264",
    }],
  });
  for (const [id, codec] of [["b265", "hevc"], ["b264", "h264"]] as const) {
    const status = await h.until(
      id,
      (s) => s.segments >= 3,
      "three segments",
      30_000,
    );
    assertEquals(status.state, "recording");
    assertEquals(status.plan.recorder, "builtin", `${id} stays on the fast path`);
    // The first segment may start late; the ones after it are whole 2 s pieces.
    for (const segment of h.index().range(id, 0, Date.now() + 1).slice(1, 3)) {
      const path = `${h.dir}/data/${segment.path}`;
      const probe = await ffprobe(path);
      assertEquals(probe.codec, codec);
      const seconds = (segment.endMs - segment.startMs) / 1000;
      assert(
        Math.abs(probe.frames - seconds * 15) <= 1,
        `${id}: ${probe.frames} pictures in ${seconds} s at 15 fps`,
      );
      const packets = await packetTimes(path);
      assert(packets[0]!.key, `${id}: ${segment.path} starts on a keyframe`);
      const dts = packets.map((p) => p.dts);
      assert(dts.every((t, i) => i === 0 || t > dts[i - 1]!), `${id}: decode times rise`);
      const pts = packets.map((p) => p.pts);
      assert(pts.some((t, i) => i > 0 && t < pts[i - 1]!), `${id}: B-frames kept (reordered)`);
      const shown = pts.toSorted((a, b) => a - b);
      const step = shown[1]! - shown[0]!;
      assert(
        shown.every((t, i) => i === 0 || Math.abs(t - shown[i - 1]! - step) < step / 10),
        `${id}: presentation times one frame apart, none missing or doubled`,
      );
    }
  }
});

Deno.test("joining a stream another client holds: GStreamer's first segment still starts on a keyframe", async () => {
  // The camera's stream is already running (another viewer), so the recorder joins between
  // keyframes; the pictures before the first keyframe cannot be decoded and come out of the file.
  await using cam = await startVirtualCamera({ ...small, bframes: 2 });
  const viewer = new Deno.Command("gst-launch-1.0", {
    args: ["-q", "rtspsrc", `location=${cam.rtspUrl}`, "protocols=tcp", "!", "fakesink"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 2_300)); // the stream runs; keyframes come every second
    await using h = await startHarness({
      recording: { remux: "gstreamer" },
      cameras: [{ id: "joined", url: cam.rtspUrl }],
    });
    await h.until("joined", (s) => s.segments >= 2, "two segments", 30_000);
    const segments = h.index().range("joined", 0, Date.now() + 1);
    for (const segment of segments) {
      const path = `${h.dir}/data/${segment.path}`;
      const packets = await packetTimes(path);
      const said = h.log.lines.filter((l) => /keyframe|segment/.test(String(l.msg)))
        .map((l) => JSON.stringify(l)).join("\n");
      assert(packets[0]!.key, `${segment.path} starts on a keyframe; the recorder said:\n${said}`);
      const probe = await ffprobe(path);
      const seconds = (segment.endMs - segment.startMs) / 1000;
      assert(
        Math.abs(probe.frames - seconds * 15) <= 2,
        `${segment.path}: ${probe.frames} pictures indexed as ${seconds} s at 15 fps`,
      );
    }
    for (let i = 1; i < segments.length; i++) {
      const gap = segments[i]!.startMs - segments[i - 1]!.endMs;
      assert(Math.abs(gap) <= 100, `segments ${i - 1} and ${i} join (${gap} ms apart)`);
    }
  } finally {
    viewer.kill();
    await viewer.status;
  }
});

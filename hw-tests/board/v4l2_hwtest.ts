/**
 * On a real board with a USB camera: the camera is found, its formats read, and 5 s are recorded
 * with the plan this board gets (`--fallback` picks the config fallback; default x265); then the
 * real daemon records it as a `v4l2:` camera into indexed 2 s segments.
 */
import { assert, assertEquals } from "../../runtime/testing/assert.ts";
import { ffprobe } from "../../runtime/testing/ffprobe.ts";
import { Pipeline } from "../../runtime/gst/mod.ts";
import {
  discoverV4l2Devices,
  loadProfile,
  probeRegistry,
  readV4l2Formats,
  usbCameraLaunch,
} from "../../runtime/board/mod.ts";
import { startHarness } from "../../runtime/testing/daemon_harness.ts";
import { requireBoard } from "./board_args.ts";

const RECORD_MS = 5_000;

Deno.test("USB camera: found, and 5 s recorded with the board's video plan", async () => {
  const { info, args } = await requireBoard();
  const nodes: string[] = [];
  for await (const e of Deno.readDir("/dev")) if (/^video\d+$/.test(e.name)) nodes.push(e.name);
  console.log(
    `board ${info.id} (${info.model}); /dev: ${nodes.sort().join(", ") || "no video nodes"}`,
  );

  const devices = await discoverV4l2Devices("/sys");
  for (const d of devices) console.log(`  ${d.device}: ${d.name}${d.usb ? " (USB)" : ""}`);
  const camera = devices.find((d) => d.usb);
  if (!camera) {
    throw new Error(
      `No USB camera on this ${info.model}: no capture node on USB under ` +
        "/sys/class/video4linux. Plug a UVC camera in and run again.",
    );
  }
  const modes = await readV4l2Formats(camera.device);
  const profile = loadProfile(info.id);
  const { capture, plan, launch } = usbCameraLaunch(
    camera.device,
    modes,
    profile,
    probeRegistry(profile),
    { fallback: args.fallback, camera: "usb0" },
  );
  console.log(`  capture: ${capture.caps}\n  plan: ${plan.reason}\n  launch: ${launch}`);

  const dir = await Deno.makeTempDir({ prefix: "usb-hwtest-" });
  const file = `${dir}/usb0.mp4`;
  try {
    {
      await using pipeline = Pipeline.parse(
        `${launch} ! queue ! mp4mux ! filesink location=${file}`,
        { name: "usb0" },
      );
      pipeline.play();
      await drainUntil(pipeline, Date.now() + RECORD_MS, false);
      pipeline.sendEos();
      await drainUntil(pipeline, Date.now() + 10_000, true);
    }
    const probe = await ffprobe(file);
    const fps = probe.frames / probe.durationSeconds;
    console.log(
      `  recorded ${probe.codec} ${probe.width}x${probe.height}, ${probe.frames} frames in ` +
        `${probe.durationSeconds.toFixed(2)} s = ${fps.toFixed(1)} fps (camera: ${capture.fps})`,
    );
    assertEquals(probe.codec, plan.codec === "h265" ? "hevc" : "h264");
    assertEquals([probe.width, probe.height], [capture.width, capture.height]);
    assert(probe.durationSeconds >= 4, `only ${probe.durationSeconds} s recorded of 5`);
    if (fps < capture.fps * 0.9) {
      console.log(
        `  WARNING: ${plan.encoder} keeps up with ${fps.toFixed(1)} of ${capture.fps} fps`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("USB camera through the real daemon: v4l2: URL, indexed 2 s segments", async () => {
  const { info, args } = await requireBoard();
  const found = (await discoverV4l2Devices("/sys")).find((d) => d.usb);
  if (!found) throw new Error(`No USB camera on this ${info.model}; plug a UVC camera in`);
  await using h = await startHarness({
    cameras: [{ id: "usb0", url: `v4l2://${found.device}` }],
    recording: { encodeFallback: args.fallback },
  });
  const status = await h.until("usb0", (s) => s.segments >= 2, "two segments", 30_000);
  console.log(`  ${found.device}: ${JSON.stringify(status.plan)}`);
  const segments = h.index().range("usb0", 0, Date.now() + 1);
  for (const segment of segments) {
    const probe = await ffprobe(`${h.dir}/data/${segment.path}`);
    console.log(
      `  ${segment.path}: ${probe.codec} ${probe.width}x${probe.height}, ${probe.frames} frames`,
    );
    assertEquals(probe.codec, segment.codec === "h265" ? "hevc" : "h264");
    assert(probe.frames > 0, `${segment.path} has no frames`);
  }
});

/** Reads the bus until the deadline (or EOS when `untilEos`); an error message throws. */
async function drainUntil(pipeline: Pipeline, deadline: number, untilEos: boolean): Promise<void> {
  while (Date.now() < deadline) {
    const msg = await pipeline.next(Math.max(1, Math.min(200, deadline - Date.now())));
    if (msg?.type === "error") throw new Error(`usb0: ${msg.source}: ${msg.message}`);
    if (msg?.type === "eos") return;
  }
  if (untilEos) throw new Error("usb0: no end of stream 10 s after EOS was sent");
}

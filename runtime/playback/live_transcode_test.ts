/**
 * The live transcode against a real H.265 camera stream (virtual camera over RTSP, the project's
 * RTSP client, real GStreamer): viewers share one pipeline, it stops after the last one leaves,
 * and the cap refuses a second camera's transcode.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { RtspSession } from "../media/rtsp/session.ts";
import {
  AccessUnitFeed,
  LiveFanout,
  type LiveFrame,
  type LiveTrack,
} from "../media/restream/feed.ts";
import { loadProfile } from "../board/profile.ts";
import { GstRegistry } from "../board/registry.ts";
import { memoryLogger } from "../lib/log.ts";
import { parseSps } from "../media/codec/h26x.ts";
import { planTranscode } from "../board/transcode_plan.ts";
import { SharedTranscode } from "./live_transcode.ts";
import { TranscodeSlots } from "./transcode_slots.ts";

const log = memoryLogger("warn");

/** The camera's H.265 main stream as a LiveSource, as the recorder's restream would give it. */
async function cameraFeed(url: string, signal: AbortSignal): Promise<LiveFanout> {
  const fanout = new LiveFanout();
  const session = await RtspSession.open({ url, audio: false, timeoutMs: 5_000, signal });
  const feed = new AccessUnitFeed(
    fanout,
    session.video.codec,
    session.video.clockRate,
    session.video.parameterSets,
    () => Date.now(),
  );
  session.play({
    onVideo: (au) => {
      feed.push(au);
      session.arena.releaseBefore(au.nals[0] ?? null);
    },
  }, signal).catch(() => {}).finally(() => session[Symbol.asyncDispose]());
  return fanout;
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("live transcode: two viewers share one pipeline; it stops after the last one leaves", async () => {
  await using cam = await startVirtualCamera({ codec: "h265", width: 1280, height: 720, fps: 15 });
  const stopFeed = new AbortController();
  try {
    const source = await cameraFeed(cam.rtspUrl, stopFeed.signal);
    const launch = planTranscode(loadProfile("generic"), new GstRegistry()).launch;
    const slots = new TranscodeSlots(1);
    const tc = new SharedTranscode("door", source, {
      launch: () => launch,
      slots,
      log,
      graceMs: 300,
    });
    const got: { track: LiveTrack; frame: LiveFrame }[][] = [[], []];
    assert(tc.admit(), "a free slot");
    const off1 = tc.subscribe({ frame: (track, frame) => got[0]!.push({ track, frame }) });
    assert(tc.admit(), "the running transcode admits a second viewer without a slot");
    const off2 = tc.subscribe({ frame: (track, frame) => got[1]!.push({ track, frame }) });
    await until("both viewers get 20 H.264 pictures", () => got.every((g) => g.length >= 20));
    assertEquals(tc.pipelinesStarted, 1, "one pipeline for both viewers");
    assertEquals(slots.running, 1);
    const first = got[0]![0]!;
    assertEquals(first.track.codec, "h264");
    assert(first.frame.keyframe, "a viewer starts at a keyframe");
    const info = parseSps("h264", first.track.sps);
    assertEquals([info.width, info.height], [640, 360], "scaled to 640 px wide");
    // ultrafast uses no Main tool, so x264 writes Constrained Baseline (42); never High 4:4:4.
    assert(
      /^avc1\.(42|4d)/.test(first.track.codecString),
      `Baseline or Main: ${first.track.codecString}`,
    );
    // The wall time is the camera picture's, carried through the transcode.
    const age = Date.now() - got[0]!.at(-1)!.frame.wallMs;
    assert(age >= 0 && age < 5_000, `wall time carried through (${age} ms old)`);

    // A second camera cannot start one: the cap is 1.
    const other = new SharedTranscode("lane", source, { launch: () => launch, slots, log });
    assert(!other.admit(), "the cap refuses a second transcode");
    assertEquals(slots.refused, 1);

    off1();
    assert(tc.running, "still running for the second viewer");
    off2();
    // Its slot is given back once its pipeline is closed.
    await until("stopped after the grace time", () => !tc.running && slots.running === 0, 10_000);
    assert(other.admit(), "now the other camera gets it");
    await other.stop();
  } finally {
    stopFeed.abort();
  }
});

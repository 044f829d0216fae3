/**
 * Recorded H.265 transcoded for browsers without H.265 (range_transcode.ts) with real GStreamer
 * and ffprobe: H.264 at 640 px, the cap refuses a second file while one runs, a repeat costs
 * nothing; the playlist puts a discontinuity before every part.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { Pipeline } from "../gst/mod.ts";
import { loadProfile } from "../board/profile.ts";
import { GstRegistry } from "../board/registry.ts";
import type { IndexedSegment } from "../storage/mod.ts";
import { planTranscode } from "../board/transcode_plan.ts";
import { RangeTranscodes, TranscodeBusyError, transcodedPlaylist } from "./range_transcode.ts";
import { TranscodeSlots } from "./transcode_slots.ts";

/** A recorded-style fragmented MP4 of `seconds` of H.265 at 1280×720, 15 fps, GOP 2 s. */
async function h265File(path: string, seconds: number): Promise<void> {
  await using p = Pipeline.parse(
    `videotestsrc num-buffers=${seconds * 15} pattern=ball ! ` +
      "video/x-raw,width=1280,height=720,framerate=15/1,format=I420 ! " +
      "x265enc speed-preset=ultrafast key-int-max=30 ! h265parse ! " +
      `mp4mux fragment-duration=1000 ! filesink location=${path}`,
    { name: "range-transcode-fixture" },
  );
  p.play();
  for (let i = 0; i < 60; i++) {
    const m = await p.next(1000);
    if (m?.type === "eos") return;
    if (m?.type === "error") throw new Error(m.message);
  }
  throw new Error("fixture not written within 60 s");
}

function segment(id: number, path: string): IndexedSegment {
  return {
    id,
    camera: "door",
    startMs: 1_700_000_000_000 + id * 4_000,
    endMs: 1_700_000_000_000 + (id + 1) * 4_000,
    bytes: 0,
    codec: "h265",
    path,
    width: 1280,
    height: 720,
    locked: false,
  };
}

async function probe(ts: Uint8Array) {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-show_entries",
      "stream=codec_name,width,height,start_time",
      "-of",
      "json",
      "-",
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(ts);
  await w.close();
  const { stdout } = await out.output();
  return JSON.parse(new TextDecoder().decode(stdout)).streams[0] as {
    codec_name: string;
    width: number;
    height: number;
    start_time: string;
  };
}

Deno.test("range transcode: an H.265 recording as H.264 MPEG-TS at 640 px, capped, kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-range-transcode-" });
  try {
    const path = `${dir}/seg.mp4`;
    await h265File(path, 4);
    const plan = planTranscode(loadProfile("generic"), new GstRegistry());
    const slots = new TranscodeSlots(1);
    const rt = new RangeTranscodes({ chain: () => plan.chain, slots });
    const file = () => Deno.readFile(path);

    const first = await rt.ts(segment(1, path), file);
    const later = rt.ts(segment(2, path), file);
    // One slot, held by the file above until it is done: a third one is refused at once.
    await assertRejects(() => rt.ts(segment(3, path), file), TranscodeBusyError);
    assertEquals(slots.refused, 1);
    const second = await later;
    assertEquals(slots.running, 0, "slots released");

    const [a, b] = [await probe(first), await probe(second)];
    assertEquals([a.codec_name, a.width, a.height], ["h264", 640, 360]);
    assertEquals([b.codec_name, b.width, b.height], ["h264", 640, 360]);
    const again = await rt.ts(segment(1, path), file);
    assert(again === first, "a repeat is answered from memory");
    assertEquals(rt.made, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("range transcode: the playlist names MPEG-TS parts, each after a discontinuity with its time", () => {
  const segs = [segment(1, "a.mp4"), segment(2, "b.mp4")];
  const text = transcodedPlaylist(segs, {
    startMs: segs[0]!.startMs + 1_000,
    mediaUrl: (s) => `/api/recordings/${s.id}/h264.ts`,
  });
  assert(!text.includes("EXT-X-MAP"), text);
  assertEquals(text.split("\n").slice(5), [
    "#EXT-X-START:TIME-OFFSET=1.000,PRECISE=YES",
    `#EXT-X-PROGRAM-DATE-TIME:${new Date(segs[0]!.startMs).toISOString()}`,
    "#EXTINF:4.000,",
    "/api/recordings/1/h264.ts",
    "#EXT-X-DISCONTINUITY",
    `#EXT-X-PROGRAM-DATE-TIME:${new Date(segs[1]!.startMs).toISOString()}`,
    "#EXTINF:4.000,",
    "/api/recordings/2/h264.ts",
    "#EXT-X-ENDLIST",
    "",
  ]);
});

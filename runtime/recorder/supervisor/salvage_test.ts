import { assertEquals } from "../../testing/assert.ts";
import { accessUnits, encodeTestStream } from "../../testing/encode_fixture.ts";
import { parameterSetKind } from "../../media/codec/h26x.ts";
import { initSegment, mediaFragment } from "../../media/fmp4/writer.ts";
import { concat } from "../../std/bytes/concat.ts";
import { createLogger } from "../../lib/log.ts";
import { incomingDir, SegmentIndex } from "../../storage/mod.ts";
import { salvageIncoming } from "./salvage.ts";

Deno.test("a left-over segment without a keyframe is removed, not indexed; one with a keyframe is kept", async () => {
  // Seen in a loaded run: a GStreamer run that joined a shared stream mid-GOP was restarted
  // after one picture; salvage indexed that undecodable picture as a recording.
  const dir = await Deno.makeTempDir({ prefix: "nvr-salvage-" });
  try {
    const units = accessUnits(
      "h264",
      await encodeTestStream(dir, "h264", { width: 160, height: 120, frames: 30 }),
    );
    const param = (kind: string) =>
      units[0]!.nals.find((n) => parameterSetKind("h264", n) === kind)!;
    const run = (from: number, to: number) =>
      units.slice(from, to).map((u) => ({
        nals: u.nals.filter((n) => parameterSetKind("h264", n) === null),
        duration: 6_000,
        keyframe: u.keyframe,
      }));
    const init = initSegment({
      codec: "h264",
      sps: param("sps"),
      pps: param("pps"),
      timescale: 90_000,
    });
    const incoming = incomingDir(dir, "cam");
    await Deno.mkdir(incoming, { recursive: true });
    // Pictures 1..3 only (the keyframe is picture 0): nothing in it can be decoded.
    await Deno.writeFile(
      `${incoming}/run1-00000.mp4`,
      concat([init, mediaFragment(1, { baseTime: 0, samples: run(1, 4) })]),
    );
    await Deno.writeFile(
      `${incoming}/run2-00000.mp4`,
      concat([init, mediaFragment(1, { baseTime: 0, samples: run(0, 10) })]),
    );
    using index = SegmentIndex.open(`${dir}/index.sqlite`);
    const lines: string[] = [];
    const log = createLogger({ sink: (line) => void lines.push(line) });
    const result = await salvageIncoming({ id: "cam", codec: "h264" }, {
      dataDir: dir,
      index: () => index,
      log,
    });
    assertEquals(result.recovered.length, 1, "the file with a keyframe is recovered");
    assertEquals(result.empty, 1, "the keyframe-less file is removed");
    assertEquals(index.range("cam", 0, Date.now() + 60_000).length, 1);
    assertEquals([...Deno.readDirSync(incoming)].length, 0, ".incoming is empty");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

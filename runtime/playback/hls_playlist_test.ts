import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { ffprobe } from "../testing/ffprobe.ts";
import type { IndexedSegment } from "../storage/mod.ts";
import { initPart, mediaPart } from "../media/fmp4/hls_parts.ts";
import { parseHeader, trackFragments, tracks } from "../media/fmp4/boxes.ts";
import { hlsPlaylist, MAX_RUN_MS } from "./hls_playlist.ts";
import { decodeErrors, recordedSegments, T0 } from "./export_fixture.ts";

const seg = (id: number, startMs: number, endMs: number, more: Partial<IndexedSegment> = {}) => ({
  id,
  camera: "cam1",
  startMs,
  endMs,
  bytes: 1,
  codec: "h264",
  path: `x/${id}.mp4`,
  width: 640,
  height: 360,
  locked: false,
  ...more,
});

const urls = {
  initUrl: (s: IndexedSegment) => `/i/${s.id}`,
  mediaUrl: (s: IndexedSegment, at: number) => `/m/${s.id}?at=${at}`,
};

Deno.test("playlist: one run across segment boundaries, start offset, target duration", () => {
  const text = hlsPlaylist(
    [seg(1, T0, T0 + 10_000), seg(2, T0 + 10_000, T0 + 20_000), seg(3, T0 + 20_010, T0 + 29_500)],
    { startMs: T0 + 12_500, ...urls },
  );
  const lines = text.trim().split("\n");
  assertEquals(lines[0], "#EXTM3U");
  assert(lines.includes("#EXT-X-TARGETDURATION:10"));
  assert(lines.includes("#EXT-X-START:TIME-OFFSET=12.500,PRECISE=YES"));
  assertEquals(lines.filter((l) => l.startsWith("#EXT-X-MAP")), ['#EXT-X-MAP:URI="/i/1"']);
  assertEquals(lines.filter((l) => l === "#EXT-X-DISCONTINUITY").length, 0);
  // Each part starts where the EXTINFs before it end, as the player counts.
  assertEquals(lines.filter((l) => l.startsWith("/m/")), [
    "/m/1?at=0",
    "/m/2?at=10000",
    "/m/3?at=20000",
  ]);
  assertEquals(lines.at(-1), "#EXT-X-ENDLIST");
});

Deno.test("playlist: a gap, a new picture size and a 12 h run start discontinuities", () => {
  const segs = [
    seg(1, T0, T0 + 10_000),
    seg(2, T0 + 70_000, T0 + 80_000), // a minute later: a gap
    seg(3, T0 + 80_000, T0 + 90_000, { width: 1280, height: 720 }), // a new picture size
  ];
  const text = hlsPlaylist(segs, { startMs: T0 - 5_000, ...urls });
  const lines = text.split("\n");
  assertEquals(lines.filter((l) => l === "#EXT-X-DISCONTINUITY").length, 2);
  assertEquals(lines.filter((l) => l.startsWith("#EXT-X-MAP")).length, 3);
  assert(lines.includes("#EXT-X-START:TIME-OFFSET=0.000,PRECISE=YES"));
  assert(lines.includes(`#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 70_000).toISOString()}`));
  assertEquals(lines.filter((l) => l.startsWith("/m/")).map((l) => l.split("=")[1]), [
    "0",
    "0",
    "0",
  ]);

  const long: IndexedSegment[] = [];
  for (let i = 0; i < 13 * 360; i++) long.push(seg(i + 1, T0 + i * 10_000, T0 + (i + 1) * 10_000));
  const runs = hlsPlaylist(long, { startMs: T0, ...urls }).split("\n");
  assertEquals(runs.filter((l) => l === "#EXT-X-DISCONTINUITY").length, 1);
  const ats = runs.filter((l) => l.startsWith("/m/")).map((l) => Number(l.split("=")[1]));
  assert(Math.max(...ats) < MAX_RUN_MS);
});

Deno.test("playlist: no segments is an empty, valid VOD playlist", () => {
  assertEquals(
    hlsPlaylist([], { startMs: T0, ...urls }),
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n" +
      "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-ENDLIST\n",
  );
});

Deno.test("hls parts: init + retimed media parts of real segments join into one continuous stream", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-hls-" });
  const index = await recordedSegments(dir, [{ width: 160, height: 120, seconds: 3 }]);
  try {
    const segs = index.range("cam1", T0, T0 + 3_000);
    assertEquals(segs.length, 3);
    const files = await Promise.all(segs.map((s) => Deno.readFile(`${dir}/${s.path}`)));
    const init = initPart(files[0]!);
    assertEquals(parseHeader(init, 0)?.type, "ftyp");
    const parts = files.map((f, i) => mediaPart(f, i));
    for (const [i, part] of parts.entries()) {
      // Only moof and mdat, and the first tfdt is i seconds in the track's timescale.
      const moof = parseHeader(part, 0)!;
      assertEquals(moof.type, "moof");
      const track = tracks(init.subarray(parseHeader(init, 0)!.size))[0]!;
      const first = trackFragments(part.subarray(0, moof.size), [track])[0]!;
      assertEquals(first.baseTime, i * track.timescale);
      assert(!new TextDecoder().decode(part).includes("mfra"), "mfra left out");
    }
    const joined = `${dir}/joined.mp4`;
    await Deno.writeFile(joined, new Uint8Array([...init, ...parts.flatMap((p) => [...p])]));
    const probe = await ffprobe(joined);
    assertEquals(probe.frames, 45);
    assert(Math.abs(probe.durationSeconds - 3) < 0.2, `duration ${probe.durationSeconds}`);
    assertEquals(await decodeErrors(joined), "");
    assertMatch(probe.codec, /hevc/);
  } finally {
    index.close();
    await Deno.remove(dir, { recursive: true });
  }
});

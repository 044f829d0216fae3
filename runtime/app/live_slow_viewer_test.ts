/**
 * A live viewer that completes the WebSocket upgrade and then never reads, against the real
 * daemon, its recorder process and a virtual camera serving a pre-encoded 720p H.265 clip at
 * about 11 Mbit/s (so the kernel's socket buffers fill within seconds). The viewer must be
 * dropped within its bound (playback/live_viewer.ts: frames are skipped once 512 KiB wait unsent,
 * and a viewer that stays behind for 10 s is disconnected), while the recording goes on at its
 * pace: every 2 s segment indexed in time, no gap between them, every source frame on disk once
 * (the clip's frame markers); the daemon holds at most its allowance unsent for the viewer, and
 * the recorder process does not grow.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { ensureLoopClip, findFrameMarkers } from "../../hw-tests/sim/loop_clip.ts";
import { readFrames, signIn, upgrade } from "../testing/live_ws_client.ts";
import type { IndexedSegment } from "../storage/mod.ts";
import { daemonRecorderPids, rss } from "../testing/proc.ts";

const MiB = 1024 * 1024;
const FPS = 15;
/** How long the viewer may be behind before it is dropped (live_viewer.ts maxBehindMs). */
const MAX_BEHIND_MS = 10_000;

Deno.test("attack: viewer that never reads — dropped, recording unaffected", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-slow-viewer-" });
  try {
    const size = { width: 1280, height: 720, fps: FPS } as const;
    const clip = await ensureLoopClip(`${dir}/clips`, { ...size, bitrateKbps: 16000, seconds: 4 });
    assert(
      clip.measuredKbps > 6000,
      `a clip that fills buffers fast (${clip.measuredKbps} kbit/s)`,
    );
    await using cam = await startVirtualCamera({ ...size, loopFile: clip.path });
    await using h = await startHarness(
      { cameras: [{ id: "yard", url: cam.rtspUrl, codec: "h265" }] },
      { dir },
    );
    await h.until("yard", (s) => s.state === "recording", "yard records", 30_000);
    const cookie = await signIn(h);
    const origin = `https://127.0.0.1:${h.daemon.listen.port}`;

    // Segment closes as they are indexed: [segment, when this test first saw it].
    const seen = new Map<string, { segment: IndexedSegment; seenAt: number }>();
    const pollIndex = () => {
      for (const s of h.index().range("yard", 0, Date.now() + 60_000)) {
        if (!seen.has(s.path)) seen.set(s.path, { segment: s, seenAt: Date.now() });
      }
    };
    // A warm-up with a viewer that reads, so that the memory baseline holds the live path's
    // steady state (the worker's socket, the muxer, TLS buffers).
    {
      const warm = await upgrade(h, "yard", { Cookie: cookie, Origin: origin }, "h265");
      assertMatch(warm.head, /^HTTP\/1\.1 101/);
      const r = await readFrames(warm.conn, warm.rest, 4 * MiB, 20_000);
      warm.conn.close();
      assert(r.binary >= 4 * MiB, `the warm-up viewer got pictures (${r.binary} B)`);
    }
    const workers = daemonRecorderPids(h.daemon.recorders);
    assertEquals(workers.length, 1, "one recorder process");
    const worker = workers[0]!;
    const baseline = await rss(worker);
    let peak = baseline;
    pollIndex();
    const before = new Set(seen.keys());

    // The attack: upgrade, then never read.
    const t0 = Date.now();
    const stuck = await upgrade(h, "yard", { Cookie: cookie, Origin: origin }, "h265");
    assertMatch(stuck.head, /^HTTP\/1\.1 101/);
    const dropped = () =>
      h.log.lines.find((l) => l.msg === "live viewer dropped" && l.camera === "yard");
    // Bounded: 10 s behind, plus the time to fill the socket buffers (~1 MB of kernel buffers
    // and 512 KiB in the daemon at ~1.4 MB/s), with generous headroom for a loaded machine.
    const deadline = t0 + MAX_BEHIND_MS + 30_000;
    while (!dropped() && Date.now() < deadline) {
      pollIndex();
      peak = Math.max(peak, await rss(worker));
      await new Promise((r) => setTimeout(r, 200));
    }
    const drop = dropped();
    const droppedAfter = Date.now() - t0;
    assert(drop, `the viewer that never reads was dropped within ${deadline - t0} ms`);
    assertMatch(String(drop.reason), /could not keep up for 10 s/);
    // Two more segments after the drop, so the stuck period is closed on disk.
    const more = Date.now() + 10_000;
    while (Date.now() < more) {
      pollIndex();
      const after = [...seen.values()].filter((x) => x.segment.startMs > t0 + droppedAfter);
      if (after.length >= 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    // The client reads at last: the pictures it was sent, then the reason and the close.
    const rest = await readFrames(stuck.conn, stuck.rest, () => false, 20_000);
    stuck.conn.close();
    assert(rest.closed, "the server closed the connection");
    assertEquals(rest.closeCode, 4002, "closed as too slow");
    assert(
      rest.texts.some((t) => /could not keep up/.test(JSON.parse(t).reason ?? "")),
      `the reason was sent before the close: ${rest.texts.slice(-2).join(" ")}`,
    );

    // Recording kept its pace while the viewer was stuck: segments in order, no gap, in time.
    const during = [...seen.values()]
      .filter((x) => !before.has(x.segment.path))
      .sort((a, b) => a.segment.startMs - b.segment.startMs);
    const spanMs = (during.at(-1)?.segment.endMs ?? 0) - (during[0]?.segment.startMs ?? 0);
    assert(
      spanMs >= droppedAfter - 2_000,
      `segments cover the stuck period (${spanMs} ms of ${droppedAfter} ms)`,
    );
    let frames = 0;
    const markers: number[] = [];
    const late: string[] = [];
    for (let i = 0; i < during.length; i++) {
      const { segment, seenAt } = during[i]!;
      const prev = during[i - 1]?.segment;
      if (prev) {
        const gap = segment.startMs - prev.endMs;
        assert(Math.abs(gap) <= 100, `no gap before ${segment.path} (${gap} ms)`);
      }
      // Indexed within a segment's length of its end (the poll runs every 200 ms).
      if (seenAt - segment.endMs > 2_000) late.push(`${segment.path}: ${seenAt - segment.endMs}`);
      const found = findFrameMarkers(await Deno.readFile(`${dir}/data/${segment.path}`));
      const expected = (segment.endMs - segment.startMs) * FPS / 1000;
      assert(
        Math.abs(found.length - expected) <= 1,
        `${segment.path}: ${found.length} frames for ${segment.endMs - segment.startMs} ms`,
      );
      frames += found.length;
      markers.push(...found);
    }
    assertEquals(late, [], "no segment indexed late");
    // Every source frame once, in order (the clip loops every clip.frames frames).
    const steps = markers.slice(1).map((m, i) =>
      ((m - markers[i]!) % clip.frames + clip.frames) % clip.frames
    );
    assertEquals(steps.filter((s) => s !== 1).length, 0, "no frame lost or repeated");

    // Memory. The recorder process: its RSS (one copy of the stream goes to the daemon however
    // the viewer reads). The daemon: what waited unsent on the viewer's socket at most, by its
    // own count (WebSocket.bufferedAmount: Deno copies what `send` is given), against what a
    // queue without a bound would hold by the drop. The daemon's RSS is no measure here: its
    // heap and ArrayBuffers swing by 100+ MiB with the garbage of 1.4 MB/s of pictures until a
    // collection runs, and in a test process shared with other tests by what those left.
    const unsentPeak = Number(drop.unsentPeak);
    const wouldQueue = clip.measuredKbps * 1000 / 8 * droppedAfter / 1000;
    const workerGrowth = peak - baseline;
    console.log(
      `slow viewer: dropped after ${droppedAfter} ms; ${during.length} segments, ${frames} ` +
        `frames, none late or lost; unsent at most ${(unsentPeak / MiB).toFixed(2)} MiB (a ` +
        `queue without a bound: ${(wouldQueue / MiB).toFixed(1)} MiB); recorder RSS ` +
        `+${(workerGrowth / MiB).toFixed(1)} MiB`,
    );
    // The allowance (512 KiB) plus one frame of this clip (its keyframes are ~0.3 MiB).
    assert(unsentPeak <= 1.5 * MiB, `the daemon held at most ${unsentPeak} B for the viewer`);
    assert(workerGrowth < 12 * MiB, `recorder process memory bounded (+${workerGrowth} B)`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/**
 * The byte budget against real recordings: two virtual cameras (a noisy pre-encoded clip at
 * 3 Mbit/s each, so the budget is passed within seconds) recorded by the daemon's recorder
 * processes, `storage.maxBytes` far below what they write, the index's totals sampled meanwhile.
 */
import { assert } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { ensureLoopClip } from "../../hw-tests/sim/loop_clip.ts";

const MiB = 1024 * 1024;

Deno.test("the byte budget holds when segments close: recordings stay within storage.maxBytes plus one segment per camera", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-budget-" });
  try {
    const size = { width: 320, height: 240, fps: 15 } as const;
    const clip = await ensureLoopClip(`${dir}/clips`, { ...size, bitrateKbps: 3000, seconds: 2 });
    await using a = await startVirtualCamera({ ...size, loopFile: clip.path });
    await using b = await startVirtualCamera({ ...size, loopFile: clip.path });
    // Retention's timed sweep runs at start and then every 60 s: within this test only the check
    // when a segment closes can keep the budget.
    await using h = await startHarness({
      storage: { maxBytes: "1M" },
      cameras: [{ id: "a", url: a.rtspUrl }, { id: "b", url: b.rtspUrl }],
    }, { dir });
    let most = 0;
    const largest = new Map<string, number>();
    const seen = new Map<string, number>(); // every segment indexed, by path
    const deadline = Date.now() + 45_000;
    const written = () => [...seen.values()].reduce((sum, x) => sum + x, 0);
    // Until the cameras have written four budgets' worth (bounded in time).
    while (written() < 4 * MiB && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const totals = h.index().totals();
      most = Math.max(most, totals.reduce((sum, t) => sum + t.bytes, 0));
      for (const camera of ["a", "b"]) {
        for (const s of h.index().range(camera, 0, Date.now() + 1)) {
          seen.set(s.path, s.bytes);
          largest.set(camera, Math.max(largest.get(camera) ?? 0, s.bytes));
        }
      }
    }
    assert(written() >= 4 * MiB, `four budgets' worth written in time (${written()} B)`);
    const bound = MiB + [...largest.values()].reduce((sum, x) => sum + x, 0);
    assert(most <= bound, `at most ${bound} B indexed (1 MiB + one segment per camera): ${most} B`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

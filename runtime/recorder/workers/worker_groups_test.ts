import { assertEquals } from "../../testing/assert.ts";
import type { PlannedCamera } from "../supervisor/recorder_set.ts";
import { groupCameras } from "./worker_pool.ts";

const planned = (id: string, mode: "passthrough" | "encode"): PlannedCamera => ({
  camera: { id } as PlannedCamera["camera"],
  plan: { mode, codec: "h265", encoder: null, decoder: null, reason: "", launch: "" },
});

Deno.test("built-in remux cameras share bigger processes than GStreamer ones", () => {
  const cameras = [
    ...Array.from({ length: 5 }, (_, i) => planned(`b${i}`, "passthrough")),
    ...Array.from({ length: 3 }, (_, i) => planned(`g${i}`, "encode")),
  ];
  const groups = groupCameras(cameras, 2, 4, (c) => c.plan.mode === "passthrough");
  assertEquals(groups.map((g) => g.map((c) => c.camera.id)), [
    ["b0", "b1", "b2", "b3"],
    ["b4"],
    ["g0", "g1"],
    ["g2"],
  ]);
  assertEquals(groupCameras(cameras, 3).map((g) => g.length), [3, 3, 2]);
});

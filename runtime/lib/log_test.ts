import { assertEquals } from "../testing/assert.ts";
import { createLogger } from "./log.ts";

Deno.test("log lines are JSON with level, module and fields; below-level lines are dropped", () => {
  const lines: string[] = [];
  const log = createLogger({
    level: "info",
    sink: (l) => lines.push(l),
    fields: { module: "recorder" },
    now: () => 0,
  });
  log.debug("hidden");
  log.child({ camera: "cam1" }).warn("stalled", { err: new Error("boom"), bytes: 3n });
  assertEquals(lines.map((l) => JSON.parse(l)), [{
    ts: "1970-01-01T00:00:00.000Z",
    level: "warn",
    module: "recorder",
    camera: "cam1",
    msg: "stalled",
    err: { name: "Error", message: "boom" },
    bytes: "3",
  }]);
});

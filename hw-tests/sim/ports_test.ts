import { assert, assertEquals } from "../../runtime/testing/assert.ts";
import { freePort, freePorts } from "./ports.ts";

Deno.test("freePort/freePorts return distinct ports that can be bound", () => {
  const ports = freePorts(3);
  assertEquals(new Set(ports).size, 3);
  const p = freePort();
  assert(p > 0 && p < 65536);
  const l = Deno.listen({ hostname: "127.0.0.1", port: p });
  l.close();
});

import { assertEquals } from "../testing/assert.ts";
import { createApp } from "./app.ts";

Deno.test("GET /healthz answers without auth and without detail", async () => {
  const app = createApp({ uptimeSeconds: () => 12 });
  const res = await app.request("/healthz");
  assertEquals(res.status, 200);
  assertEquals(await res.json(), { status: "ok", uptimeSeconds: 12 });
});

Deno.test("unknown routes get the JSON error shape", async () => {
  const res = await createApp({ uptimeSeconds: () => 0 }).request("/nope");
  assertEquals(res.status, 404);
  assertEquals(await res.json(), { error: { code: "not_found", message: "No such route" } });
});

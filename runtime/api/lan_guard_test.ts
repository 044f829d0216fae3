import { Hono } from "hono";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { PASSWORD, withApi } from "../testing/auth_app.ts";
import { lanGuard } from "./lan_guard.ts";
import { createApp } from "./app.ts";
import { ownNames } from "./own_names.ts";

/** A tiny app behind the guard: what passes reaches the route. */
function guarded(hosts: string[]): Hono {
  const app = new Hono();
  app.use("*", lanGuard({ allowedHosts: () => new Set(hosts) }));
  app.get("/healthz", (c) => c.text("ok"));
  app.all("/api/thing", (c) => c.json({ reached: true }));
  return app;
}

Deno.test("attack: DNS rebinding — request with a foreign Host header", async () => {
  const app = guarded(["localhost", "127.0.0.1", "::1", "192.168.1.5", "nvr.local"]);
  const foreign = await app.request("http://192.168.1.5/api/thing", {
    headers: { host: "evil.example:8443" },
  });
  assertEquals(foreign.status, 421);
  const body = await foreign.json();
  assertEquals(body.error.code, "host_not_allowed");
  assertMatch(body.error.message, /evil\.example:8443.*http\.allowedHosts/);
  // Garbage in Host is refused too, not parsed into something allowed.
  const junk = await app.request("/api/thing", { headers: { host: "a b@127.0.0.1" } });
  assertEquals(junk.status, 421);
  // The box's own names pass, with or without a port, in any case, IPv6 in brackets.
  for (const host of ["192.168.1.5:8443", "NVR.local", "nvr.local.", "[::1]:8443", "localhost"]) {
    const res = await app.request("/api/thing", { headers: { host } });
    assertEquals(res.status, 200, host);
  }
  // Liveness answers whatever name a monitor uses.
  assertEquals((await app.request("/healthz", { headers: { host: "evil.example" } })).status, 200);
  // The whole API app is behind it: the page and the API refuse a rebound name.
  const api = createApp({ uptimeSeconds: () => 1, allowedHosts: () => new Set(["nvr.local"]) });
  for (const path of ["/", "/api/openapi.json", "/nope"]) {
    const res = await api.request(`http://evil.example${path}`);
    assertEquals(res.status, 421, path);
  }
  assertEquals((await api.request("http://evil.example/healthz")).status, 200);
  assertEquals((await api.request("http://nvr.local/")).status, 200);
});

Deno.test("attack: cross-site login post with Content-Type text/plain", async () => {
  await withApi(async (f) => {
    await f.setupAdmin();
    const body = JSON.stringify({ email: "admin@example.org", password: PASSWORD });
    // What a foreign page's <form enctype="text/plain"> or fetch(no-cors) can send: no preflight.
    const res = await f.app.request("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "text/plain", origin: "http://evil.example" },
      body,
    });
    assertEquals(res.status, 403);
    assertEquals(res.headers.get("set-cookie"), null);
    // Even from the box's own origin, a text/plain body is refused: JSON only.
    const plain = await f.app.request("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "text/plain;charset=UTF-8", origin: "http://localhost" },
      body,
    });
    assertEquals(plain.status, 415);
    assertMatch((await plain.json()).error.message, /application\/json/);
    const noType = await f.app.request("/api/setup", { method: "POST", body });
    assertEquals(noType.status, 415);
    const form = await f.app.request("/api/setup", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "name=x",
    });
    assertEquals(form.status, 415);
    // The page's own JSON login still works.
    const ok = await f.app.request("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://localhost" },
      body,
    });
    assertEquals(ok.status, 200);
  });
});

Deno.test("attack: cross-site state-changing request with a foreign Origin", async () => {
  const app = guarded(["localhost", "192.168.1.5"]);
  const json = { "content-type": "application/json" };
  for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
    for (const origin of ["http://evil.example", "null", "https://192.168.1.5.evil.example"]) {
      const res = await app.request("/api/thing", {
        method,
        headers: { ...json, origin },
        body: "{}",
      });
      assertEquals(res.status, 403, `${method} from ${origin}`);
      const err = (await res.json()).error;
      assertEquals(err.code, "cross_origin");
      assertMatch(err.message, /http\.allowedHosts/);
    }
  }
  // The real API: first-admin setup posted from a foreign page is refused before it runs.
  await withApi(async (f) => {
    const res = await f.app.request("/api/setup", {
      method: "POST",
      headers: { ...json, origin: "http://evil.example" },
      body: JSON.stringify({ name: "Eve", email: "eve@example.org", password: PASSWORD }),
    });
    assertEquals(res.status, 403);
    assertEquals(f.users.count(), 0);
  });
  // A browser that says the request is cross-site is refused even without Origin.
  const fetchMeta = await app.request("/api/thing", {
    method: "POST",
    headers: { ...json, "sec-fetch-site": "cross-site" },
    body: "{}",
  });
  assertEquals(fetchMeta.status, 403);
  // Own origins (any scheme and port of an own name) and non-browser clients pass.
  for (
    const headers of [{ origin: "https://192.168.1.5:8443" }, { origin: "http://localhost" }, {}]
  ) {
    const res = await app.request("/api/thing", {
      method: "POST",
      headers: { ...json, ...headers },
      body: "{}",
    });
    assertEquals(res.status, 200, JSON.stringify(headers));
  }
  // A body-less POST (logout) needs no content type; reading is never refused for Origin.
  assertEquals((await app.request("/api/thing", { method: "POST" })).status, 200);
  const read = await app.request("/api/thing", { headers: { origin: "http://evil.example" } });
  assertEquals(read.status, 200);
});

Deno.test("own names: loopback, listen address, hostname and .local, interfaces, extras", () => {
  const names = ownNames({
    listenHost: "0.0.0.0",
    extra: ["NVR.Example.com."],
    hostname: () => "shopfront.lan",
    addresses: () => ["192.168.1.5", "fe80::1%eth0", "::1"],
  });
  for (
    const n of [
      "localhost",
      "127.0.0.1",
      "::1",
      "shopfront.lan",
      "shopfront",
      "shopfront.local",
      "192.168.1.5",
      "fe80::1",
      "nvr.example.com",
    ]
  ) {
    assert(names.has(n), `${n} in ${[...names]}`);
  }
  assert(!names.has("0.0.0.0"));
  assert(ownNames({ listenHost: "10.0.0.2", addresses: () => [] }).has("10.0.0.2"));
  // The real machine: its own hostname and interfaces are there.
  const real = ownNames({ listenHost: "0.0.0.0" });
  assert(real.has(Deno.hostname().toLowerCase()));
  for (const i of Deno.networkInterfaces()) assert(real.has(i.address.replace(/%.*$/, "")));
});

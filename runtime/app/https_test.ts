/**
 * The LAN listener of the real daemon: HTTPS by default with the box's own certificate, plain
 * HTTP only redirecting, the certificate kept across restarts and reported to the fleet.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { fingerprintPem } from "../tls/self_signed.ts";

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
/** A plain HTTP/1.1 GET with any Host header (fetch sets its own). */
async function rawGet(port: number, host: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
  );
  return await new Response(conn.readable).text(); // the server closes: the stream ends
}

const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };

Deno.test("attack: passwords sniffed on the LAN (plain HTTP only redirects; cookie is Secure)", async () => {
  await using h = await startHarness({
    http: { listen: "127.0.0.1:0", redirectListen: "127.0.0.1:0" },
  });
  const { listen, redirect } = h.daemon;
  assertEquals(listen.scheme, "https");
  assert(redirect, "the plain-HTTP redirect listener runs");
  const plain = `http://127.0.0.1:${redirect.port}`;

  // A login sent in clear is answered with a redirect and nothing else: no session, no data.
  const sniffable = await fetch(`${plain}/api/auth/login`, {
    ...json({ email: admin.email, password: admin.password }),
    redirect: "manual",
  });
  assertEquals(sniffable.status, 308);
  assertEquals(
    sniffable.headers.get("location"),
    `https://127.0.0.1:${listen.port}/api/auth/login`,
  );
  assertEquals(sniffable.headers.get("set-cookie"), null);
  assertEquals(await sniffable.text(), "");
  for (const path of ["/", "/api/setup", "/app.js"]) {
    const res = await fetch(plain + path, { redirect: "manual" });
    assertEquals(res.status, 308, path);
    await res.body?.cancel();
  }
  // Liveness stays plain for monitors; a rebound name gets no redirect.
  const health = await fetch(`${plain}/healthz`);
  assertEquals((await health.json()).status, "ok");
  const rebound = await rawGet(redirect.port, "evil.example");
  assertMatch(rebound, /^HTTP\/1\.1 421 /);
  assertMatch(rebound, /http\.allowedHosts/);

  // The API's own port speaks only TLS: plain HTTP there gets no answer at all.
  const clear = await fetch(`http://127.0.0.1:${listen.port}/healthz`).then(
    async (r) => `answered ${r.status}: ${await r.text()}`,
    () => "refused",
  );
  assertEquals(clear, "refused");

  // Over HTTPS the session cookie is Secure (and still HttpOnly, SameSite=Strict).
  using https = daemonHttps(h.daemon);
  const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
  const claim = { ...admin, setupCode, acceptPrivacyNotice: true };
  assertEquals((await https.fetch("/api/setup", json(claim))).status, 201);
  const login = await https.fetch(
    "/api/auth/login",
    json({ email: admin.email, password: admin.password }),
  );
  assertEquals(login.status, 200);
  await login.body?.cancel();
  const cookie = login.headers.get("set-cookie") ?? "";
  assertMatch(cookie, /^nvr_session=/);
  assertMatch(cookie, /; Secure/);
  assertMatch(cookie, /HttpOnly/);
  assertMatch(cookie, /SameSite=Strict/);
});

Deno.test("HTTPS certificate: made at first start, reused after a restart, key 0600, fingerprint logged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-https-" });
  try {
    const tlsDir = `${dir}/data/tls`;
    let first: string;
    {
      await using h = await startHarness({}, { dir });
      first = h.daemon.tls!.fingerprint;
      assertMatch(first, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assertEquals(await fingerprintPem(await Deno.readTextFile(`${tlsDir}/cert.pem`)), first);
      assertEquals((await Deno.stat(`${tlsDir}/key.pem`)).mode! & 0o777, 0o600);
      assertEquals((await Deno.stat(tlsDir)).mode! & 0o777, 0o700);
      const line = h.log.lines.find((l) => String(l.msg).startsWith("https certificate sha256:"));
      assertEquals(line?.msg, `https certificate sha256: ${first}`);
      assertEquals(line?.created, true);
      using https = daemonHttps(h.daemon);
      assertEquals((await https.fetch("/healthz")).status, 200);
    }
    const key = await Deno.readTextFile(`${tlsDir}/key.pem`);
    await Deno.chmod(`${tlsDir}/key.pem`, 0o644); // someone widened it: the next start narrows it
    {
      await using h = await startHarness({}, { dir });
      assertEquals(h.daemon.tls!.fingerprint, first);
      assertEquals(await Deno.readTextFile(`${tlsDir}/key.pem`), key);
      assertEquals((await Deno.stat(`${tlsDir}/key.pem`)).mode! & 0o777, 0o600);
      const line = h.log.lines.find((l) => String(l.msg).startsWith("https certificate sha256:"));
      assertEquals(line?.created, false);
      // The certificate in the data folder is what a client trusts: nothing else is needed.
      using https = daemonHttps(h.daemon);
      const res = await https.fetch("/healthz");
      assertEquals((await res.json()).status, "ok");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the fleet state carries the HTTPS certificate fingerprint (real Mosquitto)", async () => {
  await using broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await using cloud = await CloudClient.connect(url, ["nvr/v1/+/state"]);
  await using h = await startHarness({ mqtt: { url } });
  const base = `nvr/v1/${h.daemon.deviceId}`;
  const birth = await cloud.waitFor(
    "birth",
    (m) => m.find((x) => x.topic === `${base}/state` && x.json?.state === "online"),
  );
  assertEquals(birth.json?.httpsFingerprint, h.daemon.tls!.fingerprint);
  assertEquals(
    birth.json?.httpsFingerprint,
    await fingerprintPem(await Deno.readTextFile(`${h.dir}/data/tls/cert.pem`)),
  );
});

Deno.test("http.tls off: plain HTTP, no certificate, nothing in the fleet state", async () => {
  await using h = await startHarness({ http: { listen: "127.0.0.1:0", tls: "off" } });
  assertEquals(h.daemon.listen.scheme, "http");
  assertEquals(h.daemon.tls, null);
  const res = await fetch(`http://127.0.0.1:${h.daemon.listen.port}/healthz`);
  assertEquals(res.status, 200);
  await res.body?.cancel();
  assert(h.log.lines.some((l) => /http\.tls is off/.test(String(l.msg))));
});

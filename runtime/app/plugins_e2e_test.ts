/**
 * Plugins through the real daemon's API over a real socket: an admin installs an archive with its
 * SHA-256, enables and configures it (saved in the config file through the one writer, checked
 * against the manifest's schema), sees its readings, its sensor-alarm reaches the events, and
 * removes it; every change audited. Viewers, missing CSRF tokens and paths are refused.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { daemonHttps } from "../testing/https_client.ts";
import { pluginCode, removeTree, waitFor, writePlugin } from "../plugins/plugin_fixture.ts";
import { sha256Hex } from "../plugins/mod.ts";

const MANIFEST = {
  id: "probe",
  name: "Probe",
  version: "1.0.0",
  settings: { level: { type: "number", default: 1, min: 0, max: 100 } },
};
const CODE = pluginCode(`
  ctx.reading("level", ctx.settings.level, "%");
  ctx.event("sensor-alarm", { sensor: "door", reason: "door open", value: true });
  await new Promise((r) => ctx.signal.addEventListener("abort", r));`);

async function tarGz(dir: string): Promise<Uint8Array> {
  const out = await new Deno.Command("tar", {
    args: [
      "-czf",
      "-",
      "-C",
      dir.slice(0, dir.lastIndexOf("/")),
      dir.slice(dir.lastIndexOf("/") + 1),
    ],
    stdout: "piped",
  })
    .output();
  assert(out.success, "tar made the archive");
  return out.stdout;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

async function signedIn(h: Awaited<ReturnType<typeof startHarness>>) {
  const https = daemonHttps(h.daemon);
  const send = async (method: string, path: string, body?: unknown, headers = {}) => {
    const res = await https.fetch(path, {
      method,
      headers: { "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };
  const setupCode = (await Deno.readTextFile(`${h.dir}/data/setup-code`)).trim();
  assertEquals(
    (await send("POST", "/api/setup", { ...admin, setupCode, acceptPrivacyNotice: true })).status,
    201,
  );
  const login = await https.fetch("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: admin.email, password: admin.password }),
  });
  const { csrfToken } = await login.json();
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  return { https, send, headers: { cookie, "x-csrf-token": csrfToken }, cookie };
}

Deno.test("plugins over the API: install an archive, enable, configure, readings, sensor-alarm in the events, remove; audited", async () => {
  const work = await Deno.makeTempDir({ prefix: "plugins-e2e-" });
  await Deno.writeTextFile(`${work}/config.json`, "{}\n");
  await using h = await startHarness({ cameras: [] }, { configPath: `${work}/config.json` });
  const { https, send, headers } = await signedIn(h);
  try {
    const src = await writePlugin(work, MANIFEST, CODE);
    const archive = await tarGz(src);
    const sha256 = await sha256Hex(archive);

    const wrong = await send("POST", "/api/plugins", {
      archive: base64(archive),
      sha256: "0".repeat(64),
    }, headers);
    assertEquals(wrong.status, 400);
    assertMatch(wrong.body.error.message, /SHA-256 is [0-9a-f]{64}, not the/);

    const installed = await send(
      "POST",
      "/api/plugins",
      { archive: base64(archive), sha256 },
      headers,
    );
    assertEquals(installed.status, 201, JSON.stringify(installed.body));
    assertEquals(installed.body, { id: "probe", version: "1.0.0" });
    const listed = await send("GET", "/api/plugins", undefined, headers);
    assertEquals(listed.body.plugins.map((p: { id: string; state: string }) => [p.id, p.state]), [
      ["probe", "disabled"],
    ]);

    // A setting the manifest refuses: named, nothing saved.
    const bad = await send(
      "PUT",
      "/api/plugins/probe",
      { enabled: true, settings: { level: 500 } },
      headers,
    );
    assertEquals(bad.status, 400);
    assertMatch(
      bad.body.error.message,
      /plugins\.probe\.settings: plugin 'probe': setting level: 500 is above 100/,
    );
    assertEquals(JSON.parse(await Deno.readTextFile(`${work}/config.json`)).plugins ?? {}, {});

    const on = await send(
      "PUT",
      "/api/plugins/probe",
      { enabled: true, settings: { level: 42 } },
      headers,
    );
    assertEquals(on.status, 200, JSON.stringify(on.body));
    assertEquals(JSON.parse(await Deno.readTextFile(`${work}/config.json`)).plugins, {
      probe: { enabled: true, settings: { level: 42 }, cameras: [], keepMinutes: 0 },
    });
    await pollList(send, headers);

    // The plugin's sensor-alarm reaches the event index and the API's history.
    const recent = await waitFor(
      "sensor-alarm in /api/events/recent",
      () => h.index().recentEvents(50).find((e) => e.kind === "sensor-alarm"),
    );
    assertEquals(recent.detail, {
      plugin: "probe",
      sensor: "door",
      reason: "door open",
      value: true,
    });
    const events = await send("GET", "/api/events/recent?limit=50", undefined, headers);
    assert(
      events.body.events.some((e: { kind: string }) => e.kind === "sensor-alarm"),
      "sensor-alarm in /api/events/recent",
    );

    const removed = await send("DELETE", "/api/plugins/probe", undefined, headers);
    assertEquals(removed.status, 204);
    assertEquals((await send("GET", "/api/plugins", undefined, headers)).body.plugins, []);
    assertEquals(JSON.parse(await Deno.readTextFile(`${work}/config.json`)).plugins, {});

    const audit = await send("GET", "/api/audit?limit=50", undefined, headers);
    const actions = audit.body.entries.map((e: { action: string; outcome: string }) =>
      `${e.action} ${e.outcome}`
    );
    for (
      const a of [
        "plugin.install failed",
        "plugin.install ok",
        "plugin.enable failed",
        "plugin.enable ok",
        "plugin.remove ok",
      ]
    ) assert(actions.includes(a), `${a} audited: ${actions}`);
  } finally {
    https[Symbol.dispose]();
    await removeTree(work);
  }
});

type Send = (
  m: string,
  p: string,
  b?: unknown,
  h?: Record<string, string>,
  // deno-lint-ignore no-explicit-any
) => Promise<{ body: any }>;

/** Polls the list until the plugin runs and reports level 42. */
async function pollList(
  send: Send,
  headers: Record<string, string>,
): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = (await send("GET", "/api/plugins", undefined, headers)).body.plugins[0];
    if (p?.state === "running" && p.readings.some((r: { value: unknown }) => r.value === 42)) {
      return true;
    }
    if (Date.now() > deadline) throw new Error(`plugin never reported: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("attack: plugin installed by a viewer — refused", async () => {
  await using h = await startHarness({ cameras: [] });
  const { https, send, headers } = await signedIn(h);
  try {
    const viewer = {
      name: "Vic",
      email: "vic@example.com",
      password: "another long secret",
      role: "viewer",
      cameras: [],
    };
    assertEquals((await send("POST", "/api/users", viewer, headers)).status, 201);
    const vlogin = await https.fetch("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: viewer.email, password: viewer.password }),
    });
    const { csrfToken } = await vlogin.json();
    const vheaders = {
      cookie: (vlogin.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
      "x-csrf-token": csrfToken,
    };
    const refused = await send("POST", "/api/plugins", { shipped: "w1-temperature" }, vheaders);
    assertEquals(refused.status, 403);
    assertEquals((await send("GET", "/api/plugins", undefined, vheaders)).status, 403);
    assertEquals(h.daemon.plugins.statuses(), []);
  } finally {
    https[Symbol.dispose]();
  }
});

Deno.test("attack: plugin installed without the CSRF token or from a path — refused", async () => {
  await using h = await startHarness({ cameras: [] });
  const { https, send, headers, cookie } = await signedIn(h);
  try {
    assertEquals(
      (await send("POST", "/api/plugins", { shipped: "w1-temperature" }, { cookie })).status,
      403,
    );
    const path = await send("POST", "/api/plugins", { shipped: "../../../etc" }, headers);
    assertEquals(path.status, 400);
    assertMatch(path.body.error.message, /a name, not a path/);
    const folder = await send("POST", "/api/plugins", { folder: "/tmp" }, headers);
    assertEquals(folder.status, 400);
    assertEquals(h.daemon.plugins.statuses(), []);
    // A folder the image ships, by name, is fine.
    const shipped = await send("POST", "/api/plugins", { shipped: "w1-temperature" }, headers);
    assertEquals(shipped.status, 201, JSON.stringify(shipped.body));
  } finally {
    https[Symbol.dispose]();
  }
});

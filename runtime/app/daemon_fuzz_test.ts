/**
 * A fuzz pass over the real daemon (issue 12): seeded malformed and hostile payloads
 * (runtime/testing/fuzz.ts) sent to its fleet link through a real Mosquitto (`cmd/<id>` and
 * `config/desired`) and to the local API routes that take a body, signed in as admin and
 * anonymous. Afterwards the daemon still answers, every command got exactly one result, and
 * nothing changed: the config file byte for byte, users, contacts, cameras, the config version.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Fuzzer, type FuzzPayload } from "../testing/fuzz.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { type DaemonHttps, daemonHttps } from "../testing/https_client.ts";

/** The seed; a failure names it, so the same payloads can be sent again. */
const SEED = 20261212;
const COMMANDS = 1_000;
const DESIRED = 200;
const BODIES = 1_000;
const CONCURRENCY = 8;

interface ApiAnswer {
  readonly status: number;
  readonly json: Record<string, unknown> | null;
}

/** Who sends an API request: nobody, or a signed-in browser session. */
type Caller = { readonly cookie: string; readonly csrf: string } | null;

/**
 * The one way this test talks to the API: over HTTPS to the daemon's listener, trusting only its
 * own certificate.
 */
async function sendApi(
  api: DaemonHttps,
  method: string,
  path: string,
  body: Uint8Array | string | null,
  caller: Caller,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (body !== null) headers["content-type"] = "application/json";
  if (caller) Object.assign(headers, { cookie: caller.cookie, "x-csrf-token": caller.csrf });
  const res = await api.fetch(path, {
    method,
    headers,
    ...(body === null ? {} : { body: body as BodyInit }),
  });
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch { /* not JSON */ }
  return { status: res.status, json };
}

/** First-run setup of the admin (with the box's setup code), then a signed-in session. */
async function signInAdmin(api: DaemonHttps, dataDir: string): Promise<Exclude<Caller, null>> {
  const admin = { name: "Ada", email: "ada@example.com", password: "correct horse battery" };
  const setupCode = (await Deno.readTextFile(`${dataDir}/setup-code`)).trim();
  const claim = { ...admin, setupCode, acceptPrivacyNotice: true };
  const setup = await sendApi(api, "POST", "/api/setup", JSON.stringify(claim), null);
  assertEquals(setup.status, 201, JSON.stringify(setup.json));
  const res = await api.fetch("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: admin.email, password: admin.password }),
  });
  assertEquals(res.status, 200);
  const { csrfToken } = await res.json();
  return { cookie: (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "", csrf: csrfToken };
}

/** Routes that take a body, with the fields they know. Logout and deletions are left out. */
const ROUTES: readonly { method: string; path: string; fields: readonly string[] }[] = [
  { method: "POST", path: "/api/setup", fields: ["name", "email", "password"] },
  { method: "POST", path: "/api/auth/login", fields: ["email", "password"] },
  { method: "POST", path: "/api/invites/accept", fields: ["token", "name", "password"] },
  { method: "POST", path: "/api/users", fields: ["name", "email", "role", "cameras", "password"] },
  { method: "PATCH", path: "/api/users/1", fields: ["name", "role", "cameras", "disabled"] },
  { method: "PUT", path: "/api/config", fields: ["cameras", "mqtt", "storage", "http"] },
  { method: "POST", path: "/api/cameras", fields: ["id", "url", "name", "codec", "enabled"] },
  { method: "PATCH", path: "/api/cameras/door", fields: ["name", "url", "enabled", "id"] },
  { method: "PATCH", path: "/api/me", fields: ["name", "email", "password", "currentPassword"] },
  { method: "POST", path: "/api/me/tokens", fields: ["name"] },
  { method: "POST", path: "/api/contacts", fields: ["name", "email", "phone"] },
  { method: "PATCH", path: "/api/contacts/1", fields: ["name", "email", "phone"] },
  { method: "POST", path: "/api/invites", fields: ["role", "cameras", "email"] },
  { method: "POST", path: "/api/recordings/lock", fields: ["camera", "from", "to", "locked"] },
];

/** Runs `work` over `items` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

Deno.test("fuzz: 1000 malformed fleet commands and 1000 malformed API bodies change nothing", async () => {
  const started = Date.now();
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-fuzz-" });
  const raw = {
    http: { listen: "127.0.0.1:0" },
    mqtt: { url: broker.url },
    recording: { camerasPerProcess: 0 },
    // Nothing listens there: the camera retries quietly, and no video work loads the cores.
    cameras: [{ id: "door", url: "rtsp://127.0.0.1:1/main" }],
    storage: { dataDir: `${dir}/data`, segmentSeconds: 2, minFreeBytes: "1M", minFreePercent: 0 },
  };
  const configPath = `${dir}/config.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(raw, null, 2) + "\n");
  const configBefore = await Deno.readFile(configPath);
  await using h = await startHarness(raw, { dir, configPath });
  const link = h.daemon.fleet;
  assert(link, "the fleet link started");
  using base = daemonHttps(h.daemon);
  const admin = await signInAdmin(base, `${dir}/data`);
  const prefix = `nvr/v1/${link.deviceId}/`;
  await using cloud = await CloudClient.connect(broker.url, [`${prefix}cmd-result/#`]);
  const deadline = (what: string, ms: number) => {
    if (Date.now() - started > ms) throw new Error(`fuzz: ${what} past ${ms} ms (seed ${SEED})`);
  };

  const snapshot = async () => ({
    users: (await sendApi(base, "GET", "/api/users", null, admin)).json,
    contacts: (await sendApi(base, "GET", "/api/contacts", null, admin)).json,
    config: (await sendApi(base, "GET", "/api/config", null, admin)).json,
    cameras: h.daemon.cameras().map((c) => c.id),
    configVersion: link.status().configVersion,
  });
  await waitFor("the link subscribed", () => link.status().subscribed);
  const before = await snapshot();
  assertEquals((before.users as { users: unknown[] } | null)?.users.length, 1, "the admin");
  assert(before.config?.config, "the running config is read");

  // The fleet side: config/desired first, then the commands; the last command is an apply-config
  // that goes through the same serialised shadow, so its answer means every desired is done.
  const fuzz = new Fuzzer(SEED);
  const desired: FuzzPayload[] = Array.from({ length: DESIRED }, () => fuzz.desired());
  const commands: FuzzPayload[] = Array.from({ length: COMMANDS }, () => fuzz.command(Date.now()));
  // Request ids outside [A-Za-z0-9_.:-]{1,64}: dropped and logged, never answered.
  const badIds = ["a b", "x".repeat(65), "é", "a%2fb", "a/b", "$"];
  await pool(desired, CONCURRENCY, (p) => cloud.publish(`${prefix}config/desired`, p.bytes));
  const ids = commands.map((_, i) => `fz-${i}`);
  await pool(ids, CONCURRENCY, (id) => {
    const i = Number(id.slice(3));
    return cloud.publish(`${prefix}cmd/${id}`, commands[i]!.bytes);
  });
  for (const id of badIds) await cloud.publish(`${prefix}cmd/${id}`, '{"cmd":"ping"}');
  // An empty payload clears a retained command: it is not a command and gets no answer.
  const expected = new Set(ids.filter((_, i) => commands[i]!.bytes.byteLength > 0));
  // Counted as they arrive (the client runs in this process: rescanning every message on every
  // arrival would take the CPU the daemon needs).
  const answers = new Map<string, number>();
  let seen = 0;
  const count = () => {
    for (; seen < cloud.messages.length; seen++) {
      const id = cloud.messages[seen]!.topic.slice(`${prefix}cmd-result/`.length);
      answers.set(id, (answers.get(id) ?? 0) + 1);
    }
    return [...expected].every((id) => answers.has(id));
  };
  await cloud.waitFor(`results of ${expected.size} commands`, count, 40_000).catch((err) => {
    const missing = [...expected].filter((id) => !answers.has(id))
      .map((id) => `${id} (${commands[Number(id.slice(3))]?.kind})`);
    const warnings = h.log.lines.filter((l) => l.level === "warn" || l.level === "error")
      .filter((l) => !String(l.msg).startsWith("fleet config")).slice(-8)
      .map((l) => JSON.stringify(l).slice(0, 300));
    throw new Error(
      `${missing.length} unanswered (seed ${SEED}): ${missing.slice(0, 20).join(", ")}; ` +
        `status ${JSON.stringify(link.status())}; last warnings:\n${warnings.join("\n")}`,
      { cause: err },
    );
  });
  deadline("the fleet commands", 45_000);

  // The API side: half signed in as admin, half anonymous.
  const offenders: string[] = [];
  const statuses = { admin: new Map<number, number>(), anonymous: new Map<number, number>() };
  const bodies = Array.from({ length: BODIES }, (_, i) => {
    const route = fuzz.pick(ROUTES);
    return { route, payload: fuzz.body(route.fields), caller: i % 2 === 0 ? admin : null };
  });
  await pool(bodies, CONCURRENCY, async ({ route, payload, caller }) => {
    const answer = await sendApi(base, route.method, route.path, payload.bytes, caller);
    const who = caller ? "admin" : "anonymous";
    statuses[who].set(answer.status, (statuses[who].get(answer.status) ?? 0) + 1);
    if (answer.status < 400 || answer.status >= 500) {
      offenders.push(
        `${route.method} ${route.path} (${caller ? "admin" : "anonymous"}, ${payload.kind}): ` +
          `${answer.status} ${JSON.stringify(answer.json)?.slice(0, 200)}`,
      );
    }
  });
  deadline("the API bodies", 55_000);

  // Still answering: health, a ping over the fleet.
  const health = await sendApi(base, "GET", "/healthz", null, null);
  assertEquals(health.status, 200);
  await cloud.publish(`${prefix}cmd/fz-ping`, JSON.stringify({ cmd: "ping" }));
  const pong = await cloud.waitFor(
    "pong",
    () => cloud.on(`${prefix}cmd-result/fz-ping`)[0]?.json,
  );
  assertEquals(pong.ok, true);

  // Exactly one answer each, none accepted, none for a bad requestId or an empty payload.
  count();
  const results = cloud.messages.filter((m) => /\/cmd-result\/fz-\d+$/.test(m.topic));
  const repeated = [...answers].filter(([id, n]) => n !== 1 && id !== "fz-ping");
  assertEquals(repeated, [], `one result per command (seed ${SEED})`);
  assertEquals(results.length, expected.size, `no result for an empty payload (seed ${SEED})`);
  assert(expected.size >= 990, `${expected.size} commands with a payload`);
  const accepted = results.filter((m) => m.json?.ok !== false).map((m) => m.topic);
  assertEquals(accepted, [], `every malformed command refused (seed ${SEED})`);
  const codes = new Set(results.map((m) => String(m.json?.code)));
  assert(!codes.has("undefined"), "every refusal has a code");
  for (const id of badIds) assertEquals(cloud.on(`${prefix}cmd-result/${id}`), []);
  assertEquals(offenders, [], `API bodies not refused with a 4xx (seed ${SEED})`);
  // The admin's bodies reached the routes' checks: the session held (no 401/403) throughout.
  const adminStatuses = JSON.stringify([...statuses.admin]);
  assert(!statuses.admin.has(401) && !statuses.admin.has(403), adminStatuses);
  assert((statuses.admin.get(400) ?? 0) > 200, adminStatuses);
  assert((statuses.anonymous.get(401) ?? 0) > 100, JSON.stringify([...statuses.anonymous]));

  // Nothing changed.
  assertEquals(await Deno.readFile(configPath), configBefore, "the config file is unchanged");
  assertEquals(await snapshot(), before);
  assert(Date.now() - started < 58_000, `the fuzz pass took ${Date.now() - started} ms`);
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

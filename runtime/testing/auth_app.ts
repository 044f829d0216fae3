/**
 * Test fixture for the auth API: real users.sqlite and audit.sqlite in a temp folder, a settable
 * clock, recorded events, and `call()` that sends a request through `app.request()` from a given
 * IP and User-Agent with the session cookie, CSRF header or Bearer token.
 */
import type { Hono } from "hono";
import { AuditLog } from "../audit/audit_log.ts";
import { UserStore } from "../users/user_store.ts";
import { createApp } from "../api/app.ts";
import { DEFAULT_CONFIG } from "../config/mod.ts";
import type { AuthDeps } from "../api/auth_context.ts";
import type { SystemDeps } from "../api/system.ts";
import type { ScryptParams } from "../users/password.ts";
import { SetupCode } from "../users/setup_code.ts";

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  cookie?: string;
  csrf?: string;
  bearer?: string;
  ip?: string;
  ua?: string;
  url?: string;
}

export interface Session {
  cookie: string;
  csrf: string;
  userId: number;
}

export interface Fixture {
  app: Hono;
  users: UserStore;
  audit: AuditLog;
  /** The temp folder with the databases (the data folder). */
  dir: string;
  /** The one-time setup code of this fresh box. */
  setupCode: string;
  /** Closes the databases and opens them again under a new app: a daemon restart. */
  restart(): Promise<void>;
  events: { kind: string; detail: Record<string, unknown> }[];
  clock: { now: number };
  call(method: string, path: string, opts?: CallOptions): Promise<Response>;
  login(email: string, password: string, opts?: CallOptions): Promise<Session>;
  setupAdmin(): Promise<Session>;
  addUser(role: "admin" | "operator" | "viewer", email: string, cameras?: string[]): Promise<
    Session
  >;
}

export const PASSWORD = "a long passphrase";

export interface FixtureOptions {
  /** scrypt cost; default tiny (N=2^10) for speed. */
  scrypt?: ScryptParams;
  /** The data folder; default a new temp folder, removed afterwards. */
  dir?: string;
  /** More auth settings (limits). */
  auth?: Partial<AuthDeps>;
  /** Keep a users-database reserve in the data folder (full-disk tests). */
  reserve?: boolean;
  /** System routes' deps to use instead of the fixture's (e.g. config and ptz). */
  system?: Partial<Omit<SystemDeps, "auth">>;
}

function unavailable(): never {
  throw new Error("no index in the auth fixture");
}

export async function withApi(
  fn: (f: Fixture) => Promise<void>,
  opts: FixtureOptions = {},
): Promise<void> {
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "nvr-auth-" });
  const open = () => ({
    users: UserStore.open(`${dir}/users.sqlite`, {
      scrypt: opts.scrypt ?? { N: 1 << 10, r: 8, p: 1 },
      ...(opts.reserve ? { reserveDir: dir } : {}),
    }),
    audit: AuditLog.open(`${dir}/audit.sqlite`),
  });
  let { users, audit } = open();
  const code = await SetupCode.prepare(dir);
  const events: Fixture["events"] = [];
  const clock = { now: Date.UTC(2026, 0, 1) };
  const build = () =>
    createApp({
      uptimeSeconds: () => 1,
      // The box's names in these tests: app.request's default and the https one (auth_test.ts).
      allowedHosts: () => new Set(["localhost", "nvr.local"]),
      auth: {
        users,
        audit,
        onEvent: (kind, detail) => events.push({ kind, detail }),
        now: () => clock.now,
        secureCookies: "auto",
        setupCode: code,
        ...opts.auth,
      },
      // Mounted so the route-table tests walk every /api route; their data is never reached here.
      recordings: {
        dataDir: dir,
        index: unavailable,
        cameras: () => [],
        snapshot: () => Promise.reject(new Error("no camera here")),
      },
      system: {
        health: () => Promise.reject(new Error("no health here")),
        config: () => DEFAULT_CONFIG,
        updateConfig: async (change) => await change(DEFAULT_CONFIG),
        index: unavailable,
        ...opts.system,
      },
    });
  let app = build();
  const call = async (method: string, path: string, o: CallOptions = {}) => {
    const headers = new Headers({ "User-Agent": o.ua ?? "TestBrowser/1" });
    if (o.cookie) headers.set("Cookie", o.cookie);
    if (o.csrf) headers.set("X-CSRF-Token", o.csrf);
    if (o.bearer) headers.set("Authorization", `Bearer ${o.bearer}`);
    let body: string | undefined = o.rawBody;
    if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers.set("Content-Type", "application/json");
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = body;
    return await f.app.request(o.url ?? path, init, {
      remoteAddr: { hostname: o.ip ?? "192.168.1.10" },
    });
  };
  const login = async (email: string, password: string, o: CallOptions = {}) => {
    const res = await call("POST", "/api/auth/login", { ...o, body: { email, password } });
    if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${await res.text()}`);
    const json = await res.json();
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    return { cookie, csrf: json.csrfToken, userId: json.user.id };
  };
  const f: Fixture = {
    app,
    users,
    audit,
    dir,
    setupCode: code.code,
    restart: () => {
      audit.close();
      users.close();
      ({ users, audit } = open());
      app = build();
      Object.assign(f, { users, audit, app });
      return Promise.resolve();
    },
    events,
    clock,
    call,
    login,
    setupAdmin: async () => {
      const res = await call("POST", "/api/setup", {
        body: {
          name: "Admin",
          email: "admin@example.org",
          password: PASSWORD,
          setupCode: code.code,
          acceptPrivacyNotice: true,
        },
      });
      if (res.status !== 201) throw new Error(`setup: ${res.status} ${await res.text()}`);
      return await login("admin@example.org", PASSWORD);
    },
    addUser: async (role, email, cameras = []) => {
      await f.users.create({
        name: email.split("@")[0] ?? "x",
        email,
        role,
        cameras,
        password: PASSWORD,
      });
      return await login(email, PASSWORD);
    },
  };
  try {
    await fn(f);
  } finally {
    f.audit.close();
    f.users.close();
    if (!opts.dir) await Deno.remove(dir, { recursive: true });
  }
}

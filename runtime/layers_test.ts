/**
 * The import direction of runtime/, as a test (the role Go's `internal/` rule plays): each top
 * folder may import only the folders listed for it, so protocol and container code stays a
 * library, the composition stays on top, and tests' fixtures never reach the shipped code.
 */
import { assertEquals } from "./testing/assert.ts";

/** Each folder of runtime/ and what its shipped (non-test) files may import besides themselves. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  // Libraries: no app code below them.
  std: [],
  media: ["std"],
  lib: ["std"],
  gst: ["std", "lib"],
  // FFI bindings of codec libraries (libopus): like gst/, the only place their symbols live.
  codec_ffi: ["std", "lib"],
  tls: ["std", "lib"],
  onvif: ["std", "lib"],
  // The SNTP server (packets, rate limit, UDP listener): a protocol library like onvif/.
  ntp: ["std", "lib"],
  licence: ["std", "lib"],
  serial: ["std", "lib"],
  config: ["std", "lib", "media"],
  // Services built on them.
  board: ["std", "lib", "config", "gst"],
  storage: ["std", "lib", "config", "media"],
  audit: ["std", "lib", "config", "storage"],
  users: ["std", "lib", "config", "storage"],
  fingerprint: ["std", "lib", "config", "onvif", "board", "storage"],
  health: ["std", "lib", "config", "storage", "board", "fingerprint", "recorder"],
  recorder: ["std", "lib", "config", "media", "gst", "codec_ffi", "board", "storage"],
  playback: ["std", "lib", "config", "media", "gst", "storage"],
  fleet: ["std", "lib", "config", "storage", "health", "fingerprint", "licence", "recorder", "tls"],
  update: ["std", "lib", "fleet"],
  // The plugin host; its SDK (sdk.ts, protocol.ts) runs inside the sandbox and imports nothing.
  plugins: ["std", "lib", "serial"],
  api: [
    "std",
    "lib",
    "config",
    "media",
    "gst",
    "storage",
    "recorder",
    "playback",
    "users",
    "audit",
    "health",
    "onvif",
    "fleet",
    "licence",
    "tls",
    "web",
  ],
  web: [],
  // The composition: anything above, nothing imports it but main.ts.
  app: [
    "std",
    "lib",
    "config",
    "media",
    "gst",
    "codec_ffi",
    "tls",
    "onvif",
    "ntp",
    "licence",
    "board",
    "storage",
    "audit",
    "users",
    "fingerprint",
    "health",
    "recorder",
    "playback",
    "fleet",
    "update",
    "plugins",
    "api",
    "web",
  ],
  "main.ts": ["app", "config", "lib"],
  // The fleet console and simulator (deno task fleet): the operator's side, never in the daemon
  // (nothing above lists it); the simulator runs the daemon's real fleet link.
  fleet_console: ["std", "lib", "config", "fleet", "fingerprint", "licence"],
  // Test fixtures may use anything; only tests, benchmarks and hw-tests may import them.
  testing: ["*"],
};

const ROOT = new URL("./", import.meta.url);

async function* sources(dir: URL): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) {
      if (entry.name !== "testdata") yield* sources(url);
    } else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
      yield url.pathname.slice(ROOT.pathname.length);
    }
  }
}

/** The top folder of a runtime/-relative path, or the file itself at the top. */
function topOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.indexOf("/")) : path;
}

function isTest(path: string): boolean {
  return /(_test|_fixture)\.ts$/.test(path) || path.startsWith("testing/") ||
    /(^|\/)_[^/]+\.ts$/.test(path); // _leak_probe.ts and the like: tools run by tests
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*["'](\.{1,2}\/[^"']+)["']/g;

Deno.test("imports follow the layers: no library imports the app, no shipped file imports tests", async () => {
  const wrong: string[] = [];
  for await (const file of sources(ROOT)) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const from = topOf(file);
    for (const match of text.matchAll(SPECIFIER)) {
      const target = new URL(match[1]!, new URL(file, ROOT)).pathname;
      if (!target.startsWith(ROOT.pathname)) {
        // Outside runtime/ (hw-tests, bench): tests only.
        if (!isTest(file)) wrong.push(`${file} imports ${match[1]} (outside runtime/)`);
        continue;
      }
      const to = topOf(target.slice(ROOT.pathname.length));
      if (to === from) continue;
      if (to === "testing") {
        if (!isTest(file)) wrong.push(`${file} imports testing/ (fixtures are for tests)`);
        continue;
      }
      if (isTest(file)) continue; // tests may reach across to set things up
      const allowed = MAY_IMPORT[from];
      if (allowed === undefined) {
        wrong.push(`${file}: folder ${from}/ has no entry in MAY_IMPORT (layers_test.ts)`);
      } else if (!allowed.includes("*") && !allowed.includes(to)) {
        wrong.push(
          `${file} imports ${to}/ (${from}/ may import: ${allowed.join(", ") || "nothing"})`,
        );
      }
    }
  }
  assertEquals(wrong, []);
});

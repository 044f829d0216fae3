/**
 * A seeded, deterministic generator of malformed and hostile payloads, for fuzz tests of the
 * fleet link and the local API: bad JSON, deep nesting, huge strings, wrong types, unknown
 * commands, prototype-pollution keys (`__proto__`, `constructor`), NaN/Infinity-like tokens,
 * binary garbage, oversized payloads, and valid-looking commands with bad arguments.
 *
 * Every payload is built to be refused: a JSON object always carries a key no validator allows
 * (or, for commands, bad arguments or an expiresAt in the past), so a fuzz test may assert that
 * nothing changed. The same seed gives the same payloads, so a failure can be replayed.
 */
import { prng } from "../lib/prng.ts";

export { prng };

/** One generated payload: its bytes and what kind of malformation it is (for failure messages). */
export interface FuzzPayload {
  readonly kind: string;
  readonly bytes: Uint8Array;
}

/** Keys meant to pollute prototypes or confuse lookups; no validator of ours allows them. */
export const HOSTILE_KEYS: readonly string[] = [
  "__proto__",
  "constructor",
  "prototype",
  "__defineGetter__",
  "hasOwnProperty",
  "toString",
  "valueOf",
  "",
  "\u0000",
  "a.b",
  "cameras[0]",
  "$where",
  "\u202e",
];

/** Tokens that look like numbers but are not JSON, or are JSON that parses to odd numbers. */
const ODD_NUMBERS: readonly string[] = [
  "NaN",
  "Infinity",
  "-Infinity",
  "1e999",
  "-1e999",
  "-0",
  "1e-999",
  "9007199254740993",
  "0x10",
  "01",
  "+1",
  ".5",
];

const ODD_STRINGS: readonly string[] = [
  "",
  " ",
  "\u0000",
  "../../etc/passwd",
  "$(reboot)",
  "`reboot`",
  "; reboot",
  "<script>alert(1)</script>",
  "%00",
  "\ud800",
  "nvr/v1/#",
  "+",
  "DOOR",
  "door\u0000",
  "door ",
  "null",
  "true",
  "systemctl reboot",
  "rtsp://169.254.169.254/",
  "\u202egnp.exe",
];

/** Commands of the fleet protocol, and names that are not. */
const COMMANDS: readonly string[] = [
  "ping",
  "restart-camera",
  "get-config",
  "apply-config",
  "reboot",
  "snapshot",
];
const NOT_COMMANDS: readonly string[] = [
  "format-disk",
  "exec",
  "shell",
  "PING",
  "ping ",
  "__proto__",
  "constructor",
  "reboot\u0000",
];

const encoder = new TextEncoder();

export class Fuzzer {
  readonly #random: () => number;
  #raw: string[] = [];

  constructor(seed: number) {
    this.#random = prng(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  chance(p: number): boolean {
    return this.#random() < p;
  }

  /** A hostile JSON value: wrong types, odd strings and numbers, pollution keys, nesting. */
  value(depth = 0): unknown {
    const k = this.int(depth > 3 ? 7 : 10);
    switch (k) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, Number.MIN_VALUE]);
      case 3:
        return this.raw(this.pick(ODD_NUMBERS));
      case 4:
        return this.pick(ODD_STRINGS);
      case 5:
        return "x".repeat(this.int(3) === 0 ? 10_000 : this.int(300));
      case 6:
        return this.#garbageString(this.int(64));
      case 7:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      default:
        return this.object([], depth + 1);
    }
  }

  /**
   * A JSON object with some of `known` set to hostile values and at least one hostile key
   * (as an own property: `__proto__` is written into the JSON text, not set as a prototype).
   */
  object(known: readonly string[], depth = 0): Record<string, unknown> {
    const obj: Record<string, unknown> = {};
    const put = (key: string, value: unknown) =>
      Object.defineProperty(obj, key, { value, enumerable: true, writable: true });
    for (const key of known) if (this.chance(0.6)) put(key, this.value(depth + 1));
    const hostile = 1 + this.int(2);
    for (let i = 0; i < hostile; i++) {
      put(this.pick(HOSTILE_KEYS), this.chance(0.5) ? { polluted: true } : this.value(depth + 1));
    }
    return obj;
  }

  /** A body for an API route whose fields are `known`: never a valid request. */
  body(known: readonly string[]): FuzzPayload {
    const k = this.int(100);
    if (k < 12) return this.#text("bad-json", this.pick(BAD_JSON));
    if (k < 20) return { kind: "binary", bytes: this.#garbage(1 + this.int(512)) };
    if (k < 26) return this.#text("deep-nesting", this.#deep());
    if (k < 28) return this.#text("oversized", JSON.stringify({ pad: "x".repeat(300_000) }));
    if (k < 38) {
      return this.#json("not-an-object", this.pick([[], 42, "text", null, true, [{}]]));
    }
    if (k < 45) return this.#text("odd-number", this.pick(ODD_NUMBERS));
    return this.#json("hostile-object", this.object(known));
  }

  /**
   * A payload for `cmd/<requestId>`: the malformed bodies above, unknown commands, known ones with
   * unknown keys or bad arguments, or valid ones whose expiresAt has passed (before `now`).
   */
  command(now: number): FuzzPayload {
    const k = this.int(100);
    if (k < 35) return this.body(["cmd", "camera", "config", "version", "expiresAt"]);
    if (k < 50) {
      return this.#json("unknown-command", { cmd: this.pick(NOT_COMMANDS), camera: "door" });
    }
    if (k < 60) return this.#json("wrong-type-cmd", { cmd: this.value(1) });
    if (k < 70) {
      // Valid but for its expiresAt: refused before it runs.
      const cmd = this.pick(COMMANDS.filter((c) => c !== "apply-config"));
      return this.#json("expired", {
        cmd,
        ...(cmd === "restart-camera" || cmd === "snapshot" ? { camera: "door" } : {}),
        expiresAt: now - 1 - this.int(10 ** 9),
      });
    }
    if (k < 80) {
      const cmd = this.pick(["restart-camera", "snapshot"]);
      return this.#json("bad-camera", {
        cmd,
        camera: this.pick([...ODD_STRINGS, 42, null, [], {}]),
      });
    }
    if (k < 90) {
      return this.#json("bad-config", {
        cmd: "apply-config",
        config: this.object(["cameras", "mqtt", "storage", "http", "device"]),
        ...(this.chance(0.5) ? { version: this.value(1) } : {}),
      });
    }
    const cmd = this.pick(COMMANDS);
    const args = this.object(["camera", "config", "version", "expiresAt"]);
    return this.#json("known-with-bad-args", { ...args, cmd });
  }

  /** A payload for `config/desired`: never a valid configuration. */
  desired(): FuzzPayload {
    const k = this.int(100);
    if (k < 40) return this.body(["version", "config"]);
    const version = this.chance(0.3) ? this.value(1) : 1 + this.int(10 ** 6);
    return this.#json("bad-desired-config", {
      version,
      config: this.chance(0.2)
        ? this.value(1)
        : this.object(["cameras", "mqtt", "storage", "http", "device", "analytics"]),
    });
  }

  /** A placeholder for a raw token (NaN, 1e999…) put into the JSON text as it is. */
  raw(token: string): string {
    this.#raw.push(token);
    return `\u0001raw${this.#raw.length - 1}\u0001`;
  }

  #json(kind: string, value: unknown): FuzzPayload {
    let text = JSON.stringify(value);
    text = text.replace(/"\\u0001raw(\d+)\\u0001"/g, (_, i) => this.#raw[Number(i)] ?? "null");
    this.#raw = [];
    return { kind, bytes: encoder.encode(text) };
  }

  #text(kind: string, text: string): FuzzPayload {
    return { kind, bytes: encoder.encode(text) };
  }

  #deep(): string {
    const depth = this.pick([100, 1_000, 10_000, 100_000]);
    const [open, close] = this.pick([["[", "]"], ['{"a":', "}"]] as const);
    // Sometimes unbalanced, which is bad JSON as well.
    return open.repeat(depth) + "1" + close.repeat(this.chance(0.8) ? depth : depth - 1);
  }

  #garbage(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  #garbageString(n: number): string {
    return Array.from({ length: n }, () => String.fromCharCode(this.int(0xffff))).join("");
  }
}

const BAD_JSON: readonly string[] = [
  "",
  "{",
  "}",
  "{cmd: ping}",
  "{'cmd':'ping'}",
  '{"cmd":"ping",}',
  '{"cmd":"ping"',
  '{"cmd" "ping"}',
  "[1,2",
  "undefined",
  "\u0000",
  '{"a":1}{"a":2}',
  '{"cmd":"\\ud800"}',
  '"unterminated',
  "\ufeff{}",
  "// comment\n{}",
];

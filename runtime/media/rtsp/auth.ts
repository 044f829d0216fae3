/** RTSP authentication (RFC 2326 §D, RFC 2617): Digest before Basic. */
import { createHash } from "node:crypto";

export interface Credentials {
  readonly user: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  /** Client nonce for qop=auth; default random (tests fix it). */
  readonly cnonce?: string;
}

/** The Authorization header for the strongest challenge offered (Digest, then Basic), or null. */
export function authorize(challenges: readonly string[], creds: Credentials): string | null {
  const digest = challenges.find((c) => /^digest\s/i.test(c));
  if (digest) return digestAuthorization(challengeParams(digest), creds);
  if (challenges.some((c) => /^basic(\s|$)/i.test(c))) {
    return basicAuthorization(creds.user, creds.password);
  }
  return null;
}

/** RFC 2617 Digest with MD5, with qop=auth when the camera offers it. */
function digestAuthorization(params: Map<string, string>, creds: Credentials): string | null {
  const realm = params.get("realm") ?? "";
  const nonce = params.get("nonce");
  if (nonce === undefined) return null;
  const algorithm = params.get("algorithm");
  if (algorithm !== undefined && algorithm.toUpperCase() !== "MD5") return null;
  const md5 = (s: string) => createHash("md5").update(s).digest("hex");
  const ha1 = md5(`${creds.user}:${realm}:${creds.password}`);
  const ha2 = md5(`${creds.method}:${creds.uri}`);
  const qop = (params.get("qop") ?? "").split(",").map((q) => q.trim()).includes("auth")
    ? "auth"
    : null;
  const fields: [string, string, boolean][] = [
    ["username", creds.user, true],
    ["realm", realm, true],
    ["nonce", nonce, true],
    ["uri", creds.uri, true],
  ];
  let response: string;
  if (qop) {
    const nc = "00000001";
    const cnonce = creds.cnonce ?? crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
    fields.push(["qop", qop, false], ["nc", nc, false], ["cnonce", cnonce, true]);
  } else {
    response = md5(`${ha1}:${nonce}:${ha2}`);
  }
  fields.push(["response", response, true]);
  const opaque = params.get("opaque");
  if (opaque !== undefined) fields.push(["opaque", opaque, true]);
  if (algorithm !== undefined) fields.push(["algorithm", algorithm, false]);
  return "Digest " +
    fields.map(([k, v, quoted]) => `${k}=${quoted ? `"${v.replaceAll('"', '\\"')}"` : v}`).join(
      ", ",
    );
}

/** `Digest realm="x", nonce="y", qop="auth"` → realm, nonce, qop. */
function challengeParams(challenge: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
  for (const m of challenge.replace(/^\S+\s*/, "").matchAll(re)) {
    params.set((m[1] ?? "").toLowerCase(), (m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1"));
  }
  return params;
}

/** `Basic base64(user:password)`. */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;
}

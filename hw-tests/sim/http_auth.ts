/**
 * Server side HTTP Basic and Digest (RFC 7616, MD5, qop=auth) authentication,
 * as IP cameras do it for snapshots and for ONVIF requests without WS-Security.
 * Nonces are stateless: "<unix-ms>.<hmac>" signed with a per-instance secret.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export interface HttpCredentials {
  readonly user: string;
  readonly password: string;
}

export interface HttpAuth {
  readonly realm: string;
  /** True when the request carries valid Basic or Digest credentials. */
  check(req: Request): boolean;
  /** WWW-Authenticate values for a 401 (Digest first, then Basic). */
  challenges(): string[];
  /** A 401 response carrying the challenges. */
  unauthorized(body?: string): Response;
}

export interface HttpAuthOptions {
  readonly realm?: string;
  /** How long a Digest nonce stays valid, default 300 000 ms. */
  readonly nonceTtlMs?: number;
  /** Defaults to true for both. */
  readonly basic?: boolean;
  readonly digest?: boolean;
}

function md5(s: string): string {
  return createHash("md5").update(s).digest("hex");
}

function safeEqual(a: string, b: string): boolean {
  const ab = new TextEncoder().encode(a);
  const bb = new TextEncoder().encode(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Parses `k=v, k="v, with comma"` auth-params into a map (keys lower-cased). */
export function parseAuthParams(s: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (const m of s.matchAll(re)) {
    const key = m[1];
    if (key === undefined) continue;
    out.set(key.toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? ""));
  }
  return out;
}

/** Creates a checker for one user; all state lives in the returned object. */
export function createHttpAuth(creds: HttpCredentials, opts: HttpAuthOptions = {}): HttpAuth {
  const realm = opts.realm ?? "NVR Sim";
  const ttl = opts.nonceTtlMs ?? 300_000;
  const allowBasic = opts.basic ?? true;
  const allowDigest = opts.digest ?? true;
  const secret = randomBytes(32);
  const sign = (ts: string): string =>
    createHmac("sha256", secret).update(ts).digest("hex").slice(0, 32);
  const makeNonce = (): string => {
    const ts = String(Date.now());
    return `${ts}.${sign(ts)}`;
  };
  const nonceValid = (nonce: string): boolean => {
    const [ts, mac] = nonce.split(".");
    if (ts === undefined || mac === undefined || !safeEqual(sign(ts), mac)) return false;
    const age = Date.now() - Number(ts);
    return age >= -5_000 && age <= ttl;
  };

  const checkBasic = (value: string): boolean => {
    let decoded: string;
    try {
      decoded = atob(value.trim());
    } catch {
      return false;
    }
    const i = decoded.indexOf(":");
    if (i < 0) return false;
    return safeEqual(decoded.slice(0, i), creds.user) &&
      safeEqual(decoded.slice(i + 1), creds.password);
  };

  const checkDigest = (value: string, req: Request): boolean => {
    const p = parseAuthParams(value);
    const username = p.get("username");
    const nonce = p.get("nonce");
    const uri = p.get("uri");
    const response = p.get("response");
    if (
      username === undefined || nonce === undefined || uri === undefined || response === undefined
    ) {
      return false;
    }
    if (!safeEqual(username, creds.user) || p.get("realm") !== realm || !nonceValid(nonce)) {
      return false;
    }
    const alg = (p.get("algorithm") ?? "MD5").toUpperCase();
    if (alg !== "MD5") return false;
    const url = new URL(req.url);
    if (uri !== url.pathname + url.search && uri !== req.url) return false;
    const ha1 = md5(`${creds.user}:${realm}:${creds.password}`);
    const ha2 = md5(`${req.method}:${uri}`);
    const qop = p.get("qop");
    const expected = qop === undefined
      ? md5(`${ha1}:${nonce}:${ha2}`)
      : md5(`${ha1}:${nonce}:${p.get("nc") ?? ""}:${p.get("cnonce") ?? ""}:${qop}:${ha2}`);
    return safeEqual(expected, response.toLowerCase());
  };

  const challenges = (): string[] => {
    const out: string[] = [];
    if (allowDigest) {
      out.push(`Digest realm="${realm}", qop="auth", algorithm=MD5, nonce="${makeNonce()}"`);
    }
    if (allowBasic) out.push(`Basic realm="${realm}"`);
    return out;
  };

  return {
    realm,
    check(req: Request): boolean {
      const h = req.headers.get("authorization");
      if (h === null) return false;
      const sp = h.indexOf(" ");
      const scheme = (sp < 0 ? h : h.slice(0, sp)).toLowerCase();
      const rest = sp < 0 ? "" : h.slice(sp + 1);
      if (scheme === "basic" && allowBasic) return checkBasic(rest);
      if (scheme === "digest" && allowDigest) return checkDigest(rest, req);
      return false;
    },
    challenges,
    unauthorized(body = "401 Unauthorized: send Basic or Digest credentials\n"): Response {
      const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
      for (const c of challenges()) headers.append("www-authenticate", c);
      return new Response(body, { status: 401, headers });
    },
  };
}

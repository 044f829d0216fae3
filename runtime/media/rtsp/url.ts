/** RTSP URLs: default ports, and the forms shown in messages and sent in requests. */

const DEFAULT_PORTS: Readonly<Record<string, number>> = { "rtsp:": 554, "rtsps:": 322 };

/** The URL's port, or the scheme's default; undefined when the scheme is not RTSP. */
export function rtspPort(url: URL): number | undefined {
  return Number(url.port) || DEFAULT_PORTS[url.protocol];
}

/** The URL without user and password: for request lines and messages. */
export function withoutCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href;
}

/** A URL string with any `user:password@` taken out (for strings that may not parse). */
export function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, "//");
}

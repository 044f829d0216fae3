import { assertEquals } from "../testing/assert.ts";
import { ConfigError, validateConfig } from "./mod.ts";

function problems(raw: unknown): readonly string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

Deno.test("http: HTTPS by default with a made certificate, no plain listener, no extra names", () => {
  const { http } = validateConfig({});
  assertEquals(http.tls, "auto");
  assertEquals([http.certFile, http.keyFile, http.redirectListen], [null, null, null]);
  assertEquals(http.allowedHosts, []);
});

Deno.test("http: own certificate files, a redirect listener and extra names are taken", () => {
  const { http } = validateConfig({
    http: {
      tls: "files",
      certFile: "/etc/nvr/cert.pem",
      keyFile: "/etc/nvr/key.pem",
      redirectListen: "[::]:80",
      allowedHosts: ["nvr.example.lan", "10.0.0.9", "[fe80::1]"],
    },
  });
  assertEquals(http.certFile, "/etc/nvr/cert.pem");
  assertEquals(http.redirectListen, "[::]:80");
  assertEquals(http.allowedHosts, ["nvr.example.lan", "10.0.0.9", "[fe80::1]"]);
});

Deno.test("http: wrong TLS, redirect and host settings are named with what to do", () => {
  const cases: [unknown, string[]][] = [
    [{ http: { tls: "on" } }, ['http.tls: "on" is not allowed; allowed: "auto", "files", "off"']],
    [{ http: { tls: "files" } }, [
      'http.certFile: missing; http.tls "files" needs http.certFile and http.keyFile (PEM)',
      'http.keyFile: missing; http.tls "files" needs http.certFile and http.keyFile (PEM)',
    ]],
    [{ http: { certFile: "/c.pem", keyFile: "/k.pem" } }, [
      'http.certFile: is set but http.tls is "auto"; set http.tls to "files" to use it',
      'http.keyFile: is set but http.tls is "auto"; set http.tls to "files" to use it',
    ]],
    [{ http: { tls: "files", certFile: "c.pem", keyFile: "/k.pem" } }, [
      'http.certFile: "c.pem" is not an absolute path; e.g. "/etc/nvr/https-certFile.pem"',
    ]],
    [{ http: { redirectListen: "80" } }, [
      'http.redirectListen: "80" is not host:port; e.g. "0.0.0.0:8080", or null for none',
    ]],
    [{ http: { tls: "off", redirectListen: "0.0.0.0:80" } }, [
      'http.redirectListen: is set but http.tls is "off": there is no HTTPS to redirect to',
    ]],
    [{ http: { allowedHosts: "nvr.lan" } }, [
      'http.allowedHosts: expected a list of up to 32 host names, got "nvr.lan"',
    ]],
    [{ http: { allowedHosts: ["ok.lan", "https://nvr.lan", "a b"] } }, [
      'http.allowedHosts[1]: "https://nvr.lan" is not a host name or address; e.g. "nvr.example.lan" (no scheme or port)',
      'http.allowedHosts[2]: "a b" is not a host name or address; e.g. "nvr.example.lan" (no scheme or port)',
    ]],
  ];
  for (const [raw, expected] of cases) assertEquals(problems(raw), expected, JSON.stringify(raw));
});

Deno.test("http.transcodesMax: absent or null is the board's number; a number overrides it", () => {
  assertEquals(validateConfig({}).http.transcodesMax, null);
  assertEquals(validateConfig({ http: { transcodesMax: null } }).http.transcodesMax, null);
  assertEquals(validateConfig({ http: { transcodesMax: 0 } }).http.transcodesMax, 0);
  assertEquals(validateConfig({ http: { transcodesMax: 5 } }).http.transcodesMax, 5);
  for (const bad of [17, -1, 1.5, "2"]) {
    assertEquals(problems({ http: { transcodesMax: bad } }), [
      `http.transcodesMax: expected a whole number from 0 to 16 or null, got ${
        JSON.stringify(bad)
      }`,
    ]);
  }
});

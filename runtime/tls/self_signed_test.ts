import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { fingerprintPem, fromPem, ipBytes, makeSelfSignedCertificate } from "./self_signed.ts";
import { deviceCertificate } from "./device_cert.ts";
import { runCommand } from "../testing/proc.ts";

async function openssl(args: string[], stdin?: string): Promise<string> {
  const r = await runCommand("openssl", args, stdin);
  const text = r.out + r.err;
  if (!r.success) throw new Error(`openssl ${args.join(" ")}: ${text}`);
  return text;
}

Deno.test("self-signed certificate: openssl reads and verifies it, names and usages as asked", async () => {
  const cert = await makeSelfSignedCertificate({
    commonName: "nvr test",
    dnsNames: ["localhost", "nvr.local"],
    ipAddresses: ["127.0.0.1", "::1", "fe80::1:2"],
    notBefore: new Date("2026-01-01T00:00:00Z"),
  });
  const dir = await Deno.makeTempDir({ prefix: "nvr-tls-" });
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, cert.certPem);
    const text = await openssl(["x509", "-noout", "-text", "-in", `${dir}/cert.pem`]);
    assertMatch(text, /Version: 3 \(0x2\)/);
    assertMatch(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assertMatch(text, /NIST CURVE: P-256|prime256v1/);
    assertMatch(text, /Not Before: Jan {2}1 00:00:00 2026 GMT/);
    assertMatch(text, /Not After : Dec 30 00:00:00 2035 GMT/);
    assertMatch(text, /Subject: CN = nvr test/);
    assertMatch(text, /Basic Constraints: critical\s+CA:FALSE/);
    assertMatch(text, /Key Usage: critical\s+Digital Signature/);
    assertMatch(text, /Extended Key Usage:\s+TLS Web Server Authentication/);
    assertMatch(
      text,
      /DNS:localhost, DNS:nvr.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:1:2/,
    );
    // Signed by its own key, trusted as itself, good for a TLS server by that name and address.
    const at = String(Date.UTC(2026, 5, 1) / 1000);
    const verify = await openssl([
      ...["verify", "-attime", at, "-CAfile", `${dir}/cert.pem`, "-purpose", "sslserver"],
      ...["-verify_hostname", "nvr.local", `${dir}/cert.pem`],
    ]);
    assertMatch(verify, /: OK/);
    await openssl([
      ...["verify", "-attime", at, "-CAfile", `${dir}/cert.pem`, "-verify_ip", "::1"],
      `${dir}/cert.pem`,
    ]);
    // The fingerprint is openssl's SHA-256 fingerprint.
    const fp = await openssl([
      "x509",
      "-noout",
      "-fingerprint",
      "-sha256",
      "-in",
      `${dir}/cert.pem`,
    ]);
    assertEquals(fp.trim().split("=")[1], cert.fingerprint);
    assertEquals(await fingerprintPem(cert.certPem), cert.fingerprint);
    // The key is the certificate's: openssl derives the same public key from both.
    await Deno.writeTextFile(`${dir}/key.pem`, cert.keyPem);
    const fromKey = await openssl(["pkey", "-in", `${dir}/key.pem`, "-pubout"]);
    const fromCert = await openssl(["x509", "-noout", "-pubkey", "-in", `${dir}/cert.pem`]);
    assertEquals(fromKey, fromCert);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("self-signed certificate: a real TLS server with it is trusted by its PEM alone", async () => {
  const cert = await makeSelfSignedCertificate({
    commonName: "nvr test",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.certPem,
    key: cert.keyPem,
    onListen: () => {},
  }, () => new Response("hello over tls"));
  const client = Deno.createHttpClient({ caCerts: [cert.certPem] });
  try {
    for (const host of ["127.0.0.1", "localhost"]) {
      const res = await fetch(`https://${host}:${server.addr.port}/`, { client });
      assertEquals(await res.text(), "hello over tls");
    }
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.addr.port,
      caCerts: [cert.certPem],
    });
    const hs = await conn.handshake();
    assertEquals(hs.alpnProtocol, null);
    conn.close();
    // Without trusting it, the connection is refused: it is not a public CA's certificate.
    const untrusted = await fetch(`https://127.0.0.1:${server.addr.port}/`).then(
      (r) => r.body?.cancel().then(() => "connected"),
      (err: Error) => err.message,
    );
    assert(untrusted !== "connected", "an untrusted self-signed certificate was accepted");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("device certificate: made once, reused across restarts, key 0600 in a 0700 folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-tls-" });
  try {
    const names = ["localhost", "127.0.0.1", "nvr.local"];
    const first = await deviceCertificate(`${dir}/tls`, { commonName: "nvr", names });
    assert(first.created);
    assertEquals((await Deno.stat(`${dir}/tls`)).mode! & 0o777, 0o700);
    assertEquals((await Deno.stat(`${dir}/tls/key.pem`)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(`${dir}/tls/cert.pem`)).mode! & 0o777, 0o644);
    const text = await openssl(["x509", "-noout", "-text", "-in", first.certFile]);
    assertMatch(text, /DNS:localhost, DNS:nvr.local, IP Address:127.0.0.1/);
    // A second start (other names now, e.g. a new DHCP address) keeps the same certificate.
    const again = await deviceCertificate(`${dir}/tls`, {
      commonName: "nvr",
      names: [...names, "10.9.8.7"],
    });
    assert(!again.created);
    assertEquals(again.fingerprint, first.fingerprint);
    assertEquals(again.keyPem, first.keyPem);
    // A board that starts with its clock at 1970 still gets a certificate valid from 2025 on.
    const early = await deviceCertificate(`${dir}/tls-early`, {
      commonName: "nvr",
      names,
      now: () => 0,
    });
    const dates = await openssl(["x509", "-noout", "-startdate", "-in", early.certFile]);
    assertMatch(dates, /2024 GMT/);
    assertEquals(fromPem(early.certPem, "CERTIFICATE")[0], 0x30);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ipBytes: IPv4, IPv6 with ::, embedded IPv4, and refusals", () => {
  assertEquals([...ipBytes("192.168.1.5")], [192, 168, 1, 5]);
  assertEquals([...ipBytes("::1")], [...new Array(15).fill(0), 1]);
  assertEquals([...ipBytes("fe80::1%eth0")].slice(0, 2), [0xfe, 0x80]);
  assertEquals([...ipBytes("::ffff:10.0.0.1")].slice(10), [0xff, 0xff, 10, 0, 0, 1]);
  assertEquals(ipBytes("1:2:3:4:5:6:7:8").length, 16);
  for (const bad of ["nvr.local", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", ""]) {
    let threw = false;
    try {
      ipBytes(bad);
    } catch {
      threw = true;
    }
    assert(threw, bad);
  }
});

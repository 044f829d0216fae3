/**
 * The PKCS#10 requests the box makes and the client certificates the enrolment responder
 * issues, checked by openssl (the same tool a broker's admin uses) and by our own reader.
 */
import { assertEquals, assertRejects } from "../testing/assert.ts";
import { CsrError, makeCsr, makeEcKey, verifyCsr } from "./csr.ts";
import { certificateSubject, issueClientCertificate } from "./issue.ts";
import { makeTestCa } from "../testing/test_ca.ts";

async function openssl(args: string[], dir: string): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`openssl ${args.join(" ")}: ${text}`);
  return text;
}

Deno.test("a CSR made here verifies with openssl and with verifyCsr; the issued certificate chains to the CA", async () => {
  await using ca = await makeTestCa();
  const { keys } = await makeEcKey();
  const csr = await makeCsr("nvr-0123456789abcdef", keys);
  await Deno.writeTextFile(`${ca.dir}/dev.csr`, csr);
  const text = await openssl(["req", "-in", "dev.csr", "-verify", "-noout", "-subject"], ca.dir);
  assertEquals(/verify OK/i.test(text), true, text);
  assertEquals(/CN ?= ?nvr-0123456789abcdef/.test(text), true, text);
  const verified = await verifyCsr(csr);
  assertEquals(verified.commonName, "nvr-0123456789abcdef");
  const cert = await issueClientCertificate(ca, {
    commonName: verified.commonName,
    spki: verified.spki,
  });
  await Deno.writeTextFile(`${ca.dir}/dev.crt`, cert);
  const ok = await openssl(
    ["verify", "-CAfile", "ca.crt", "-purpose", "sslclient", "dev.crt"],
    ca.dir,
  );
  assertEquals(ok.trim(), "dev.crt: OK");
  assertEquals(certificateSubject(cert).commonName, "nvr-0123456789abcdef");
});

Deno.test("attack: CSR signed by another key — refused", async () => {
  const { keys: a } = await makeEcKey();
  const { keys: b } = await makeEcKey();
  // A's public key with B's signature: the request claims a key its sender does not hold.
  const good = await makeCsr("nvr-a", a);
  const forged = await makeCsr("nvr-a", { publicKey: a.publicKey, privateKey: b.privateKey });
  await verifyCsr(good);
  await assertRejects(() => verifyCsr(forged), CsrError, "signature does not match its own key");
});

Deno.test("attack: CSR whose key is not P-256 — refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-csr-" });
  try {
    await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:secp384r1",
      "-nodes",
      "-keyout",
      "k.pem",
      "-out",
      "p384.csr",
      "-subj",
      "/CN=nvr-x",
    ], dir);
    await assertRejects(
      async () => verifyCsr(await Deno.readTextFile(`${dir}/p384.csr`)),
      CsrError,
      "is not P-256",
    );
    await openssl([
      "req",
      "-new",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "r.pem",
      "-out",
      "rsa.csr",
      "-subj",
      "/CN=nvr-x",
    ], dir);
    await assertRejects(
      async () => verifyCsr(await Deno.readTextFile(`${dir}/rsa.csr`)),
      CsrError,
      "not an elliptic-curve key",
    );
    // Extra subject fields (an O=, a second CN) are not a device's request.
    await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "k2.pem",
      "-out",
      "two.csr",
      "-subj",
      "/CN=nvr-x/O=evil",
    ], dir);
    await assertRejects(
      async () => verifyCsr(await Deno.readTextFile(`${dir}/two.csr`)),
      CsrError,
      "exactly one CN",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attack: malformed CSR bytes — a clear error, never a crash", async () => {
  const { keys } = await makeEcKey();
  const pem = await makeCsr("nvr-a", keys);
  const der = Uint8Array.from(atob(pem.split("\n").slice(1, -2).join("")), (c) => c.charCodeAt(0));
  for (let cut = 1; cut < der.length; cut += 7) {
    const bad = der.slice(0, cut);
    const b64 = btoa(String.fromCharCode(...bad));
    await assertRejects(
      () =>
        verifyCsr(
          `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`,
        ),
      CsrError,
    );
  }
  for (let i = 0; i < 200; i++) {
    const bad = der.slice();
    bad[(i * 37) % bad.length]! ^= 1 << (i % 8);
    const b64 = btoa(String.fromCharCode(...bad));
    await assertRejects(
      () =>
        verifyCsr(
          `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`,
        ),
      CsrError,
    );
  }
  await assertRejects(() => verifyCsr("not pem"), CsrError, "no 'CERTIFICATE REQUEST'");
});

/**
 * A test CA for enrolment: made with openssl (EC P-256, PKCS#8 key, valid two days) in a temp
 * folder, or taken from a test broker's PKI (runtime/testing/mosquitto.ts), so the certificates
 * the enrolment responder issues are the ones that broker accepts.
 */
import type { SigningCa } from "../tls/issue.ts";
import type { TestCertificates } from "./mosquitto.ts";

export interface TestCa extends SigningCa, AsyncDisposable {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A new CA in a new temp folder (removed on dispose). */
export async function makeTestCa(cn = "nvr test enrolment CA"): Promise<TestCa> {
  const dir = await Deno.makeTempDir({ prefix: "nvr-test-ca-" });
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`openssl could not make a test CA: ${new TextDecoder().decode(out.stderr)}`);
  }
  return await load(dir, `${dir}/ca.crt`, `${dir}/ca.key`, true);
}

/** The CA of a test broker's PKI (`ca.crt`, `ca.key` in certs.dir); nothing removed on dispose. */
export function brokerCa(certs: TestCertificates): Promise<TestCa> {
  return load(certs.dir, certs.caFile, `${certs.dir}/ca.key`, false);
}

async function load(dir: string, certFile: string, keyFile: string, owned: boolean) {
  const certPem = await Deno.readTextFile(certFile);
  const keyPem = await Deno.readTextFile(keyFile);
  return {
    dir,
    certFile,
    keyFile,
    certPem,
    keyPem,
    async [Symbol.asyncDispose]() {
      if (owned) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

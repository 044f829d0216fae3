/**
 * Fleet-side licence tool.
 *
 *   deno run --allow-write=key.jwk runtime/licence/sign_main.ts keygen key.jwk
 *     writes the private key (JWK, keep it secret) and prints the public key for devices
 *   deno run --allow-read runtime/licence/sign_main.ts sign key.jwk <keyId> payload.json
 *     prints the signed licence; payload.json holds the LicencePayload fields (times in ms)
 */
import { readPayload } from "./verify.ts";
import { generateLicenceKeyPair, signLicence } from "./sign.ts";

const USAGE =
  "usage: sign_main.ts keygen <private.jwk> | sign <private.jwk> <keyId> <payload.json>";

async function main(args: readonly string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === "keygen" && rest.length === 1) {
    const pair = await generateLicenceKeyPair();
    const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
    await Deno.writeTextFile(rest[0]!, JSON.stringify(jwk) + "\n", {
      mode: 0o600,
      createNew: true,
    });
    console.log(pair.publicKeyRaw);
    return 0;
  }
  if (cmd === "sign" && rest.length === 3) {
    const [keyPath, keyId, payloadPath] = rest as [string, string, string];
    const jwk = JSON.parse(await Deno.readTextFile(keyPath)) as JsonWebKey;
    const key = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
    const text = await Deno.readTextFile(payloadPath);
    const payload = readPayload(new TextEncoder().encode(text));
    if (typeof payload === "string") {
      console.error(`${payloadPath}: ${payload}`);
      return 1;
    }
    console.log(JSON.stringify(await signLicence(payload, key, keyId)));
    return 0;
  }
  console.error(USAGE);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * `deno task fleet licence issue` against simulated boxes (the daemon's real fleet link and the
 * real licence verifier) on a real Mosquitto: the licence binds to the fingerprint the box
 * published, reaches the box on its retained topic and shows in its health; a licence moved to
 * another box, or signed by a key the boxes do not trust, is refused.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import { waitUntil } from "../testing/fleet_kit.ts";
import { generateLicenceKeyPair } from "../licence/sign.ts";
import { ConsoleError } from "./console.ts";
import { startFleetFixture } from "./fleet_fixture.ts";
import { issueLicence, readSigningKey } from "./licence_issue.ts";
import { main } from "./main.ts";

async function setup() {
  const trusted = await generateLicenceKeyPair();
  const fixture = await startFleetFixture({
    devices: 3,
    licenceKeys: [{ id: "fleet-1", publicKey: trusted.publicKeyRaw }],
  });
  assertEquals(fixture.registry.list().map((r) => r.licence), ["none", "none", "none"]);
  const keyFile = `${fixture.dir}/fleet-1.jwk`;
  await Deno.writeTextFile(
    keyFile,
    JSON.stringify(await crypto.subtle.exportKey("jwk", trusted.privateKey)),
    { mode: 0o600 },
  );
  return Object.assign(fixture, { keyFile, trusted });
}

/** Runs the command line in-process, returning its exit code and what it printed as JSON. */
async function cli(args: string[]): Promise<{ code: number; printed: unknown }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    const code = await main(args);
    return { code, printed: lines.length ? JSON.parse(lines.join("\n")) : null };
  } finally {
    console.log = log;
  }
}

Deno.test("licence issue: signed for the fingerprint the box published; the box verifies it and reports valid", async () => {
  await using s = await setup();
  const { code, printed } = await cli([
    "licence",
    "issue",
    "sim-1",
    "--broker",
    s.broker.url,
    "--db",
    `${s.dir}/cli.db`,
    "--key",
    s.keyFile,
    "--key-id",
    "fleet-1",
    "--max-cameras",
    "4",
    "--days",
    "365",
    "--json",
  ]);
  assertEquals(code, 0);
  assertEquals((printed as { published: boolean }).published, true);
  await waitUntil(
    "sim-1 reports a valid licence",
    () => s.registry.get("sim-1")?.licence === "valid",
  );
  assertEquals(s.box("sim-1").licenceState, "valid");
  assertEquals([s.box("sim-0").licenceState, s.box("sim-2").licenceState], ["none", "none"]);
});

Deno.test("attack: a licence issued for one box and published to another is refused as foreign", async () => {
  await using s = await setup();
  const licence = await issueLicence("sim-1", s.registry.get("sim-1"), {
    privateKey: s.trusted.privateKey,
    keyId: "fleet-1",
    maxCameras: 4,
    days: 30,
  });
  await s.console.licence("sim-2", licence as never);
  await waitUntil(
    "sim-2 reports the licence foreign",
    () => s.registry.get("sim-2")?.licence === "foreign",
  );
  assertEquals(s.box("sim-1").licenceState, "none");
});

Deno.test("attack: a licence signed with a key the boxes do not trust is refused as tampered", async () => {
  await using s = await setup();
  const other = await generateLicenceKeyPair();
  const licence = await issueLicence("sim-0", s.registry.get("sim-0"), {
    privateKey: other.privateKey,
    keyId: "fleet-1",
    maxCameras: 4,
    days: 30,
  });
  await s.console.licence("sim-0", licence as never);
  await waitUntil(
    "sim-0 reports the licence tampered",
    () => s.registry.get("sim-0")?.licence === "tampered",
  );
});

Deno.test("licence issue refuses a box it has no fingerprint of, bad limits and a bad key file", async () => {
  const pair = await generateLicenceKeyPair();
  const opts = { privateKey: pair.privateKey, maxCameras: 2, days: 30 };
  const unknown = await assertRejects(() => issueLicence("nvr-x", undefined, opts), ConsoleError);
  assertMatch(unknown.message, /no such box in the registry; check the id/);
  const row = { id: "nvr-x", fingerprintHash: null } as never;
  const noFp = await assertRejects(() => issueLicence("nvr-x", row, opts), ConsoleError);
  assertMatch(noFp.message, /has not published its fingerprint yet/);
  const withFp = { id: "nvr-x", fingerprintHash: "a".repeat(64) } as never;
  const bad = await assertRejects(
    () => issueLicence("nvr-x", withFp, { ...opts, days: 0 }),
    ConsoleError,
  );
  assertMatch(bad.message, /--days 0: give a whole number of days/);
  const neg = await assertRejects(
    () => issueLicence("nvr-x", withFp, { ...opts, maxCameras: -1 }),
    ConsoleError,
  );
  assertMatch(neg.message, /--max-cameras -1/);
  const ok = await issueLicence("nvr-x", withFp, { ...opts, now: 1_000 });
  assert(ok.payload.length > 0 && ok.signature.length > 0);

  const dir = await Deno.makeTempDir({ prefix: "nvr-licence-key-" });
  try {
    await Deno.writeTextFile(`${dir}/garbage.jwk`, "not json");
    const garbage = await assertRejects(() => readSigningKey(`${dir}/garbage.jwk`), ConsoleError);
    assertMatch(garbage.message, /garbage\.jwk: not a readable JWK .*make one with/);
    const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    await Deno.writeTextFile(
      `${dir}/ec.jwk`,
      JSON.stringify(await crypto.subtle.exportKey("jwk", ec.privateKey)),
    );
    const wrong = await assertRejects(() => readSigningKey(`${dir}/ec.jwk`), ConsoleError);
    assertMatch(wrong.message, /ec\.jwk: not an Ed25519 private key/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import {
  decodeBase64url,
  encodeBase64url,
  encodePayload,
  enforceCameraLimit,
  generateLicenceKeyPair,
  type LicenceKeyPair,
  type LicencePayload,
  type LicenceStatus,
  signBytes,
  type SignedLicence,
  signLicence,
  verifyLicence,
  type VerifyOptions,
} from "./mod.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);
const HASH = "3d26acaa96381f54bc10fc7ab6127606643e47402dee9febddab0c16c80f8b08";
const DEVICE = "nvr-0123456789abcdef";

const PAYLOAD: LicencePayload = {
  v: 1,
  licenceId: "lic-42",
  deviceId: DEVICE,
  fingerprintHash: HASH,
  maxCameras: 4,
  issuedAt: NOW - 30 * DAY,
  expiresAt: NOW + 335 * DAY,
};

async function setup(): Promise<{ keys: LicenceKeyPair; opts: VerifyOptions }> {
  const keys = await generateLicenceKeyPair();
  return {
    keys,
    opts: {
      publicKeys: [{ id: "fleet-2026", publicKey: keys.publicKeyRaw }],
      fingerprintHash: HASH,
      deviceId: DEVICE,
      now: NOW,
      graceDays: 14,
    },
  };
}

function state(s: LicenceStatus): string {
  return s.state;
}

Deno.test("valid licence: JSON text or object, with or without keyId; camera limit in config order", async () => {
  const { keys, opts } = await setup();
  const lic = await signLicence(PAYLOAD, keys.privateKey, "fleet-2026");
  const s = await verifyLicence(JSON.stringify(lic), opts);
  assertEquals(s, {
    state: "valid",
    reason: "Valid until 2027-05-02T00:00:00.000Z for 4 cameras.",
    licenceId: "lic-42",
    maxCameras: 4,
    issuedAt: PAYLOAD.issuedAt,
    expiresAt: PAYLOAD.expiresAt,
    graceEndsAt: PAYLOAD.expiresAt + 14 * DAY,
    keyId: "fleet-2026",
  });
  const noKeyId = await signLicence(PAYLOAD, keys.privateKey);
  assertEquals(state(await verifyLicence(noKeyId, opts)), "valid");
  const limit = enforceCameraLimit(s, ["a", "b", "c"]);
  assertEquals([limit.allowed, limit.refused, limit.limit], [["a", "b", "c"], [], 4]);
});

Deno.test("over the camera limit: the first maxCameras in config order record, the rest are refused", async () => {
  const { keys, opts } = await setup();
  const s = await verifyLicence(
    await signLicence({ ...PAYLOAD, maxCameras: 2 }, keys.privateKey),
    opts,
  );
  const limit = enforceCameraLimit(s, ["front", "yard", "garage", "door"]);
  assertEquals(limit.allowed, ["front", "yard"]);
  assertEquals(limit.refused, ["garage", "door"]);
  assertEquals(limit.reason, "licence valid: 2 of 4 cameras allowed, refused: garage, door");
  const zero = await verifyLicence(
    await signLicence({ ...PAYLOAD, maxCameras: 0 }, keys.privateKey),
    opts,
  );
  assertEquals(enforceCameraLimit(zero, ["front"]).refused, ["front"]);
});

Deno.test("expiry: valid up to expiresAt, grace for graceDays after, then expired", async () => {
  const { keys, opts } = await setup();
  const lic = await signLicence({ ...PAYLOAD, expiresAt: NOW - 10 * DAY }, keys.privateKey);
  const grace = await verifyLicence(lic, opts);
  assertEquals(grace.state, "grace");
  assertMatch(grace.reason, /recording continues until 2026-06-05/);
  assertEquals(enforceCameraLimit(grace, ["a", "b", "c", "d", "e"]).allowed, ["a", "b", "c", "d"]);
  const expired = await verifyLicence(lic, { ...opts, graceDays: 7 });
  assertEquals(expired.state, "expired");
  assertEquals(expired.licenceId, "lic-42", "an expired licence still says which one it was");
  assertEquals(enforceCameraLimit(expired, ["a", "b"]), {
    allowed: [],
    refused: ["a", "b"],
    limit: 0,
    reason: "no usable licence (expired): 0 of 2 cameras allowed, refused: a, b",
  });
  assertEquals(enforceCameraLimit(expired, ["a", "b"], { unlicensedCameras: 1 }).allowed, ["a"]);
  const edge = await signLicence({ ...PAYLOAD, expiresAt: NOW }, keys.privateKey);
  assertEquals(state(await verifyLicence(edge, opts)), "valid", "valid through the expiry instant");
  assertEquals(state(await verifyLicence(lic, { ...opts, now: NOW + 4 * DAY + 1 })), "expired");
});

Deno.test("tampered payload: more cameras or a later expiry break the signature", async () => {
  const { keys, opts } = await setup();
  const lic = await signLicence(PAYLOAD, keys.privateKey, "fleet-2026");
  for (const change of [{ maxCameras: 64 }, { expiresAt: PAYLOAD.expiresAt + 365 * DAY }]) {
    const forged: SignedLicence = {
      ...lic,
      payload: encodeBase64url(encodePayload({ ...PAYLOAD, ...change })),
    };
    const s = await verifyLicence(forged, opts);
    assertEquals(s.state, "tampered");
    assertMatch(s.reason, /signature does not match/);
    assertEquals(
      [s.maxCameras, s.licenceId, s.keyId],
      [null, null, null],
      "nothing unverified is reported",
    );
    assertEquals(enforceCameraLimit(s, ["a"]).allowed, []);
  }
});

Deno.test("tampered signature, malformed licences and a malformed but signed payload", async () => {
  const { keys, opts } = await setup();
  const lic = await signLicence(PAYLOAD, keys.privateKey);
  const sig = decodeBase64url(lic.signature)!;
  sig[10] = (sig[10] ?? 0) ^ 1;
  const flipped = await verifyLicence({ ...lic, signature: encodeBase64url(sig) }, opts);
  assertEquals(flipped.state, "tampered");
  const cases: [unknown, RegExp][] = [
    ["{not json", /not JSON/],
    [[1, 2], /not a JSON object/],
    [{ payload: lic.payload }, /no 'signature'/],
    [{ ...lic, extra: 1 }, /unknown licence field 'extra'/],
    [{ ...lic, payload: lic.payload + "!" }, /not base64url/],
    [{ ...lic, signature: lic.signature.slice(0, 40) }, /64-byte/],
  ];
  for (const [bad, why] of cases) {
    const s = await verifyLicence(bad, opts);
    assertEquals(s.state, "tampered", JSON.stringify(bad));
    assertMatch(s.reason, why);
  }
  const badPayload = await signBytes(
    new TextEncoder().encode('{"v":1,"maxCameras":-1}'),
    keys.privateKey,
  );
  const s = await verifyLicence(badPayload, opts);
  assertEquals(s.state, "tampered");
  assertMatch(s.reason, /correctly signed but malformed: payload 'licenceId'/);
});

Deno.test("foreign: wrong fingerprint (hardware changed) or wrong device", async () => {
  const { keys, opts } = await setup();
  const lic = await signLicence(PAYLOAD, keys.privateKey);
  const otherHash = await verifyLicence(lic, { ...opts, fingerprintHash: "0".repeat(64) });
  assertEquals(otherHash.state, "foreign");
  assertMatch(otherHash.reason, /binds fingerprint 3d26acaa9638…, this box's is 000000000000…/);
  const otherDevice = await verifyLicence(lic, { ...opts, deviceId: "nvr-ffffffffffffffff" });
  assertEquals(otherDevice.state, "foreign");
  assertMatch(otherDevice.reason, /for device nvr-0123456789abcdef, this is nvr-ffffffffffffffff/);
  assertEquals(enforceCameraLimit(otherDevice, ["a"]).allowed, []);
});

Deno.test("unknown key: signed by a key the device does not trust, named or not", async () => {
  const { opts } = await setup();
  const rogue = await generateLicenceKeyPair();
  const named = await verifyLicence(await signLicence(PAYLOAD, rogue.privateKey, "rogue"), opts);
  assertEquals(named.state, "tampered");
  assertMatch(named.reason, /key 'rogue', which this device does not trust/);
  const claimed = await verifyLicence(
    await signLicence(PAYLOAD, rogue.privateKey, "fleet-2026"),
    opts,
  );
  assertEquals(claimed.state, "tampered", "claiming a trusted keyId does not help");
  const anon = await verifyLicence(await signLicence(PAYLOAD, rogue.privateKey), opts);
  assertEquals(anon.state, "tampered");
  // Key rotation: either trusted key verifies.
  const next = await generateLicenceKeyPair();
  const rotated = {
    ...opts,
    publicKeys: [...opts.publicKeys, { id: "fleet-2027", publicKey: next.publicKey }],
  };
  const s = await verifyLicence(await signLicence(PAYLOAD, next.privateKey), rotated);
  assertEquals([s.state, s.keyId], ["valid", "fleet-2027"]);
});

Deno.test("none: no licence at all", async () => {
  const { opts } = await setup();
  for (const nothing of [null, undefined, ""]) {
    const s = await verifyLicence(nothing, opts);
    assertEquals(s.state, "none");
    assertEquals(enforceCameraLimit(s, ["a", "b"], { unlicensedCameras: 1 }), {
      allowed: ["a"],
      refused: ["b"],
      limit: 1,
      reason: "no usable licence (none): 1 of 2 cameras allowed, refused: b",
    });
  }
});

Deno.test("base64url: round trip, and non-canonical or foreign characters are refused", () => {
  const bytes = new Uint8Array([0, 251, 255, 1, 2]);
  assertEquals(decodeBase64url(encodeBase64url(bytes)), bytes);
  assertEquals(encodeBase64url(bytes), "APv_AQI");
  assertEquals(decodeBase64url("APv_AQJ"), null, "stray low bits");
  assertEquals(decodeBase64url("APv/AQI"), null, "standard alphabet");
  assertEquals(decodeBase64url("APv_AQI="), null, "padding");
  assert(decodeBase64url("") !== null);
});

Deno.test("sign_main.ts: keygen then sign makes a licence the device accepts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "licence-tool-" });
  try {
    const tool = new URL("./sign_main.ts", import.meta.url).pathname;
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", tool, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout).trim();
    };
    const publicKey = await run("keygen", `${dir}/key.jwk`);
    assertEquals((await Deno.stat(`${dir}/key.jwk`)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(`${dir}/payload.json`, JSON.stringify(PAYLOAD));
    const licence = await run("sign", `${dir}/key.jwk`, "k1", `${dir}/payload.json`);
    const s = await verifyLicence(licence, {
      publicKeys: [{ id: "k1", publicKey }],
      fingerprintHash: HASH,
      deviceId: DEVICE,
      now: NOW,
      graceDays: 0,
    });
    assertEquals([s.state, s.maxCameras], ["valid", 4]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The enrolment responder's decisions (answer()), with a real test CA and real CSRs; the MQTT
 * round trip is in runtime/app/enrol_e2e_test.ts.
 */
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { makeTestCa } from "../testing/test_ca.ts";
import { makeCsr, makeEcKey } from "../tls/csr.ts";
import { certificateSubject } from "../tls/issue.ts";
import { deviceIdOfSerial, EnrolResponder, parseAllowList } from "./enrol_responder.ts";
import { type EnrolReply, type EnrolRequest, enrolTopics } from "./enrol_schema.ts";

const SERIAL = "10000000abcdef01";

async function request(
  deviceId: string,
  o: { cn?: string; keys?: CryptoKeyPair; serial?: string | null; claimToken?: string } = {},
): Promise<Uint8Array> {
  const keys = o.keys ?? (await makeEcKey()).keys;
  const body: EnrolRequest = {
    requestId: "r-1",
    deviceId,
    csr: await makeCsr(o.cn ?? deviceId, keys),
    serial: o.serial === undefined ? null : o.serial,
    fingerprintHash: "ab".repeat(32),
    ...(o.claimToken ? { claimToken: o.claimToken } : {}),
    ts: 1,
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

async function responder(allow: string, stateFile: string | null = null) {
  const ca = await makeTestCa();
  const r = await EnrolResponder.open({ ca, allow: parseAllowList(allow), stateFile });
  return { ca, r };
}

async function ask(r: EnrolResponder, deviceId: string, payload: Uint8Array): Promise<EnrolReply> {
  const out = await r.answer(enrolTopics(deviceId).request, payload);
  assert(out);
  assertEquals(out.topic, enrolTopics(deviceId).reply);
  return out.reply;
}

Deno.test("an allowed box gets a certificate for its own key and id; asking again gives the same", async () => {
  const { ca, r } = await responder("nvr-aaaa000000000001\n");
  await using _ = ca;
  const { keys } = await makeEcKey();
  const reply = await ask(
    r,
    "nvr-aaaa000000000001",
    await request("nvr-aaaa000000000001", { keys }),
  );
  assert(reply.ok, JSON.stringify(reply));
  assertEquals(certificateSubject(reply.certificate).commonName, "nvr-aaaa000000000001");
  const again = await ask(
    r,
    "nvr-aaaa000000000001",
    await request("nvr-aaaa000000000001", { keys }),
  );
  assert(again.ok);
  assertEquals(again.certificate, reply.certificate);
  assertEquals(await r.answer("nvr/v1/x/state", new Uint8Array()), null, "other topics ignored");
});

Deno.test("attack: enrolment request for a serial not on the allow-list — refused", async () => {
  const listed = await deviceIdOfSerial(SERIAL);
  const { ca, r } = await responder(`# the boxes of shop 12\n${SERIAL}\n`);
  await using _ = ca;
  const other = await deviceIdOfSerial("99999999");
  const no = await ask(r, other, await request(other, { serial: "99999999" }));
  assertEquals(no.ok, false);
  assertEquals(!no.ok && no.code, "not-allowed");
  // A listed serial claimed for another deviceId than the one it gives.
  const stolen = await ask(r, other, await request(other, { serial: SERIAL }));
  assertEquals(!stolen.ok && stolen.code, "not-allowed");
  assertEquals(!stolen.ok && stolen.reason, `serial ${SERIAL} belongs to ${listed}, not ${other}`);
  // The listed serial with its own id: allowed.
  const yes = await ask(r, listed, await request(listed, { serial: SERIAL }));
  assert(yes.ok, JSON.stringify(yes));
});

Deno.test("attack: CSR whose subject claims another device — refused", async () => {
  const { ca, r } = await responder("nvr-aaaa000000000001\nnvr-bbbb000000000002\n");
  await using _ = ca;
  const a = "nvr-aaaa000000000001";
  const b = "nvr-bbbb000000000002";
  const cn = await ask(r, a, await request(a, { cn: b }));
  assertEquals(!cn.ok && cn.code, "wrong-subject");
  // The body names B, but it came on A's topic (the broker lets A's bootstrap publish there).
  const body = await ask(r, a, await request(b));
  assertEquals(!body.ok && body.code, "wrong-subject");
  assertEquals(r.enrolled().size, 0);
});

Deno.test("attack: CSR signed by another key — refused by the responder", async () => {
  const { ca, r } = await responder("nvr-aaaa000000000001\n");
  await using _ = ca;
  const { keys: mine } = await makeEcKey();
  const { keys: theirs } = await makeEcKey();
  const payload = await request("nvr-aaaa000000000001", {
    keys: { publicKey: mine.publicKey, privateKey: theirs.privateKey },
  });
  const reply = await ask(r, "nvr-aaaa000000000001", payload);
  assertEquals(!reply.ok && reply.code, "bad-csr");
});

Deno.test("attack: replayed enrolment of an enrolled box with another key — refused, also after a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nvr-enrol-" });
  const state = `${dir}/enrolled.json`;
  try {
    const { ca, r } = await responder("nvr-aaaa000000000001\n", state);
    await using _ = ca;
    const first = await ask(r, "nvr-aaaa000000000001", await request("nvr-aaaa000000000001"));
    assert(first.ok);
    assertEquals((await Deno.stat(state)).mode! & 0o777, 0o600);
    const clone = await ask(r, "nvr-aaaa000000000001", await request("nvr-aaaa000000000001"));
    assertEquals(!clone.ok && clone.code, "already-enrolled");
    const restarted = await EnrolResponder.open({
      ca,
      allow: parseAllowList("nvr-aaaa000000000001"),
      stateFile: state,
    });
    const later = await ask(
      restarted,
      "nvr-aaaa000000000001",
      await request("nvr-aaaa000000000001"),
    );
    assertEquals(!later.ok && later.code, "already-enrolled");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attack: enrolment without the box's claim token — refused", async () => {
  const { ca, r } = await responder("nvr-aaaa000000000001 s3cret-token-1\n");
  await using _ = ca;
  const none = await ask(r, "nvr-aaaa000000000001", await request("nvr-aaaa000000000001"));
  assertEquals(!none.ok && none.code, "bad-claim-token");
  const wrong = await ask(
    r,
    "nvr-aaaa000000000001",
    await request("nvr-aaaa000000000001", { claimToken: "s3cret-token-2" }),
  );
  assertEquals(!wrong.ok && wrong.code, "bad-claim-token");
  const right = await ask(
    r,
    "nvr-aaaa000000000001",
    await request("nvr-aaaa000000000001", { claimToken: "s3cret-token-1" }),
  );
  assert(right.ok);
});

Deno.test("attack: malformed enrolment requests — a refusal with the reason, never a crash", async () => {
  const { ca, r } = await responder("nvr-aaaa000000000001\n");
  await using _ = ca;
  const id = "nvr-aaaa000000000001";
  const enc = (s: string) => new TextEncoder().encode(s);
  const good = JSON.parse(new TextDecoder().decode(await request(id)));
  const bad: [Uint8Array, string][] = [
    [enc("x"), "not JSON"],
    [enc("[]"), "not a JSON object"],
    [new Uint8Array(20_000), "at most"],
    [enc(JSON.stringify({ ...good, extra: 1 })), "unknown field"],
    [enc(JSON.stringify({ ...good, requestId: "a/b" })), "requestId"],
    [enc(JSON.stringify({ ...good, fingerprintHash: "x" })), "fingerprintHash"],
    [
      enc(
        JSON.stringify({
          ...good,
          csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
        }),
      ),
      "malformed",
    ],
  ];
  for (const [payload, why] of bad) {
    const reply = await ask(r, id, payload);
    assertEquals(reply.ok, false);
    assert(!reply.ok && reply.reason.includes(why), `${why}: ${JSON.stringify(reply)}`);
  }
});

Deno.test("allow-list file: a bad line is named", () => {
  assertThrows(
    () => parseAllowList("ok-1\nbad id here x\n", "allow.txt"),
    RangeError,
    "allow.txt line 2",
  );
  assertThrows(() => parseAllowList("ok-1 short\n"), RangeError, "claim token");
  assertEquals([...parseAllowList("# c\n\n a  tokentoken # x\nb\n").keys()], ["a", "b"]);
});

/**
 * The fleet adds a camera found by `discover-cameras` in the page's two clicks, against the real
 * daemon, a real Mosquitto and a virtual camera with credentials: `onvif-profiles` says whether
 * the credentials work and lists the profiles, `add-camera` adds it by its ONVIF address with the
 * profiles chosen, and it records; audited as user "fleet", reported on `config/reported`, the
 * password never in a result. Hostile commands are refused by field, and nothing is added.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { startHarness } from "../testing/daemon_harness.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient } from "../testing/fleet_kit.ts";
import { AuditLog } from "../audit/audit_log.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";

const small = { codec: "h264", width: 160, height: 120, fps: 10 } as const;

interface Answer {
  ok: boolean;
  code?: string;
  error?: string;
  result?: Record<string, unknown>;
}

async function rig() {
  const broker = await Mosquitto.start();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const cloud = await CloudClient.connect(url, ["nvr/v1/#"]);
  const cam = await startVirtualCamera({
    ...small,
    serial: "ADD-1",
    model: "SimCam-Add",
    user: "admin",
    password: "s3cret",
  });
  const h = await startHarness({
    mqtt: { url },
    cameras: [{ id: "door", url: "rtsp://127.0.0.1:9/none", enabled: false }],
  });
  const link = h.daemon.fleet;
  if (!link) throw new Error("the fleet link did not start");
  const base = `nvr/v1/${link.deviceId}`;
  await cloud.waitFor("birth", (m) => m.find((x) => x.topic === `${base}/state`));
  let n = 0;
  const send = async (command: Record<string, unknown>): Promise<Answer> => {
    const id = `add-${n++}`;
    await cloud.publish(`${base}/cmd/${id}`, JSON.stringify(command));
    return (await cloud.waitFor(
      `the result of ${command.cmd}`,
      (m) => m.find((x) => x.topic === `${base}/cmd-result/${id}`),
      30_000,
    )).json as unknown as Answer;
  };
  return {
    cloud,
    cam,
    h,
    base,
    send,
    async [Symbol.asyncDispose]() {
      await h[Symbol.asyncDispose]();
      await cam.stop();
      await cloud[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
    },
  };
}

Deno.test("fleet: onvif-profiles then add-camera adds a found camera by its ONVIF address; it records, audited as fleet", async () => {
  await using r = await rig();
  const { cam, h, send, cloud, base } = r;
  const address = new URL(cam.onvifUrl).host;
  const creds = { address, username: "admin", password: "s3cret" };

  // First click: the credentials and the profiles.
  const refused = await send({ cmd: "onvif-profiles", ...creds, password: "wrong" });
  assertEquals(refused.ok, true, JSON.stringify(refused));
  assertEquals([refused.result?.credentials, refused.result?.profiles], ["refused", []]);
  const profiles = await send({ cmd: "onvif-profiles", ...creds });
  assertEquals(profiles.result?.credentials, "ok", JSON.stringify(profiles));
  assertEquals(profiles.result?.deviceUrl, cam.onvifUrl);
  assertEquals(
    (profiles.result?.profiles as { token: string; encoding: string }[]).map((p) => [
      p.token,
      p.encoding,
    ]),
    [["main", "H264"], ["sub", "H264"]],
  );

  // A profile it does not have, or wrong credentials: refused, nothing added.
  const noSuch = await send({ cmd: "add-camera", id: "gate", ...creds, mainProfile: "nope" });
  assertEquals([noSuch.ok, noSuch.code], [false, "refused"], JSON.stringify(noSuch));
  assertMatch(noSuch.error ?? "", /mainProfile: no profile "nope"; it has main, sub/);
  const wrong = await send({ cmd: "add-camera", id: "gate", ...creds, password: "wrong" });
  assertEquals([wrong.ok, wrong.code], [false, "refused"], JSON.stringify(wrong));
  assertEquals(h.daemon.fleet?.config().cameras.map((c) => c.id), ["door"]);

  // Second click: added with the profiles chosen; it records.
  const added = await send({
    cmd: "add-camera",
    id: "gate",
    name: "Gate",
    ...creds,
    mainProfile: "main",
    subProfile: "sub",
  });
  assertEquals(added.ok, true, JSON.stringify(added));
  assertEquals(added.result?.camera, {
    id: "gate",
    name: "Gate",
    url: cam.rtspUrl,
    subUrl: cam.subUrl,
    codec: "h264",
    onvif: { url: cam.onvifUrl },
  });
  await h.until("gate", (s) => s.segments >= 1, "the camera added from the fleet records");
  const reported = await cloud.waitFor(
    "config/reported with the camera",
    (m) =>
      m.find((x) =>
        x.topic === `${base}/config/reported` && x.json?.status === "local" &&
        JSON.stringify(x.json).includes('"id":"gate"')
      ),
    20_000,
  );
  assert(reported);

  // The same id again: refused, the camera unchanged.
  const again = await send({ cmd: "add-camera", id: "gate", ...creds, subProfile: null });
  assertEquals([again.ok, again.code], [false, "refused"]);
  assertMatch(again.error ?? "", /a camera 'gate' exists/);
  assertEquals(h.daemon.fleet?.config().cameras.find((c) => c.id === "gate")?.subUrl, cam.subUrl);

  const audit = AuditLog.open(`${h.dir}/data/audit.sqlite`);
  try {
    const rows = audit.list().filter((e) => e.action === "camera.add");
    assertEquals(
      rows.map((e) => [e.userName, e.target, e.outcome]).sort(),
      [
        // The missing profile and the wrong password; the id in use is refused before.
        ["fleet", "camera:gate", "failed"],
        ["fleet", "camera:gate", "failed"],
        ["fleet", "camera:gate", "ok"],
      ],
    );
  } finally {
    audit.close();
  }
  const results = cloud.messages.filter((m) => m.topic.startsWith(`${base}/cmd-result/`));
  assertEquals(results.some((m) => JSON.stringify(m.json).includes("s3cret")), false);
});

Deno.test("attack: fleet add-camera with a file: address, user:password in it, a traversal id or markup as a profile — refused by field, the camera never asked, nothing added", async () => {
  await using r = await rig();
  const { send, h, cam } = r;
  const address = new URL(cam.onvifUrl).host;
  const hostile: [Record<string, unknown>, string][] = [
    [{ id: "x", address: "file:///etc/shadow" }, 'address: "file:" is not an ONVIF scheme'],
    [
      { id: "x", address: `http://admin:s3cret@${address}/onvif/device_service` },
      "address: no user:password in the address",
    ],
    [{ id: "x", address: `${address}/../../etc` }, "address: host[:port] or the device service"],
    [{ id: "x", address: `http://${address}/?x=1` }, "address: no query or fragment"],
    [{ id: "../../etc", address }, "id: expected 1 to 32 of A-Z a-z 0-9 _ -"],
    [{ id: "x", address, mainProfile: "<img src=x>" }, "mainProfile: expected a profile token"],
    [{ id: "x", address, subProfile: 7 }, "subProfile: expected a profile token"],
    [{ id: "x", address, name: "a\u0000b" }, "name: expected 1 to 64 characters"],
    [{ id: "x", address, password: "s3cret\r\nX: y" }, "password: expected a string"],
    [{ id: "x", address, url: "rtsp://evil/" }, "url: unknown key"],
    [{ id: "x", address: "a".repeat(300) }, "address: 1 to 256 characters"],
  ];
  const before = h.daemon.fleet?.config().cameras.map((c) => c.id);
  for (const [fields, why] of hostile) {
    const answer = await send({ cmd: "add-camera", ...fields });
    assertEquals([answer.ok, answer.code], [false, "bad-request"], JSON.stringify(answer));
    assert(answer.error?.includes(why), `${JSON.stringify(fields)}: ${answer.error}`);
    assertEquals(answer.error?.includes("s3cret"), false, "the password is not echoed");
  }
  const profiles = await send({ cmd: "onvif-profiles", address: "file:///etc/shadow" });
  assertEquals([profiles.ok, profiles.code], [false, "bad-request"]);
  assertEquals(h.daemon.fleet?.config().cameras.map((c) => c.id), before);
  const audit = AuditLog.open(`${h.dir}/data/audit.sqlite`);
  try {
    // The hook audits every add it runs, ok or failed: none means the camera was never asked.
    assertEquals(audit.list().filter((e) => e.action === "camera.add"), [], "never got that far");
  } finally {
    audit.close();
  }
});

/**
 * The fleet `ptz` command end to end: a real Mosquitto, the real link and its KV file, the
 * daemon's hook (app/ptz_wiring.ts) with the real PtzService on the virtual camera's PTZ head and
 * a real audit.sqlite. A move from the fleet turns the head and is audited as user "fleet"; hostile
 * commands are answered bad-request naming the field and never reach the camera.
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { Mosquitto } from "../testing/mosquitto.ts";
import { CloudClient, removeDir, testLink, waitUntil } from "../testing/fleet_kit.ts";
import { startFleetLink } from "../fleet/link.ts";
import { deviceTopics } from "../fleet/schema.ts";
import { AuditLog } from "../audit/audit_log.ts";
import { startVirtualCamera, type VirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import { PtzService } from "../onvif/ptz.ts";
import { fleetPtz } from "./ptz_wiring.ts";

const topics = deviceTopics("nvr-test-0001");

interface Rig {
  cloud: CloudClient;
  audit: AuditLog;
  ptz: PtzService;
  /** Sends a command and returns its result. */
  send(id: string, command: Record<string, unknown>): Promise<Record<string, unknown>>;
}

async function withRig(fn: (rig: Rig, cam: VirtualCamera) => Promise<void>): Promise<void> {
  await using cam = await startVirtualCamera({ codec: "h264", ptz: true });
  await using broker = await Mosquitto.start();
  const dir = await Deno.makeTempDir({ prefix: "nvr-ptz-fleet-" });
  await using cloud = await CloudClient.connect(broker.url, [`${topics.prefix}cmd-result/#`]);
  const audit = AuditLog.open(`${dir}/audit.sqlite`);
  const ptz = new PtzService({
    target: (id) =>
      id === "door"
        ? { url: cam.onvifUrl, username: null, password: null }
        : id === "yard"
        ? null
        : undefined,
  });
  const { deps } = testLink(broker.url, dir, {}, { ptz: fleetPtz(ptz, () => audit) });
  const link = await startFleetLink(deps);
  try {
    await waitUntil("subscribed", () => link.status().subscribed);
    const send = async (id: string, command: Record<string, unknown>) => {
      await cloud.publish(topics.cmd(id), JSON.stringify(command));
      return await cloud.waitFor(`result of ${id}`, () => cloud.on(topics.cmdResult(id))[0]?.json);
    };
    await fn({ cloud, audit, ptz, send }, cam);
  } finally {
    await link.stop();
    await ptz.close();
    audit.close();
    await removeDir(dir);
  }
}

Deno.test("ptz fleet: a move from the fleet turns the head, stops by itself, and is audited as fleet", async () => {
  await withRig(async ({ audit, ptz, send }) => {
    const moved = await send("p-1", {
      cmd: "ptz",
      camera: "door",
      action: "move",
      pan: -1,
      timeoutMs: 300,
    });
    assertEquals(moved.ok, true, JSON.stringify(moved));
    assertEquals(moved.result, {
      camera: "door",
      action: "move",
      velocity: { pan: -1, tilt: 0, zoom: 0 },
      stopsAfterMs: 300,
    });
    // Polled with a bounded deadline (the head is asked over ONVIF each time).
    const deadline = Date.now() + 15_000;
    for (;;) {
      const s = (await ptz.status("door")).status;
      if (s !== null && !s.moving && s.position.pan < 0) {
        assert(s.position.pan > -0.6, `pan ${s.position.pan}: the move ran on past its 300 ms`);
        break;
      }
      assert(Date.now() < deadline, "the head did not stop by itself within 15 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const saved = await send("p-2", { cmd: "ptz", camera: "door", action: "save", name: "Left" });
    assertEquals(saved.ok, true, JSON.stringify(saved));
    const list = await send("p-3", { cmd: "ptz", camera: "door", action: "presets" });
    assertEquals((list.result as { presets: unknown }).presets, [
      { token: (saved.result as { preset: string }).preset, name: "Left" },
    ]);
    const entries = audit.list().filter((e) => e.action.startsWith("ptz."))
      .map((e) => `${e.action} ${e.outcome} ${e.userName} ${e.target}`);
    assertEquals(entries.sort(), [
      "ptz.move ok fleet camera:door",
      "ptz.save ok fleet camera:door preset:Left",
    ]);
    // A camera without ONVIF: refused, saying why.
    const plain = await send("p-4", { cmd: "ptz", camera: "yard", action: "stop" });
    assertEquals([plain.ok, plain.code], [false, "refused"]);
    assertMatch(String(plain.error), /no ONVIF address/);
  });
});

Deno.test("attack: fleet ptz command with a hostile preset token or velocity — bad-request naming the field, the camera untouched", async () => {
  await withRig(async ({ audit, ptz, send }) => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { action: "goto", preset: "</tptz:PresetToken><tptz:Evil/>" },
        /preset: expected a preset token of 1 to 64 letters, digits/,
      ],
      [{ action: "save", name: "<x/>" }, /name: expected a preset name/],
      [{ action: "save", name: "ok", preset: 'a"b' }, /preset: expected a preset token/],
      [{ action: "move", pan: 3 }, /pan: expected a velocity from -1 to 1 .*got 3/],
      [
        { action: "move", zoom: 1, timeoutMs: 86_400_000 },
        /timeoutMs: expected whole milliseconds/,
      ],
      [{ action: "move", pan: 1, exec: "reboot" }, /exec: unknown field for move/],
      [{ action: "spin" }, /action: expected one of move, stop, presets, goto, save/],
      [{}, /action: missing/],
    ];
    let n = 0;
    for (const [fields, message] of cases) {
      const r = await send(`h-${++n}`, { cmd: "ptz", camera: "door", ...fields });
      assertEquals([r.ok, r.code], [false, "bad-request"], JSON.stringify(fields));
      assertMatch(String(r.error), message);
    }
    const ghost = await send("h-x", { cmd: "ptz", camera: "ghost", action: "stop" });
    assertEquals([ghost.ok, ghost.code], [false, "unknown-camera"]);
    // Nothing reached the camera: it is home, still, without presets; nothing moved to audit.
    const { presets, status } = await ptz.status("door");
    assertEquals(presets, []);
    assertEquals(status?.position, { pan: 0, tilt: 0, zoom: 0 });
    assertEquals(audit.list().filter((e) => e.action.startsWith("ptz.")), []);
  });
});

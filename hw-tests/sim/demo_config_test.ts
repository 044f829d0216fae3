/**
 * `make run`'s demo: the config it runs the daemon with gives each virtual camera it starts its
 * ONVIF address (so the demo shows camera identity, events, PTZ and the clock check), on the ports
 * demo.ts really starts them on.
 */
import { assert, assertEquals } from "../../runtime/testing/assert.ts";
import { loadConfig } from "../../runtime/config/load.ts";
import { CAMERAS } from "./demo.ts";

Deno.test("demo: each demo camera has its ONVIF address on the port demo.ts starts it on", async () => {
  const config = await loadConfig(new URL("./demo.config.json", import.meta.url).pathname, {});
  assertEquals(config.cameras.map((c) => c.id), CAMERAS.map((c) => c.name));
  for (const cam of CAMERAS) {
    const configured = config.cameras.find((c) => c.id === cam.name);
    assertEquals(configured?.url, `rtsp://127.0.0.1:${cam.rtspPort}/main`);
    assertEquals(
      configured?.onvif?.url,
      `http://127.0.0.1:${cam.onvifPort}/onvif/device_service`,
      `${cam.name}: cameras[].onvif.url`,
    );
  }
  // One camera shows PTZ, one the clock warning and its NTP fix.
  assert(CAMERAS.some((c) => "ptz" in c && c.ptz), "a demo camera with a PTZ head");
  const drifting = CAMERAS.find((c) => "clockOffsetMs" in c);
  assert(drifting, "a demo camera with a clock off");
  assert(
    config.cameras.find((c) => c.id === drifting.name)?.onvif?.setNtp,
    "the drifting camera is told an NTP server",
  );
});

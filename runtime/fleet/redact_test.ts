import { assert, assertEquals } from "../testing/assert.ts";
import { validateConfig } from "../config/mod.ts";
import { remoteConfig } from "../config/remote_keys.ts";
import type { NvrConfig } from "../config/types.ts";
import { redactConfig } from "./redact.ts";

const RUNNING = validateConfig({
  mqtt: { url: "mqtts://box:brokerpw@fleet.example.org:8883", username: "box", password: "pw" },
  cameras: [{
    id: "gate",
    url: "rtsp://cam:mainpw@10.0.0.5/main",
    subUrl: "rtsp://cam:subpw@10.0.0.5/sub",
    password: "x",
  }],
});

Deno.test("attack: the sub-stream's camera password read through get-config or GET /api/config", () => {
  // get-config, config/reported and GET /api/config all show redactConfig's view.
  const shown = JSON.stringify(redactConfig(RUNNING));
  for (const secret of ["brokerpw", "mainpw", "subpw", '"pw"', '"x"']) {
    assert(!shown.includes(secret), `${secret} is not shown: ${shown}`);
  }
  // What was shown comes back unchanged (read → edit → write): every secret is kept.
  const back = remoteConfig(JSON.parse(shown), RUNNING, {
    by: "from the fleet",
    source: "the fleet's configuration",
    markerFrom: "get-config",
  }) as NvrConfig;
  assertEquals(back.cameras[0]?.subUrl, "rtsp://cam:subpw@10.0.0.5/sub");
  assertEquals(back.cameras[0]?.url, "rtsp://cam:mainpw@10.0.0.5/main");
});

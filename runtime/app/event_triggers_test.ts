import { assertEquals } from "../testing/assert.ts";
import { validateConfig } from "../config/mod.ts";
import type { CameraEvent } from "../onvif/event_watch.ts";
import { EventTriggers } from "./event_triggers.ts";

const motion = (active: boolean | null, property = "Changed"): CameraEvent => ({
  type: "motion",
  active,
  topic: "tns1:RuleEngine/CellMotionDetector/Motion",
  timeMs: null,
  property,
  source: { VideoSourceConfigurationToken: "vs0" },
});

Deno.test("event triggers: only events-mode cameras; motion on holds until off; a plugin alarm is a moment; the state at subscribing is no event", () => {
  const sent: [string, boolean][] = [];
  const triggers = new EventTriggers((camera, held) => sent.push([camera, held]));
  triggers.apply(
    validateConfig({
      cameras: [
        { id: "ev", url: "rtsp://10.0.0.5/main", record: { mode: "events" } },
        { id: "always", url: "rtsp://10.0.0.6/main" },
      ],
    }).cameras,
  );
  triggers.cameraEvent("always", motion(true));
  triggers.cameraEvent("ev", motion(false, "Initialized"));
  assertEquals(sent, [], "continuous cameras and 'nothing on' at subscribing send nothing");
  triggers.cameraEvent("ev", motion(true));
  triggers.alarm(["ev", "always"]);
  triggers.cameraEvent("ev", motion(false));
  triggers.alarm(["ev"]);
  triggers.cameraEvent("ev", motion(null));
  assertEquals(sent, [["ev", true], ["ev", true], ["ev", false], ["ev", false], ["ev", false]]);
});

Deno.test("event triggers: a line crossing (no state, no PropertyOperation) is a moment, and does not end a motion held on", () => {
  const sent: [string, boolean][] = [];
  const triggers = new EventTriggers((camera, held) => sent.push([camera, held]));
  triggers.apply(
    validateConfig({
      cameras: [{ id: "ev", url: "rtsp://10.0.0.5/main", record: { mode: "events" } }],
    }).cameras,
  );
  const crossed: CameraEvent = {
    type: "line-crossing",
    active: null,
    topic: "tns1:RuleEngine/LineDetector/Crossed",
    timeMs: null,
    property: "",
    source: { Rule: "Driveway" },
  };
  triggers.cameraEvent("ev", crossed);
  triggers.cameraEvent("ev", motion(true));
  triggers.cameraEvent("ev", crossed);
  triggers.cameraEvent("ev", motion(false));
  assertEquals(sent, [["ev", false], ["ev", true], ["ev", true], ["ev", false]]);
});

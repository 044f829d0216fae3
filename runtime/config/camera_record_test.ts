import { assertEquals } from "../testing/assert.ts";
import { ConfigError, validateConfig } from "./mod.ts";

function problems(raw: unknown): readonly string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const rtsp = "rtsp://10.0.0.5:554/main";

Deno.test("cameras[].record: absent is continuous; events mode gets pre- and post-roll defaults", () => {
  const [plain, events] = validateConfig({
    cameras: [
      { id: "a", url: rtsp },
      { id: "b", url: rtsp, record: { mode: "events" } },
    ],
  }).cameras;
  assertEquals(plain?.record, undefined);
  assertEquals(events?.record, { mode: "events", preRollSeconds: 5, postRollSeconds: 30 });
  const [set] = validateConfig({
    cameras: [{
      id: "a",
      url: rtsp,
      record: { mode: "events", preRollSeconds: 0, postRollSeconds: 600 },
    }],
  }).cameras;
  assertEquals(set?.record, { mode: "events", preRollSeconds: 0, postRollSeconds: 600 });
});

Deno.test("cameras[].record: every bad value is named with what is allowed", () => {
  assertEquals(
    problems({
      cameras: [
        {
          id: "a",
          url: rtsp,
          record: { mode: "motion", preRollSeconds: 31, postRollSeconds: -1, pre: 5 },
        },
        { id: "b", url: rtsp, record: "events" },
        { id: "c", url: rtsp, record: { preRollSeconds: "5s" } },
        { id: "usb", url: "v4l2:///dev/video0", record: { mode: "events" } },
      ],
    }),
    [
      'cameras[0].record.mode: "motion" is not allowed; allowed: "continuous", "events"',
      "cameras[0].record.preRollSeconds: 31 is not allowed; allowed: a number from 0 to 30",
      "cameras[0].record.postRollSeconds: -1 is not allowed; allowed: a number from 0 to 600",
      "cameras[0].record.pre: unknown key; known keys here: mode, postRollSeconds, preRollSeconds",
      'cameras[1].record: expected an object, got "events"',
      'cameras[2].record.preRollSeconds: "5s" is not allowed; allowed: a number from 0 to 30',
      'cameras[3].record.mode: "events" needs the built-in recorder, which records RTSP cameras; ' +
      'a USB camera records continuously: set "continuous" or drop record',
    ],
  );
  assertEquals(
    problems({
      recording: { remux: "gstreamer" },
      cameras: [{ id: "a", url: rtsp, record: { mode: "events" } }],
    }),
    [
      'cameras[0].record.mode: "events" needs the built-in recorder, but recording.remux is ' +
      '"gstreamer"; set recording.remux to "builtin" or this camera\'s mode to "continuous"',
    ],
  );
});

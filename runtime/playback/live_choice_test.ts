/** Which stream a live viewer gets (live_choice.ts): pure, no I/O. */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { chooseLive, type TranscodeCandidate } from "./live_choice.ts";
import type { LiveSource } from "../media/restream/feed.ts";

const source = (): LiveSource => ({ subscribe: () => () => {} });
const transcode = (free: boolean) => {
  const tc: TranscodeCandidate & { asked: number } = {
    asked: 0,
    lastError: null,
    subscribe: () => () => {},
    admit() {
      this.asked++;
      return free;
    },
  };
  return tc;
};
const h264 = new Set(["h264"] as const);
const both = new Set(["h264", "h265"] as const);

Deno.test("live choice: H.265 as it is where the browser plays it; the transcode not started", () => {
  const tc = transcode(true);
  const c = chooseLive({
    camera: "door",
    mainCodec: "h265",
    main: source(),
    sub: null,
    transcode: { source: tc, refusal: () => "full" },
  }, both);
  assert("label" in c && c.label === "main");
  assertEquals(tc.asked, 0);
});

Deno.test("live choice: the sub-stream before the transcode", () => {
  const tc = transcode(true);
  const c = chooseLive({
    camera: "door",
    mainCodec: "h265",
    main: source(),
    sub: Object.assign(source(), { lastError: null }),
    transcode: { source: tc, refusal: () => "full" },
  }, h264);
  assert("label" in c && c.label === "sub");
  assertEquals(tc.asked, 0);
});

Deno.test("live choice: no H.265, no sub-stream: the transcode, or the cap's reason", () => {
  const base = { camera: "door", mainCodec: "h265" as const, main: source(), sub: null };
  const ok = chooseLive(
    { ...base, transcode: { source: transcode(true), refusal: () => "" } },
    h264,
  );
  assert("label" in ok && ok.label === "transcode");
  const full = chooseLive({
    ...base,
    transcode: { source: transcode(false), refusal: () => "Too many transcodes: …" },
  }, h264);
  assert("reason" in full);
  assertMatch(full.reason, /^Too many transcodes/);
  const none = chooseLive(base, h264);
  assert("reason" in none);
  assertMatch(none.reason, /cannot transcode H\.265 to H\.264/);
});

import { assertEquals } from "../../testing/assert.ts";
import { LiveFanout, type LiveFrame, type LiveSource, type LiveTrack } from "./feed.ts";
import { LiveRelay } from "./relay.ts";

const track: LiveTrack = {
  codec: "h264",
  clockRate: 90_000,
  sps: new Uint8Array([0x67]),
  pps: new Uint8Array([0x68]),
  codecString: "avc1.42c01e",
  width: 640,
  height: 360,
};

function frame(ts: number, keyframe: boolean): LiveFrame {
  const nal = new Uint8Array([keyframe ? 0x65 : 0x41, ts & 0xff]);
  return { nals: [nal], ts, duration: 6000, keyframe, wallMs: ts / 90, bytes: nal.length };
}

Deno.test("live relay: viewers stay subscribed when the recorders' feed is replaced", () => {
  const a = new LiveFanout();
  const b = new LiveFanout();
  let current: LiveSource | null = a;
  const relay = new LiveRelay(() => current);
  const got: number[] = [];
  const off = relay.subscribe({ frame: (_t, f) => got.push(f.ts) });
  assertEquals(a.subscribers, 1, "attached to the feed on the first viewer");
  a.publish(track, frame(1, true));
  // The recorders restart: for a moment there is no feed, then a new one.
  current = null;
  relay.follow();
  assertEquals(a.subscribers, 0, "the old feed is let go");
  current = b;
  relay.follow();
  assertEquals(b.subscribers, 1);
  a.publish(track, frame(2, false)); // the old feed's last gasp reaches no one
  b.publish(track, frame(100, true));
  b.publish(track, frame(101, false));
  assertEquals(got, [1, 100, 101]);
  relay.follow(); // the same feed: nothing changes
  assertEquals(b.subscribers, 1);
  off();
  assertEquals(b.subscribers, 0, "the last viewer gone: the feed is let go");
});

Deno.test("live relay: a second viewer starts at the relay's keyframe, not a second feed", () => {
  const a = new LiveFanout();
  const relay = new LiveRelay(() => a);
  const first: number[] = [];
  const second: number[] = [];
  const off1 = relay.subscribe({ frame: (_t, f) => first.push(f.ts) });
  a.publish(track, frame(1, true));
  a.publish(track, frame(2, false));
  const off2 = relay.subscribe({ frame: (_t, f) => second.push(f.ts) });
  a.publish(track, frame(3, false));
  assertEquals(first, [1, 2, 3]);
  assertEquals(second, [1, 2, 3]);
  assertEquals(a.subscribers, 1);
  off1();
  off2();
  // Nobody watching: following attaches nothing.
  relay.follow();
  assertEquals(a.subscribers, 0);
});

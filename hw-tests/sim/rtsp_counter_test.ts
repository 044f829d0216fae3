import { assertEquals } from "../../runtime/testing/assert.ts";
import { RtspSession } from "../../runtime/media/rtsp/session.ts";
import { mountOf, RequestReader } from "./rtsp_counter.ts";
import { startVirtualCamera } from "./virtual_camera.ts";

Deno.test("rtsp counter: requests read across chunk edges, interleaved RTP and bodies skipped", () => {
  const seen: string[] = [];
  const reader = new RequestReader((method, url) => seen.push(`${method} ${mountOf(url)}`));
  const enc = new TextEncoder();
  const rtcp = new Uint8Array([0x24, 1, 0, 6, 0x50, 0x4c, 0x41, 0x59, 0x20, 0x20]); // "PLAY  " inside
  const body = "a=b\r\nPLAY rtsp://x/evil RTSP/1.0\r\n";
  const bytes = new Uint8Array([
    ...enc.encode("SETUP rtsp://127.0.0.1:1/sub/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n\r\n"),
    ...enc.encode("PLAY rtsp://127.0.0.1:1/sub/ RTSP/1.0\r\nCSeq: 4\r\n\r\n"),
    ...rtcp,
    ...enc.encode(
      `SET_PARAMETER rtsp://127.0.0.1:1/sub RTSP/1.0\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    ),
    ...enc.encode("TEARDOWN rtsp://127.0.0.1:1/sub RTSP/1.0\r\nCSeq: 6\r\n\r\n"),
  ]);
  // Every split point, one byte at a time at worst.
  for (let i = 0; i < bytes.length; i++) reader.feed(bytes.subarray(i, i + 1));
  assertEquals(seen, ["SETUP /sub", "PLAY /sub", "SET_PARAMETER /sub", "TEARDOWN /sub"]);
  assertEquals(reader.feed(new TextEncoder().encode("GARBAGE\r\n\r\n")), false);
});

Deno.test("rtsp counter: the virtual camera counts PLAYs and sessions playing, per mount", async () => {
  await using cam = await startVirtualCamera({ codec: "h264", countSessions: true });
  assertEquals(cam.sessions(), {});
  const run = new AbortController();
  const session = await RtspSession.open({ url: cam.subUrl, timeoutMs: 10_000 });
  let frames = 0;
  let firstFrame: () => void = () => {};
  const gotFrame = new Promise<void>((r) => firstFrame = r);
  const playing = session.play({
    onVideo: () => {
      frames++;
      firstFrame();
    },
  }, run.signal);
  await gotFrame;
  assertEquals(cam.sessions(), { "/sub": { plays: 1, playing: 1 } });
  run.abort();
  await playing;
  await session.close();
  // TEARDOWN was read before the close returned; the connection's end follows.
  const deadline = Date.now() + 10_000;
  while (cam.sessions()["/sub"]?.playing !== 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assertEquals(cam.sessions(), { "/sub": { plays: 1, playing: 0 } });
});

/**
 * Reading a camera's clock (ONVIF GetSystemDateAndTime) against the box's: the virtual camera
 * with a skewed clock, and hostile answers (an impossible date, an endless reply, no ONVIF).
 * Everything on 127.0.0.1.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { startVirtualCamera } from "../../hw-tests/sim/virtual_camera.ts";
import {
  CameraClockError,
  MAX_REPLY_BYTES,
  parseSystemDateAndTime,
  readCameraClock,
} from "./camera_clock.ts";

const answer = (utc: string) =>
  `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" ` +
  `xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body><tds:GetSystemDateAndTimeResponse>` +
  `<tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>` +
  `<tt:TimeZone><tt:TZ>CET-1CEST,M3.5.0,M10.5.0/3</tt:TZ></tt:TimeZone>${utc}` +
  `<tt:LocalDateTime><tt:Time><tt:Hour>1</tt:Hour><tt:Minute>2</tt:Minute><tt:Second>3` +
  `</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>3</tt:Month><tt:Day>1` +
  `</tt:Day></tt:Date></tt:LocalDateTime></tds:SystemDateAndTime>` +
  `</tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>`;
const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number) =>
  `<tt:UTCDateTime><tt:Time><tt:Hour>${h}</tt:Hour><tt:Minute>${mi}</tt:Minute>` +
  `<tt:Second>${s}</tt:Second></tt:Time><tt:Date><tt:Year>${y}</tt:Year>` +
  `<tt:Month>${mo}</tt:Month><tt:Day>${d}</tt:Day></tt:Date></tt:UTCDateTime>`;

Deno.test("camera clock: the UTC time of a GetSystemDateAndTime answer, never its local time", () => {
  assertEquals(
    parseSystemDateAndTime(answer(utc(2026, 2, 28, 23, 59, 30))),
    Date.UTC(2026, 1, 28, 23, 59, 30),
  );
  // Only a local time: not guessed from the POSIX TZ rule.
  assertEquals(parseSystemDateAndTime(answer("")), null);
});

Deno.test("attack: camera answers an impossible date (31 February, hour 99) — no reading, not rolled over", () => {
  assertEquals(parseSystemDateAndTime(answer(utc(2026, 2, 31, 12, 0, 0))), null);
  assertEquals(parseSystemDateAndTime(answer(utc(2026, 1, 1, 99, 0, 0))), null);
  assertEquals(parseSystemDateAndTime(answer(utc(1900, 1, 1, 0, 0, 0))), null);
  assertEquals(parseSystemDateAndTime("<a>" + "<tt:UTCDateTime>".repeat(10_000)), null);
});

/** A server on 127.0.0.1 with the given answer; closed by `await using`. */
function serve(handler: () => Response) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}/onvif/device_service`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("attack: camera answers with an endless reply — cut at 64 KiB with a clear error", async () => {
  let sent = 0;
  await using srv = serve(() =>
    new Response(
      new ReadableStream({
        pull(c) {
          // Bounded even if the reader never stops: 16 MiB at most.
          if (sent > 16 * 2 ** 20) return c.close();
          sent += 16_384;
          c.enqueue(new Uint8Array(16_384).fill(60));
        },
      }),
      { headers: { "content-type": "application/soap+xml" } },
    )
  );
  const err = await assertRejects(() => readCameraClock(srv.url), CameraClockError);
  assert(err.message.includes(`larger than ${MAX_REPLY_BYTES} bytes`), err.message);
  assert(sent < 4 * 2 ** 20, `stopped reading early (${sent} bytes sent)`);
});

Deno.test("attack: an address that is no ONVIF camera (HTTP 404, not SOAP) — an error naming it", async () => {
  await using srv = serve(() => new Response("<html>router login</html>", { status: 404 }));
  const err = await assertRejects(() => readCameraClock(srv.url), CameraClockError);
  assert(err.message.includes(srv.url) && err.message.includes("HTTP 404"), err.message);
  await assertRejects(() => readCameraClock("file:///etc/passwd"), CameraClockError, "only http");
});

Deno.test("camera clock: the virtual camera 90 s ahead reads about +90 s, one in time about 0", async () => {
  const small = { codec: "h264", width: 160, height: 120, fps: 5 } as const;
  await using ahead = await startVirtualCamera({ ...small, clockOffsetMs: 90_000 });
  await using right = await startVirtualCamera(small);
  const a = await readCameraClock(ahead.onvifUrl);
  const r = await readCameraClock(right.onvifUrl);
  // ONVIF gives whole seconds: up to 1 s (plus the round trip) below the true drift.
  assert(a.driftMs > 88_000 && a.driftMs <= 90_500, `ahead: ${a.driftMs} ms`);
  assert(Math.abs(r.driftMs) < 2_000, `in time: ${r.driftMs} ms`);
});

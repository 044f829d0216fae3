/**
 * The daemon's side of the box's NTP server: what the answers say about the clock, which
 * addresses are served, and the camera clock check's setNtp "box" when the server cannot be the
 * camera's (not running, or not listening where the box meets the camera). The full path, real
 * cameras and the real daemon, is in camera_ntp_e2e_test.ts.
 */
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { memoryLogger } from "../lib/log.ts";
import { validateConfig } from "../config/mod.ts";
import { sntpTime, startBoxNtp } from "./box_ntp.ts";
import { startCameraClockKeeper } from "./camera_clock_keeper.ts";

Deno.test("box NTP: stratum 3 after timesyncd, 10 on an RTC or trust always, none while not believed", () => {
  const now = Date.parse("2027-03-01T12:00:00Z");
  const synced = "2027-03-01T11:00:00.000Z";
  assertEquals(sntpTime({ trusted: false, source: null, lastSync: null }, now), {
    trusted: false,
  });
  assertEquals(sntpTime({ trusted: true, source: "timesyncd", lastSync: synced }, now), {
    trusted: true,
    stratum: 3,
    refId: "LOCL",
    referenceMs: Date.parse(synced),
    rootDispersionMs: 10 + 3_600_000 * 15e-6,
  });
  const rtc = sntpTime({ trusted: true, source: "rtc", lastSync: "2026-01-01T00:00:00Z" }, now);
  assertEquals(rtc.trusted && [rtc.stratum, rtc.rootDispersionMs], [10, 1_000]);
});

Deno.test("box NTP: serves the addresses it listens on (0.0.0.0: every IPv4 one)", async () => {
  const log = memoryLogger();
  const one = startBoxNtp({ listen: ["127.0.0.1:0"], log });
  const any = startBoxNtp({ listen: ["0.0.0.0:0"], log });
  try {
    assertEquals([one.serves("127.0.0.1"), one.serves("192.168.1.5"), one.serves("::1")], [
      true,
      false,
      false,
    ]);
    assertEquals([any.serves("192.168.1.5"), any.serves("fd00::5")], [true, false]);
  } finally {
    await one.close();
    await any.close();
  }
});

Deno.test('setNtp "box": not running, or not listening where the box meets the camera — not sent, failure audited naming what to change', async () => {
  const config = validateConfig({
    ntp: { listen: ["127.0.0.1:123"] },
    cameras: [{
      id: "cam",
      url: "rtsp://127.0.0.1:1/x",
      onvif: { url: "http://[::1]:8080/onvif/device_service", setNtp: "box" },
    }],
  });
  for (
    const [boxNtp, why] of [
      [null, /box's NTP server is not running/],
      [
        { serves: (a: string) => a === "127.0.0.1" },
        /from ::1, where its NTP server does not .*"\[::1\]:123"/,
      ],
    ] as const
  ) {
    const audited: { host: string; box: boolean; error: string | null }[] = [];
    const sent: string[] = [];
    const keeper = startCameraClockKeeper({
      cameras: () => config.cameras,
      thresholdMs: () => 5_000,
      index: () => ({ addEvent: () => {} }) as never,
      log: memoryLogger(),
      firstMs: 3_600_000,
      intervalMs: 3_600_000,
      read: () => Promise.resolve({ driftMs: 600_000 }) as never,
      setNtp: (_url, host) => {
        sent.push(host);
        return Promise.resolve();
      },
      localAddress: () => Promise.resolve("::1"),
      boxNtp: () => boxNtp,
      onSetNtp: (e) => audited.push(e),
    });
    await keeper.checkNow();
    await keeper.stop();
    assertEquals(sent, [], "no SetNTP");
    assertEquals(audited.map((e) => [e.host, e.box]), [["box", true]]);
    assertMatch(audited[0]?.error ?? "", why);
  }
});

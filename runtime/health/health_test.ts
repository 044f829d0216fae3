import { EMPTY_STATS } from "../recorder/supervisor/camera_stats.ts";
import type { CameraStatus } from "../recorder/supervisor/camera_status.ts";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { softwareVersion } from "../lib/version.ts";
import { fixtureHealth } from "./health_fixture.ts";
import { collectHealth, decodeThrottled } from "./mod.ts";

Deno.test("rpi4 fixture: uptime, load, CPU from two /proc/stat readings, memory, temperature, throttling", async () => {
  const h = await fixtureHealth("rpi4");
  assertEquals(h.uptimeSeconds, 98765.43);
  assertEquals(h.load, { one: 0.52, five: 0.61, fifteen: 0.58 });
  assertEquals([h.cpu.usedPercent, h.cpu.perCorePercent, h.cpu.iowaitPercent], [
    17.5,
    [40, 20, 10, 0],
    1,
  ]);
  assertEquals(h.memory, {
    totalBytes: 3882056 * 1024,
    availableBytes: 2754312 * 1024,
    usedBytes: 1127744 * 1024,
    usedPercent: 29.1,
    swapTotalBytes: 102396 * 1024,
    swapUsedBytes: 0,
  });
  assertEquals(h.temperatures, [{ zone: "thermal_zone0", type: "cpu-thermal", celsius: 52.6 }]);
  assertEquals(h.cpuTemperatureC, 52.6);
  // 0x50005: under-voltage and throttled now (bits 0, 2) and since boot (bits 16, 18).
  const flags = {
    underVoltage: true,
    frequencyCapped: false,
    throttled: true,
    softTempLimit: false,
  };
  assertEquals(h.throttling, {
    raw: "0x50005",
    now: flags,
    sinceBoot: flags,
    source: "vcgencmd get_throttled",
  });
  assertEquals(h.smart.map((s) => [s.device, s.passed, s.wearPercentUsed, s.wearSource]), [
    ["/dev/mmcblk0", null, null, null], // smartctl knows nothing of SD cards
    ["/dev/sda", true, 2, "ata:177 Wear_Leveling_Count"],
  ]);
  assertMatch(h.smart[0]?.error ?? "", /no answer/);
});

Deno.test("jetson fixture: CPU-therm is the CPU temperature (not PMIC-Die's fixed 100 °C), NVMe wear", async () => {
  const h = await fixtureHealth("jetson");
  assertEquals(h.cpu.usedPercent, 75);
  assertEquals(h.cpu.perCorePercent, [75, 75, 75, 75, 75, 75]);
  assertEquals(h.cpuTemperatureC, 41.5);
  assertEquals(h.temperatures.length, 6);
  assertEquals(h.memory?.usedPercent, 34.1);
  assertEquals(h.memory?.swapUsedBytes, (3882924 - 3800000) * 1024);
  assertEquals(h.smart.find((s) => s.device === "/dev/nvme0n1"), {
    device: "/dev/nvme0n1",
    model: "Samsung SSD 970 EVO Plus 500GB",
    passed: true,
    wearPercentUsed: 3,
    wearSource: "nvme:percentage_used",
    temperatureC: 38,
    powerOnHours: 2210,
    reallocatedSectors: null,
    pendingSectors: null,
    mediaErrors: 0,
    error: null,
  });
  assertEquals(h.throttling, null, "no vcgencmd answer off the Pi");
});

Deno.test("x86 fixture: x86_pkg_temp, a failing worn-out NVMe, SATA wear and reallocated sectors", async () => {
  const h = await fixtureHealth("x86");
  assertEquals([h.cpu.usedPercent, h.cpu.iowaitPercent], [80, 4]);
  assertEquals(h.cpuTemperatureC, 46);
  assertEquals(
    h.temperatures.map((t) => t.type),
    ["acpitz", "x86_pkg_temp"],
    "unreadable zone left out",
  );
  const nvme = h.smart.find((s) => s.device === "/dev/nvme0n1");
  assertEquals([nvme?.passed, nvme?.wearPercentUsed, nvme?.mediaErrors], [false, 101, 12]);
  const sda = h.smart.find((s) => s.device === "/dev/sda");
  assertEquals(
    [
      sda?.passed,
      sda?.wearPercentUsed,
      sda?.reallocatedSectors,
      sda?.pendingSectors,
      sda?.powerOnHours,
    ],
    [true, 4, 2, 0, 8760],
  );
  assertEquals(h.smart.map((s) => s.device), ["/dev/nvme0n1", "/dev/sda", "/dev/sdb"]);
});

Deno.test("disks: free/used through statvfs; an unreadable path says so and the rest is reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "health-disk-" });
  try {
    const h = await fixtureHealth("x86", {
      diskPaths: [{ label: "data", path: dir }, { label: "gone", path: `${dir}/missing/x` }],
    });
    const [data, gone] = h.disks;
    assert(data !== undefined && data.totalBytes !== null && data.totalBytes > 0, "total");
    assertEquals(data.usedBytes !== null && data.usedBytes <= data.totalBytes, true);
    assert(data.usedPercent !== null && data.usedPercent >= 0 && data.usedPercent <= 100);
    assertEquals(gone?.totalBytes, null);
    assertMatch(gone?.error ?? "", /missing\/x/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cameras and plugins are reported as given", async () => {
  const cam: CameraStatus = {
    id: "front",
    state: "recording",
    lastError: null,
    restarts: 2,
    segments: 41,
    lastSegmentEndMs: 1764040000000,
    plan: { mode: "passthrough", codec: "h265", reason: "camera sends H.265" },
    stats: { ...EMPTY_STATS, fpsIn: 15, bitrateKbps: 980, width: 1920, height: 1080 },
  };
  const h = await fixtureHealth("rpi4", {
    cameras: [cam],
    plugins: [{ id: "serial-sensor", state: "failed", lastError: "port closed" }],
    smartctl: null,
  });
  assertEquals(h.cameras, [{
    id: "front",
    state: "recording",
    lastError: null,
    restarts: 2,
    segments: 41,
    lastSegmentEndMs: 1764040000000,
    fps: 15,
    bitrateKbps: 980,
    droppedFrames: null,
    width: 1920,
    height: 1080,
    mode: "passthrough",
    codec: "h265",
    recorder: "gstreamer",
  }]);
  assertEquals(h.plugins.map((p) => p.state), ["failed"]);
  assertEquals(h.smart, [], "smartctl null: no SMART round");
});

Deno.test("decodeThrottled: bits 0–3 now, 16–19 since boot; anything else is null", () => {
  const none = {
    underVoltage: false,
    frequencyCapped: false,
    throttled: false,
    softTempLimit: false,
  };
  const all = { underVoltage: true, frequencyCapped: true, throttled: true, softTempLimit: true };
  assertEquals(decodeThrottled("throttled=0x0\n", "x")?.now, none);
  assertEquals(decodeThrottled("throttled=0xf000f", "x")?.sinceBoot, all);
  const past = decodeThrottled("throttled=0x20000", "x");
  assertEquals([past?.now, past?.sinceBoot.frequencyCapped], [none, true]);
  assertEquals(decodeThrottled('error=1 error_msg="Command not registered"', "x"), null);
});

Deno.test("this machine: a real sample (100 ms CPU window), version from git or build_info", async () => {
  const h = await collectHealth({ smartctl: null, vcgencmd: null, cpuSampleMs: 100 });
  assert(h.cpu.usedPercent !== null && h.cpu.usedPercent >= 0 && h.cpu.usedPercent <= 100);
  assert(h.cpu.sampleMs >= 90, `sample ${h.cpu.sampleMs} ms`);
  assert(h.memory !== null && h.memory.totalBytes > 0);
  assert(h.uptimeSeconds !== null && h.uptimeSeconds > 0);
  assertEquals(h.disks[0]?.path, "/");
  assert(h.software.version.length > 0);
});

Deno.test("softwareVersion: build_info.json first, then git, else none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "version-" });
  try {
    const path = `${dir}/build_info.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({ commit: "0123456789abcdef", builtAt: "2026-01-02T03:04:05Z" }),
    );
    const built = await softwareVersion({ buildInfoPath: path, git: null });
    assertEquals([built.commit, built.commitSource, built.builtAt], [
      "0123456789abcdef",
      "build_info.json",
      "2026-01-02T03:04:05Z",
    ]);
    const none = await softwareVersion({ buildInfoPath: `${dir}/absent.json`, git: null });
    assertEquals([none.commit, none.commitSource], [null, "none"]);
    const git = await softwareVersion({
      buildInfoPath: `${dir}/absent.json`,
      git: () => Promise.resolve("fedcba9876543210fedcba9876543210fedcba98"),
    });
    assertEquals(git.commitSource, "git");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

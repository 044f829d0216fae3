import { assert, assertEquals } from "../testing/assert.ts";
import { fixtureHealth } from "./health_fixture.ts";
import { type Health, significantChange } from "./mod.ts";

const none = {
  underVoltage: false,
  frequencyCapped: false,
  throttled: false,
  softTempLimit: false,
};

/** The x86 fixture sample with a camera, a data disk at 50 % and no throttling. */
async function baseline(): Promise<Health> {
  const h = await fixtureHealth("x86", { smartctl: null });
  return {
    ...h,
    cameras: [{
      id: "front",
      state: "recording",
      lastError: null,
      restarts: 0,
      segments: 10,
      lastSegmentEndMs: 1,
      fps: 15,
      bitrateKbps: 900,
      droppedFrames: 0,
      width: 1280,
      height: 720,
      mode: "passthrough",
      codec: "h265",
      recorder: "builtin",
    }],
    disks: [{
      label: "data",
      path: "/data",
      totalBytes: 1000,
      availableBytes: 500,
      usedBytes: 500,
      usedPercent: 50,
      error: null,
    }],
    throttling: { raw: "0x0", now: none, sinceBoot: none, source: "vcgencmd get_throttled" },
    smart: [{
      device: "/dev/sda",
      model: "SSD",
      passed: true,
      wearPercentUsed: 10,
      wearSource: "nvme:percentage_used",
      temperatureC: 30,
      powerOnHours: 1,
      reallocatedSectors: null,
      pendingSectors: null,
      mediaErrors: 0,
      error: null,
    }],
  };
}

Deno.test("significantChange: nothing notable between two ordinary samples", async () => {
  const a = await baseline();
  const b: Health = {
    ...a,
    cpu: { ...a.cpu, usedPercent: 55 },
    cpuTemperatureC: 60,
    load: { one: 9, five: 3, fifteen: 1 },
    disks: [{ ...a.disks[0]!, usedPercent: 89.9 }],
  };
  assertEquals(significantChange(a, b), null);
  assertEquals(significantChange(null, a), "first sample");
});

Deno.test("significantChange: camera state, added and removed cameras", async () => {
  const a = await baseline();
  const cam = a.cameras[0]!;
  assertEquals(
    significantChange(a, { ...a, cameras: [{ ...cam, state: "retrying" }] }),
    "camera front: recording → retrying",
  );
  assertEquals(
    significantChange(a, { ...a, cameras: [{ ...cam, id: "yard" }] }),
    "camera yard added (recording); camera front removed",
  );
  // Stats move every second: not a change.
  assertEquals(significantChange(a, { ...a, cameras: [{ ...cam, fps: 14, segments: 11 }] }), null);
});

Deno.test("significantChange: disk over (and back under) the threshold, or unreadable", async () => {
  const a = await baseline();
  const d = a.disks[0]!;
  const full = { ...a, disks: [{ ...d, usedPercent: 90.5 }] };
  assertEquals(significantChange(a, full), "disk data (/data) 90.5% used, over 90%");
  assertEquals(significantChange(full, { ...a, disks: [{ ...d, usedPercent: 95 }] }), null);
  assertEquals(significantChange(full, a), "disk data (/data) back under 90% used");
  assertEquals(
    significantChange(a, { ...a, disks: [{ ...d, usedPercent: 99 }] }, {
      diskUsedPercent: 99,
      cpuTemperatureC: 80,
      smartWearPercent: 90,
    }),
    "disk data (/data) 99% used, over 99%",
  );
  const gone = { ...d, totalBytes: null, usedPercent: null, error: "Cannot read /data" };
  assertEquals(significantChange(a, { ...a, disks: [gone] }), "disk data: Cannot read /data");
});

Deno.test("significantChange: temperature and throttling", async () => {
  const a = await baseline();
  assertEquals(
    significantChange(a, { ...a, cpuTemperatureC: 81.2 }),
    "CPU temperature 81.2 °C, over 80 °C",
  );
  assertEquals(
    significantChange({ ...a, cpuTemperatureC: 85 }, a),
    "CPU temperature back under 80 °C",
  );
  const t = a.throttling!;
  const hot = {
    ...t,
    now: { ...none, softTempLimit: true, throttled: true },
    sinceBoot: { ...none, softTempLimit: true, throttled: true },
  };
  assertEquals(
    significantChange(a, { ...a, throttling: hot }),
    "throttling started: throttled, softTempLimit",
  );
  assertEquals(significantChange({ ...a, throttling: hot }, { ...a, throttling: hot }), null);
  // A brief under-voltage between two samples shows only in the since-boot bits.
  const brief = { ...t, sinceBoot: { ...none, underVoltage: true } };
  assertEquals(
    significantChange(a, { ...a, throttling: brief }),
    "throttling happened since the last sample: underVoltage",
  );
});

Deno.test("significantChange: SMART failing and wear over the threshold; several reasons at once", async () => {
  const a = await baseline();
  const s = a.smart[0]!;
  assertEquals(
    significantChange(a, { ...a, smart: [{ ...s, passed: false }] }),
    "disk /dev/sda: SMART health check failed",
  );
  const worn = { ...a, smart: [{ ...s, wearPercentUsed: 91 }], cpuTemperatureC: 90 };
  const reason = significantChange(a, worn);
  assert(
    reason !== null && reason.includes("91% of its rated life") && reason.includes("°C"),
    reason ?? "",
  );
});

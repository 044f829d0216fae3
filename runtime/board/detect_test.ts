import { assertEquals } from "../testing/assert.ts";
import { type BoardInfo, detectBoard } from "./detect.ts";

const testdata = new URL("./testdata/", import.meta.url).pathname;
const roots = (name: string) => ({
  sysRoot: `${testdata}${name}/sys`,
  procRoot: `${testdata}${name}/proc`,
});

const CASES: [string, BoardInfo][] = [
  ["rpi4", {
    id: "rpi4",
    model: "Raspberry Pi 4 Model B Rev 1.4",
    source: "rpi4/sys/firmware/devicetree/base/model",
  }],
  // Only /proc/device-tree: the /sys devicetree is not mounted (e.g. in a container).
  ["rpi5", {
    id: "rpi5",
    model: "Raspberry Pi 5 Model B Rev 1.0",
    source: "rpi5/proc/device-tree/model",
  }],
  ["jetson-xavier-nx", {
    id: "jetson",
    model: "NVIDIA Jetson Xavier NX Developer Kit",
    source: "jetson-xavier-nx/sys/firmware/devicetree/base/model",
  }],
  ["jetson-orin-nano", {
    id: "jetson-orin-nano",
    model: "NVIDIA Jetson Orin Nano Developer Kit",
    source: "jetson-orin-nano/sys/firmware/devicetree/base/model",
  }],
  // The model is a brand ("Radxa ROCK 5B"); the compatible list names the SoC.
  ["rockchip-rk3588", {
    id: "rockchip",
    model: "Radxa ROCK 5B",
    source: "rockchip-rk3588/sys/firmware/devicetree/base/compatible",
  }],
  ["x86-intel", {
    id: "x86",
    model: "Intel(R) Client Systems NUC11TNHi5",
    source: "x86-intel/sys/class/dmi/id/product_name",
  }],
];

for (const [fixture, expected] of CASES) {
  Deno.test(`detectBoard: ${fixture} fixture is ${expected.id}`, async () => {
    const info = await detectBoard(roots(fixture));
    assertEquals({ ...info, source: info.source?.replace(testdata, "") ?? null }, expected);
  });
}

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "board-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return dir;
}

Deno.test("detectBoard: tells boards by what is there when the model says little", async (t) => {
  const cases: [string, Record<string, string>, Omit<BoardInfo, "source">, string | null][] = [
    [
      "a Pi 4 seen only through /proc/cpuinfo's Model line",
      {
        "proc/cpuinfo":
          "processor\t: 0\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.2\n",
      },
      { id: "rpi4", model: "Raspberry Pi 4 Model B Rev 1.2" },
      "proc/cpuinfo",
    ],
    [
      "an Orin Nano module by its compatible string (p3767-0003) under a carrier's own model",
      {
        "sys/firmware/devicetree/base/model": "Acme Vision Box\0",
        "sys/firmware/devicetree/base/compatible": "acme,box\0nvidia,p3767-0003\0nvidia,tegra234\0",
      },
      { id: "jetson-orin-nano", model: "Acme Vision Box" },
      "sys/firmware/devicetree/base/compatible",
    ],
    [
      "an x86 machine without DMI (a container) by cpuinfo's vendor_id",
      {
        "proc/cpuinfo":
          "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 5 5600G\n",
      },
      { id: "x86", model: "AMD Ryzen 5 5600G" },
      "proc/cpuinfo",
    ],
    [
      "a Raspberry Pi 3: known vendor, no profile, so generic",
      {
        "sys/firmware/devicetree/base/model": "Raspberry Pi 3 Model B Plus Rev 1.3\0",
        "sys/firmware/devicetree/base/compatible": "raspberrypi,3-model-b-plus\0brcm,bcm2837\0",
      },
      { id: "generic", model: "Raspberry Pi 3 Model B Plus Rev 1.3" },
      "sys/firmware/devicetree/base/model",
    ],
    [
      "an ARM server with DMI but no devicetree: not x86, so generic",
      {
        "sys/class/dmi/id/sys_vendor": "Ampere(R)\n",
        "sys/class/dmi/id/product_name": "Mt.Jade\n",
        "proc/cpuinfo": "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n",
      },
      { id: "generic", model: "Ampere(R) Mt.Jade" },
      "sys/class/dmi/id/product_name",
    ],
    ["nothing readable at all", {}, { id: "generic", model: "unknown" }, null],
  ];
  for (const [name, files, expected, source] of cases) {
    await t.step(name, async () => {
      const dir = await tree(files);
      try {
        const info = await detectBoard({ sysRoot: `${dir}/sys`, procRoot: `${dir}/proc` });
        assertEquals(info, { ...expected, source: source === null ? null : `${dir}/${source}` });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("detectBoard: the machine it runs on gives an answer, not an error", async () => {
  const info = await detectBoard();
  assertEquals(typeof info.model, "string");
});

/**
 * Which board this is, read from the files the kernel exposes: the devicetree model and compatible
 * strings (ARM boards), DMI (x86), and /proc/cpuinfo as the last resort. Roots are parameters so
 * tests point them at fixture trees under testdata/.
 */

export type BoardId =
  | "rpi4"
  | "rpi5"
  | "jetson"
  | "jetson-orin-nano"
  | "rockchip"
  | "x86"
  | "generic";

export const BOARD_IDS: readonly BoardId[] = [
  "rpi4",
  "rpi5",
  "jetson",
  "jetson-orin-nano",
  "rockchip",
  "x86",
  "generic",
];

export interface BoardRoots {
  /** Usually "/sys". */
  readonly sysRoot: string;
  /** Usually "/proc". */
  readonly procRoot: string;
  /**
   * A copy of the root-only DMI files (`board_serial`, `product_serial`, `product_uuid`) that the
   * image's pre-start step makes for the service user (rootfs-overlay/usr/lib/nvr/nvr-prestart.sh);
   * read where `<sysRoot>/class/dmi/id/<name>` cannot be. Absent in fixture trees.
   */
  readonly dmiCopy?: string;
}

export const DEFAULT_ROOTS: BoardRoots = {
  sysRoot: "/sys",
  procRoot: "/proc",
  dmiCopy: "/run/nvr/dmi",
};

export interface BoardInfo {
  readonly id: BoardId;
  /** Human model string, e.g. "Raspberry Pi 4 Model B Rev 1.4"; "unknown" when nothing said. */
  readonly model: string;
  /** The file that decided `id`, or null when no file said anything (id "generic"). */
  readonly source: string | null;
}

interface Facts {
  model: { text: string; path: string } | null;
  compatible: { items: string[]; path: string } | null;
  dmi: { vendor: string; product: string; board: string; path: string } | null;
  cpuinfo: {
    model: string | null;
    hardware: string | null;
    cpu: string | null;
    x86: boolean;
    path: string;
  } | null;
}

/** Reads the board's identity files under `roots` and names the board. Never throws for a missing file. */
export async function detectBoard(roots: BoardRoots = DEFAULT_ROOTS): Promise<BoardInfo> {
  const facts = await readFacts(roots);
  return classify(facts);
}

function classify(f: Facts): BoardInfo {
  const model = f.model?.text ?? f.cpuinfo?.model ?? null;
  // 1. devicetree model: the most specific words a board gives.
  if (f.model) {
    const id = idFromModel(f.model.text);
    if (id) return { id, model: f.model.text, source: f.model.path };
  }
  // 2. devicetree compatible: SoC vendors name themselves there even when the model is a brand.
  if (f.compatible) {
    const id = idFromCompatible(f.compatible.items);
    if (id) {
      return { id, model: model ?? f.compatible.items[0] ?? "unknown", source: f.compatible.path };
    }
  }
  // 3. /proc/cpuinfo "Model" line (Raspberry Pi kernels write it; containers often lack /sys/firmware).
  if (f.cpuinfo?.model) {
    const id = idFromModel(f.cpuinfo.model);
    if (id) return { id, model: f.cpuinfo.model, source: f.cpuinfo.path };
  }
  // 4. x86 by cpuinfo's vendor_id (ARM servers have DMI too); DMI names the machine when readable.
  const dmiName = f.dmi
    ? [f.dmi.vendor, f.dmi.product || f.dmi.board].filter(Boolean).join(" ") || null
    : null;
  if (f.cpuinfo ? f.cpuinfo.x86 : f.dmi !== null) {
    if (f.dmi) return { id: "x86", model: dmiName ?? "x86", source: f.dmi.path };
    if (f.cpuinfo) return { id: "x86", model: f.cpuinfo.cpu ?? "x86", source: f.cpuinfo.path };
  }
  const source = f.model?.path ?? f.compatible?.path ?? f.dmi?.path ?? f.cpuinfo?.path ?? null;
  return { id: "generic", model: model ?? dmiName ?? f.cpuinfo?.hardware ?? "unknown", source };
}

function idFromModel(model: string): BoardId | null {
  if (/Raspberry Pi (Compute Module )?5|Raspberry Pi 500/i.test(model)) return "rpi5";
  if (/Raspberry Pi (Compute Module )?4|Raspberry Pi 400/i.test(model)) return "rpi4";
  if (/Orin Nano/i.test(model)) return "jetson-orin-nano";
  if (/Jetson/i.test(model)) return "jetson";
  if (/Rockchip|\bRK3\d{3}\b/i.test(model)) return "rockchip";
  return null;
}

// Orin Nano modules are p3767-0003, -0004 and -0005 (Orin NX: -0000, -0001).
const ORIN_NANO_COMPATIBLE = /^nvidia,p3767-000[345]$/;

function idFromCompatible(items: readonly string[]): BoardId | null {
  if (items.some((c) => c === "raspberrypi,5-model-b" || c === "brcm,bcm2712")) return "rpi5";
  if (items.some((c) => c === "raspberrypi,4-model-b" || c === "brcm,bcm2711")) return "rpi4";
  if (items.some((c) => ORIN_NANO_COMPATIBLE.test(c))) return "jetson-orin-nano";
  if (items.some((c) => c.startsWith("nvidia,tegra"))) return "jetson";
  if (items.some((c) => c.startsWith("rockchip,rk"))) return "rockchip";
  return null;
}

async function readFacts(roots: BoardRoots): Promise<Facts> {
  const dt = [`${roots.sysRoot}/firmware/devicetree/base`, `${roots.procRoot}/device-tree`];
  const model = await firstFile(dt.map((d) => `${d}/model`));
  const modelText = model ? dtString(model.text) : "";
  const compatible = await firstFile(dt.map((d) => `${d}/compatible`));
  const dmiDir = `${roots.sysRoot}/class/dmi/id`;
  const [vendor, product, board] = await Promise.all(
    ["sys_vendor", "product_name", "board_name"].map((n) => readText(`${dmiDir}/${n}`)),
  );
  const cpuinfoPath = `${roots.procRoot}/cpuinfo`;
  const cpuinfo = await readText(cpuinfoPath);
  return {
    model: model && modelText ? { text: modelText, path: model.path } : null,
    compatible: compatible ? { items: dtList(compatible.text), path: compatible.path } : null,
    dmi: vendor !== null || product !== null || board !== null
      ? {
        vendor: (vendor ?? "").trim(),
        product: (product ?? "").trim(),
        board: (board ?? "").trim(),
        path: `${dmiDir}/${
          product !== null ? "product_name" : vendor !== null ? "sys_vendor" : "board_name"
        }`,
      }
      : null,
    cpuinfo: cpuinfo === null ? null : parseCpuinfo(cpuinfo, cpuinfoPath),
  };
}

function parseCpuinfo(text: string, path: string): NonNullable<Facts["cpuinfo"]> {
  const field = (name: string): string | null => {
    const m = text.match(new RegExp(`^${name}\\s*:\\s*(.+)$`, "m"));
    return m?.[1]?.trim() || null;
  };
  const vendor = field("vendor_id");
  return {
    model: field("Model"),
    hardware: field("Hardware"),
    cpu: field("model name"),
    x86: vendor === "GenuineIntel" || vendor === "AuthenticAMD",
    path,
  };
}

/** A devicetree string property: NUL-terminated, sometimes with trailing whitespace. */
function dtString(raw: string): string {
  return raw.split("\0")[0]?.trim() ?? "";
}

/** A devicetree string list: NUL-separated. */
function dtList(raw: string): string[] {
  return raw.split("\0").map((s) => s.trim()).filter((s) => s.length > 0);
}

async function firstFile(paths: readonly string[]): Promise<{ text: string; path: string } | null> {
  for (const path of paths) {
    const text = await readText(path);
    if (text !== null) return { text, path };
  }
  return null;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    if (err instanceof Deno.errors.IsADirectory || err instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw err;
  }
}

/** Test support: a health sample of a fixture box under runtime/fingerprint/testdata/<board>/. */
import { fixtureRoot, fixtureSources } from "../fingerprint/sources_fixture.ts";
import { collectHealth, type HealthSources } from "./collect.ts";
import type { Health } from "./types.ts";

export const FIXTURE_SOFTWARE = {
  version: "0.1.0",
  commit: null,
  commitSource: "none",
  builtAt: null,
  deno: "2.9.6",
} as const;

/**
 * A fixture box's health: its proc files are linked into a temp folder whose `stat` is replaced
 * by `stat-later.txt` during the CPU sample's pause, as the kernel would have moved on.
 */
export async function fixtureHealth(
  board: string,
  extra: Partial<HealthSources> = {},
): Promise<Health> {
  const root = fixtureRoot(board);
  const fp = await fixtureSources(board);
  const proc = await Deno.makeTempDir({ prefix: `health-${board}-` });
  try {
    for (const name of ["uptime", "loadavg", "meminfo", "cpuinfo"]) {
      await Deno.symlink(`${root}/proc/${name}`, `${proc}/${name}`);
    }
    await Deno.copyFile(`${root}/proc/stat`, `${proc}/stat`);
    const throttled = await Deno.readTextFile(`${root}/vcgencmd/get_throttled.txt`).catch(() =>
      null
    );
    return await collectHealth({
      sysRoot: `${root}/sys`,
      procRoot: proc,
      smartctl: fp.smartctl ?? null,
      vcgencmd: (args) => Promise.resolve(args[0] === "get_throttled" ? throttled : null),
      sleep: () => Deno.copyFile(`${root}/stat-later.txt`, `${proc}/stat`),
      diskPaths: [],
      software: FIXTURE_SOFTWARE,
      ...extra,
    });
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
}

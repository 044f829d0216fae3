/**
 * Test support: the sources of a fixture box under testdata/<board>/ (sys, proc, run/udev, saved
 * smartctl output, the addresses Deno.networkInterfaces() gave there), and a way to print
 * fingerprints with the fixture root stripped from every source, so they read like the real box.
 */
import type { FingerprintSources } from "./collect.ts";
import { smartctlFromFiles } from "./smartctl.ts";

export type FixtureBoard = "rpi4" | "jetson" | "x86";
export const FIXTURE_BOARDS: readonly FixtureBoard[] = ["rpi4", "jetson", "x86"];

/** Absolute path of testdata/<board>. */
export function fixtureRoot(board: string): string {
  return new URL(`./testdata/${board}`, import.meta.url).pathname;
}

/** Every source of a fixture box, no cameras. */
export async function fixtureSources(board: string): Promise<FingerprintSources> {
  const root = fixtureRoot(board);
  const interfaces = JSON.parse(
    await Deno.readTextFile(`${root}/interfaces.json`),
  ) as Deno.NetworkInterfaceInfo[];
  return {
    sysRoot: `${root}/sys`,
    procRoot: `${root}/proc`,
    devRoot: "/dev",
    runUdevRoot: `${root}/run/udev`,
    smartctl: smartctlFromFiles(`${root}/smartctl`),
    networkInterfaces: () => interfaces,
  };
}

/** A deep copy of `value` with `root` removed from every string. */
export function stripRoot<T>(value: T, root: string): T {
  return JSON.parse(JSON.stringify(value).replaceAll(root, "")) as T;
}

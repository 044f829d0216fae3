/** Facts of the running system the updater needs: the board's RAUC compatible and the boot id. */

/** The `compatible=` of the `[system]` section of RAUC's system.conf (the image's). */
export async function readCompatible(path = "/etc/rauc/system.conf"): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(
      `cannot read ${path} (${(err as Error).message}): this system has no RAUC configuration, ` +
        "so it cannot be updated over the fleet",
    );
  }
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1]!;
    const m = /^compatible\s*=\s*(.+)$/.exec(line);
    if (section === "system" && m) return m[1]!.trim();
  }
  throw new Error(`${path} has no compatible= in [system]`);
}

/** The kernel's id of this boot: it changes with every reboot. */
export async function readBootId(path = "/proc/sys/kernel/random/boot_id"): Promise<string> {
  return (await Deno.readTextFile(path)).trim();
}

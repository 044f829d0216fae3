/**
 * `smartctl --json` as a data source. A runner takes the device and smartctl's arguments and gives
 * the parsed JSON, or null when smartctl is not installed or said nothing usable. smartctl's exit
 * status is a bit mask that is non-zero for many healthy disks, so stdout is parsed regardless.
 */

/** Runs `smartctl --json <args> <device>`; null when there is no answer. */
export type SmartctlRunner = (device: string, args: readonly string[]) => Promise<unknown | null>;

/** The command the real runner spawns, for `source` fields. */
export function smartctlSource(device: string, args: readonly string[]): string {
  return ["smartctl", "--json", ...args, device].join(" ");
}

/**
 * The system's smartctl (needs root for most disks). Null when it is missing, prints no JSON or
 * takes longer than `timeoutMs` (it is then killed).
 */
export function systemSmartctl(command = "smartctl", timeoutMs = 10_000): SmartctlRunner {
  return async (device, args) => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const out = await new Deno.Command(command, {
        args: ["--json", ...args, device],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
        signal: ac.signal,
      }).output();
      return parseSmartctlJson(new TextDecoder().decode(out.stdout));
    } catch {
      return null; // not installed, not allowed to run, or killed after timeoutMs
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Asks `runner` about a device (with the same arguments) at most once per `maxAgeMs` and gives the
 * last answer in between, no answer (null) included; calls made while one runs share it. For the
 * fleet's health samples, taken every few seconds to catch changes: SMART values change over hours,
 * and each smartctl is a process (seconds under QEMU TCG), which on a USB disk may wake it.
 */
export function cachedSmartctl(
  runner: SmartctlRunner,
  maxAgeMs: number,
  now: () => number = Date.now,
): SmartctlRunner {
  const last = new Map<string, { at: number; answer: Promise<unknown | null> }>();
  return (device, args) => {
    const key = [device, ...args].join("\0");
    const hit = last.get(key);
    if (hit && now() - hit.at < maxAgeMs) return hit.answer;
    const answer = runner(device, args);
    last.set(key, { at: now(), answer });
    return answer;
  };
}

/**
 * Answers from saved `smartctl --json` outputs: `<dir>/<device name>.json` (e.g. `sda.json` for
 * /dev/sda), whatever the arguments. For fixtures and for boxes where a cron job saves them.
 */
export function smartctlFromFiles(dir: string): SmartctlRunner {
  return async (device) => {
    const name = device.split("/").pop() ?? device;
    try {
      return parseSmartctlJson(await Deno.readTextFile(`${dir}/${name}.json`));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  };
}

/** The JSON object smartctl printed, or null when it is not one or smartctl reported it failed. */
export function parseSmartctlJson(text: string): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const obj = parsed as Record<string, unknown>;
  // Bit 1: device open failed (no such device, no permission): nothing about the disk in there.
  const exit = (obj.smartctl as { exit_status?: unknown } | undefined)?.exit_status;
  if (typeof exit === "number" && (exit & 0b11) !== 0) return null;
  return obj;
}

/** A string field of smartctl's JSON, trimmed; null when absent or empty. */
export function smartString(obj: Record<string, unknown> | null, key: string): string | null {
  const v = obj?.[key];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : null;
}

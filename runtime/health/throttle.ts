/**
 * Raspberry Pi throttling: `vcgencmd get_throttled` prints `throttled=0x50005`. Bits 0–3 are now
 * (under-voltage, ARM frequency capped, throttled, soft temperature limit), bits 16–19 the same
 * since boot.
 */
import type { ThrottleFlags, Throttling } from "./types.ts";

/** Runs vcgencmd with these arguments and gives stdout, or null when it is not there. */
export type VcgencmdRunner = (args: readonly string[]) => Promise<string | null>;

/** The system's vcgencmd (Raspberry Pi OS); null elsewhere. */
export function systemVcgencmd(command = "vcgencmd"): VcgencmdRunner {
  return async (args) => {
    try {
      const out = await new Deno.Command(command, {
        args: [...args],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      return out.success ? new TextDecoder().decode(out.stdout) : null;
    } catch {
      return null; // not a Raspberry Pi OS image, or not allowed to run it
    }
  };
}

function flags(bits: number): ThrottleFlags {
  return {
    underVoltage: (bits & 1) !== 0,
    frequencyCapped: (bits & 2) !== 0,
    throttled: (bits & 4) !== 0,
    softTempLimit: (bits & 8) !== 0,
  };
}

/** Decodes `throttled=0x…`; null when the text is not that. */
export function decodeThrottled(text: string, source: string): Throttling | null {
  const m = /throttled=(0x[0-9a-f]+)/i.exec(text);
  if (!m?.[1]) return null;
  const value = parseInt(m[1], 16);
  return { raw: m[1], now: flags(value), sinceBoot: flags(value >>> 16), source };
}

/** Asks vcgencmd; null when it is missing or says something else. */
export async function readThrottling(vcgencmd: VcgencmdRunner | null): Promise<Throttling | null> {
  if (vcgencmd === null) return null;
  const out = await vcgencmd(["get_throttled"]).catch(() => null);
  return out === null ? null : decodeThrottled(out, "vcgencmd get_throttled");
}

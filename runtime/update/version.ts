/**
 * Versions as the updater compares them: `major.minor.patch` with an optional pre-release
 * (`0.2.0-rc.1` < `0.2.0`), the way semver orders them. Pure; no Deno.
 */
import { VERSION_PATTERN } from "../fleet/schema.ts";

/** Negative when a < b, 0 when equal, positive when a > b. Throws RangeError on a non-version. */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = pa.core[i]! - pb.core[i]!;
    if (d !== 0) return d;
  }
  if (pa.pre === null || pb.pre === null) {
    return (pa.pre === null ? 1 : 0) - (pb.pre === null ? 1 : 0);
  }
  const xa = pa.pre.split(".");
  const xb = pb.pre.split(".");
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const ia = xa[i];
    const ib = xb[i];
    if (ia === undefined) return -1;
    if (ib === undefined) return 1;
    const na = /^\d+$/.test(ia);
    const nb = /^\d+$/.test(ib);
    if (na && nb) {
      const d = Number(ia) - Number(ib);
      if (d !== 0) return d;
    } else if (na !== nb) return na ? -1 : 1;
    else if (ia !== ib) return ia < ib ? -1 : 1;
  }
  return 0;
}

function parse(v: string): { core: number[]; pre: string | null } {
  const m = VERSION_PATTERN.exec(v);
  if (!m) throw new RangeError(`'${v}' is not a version (major.minor.patch[-pre])`);
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4]?.slice(1) ?? null };
}
